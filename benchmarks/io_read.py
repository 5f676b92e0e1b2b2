"""Cost of the checked input path against reading the same records with wfdb directly.

Reads PTB-XL 500 Hz records through :func:`models.ecg.io.read_paths` (header checks, size
checks, temporary copy, de-identification, canonical leads) and through ``wfdb.rdrecord`` on
the original files, in the same run, and prints the ratio. Run from the repository root:

    python benchmarks/io_read.py [N_RECORDS]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import wfdb

from models.ecg.io import read_paths


def _seconds_per_record(read, headers: list[Path], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for header in headers:
            read(header)
        best = min(best, (time.perf_counter() - start) / len(headers))
    return best


def main() -> None:
    """Print ms per record for both paths and their ratio."""
    n_records = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    data_dir = Path(
        os.environ.get(
            "QTLENS_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data"
        )
    )
    headers = sorted((data_dir / "ptbxl" / "records500").rglob("*_hr.hea"))[:n_records]
    if not headers:
        sys.exit(f"no PTB-XL records under {data_dir} (set QTLENS_DATA_DIR)")
    baseline = _seconds_per_record(
        lambda header: wfdb.rdrecord(str(header.with_suffix(""))), headers
    )
    checked = _seconds_per_record(lambda header: read_paths([header]), headers)
    print(f"records:               {len(headers)} (PTB-XL, 12 leads x 5000 samples)")
    print(f"wfdb.rdrecord:         {baseline * 1e3:.2f} ms/record")
    print(f"read_paths (checked):  {checked * 1e3:.2f} ms/record")
    print(f"ratio:                 {checked / baseline:.2f}x")


if __name__ == "__main__":
    main()
