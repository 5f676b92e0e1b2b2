"""Cost of the concept bottleneck: CBM forward ÷ black-box forward, and intervention ÷ forward.

Run: ``python benchmarks/bench_models.py [--bundle models/weights/demo] [--device auto]``.

Both networks are built from the bundle's config (same backbone), so the first ratio is what the
concept head, the in-network derivations and the linear task head add to a forward pass (goal
≤ 1.05). The intervention time is :func:`models.intervene.intervene` on a stored prediction
(task head only, on the CPU), compared with one full forward pass of one ECG in the same run;
:func:`models.intervene.suggest` is timed too. Timings are medians of interleaved repeats; the
ratio is the median of per-pair ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from models.bundle import load_bundle
from models.ecg.record import STANDARD_LEADS, Ecg
from models.intervene import intervene, suggest
from models.nets.model import ModelConfig
from models.nets.registry import create_model

DEFAULT_BUNDLE = Path(__file__).resolve().parent.parent / "models" / "weights" / "demo"


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``function``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_ratio(
    config: ModelConfig, device: torch.device, batch: int, repeats: int
) -> tuple[float, float, float]:
    """Median forward seconds of the joint CBM and the black box, and the median of their
    ratio over interleaved pairs (robust to a machine whose load drifts)."""
    torch.manual_seed(0)
    cbm = create_model(replace(config, variant="joint")).to(device).eval()
    blackbox = create_model(replace(config, variant="blackbox")).to(device).eval()
    inputs = (
        torch.randn(batch, 12, config.n_samples, device=device),
        torch.ones(batch, 12, device=device),
        torch.ones(batch, dtype=torch.long, device=device),
        torch.full((batch,), 50.0, device=device),
    )

    def timed(model: torch.nn.Module) -> float:
        start = time.perf_counter()
        model(*inputs)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    pairs = []
    with torch.inference_mode():
        for _ in range(10):
            timed(cbm), timed(blackbox)
        for _ in range(repeats):
            pairs.append((timed(cbm), timed(blackbox)))
    return (
        statistics.median(c for c, _ in pairs),
        statistics.median(b for _, b in pairs),
        statistics.median(c / b for c, b in pairs),
    )


def main() -> None:
    """Print the two ratios with the device they were measured on."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    bundle = load_bundle(args.bundle, device=args.device)
    config = bundle.model.config
    device = bundle.device
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(f"device: {device} ({name}); torch {torch.__version__}; bundle {bundle.version}")
    print(f"{'batch':>5} {'CBM (ms)':>9} {'black box (ms)':>15} {'CBM / black box':>16}")
    for batch in (1, 32):
        cbm, blackbox, ratio = forward_ratio(config, device, batch, args.repeats)
        print(f"{batch:5d} {cbm * 1e3:9.2f} {blackbox * 1e3:15.2f} {ratio:16.3f}")

    rng = np.random.default_rng(0)
    ecg = Ecg(
        signal_mv=rng.normal(0, 0.1, (12, int(config.fs_hz * config.duration_s))).astype(
            np.float32
        ),
        fs_hz=config.fs_hz,
        lead_names=STANDARD_LEADS,
        age_years=60,
        sex="female",
    )
    prediction = bundle.predict([ecg])[0]
    qt = prediction.concepts["qt"].value
    predict_s = median_seconds(lambda: bundle.predict([ecg]), args.repeats)
    forward_s = forward_ratio(config, device, 1, args.repeats)[0]
    intervene_s = median_seconds(
        lambda: intervene(bundle, prediction, {"qt": qt + 40.0}), 10 * args.repeats
    )
    suggest_s = median_seconds(
        lambda: suggest(bundle, prediction, {"qt": qt + 40.0}), args.repeats
    )
    print(
        f"intervene (QT override, re-derive, task head): {intervene_s * 1e6:8.0f} µs "
        f"= {intervene_s / forward_s:.3f} × one forward pass ({forward_s * 1e3:.2f} ms), "
        f"{intervene_s / predict_s:.3f} × predict() ({predict_s * 1e3:.2f} ms)"
    )
    print(f"suggest (expected risk change over all concepts): {suggest_s * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
