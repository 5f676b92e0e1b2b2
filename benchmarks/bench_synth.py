"""Synthetic ECG throughput: one record at a time (``generate``) vs the batched ``make_dataset``.

Run: ``python benchmarks/bench_synth.py [--n 400] [--fs 500]``. Both paths produce the same
records (record ``i`` of a data set is ``generate`` on its own stream), so the ratio is the gain
of rendering and adding noise to whole batches at once.
"""

from __future__ import annotations

import argparse
import time

from models.data.synthetic import make_dataset, record_rngs
from models.ecg.synth import generate, sample_params


def records_per_second_single(n: int, fs_hz: float, seed: int) -> float:
    """Throughput of ``generate`` called once per record (records/s)."""
    start = time.perf_counter()
    for rng in record_rngs(n, seed):
        generate(sample_params(rng), rng, fs_hz=fs_hz)
    return n / (time.perf_counter() - start)


def records_per_second_batched(n: int, fs_hz: float, seed: int) -> float:
    """Throughput of ``make_dataset`` (records/s)."""
    start = time.perf_counter()
    make_dataset(n, seed, fs_hz=fs_hz)
    return n / (time.perf_counter() - start)


def main() -> None:
    """Print records/s of both paths and their ratio for each sampling rate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="records per measurement")
    parser.add_argument("--fs", type=float, nargs="+", default=[100.0, 250.0, 500.0])
    args = parser.parse_args()
    print(
        f"{'fs (Hz)':>8} {'generate (rec/s)':>17} {'make_dataset (rec/s)':>21} {'ratio':>6}"
        f" {'records/min batched':>20}"
    )
    for fs_hz in args.fs:
        single = records_per_second_single(args.n, fs_hz, seed=0)
        batched = records_per_second_batched(args.n, fs_hz, seed=0)
        print(
            f"{fs_hz:8.0f} {single:17.1f} {batched:21.1f} {batched / single:6.2f}"
            f" {batched * 60:20.0f}"
        )


if __name__ == "__main__":
    main()
