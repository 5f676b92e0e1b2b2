"""Cost of the concept bottleneck: CBM forward ÷ black-box forward, and intervention ÷ forward.

Run: ``python benchmarks/bench_models.py [--bundle models/weights/demo] [--device auto]``.

Both networks are built from the bundle's config (same backbone), so the first ratio is what the
concept head, the in-network derivations and the linear task head add to a forward pass (goal
≤ 1.05). The intervention time is :func:`models.intervene.intervene` on a stored prediction
(task head only, on the CPU), compared with one full forward pass of one ECG in the same run;
:func:`models.intervene.suggest` is timed too. Timings are medians of interleaved repeats.
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
) -> tuple[float, float]:
    """Median forward seconds of the joint CBM and of the black box (interleaved)."""
    torch.manual_seed(0)
    cbm = create_model(replace(config, variant="joint")).to(device).eval()
    blackbox = create_model(replace(config, variant="blackbox")).to(device).eval()
    inputs = (
        torch.randn(batch, 12, config.n_samples, device=device),
        torch.ones(batch, 12, device=device),
        torch.ones(batch, dtype=torch.long, device=device),
        torch.full((batch,), 50.0, device=device),
    )

    def run(model: torch.nn.Module) -> Callable[[], object]:
        def call() -> object:
            output = model(*inputs)
            if device.type == "cuda":
                torch.cuda.synchronize()
            return output

        return call

    cbm_times, blackbox_times = [], []
    with torch.inference_mode():
        for _ in range(3):
            run(cbm)(), run(blackbox)()
        for _ in range(repeats):
            cbm_times.append(median_seconds(run(cbm), 1))
            blackbox_times.append(median_seconds(run(blackbox), 1))
    return statistics.median(cbm_times), statistics.median(blackbox_times)


def main() -> None:
    """Print the two ratios with the device they were measured on."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=30)
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
        cbm, blackbox = forward_ratio(config, device, batch, args.repeats)
        print(f"{batch:5d} {cbm * 1e3:9.2f} {blackbox * 1e3:15.2f} {cbm / blackbox:16.3f}")

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
    forward_s, _ = forward_ratio(config, device, 1, args.repeats)
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
