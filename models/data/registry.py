"""Every public dataset loader by name: what ``--dataset``/``--data ptbxl`` resolves through.

Loaders are imported only when opened, so listing the names costs nothing.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from pathlib import Path

from models.data.base import Dataset, RecordDataset
from models.data.paths import default_data_dir


@dataclass(frozen=True)
class DatasetEntry:
    """Where the loader of one dataset lives.

    Attributes:
        name: the registry name (``qtlens data info --dataset NAME``).
        module: the module defining the loader.
        class_name: the :class:`~models.data.base.Dataset` subclass in it.
        folder: the dataset's folder name below ``QTLENS_DATA_DIR``.
        description: one line for ``--help``.
    """

    name: str
    module: str
    class_name: str
    folder: str
    description: str

    def loader(self) -> type[Dataset]:
        """The loader class (imports its module)."""
        return getattr(importlib.import_module(self.module), self.class_name)


#: The registered datasets, in the order ``--help`` lists them.
DATASETS: tuple[DatasetEntry, ...] = (
    DatasetEntry(
        "ptbxl", "models.data.ptbxl", "PtbXl", "ptbxl", "PTB-XL 12-lead ECGs (LNGQT, folds)"
    ),
    DatasetEntry(
        "challenge",
        "models.data.challenge2021",
        "Challenge2021",
        "challenge2021",
        "PhysioNet Challenge 2021 records (SNOMED 111975006)",
    ),
    DatasetEntry(
        "ecgrdvq",
        "models.data.ecgrdvq",
        "Ecgrdvq",
        "ecgrdvq",
        "FDA ECGRDVQ drug study (clinical table)",
    ),
    DatasetEntry("ludb", "models.data.ludb", "Ludb", "ludb", "LUDB fiducials in every lead"),
    DatasetEntry("qtdb", "models.data.qtdb", "Qtdb", "qtdb", "QTDB expert QT marks (15 min)"),
)


def dataset_names() -> tuple[str, ...]:
    """The registered dataset names."""
    return tuple(entry.name for entry in DATASETS)


def dataset_entry(name: str) -> DatasetEntry:
    """The entry called ``name``; ``KeyError`` listing the valid names otherwise."""
    for entry in DATASETS:
        if entry.name == name:
            return entry
    raise KeyError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())}")


def default_root(name: str, data_dir: Path | None = None) -> Path:
    """The dataset's folder below ``data_dir`` (default :func:`models.data.paths.default_data_dir`)."""
    return (data_dir or default_data_dir()) / dataset_entry(name).folder


def open_dataset(name: str, root: Path | str, training_fs_hz: float | None = None) -> Dataset:
    """Open the dataset ``name`` from its root folder.

    Args:
        name: a registered name (see :func:`dataset_names`).
        root: the dataset's root folder.
        training_fs_hz: the rate the caller will train at, for loaders that ship several rates
            (PTB-XL reads ``records100/`` at ≤ 100 Hz, ``records500/`` otherwise).

    Raises:
        KeyError: for an unknown name.
        DatasetRootError: when the folder lacks what the loader needs.
    """
    loader = dataset_entry(name).loader()
    if training_fs_hz is not None and issubclass(loader, RecordDataset):
        return loader.for_training_rate(root, training_fs_hz)
    return loader(root)  # type: ignore[call-arg]


def open_record_dataset(name: str, root: Path | str) -> RecordDataset:
    """Open ``name`` from ``root`` as a dataset of whole records (every registered loader of
    12-lead or annotated records is one).

    Raises:
        KeyError: for an unknown name.
        TypeError: when the loader serves no whole records.
        DatasetRootError: when the folder lacks what the loader needs.
    """
    opened = open_dataset(name, root)
    if not isinstance(opened, RecordDataset):
        raise TypeError(f"{name} is not a dataset of whole records")
    return opened


@functools.lru_cache(maxsize=8)
def cached_record_dataset(name: str, root: str) -> RecordDataset:
    """:func:`open_record_dataset`, opened once per process for each ``(name, root)``: worker
    tasks that each load one record reuse the loader (and its index) instead of reading it again."""
    return open_record_dataset(name, root)
