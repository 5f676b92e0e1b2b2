"""``python -m benchmarks`` (``make bench``): every benchmark, one command, one Markdown summary.

Runs the service benchmarks (:mod:`benchmarks.bench_service`), the CBM ÷ black-box forward
ratio (:func:`benchmarks.bench_models.forward_ratio`), then the other benchmark scripts as they
are (their output is kept verbatim; those that need the public data are skipped with the reason
when it is absent), and writes the summary to ``benchmarks/RESULTS.md``.

Options: ``--repeats N`` (service timings), ``--baseline REV`` (also measure the parts of
predict on git revision REV, for before/after numbers in this run), ``--note TEXT`` (a line
about the conditions, e.g. a shared machine), ``--out PATH``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.bench_service import REPO_ROOT, Report
from benchmarks.bench_service import run as run_service
from tests.processes import child_env

SCRIPT_TIMEOUT_S = 900


def cpu_description() -> str:
    """CPU model and core count (from /proc/cpuinfo where there is one)."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores"


def device_line() -> str:
    """What ran the benchmarks: CPU, torch and its threads, GPU if any."""
    import torch

    gpu = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
           else "no GPU (CUDA not available)")
    return f"{cpu_description()}; torch {torch.__version__}; GPU: {gpu}"


def git_revision() -> str:
    """The commit benchmarked (``+dirty`` with uncommitted changes)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + ("+dirty" if dirty.strip() else "")


def cbm_rows(report: Report, repeats: int) -> None:
    """CBM ÷ black-box forward at batch 1 and 32, built from the loaded bundle's config."""
    import torch

    from app.settings import Settings
    from benchmarks.bench_models import forward_ratio
    from models.bundle import load_bundle

    bundle = load_bundle(Settings().model_bundle)
    for batch in (1, 32):
        cbm_s, blackbox_s, ratio = forward_ratio(bundle.model.config, bundle.device, batch,
                                                 repeats)
        report.row(f"CBM forward ÷ black-box forward, batch {batch} ({bundle.device}, "
                   f"{torch.get_num_threads()} threads; median of paired ratios)",
                   f"{ratio:.2f} ({cbm_s * 1e3:.2f} ÷ {blackbox_s * 1e3:.2f} ms)", "≤ 1.05")


def other_scripts() -> list[tuple[str, list[str], bool]]:
    """The other benchmark scripts: (file, arguments, needs the public data)."""
    from app.settings import Settings

    return [
        ("bench_models.py", ["--bundle", str(Settings().model_bundle), "--repeats", "20"], False),
        ("bench_synth.py", ["--n", "100"], False),
        ("measure_speed.py", ["--repeats", "5"], False),
        ("io_read.py", ["50"], True),
        ("bench_data.py", ["--dataset", "ptbxl", "--records", "50", "--workers", "2"], True),
    ]


def run_script(name: str, arguments: list[str], needs_data: bool) -> str:
    """One benchmark script's output (or why it was skipped), as a Markdown section."""
    from models.data.paths import default_data_dir

    data_dir = default_data_dir()
    if needs_data and not (data_dir / "MANIFEST.md").exists():
        body = f"skipped: the public ECG data is not at {data_dir} (set QTLENS_DATA_DIR)"
    else:
        print(f"running benchmarks/{name} {' '.join(arguments)}", flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / name), *arguments],
                              cwd=REPO_ROOT, env=child_env(),
                              capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S,
                              check=False)
        body = done.stdout.strip() or "(no output)"
        if done.returncode != 0:
            body += f"\n\nfailed with exit code {done.returncode}:\n{done.stderr.strip()[-2000:]}"
        body += f"\n\n({time.perf_counter() - started:.0f} s)"
        print(body, flush=True)
    return f"### `benchmarks/{name} {' '.join(arguments)}`\n\n```text\n{body}\n```"


def markdown(report: Report, header: list[str]) -> str:
    """The summary document."""
    table = ["| measure | result | goal |", "|---|---|---|"]
    table += [f"| {name} | {value} | {goal or '—'} |" for name, value, goal in report.rows]
    return "\n".join([
        "# QTLens benchmark results", "",
        ("Written by `python -m benchmarks` (`make bench`); every ratio is against a baseline "
         "measured in the same run on the same machine."), "",
        *[f"- {line}" for line in header], "",
        "## Summary", "", *table, "",
        "## Details", "", "\n\n".join(report.sections), "",
    ])


def main() -> None:
    """Run everything, print as it goes, write the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--baseline", help="git revision for before/after parts of predict")
    parser.add_argument("--note", default="", help="a line about the conditions of the run")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args()

    from app.settings import Settings

    started = time.perf_counter()
    header = [f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; commit {git_revision()}",
              f"device: {device_line()}",
              f"model bundle: {Settings().model_bundle}",
              f"load average (1 min) at the start: {os.getloadavg()[0]:.1f}"]
    if args.note:
        header.append(f"note: {args.note}")
    report = Report([], [])
    run_service(report, args.repeats, args.baseline)
    cbm_rows(report, args.repeats)
    report.sections += [run_script(*script) for script in other_scripts()]
    header.append(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}; "
                  f"whole run {time.perf_counter() - started:.0f} s")
    args.out.write_text(markdown(report, header))
    print(f"summary written to {args.out}")


if __name__ == "__main__":
    main()
