"""``qtlens data …``: inspect a public dataset and build its caches."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from models.data.registry import dataset_names

if TYPE_CHECKING:
    from models.data.base import Dataset
    from models.data.cache import CacheBuildReport

#: Signal-store rates ``build-cache --fs`` accepts (Hz).
STORE_RATES_HZ: tuple[int, ...] = (100, 250, 500)

_DATASET_HELP = f"Dataset name: {', '.join(dataset_names())}."
_DATA_DIR_HELP = (
    "The dataset's root folder as downloaded from PhysioNet "
    "(default: its folder below $QTLENS_DATA_DIR)."
)

DatasetOption = Annotated[str, typer.Option("--dataset", help=_DATASET_HELP)]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help=_DATA_DIR_HELP, show_default=False)
]


def _open(name: str, data_dir: Path | None, training_fs_hz: float | None = None) -> Dataset:
    """The dataset, or a clear CLI error for an unknown name or an incomplete folder."""
    from models.data.base import DatasetRootError
    from models.data.registry import default_root, open_dataset

    if name not in dataset_names():
        raise typer.BadParameter(
            f"unknown dataset {name!r}; choose one of {', '.join(dataset_names())}",
            param_hint="--dataset",
        )
    root = data_dir if data_dir is not None else default_root(name)
    try:
        return open_dataset(name, root, training_fs_hz)
    except DatasetRootError as error:
        raise typer.BadParameter(str(error), param_hint="--data-dir") from None


def info(dataset: DatasetOption, data_dir: DataDirOption = None) -> None:
    """Print the records and label positives per split of a dataset."""
    opened = _open(dataset, data_dir)
    typer.echo(f"{opened.name}: {len(opened)} records in {opened.root}")
    typer.echo(opened.summary().to_string())


def build_cache(
    dataset: DatasetOption,
    data_dir: DataDirOption = None,
    fs: Annotated[
        int, typer.Option("--fs", help="Signal-store rate in Hz: 100, 250 or 500.")
    ] = 500,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Worker processes for parsing and measuring.")
    ] = 2,
) -> None:
    """Measure every record's concepts once and store its signals memory-mapped.

    Signals are stored at --fs; concepts are always measured on the dataset's full-rate records.
    Both caches live under $QTLENS_CACHE_DIR (default ~/.cache/qtlens); a second run reuses
    everything whose files and code are unchanged.
    """
    from models.data.base import RecordDataset
    from models.data.cache import StoreLayout, build_concept_cache, build_signal_store

    if fs not in STORE_RATES_HZ:
        raise typer.BadParameter(
            f"{fs} Hz is not a store rate; choose one of {', '.join(map(str, STORE_RATES_HZ))}",
            param_hint="--fs",
        )
    opened = _open(dataset, data_dir, training_fs_hz=fs)
    if not isinstance(opened, RecordDataset):
        raise typer.BadParameter(
            f"{dataset} is a table of measurements without waveforms: there is nothing to cache",
            param_hint="--dataset",
        )
    _, signals = build_signal_store(opened, StoreLayout(fs_hz=fs), workers=workers)
    typer.echo(_report_line("signals", "parsed", signals))
    # Concepts are measured on the dataset's own (highest-rate) records whatever the store rate:
    # a QT read at 100 Hz would be 10 ms coarse.
    concepts = build_concept_cache(_open(dataset, data_dir), workers=workers)
    typer.echo(_report_line("concepts", "measured", concepts))


def _report_line(what: str, verb: str, report: CacheBuildReport) -> str:
    """One line summarising a cache build, e.g. ``signals: 352 records (352 parsed, …)``."""
    refused = f", {report.unreadable} unreadable" if report.unreadable else ""
    return (
        f"{what}: {report.records} records ({report.computed} {verb}, {report.reused} reused"
        f"{refused}) in {report.seconds:.1f} s → {report.location}"
    )


def register(cli: typer.Typer) -> None:
    """Add the ``data`` command group to the ``qtlens`` CLI."""
    group = typer.Typer(
        help="Public ECG datasets: inspect them and build their caches.", no_args_is_help=True
    )
    group.command("info")(info)
    group.command("build-cache")(build_cache)
    cli.add_typer(group, name="data")
