"""How much the dataset caches save, measured against their own baselines in one run.

* cache builds: records/s of a cold build (everything parsed or measured) against a warm build
  (everything reused: only the files are hashed), for the signal store and the concept cache;
* an epoch of signal reads: the memory-mapped store against re-parsing every record through
  ``read_paths`` and putting it in the store layout (what each epoch would cost without it),
  both in the same shuffled order.

Everything is built in a temporary cache folder, so the user's cache is neither used nor touched.

Usage::

    python benchmarks/bench_data.py --dataset ptbxl --records 100 --fs 500 --workers 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from models.data.base import RecordDataset, read_record
from models.data.cache import (
    DEFAULT_WORKERS,
    CacheBuildReport,
    StoreLayout,
    build_concept_cache,
    build_signal_store,
    to_store_layout,
)
from models.data.registry import default_root, open_dataset


def timed(action: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def cold_warm(label: str, build: Callable[[], CacheBuildReport]) -> None:
    """Build twice and print records/s of each build and their ratio."""
    cold, warm = build(), build()
    assert warm.computed == 0, f"{label}: the warm build recomputed {warm.computed} records"
    print(
        f"{label:<14} cold {cold.seconds:7.2f} s ({cold.records / cold.seconds:8.1f} rec/s)   "
        f"warm {warm.seconds:6.3f} s ({warm.records / warm.seconds:8.1f} rec/s)   "
        f"cold/warm {cold.seconds / warm.seconds:6.1f}×"
    )


def main() -> None:
    """Run the benchmark on a dataset of the registry and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ptbxl")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--records", type=int, default=100, help="first N records (0 = all)")
    parser.add_argument("--fs", type=float, default=500.0, help="signal-store rate in Hz")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    args = parser.parse_args()

    root = args.data_dir or default_root(args.dataset)
    dataset = open_dataset(args.dataset, root, training_fs_hz=args.fs)
    if not isinstance(dataset, RecordDataset):
        parser.error(f"{args.dataset} has no waveforms to cache")
    if args.records:
        dataset = dataset.subset(dataset.record_ids()[: args.records])
    layout = StoreLayout(fs_hz=args.fs)
    print(
        f"{dataset.name}: {len(dataset)} records, store at {args.fs:g} Hz, {args.workers} workers"
    )

    with tempfile.TemporaryDirectory(prefix="qtlens-bench-") as cache_dir:
        cold_warm(
            "signal store",
            lambda: build_signal_store(dataset, layout, args.workers, cache_dir)[1],
        )
        cold_warm(
            "concept cache",
            lambda: build_concept_cache(dataset, args.workers, cache_dir),
        )

        store, _ = build_signal_store(dataset, layout, args.workers, cache_dir)
        order = np.random.default_rng(0).permutation(dataset.record_ids())
        specs = {record_id: dataset.spec(record_id) for record_id in order}
        memmap_s = timed(lambda: [np.array(store.signal(record_id)) for record_id in order])
        parse_s = timed(
            lambda: [to_store_layout(read_record(specs[record_id]), layout) for record_id in order]
        )
        print(
            f"{'epoch read':<14} memmap {memmap_s:7.3f} s ({len(order) / memmap_s:9.0f} rec/s)   "
            f"read_paths {parse_s:6.2f} s ({len(order) / parse_s:7.0f} rec/s)   "
            f"speed-up {parse_s / memmap_s:6.1f}×"
        )


if __name__ == "__main__":
    main()
