"""How fast ``models.ecg.measure.measure`` is on a 12-lead, 10 s, 500 Hz record (one core).

Baseline measured in the same run: NeuroKit2's own ``ecg_process`` (clean, R peaks, DWT
delineation) on one lead of the same record. The interactive target is < 1.5 s per record.

    python -m benchmarks.measure_speed [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from models.ecg.measure import measure
from models.ecg.synth import NoiseConfig, SynthParams, generate

TARGET_S = 1.5


def _best_of(repeats: int, run: object) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    """Print the time of QTLens (12 leads) and of NeuroKit2 (1 lead) and their ratio."""
    import neurokit2 as nk

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ecg = generate(SynthParams(), np.random.default_rng(0), noise=NoiseConfig()).ecg
    lead_ii = ecg.lead("II").astype(np.float64)
    measure(ecg)  # imports and first-call costs are not what an interactive request pays
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nk.ecg_process(lead_ii, sampling_rate=500)
        qtlens_s = _best_of(args.repeats, lambda: measure(ecg))
        neurokit_s = _best_of(args.repeats, lambda: nk.ecg_process(lead_ii, sampling_rate=500))
    print(f"QTLens measure, 12 leads:        {qtlens_s * 1000:7.1f} ms (target < {TARGET_S * 1000:.0f} ms)")
    print(f"NeuroKit2 ecg_process, 1 lead:   {neurokit_s * 1000:7.1f} ms")
    print(f"ratio QTLens / NeuroKit2:        {qtlens_s / neurokit_s:7.2f}")


if __name__ == "__main__":
    main()
