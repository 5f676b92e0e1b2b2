"""Types every dataset loader shares: splits, root validation, record specs and records.

A loader is a :class:`Dataset`: built from the root folder of a published dataset, it validates
the folder (a :class:`DatasetRootError` lists everything missing) and holds :attr:`Dataset.index`,
one metadata row per record with the columns ``split``, ``age_years``, ``sex`` and one 0/1 column
per label. Loaders of waveform datasets are :class:`RecordDataset`\\ s: they also describe each
record's files in a small, picklable :class:`RecordSpec` (what worker processes receive) and load
a :class:`DatasetRecord` (``Ecg`` + labels + split + optional fiducials).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal, Self

import pandas as pd

from models.ecg.io import DATASET_LIMITS, read_paths
from models.ecg.io.deid import demographics_from_comments
from models.ecg.limits import IngestLimits
from models.ecg.record import Ecg, Sex

if TYPE_CHECKING:
    from models.data.wfdb_annotated import AnnotatedWave

Split = Literal["train", "val", "test", "dev"]

#: The splits, in the order summaries list them. ``dev`` holds development data with no training
#: role (the fiducial-annotated LUDB and QTDB, used to validate measurement).
SPLITS: tuple[Split, ...] = ("train", "val", "test", "dev")

#: Columns every :attr:`Dataset.index` holds besides its labels.
INDEX_COLUMNS: tuple[str, ...] = ("split", "age_years", "sex")


class DatasetRootError(ValueError):
    """A dataset root folder that lacks what the loader needs; the message lists what is missing."""


def require_entries(dataset: str, root: Path | str, entries: Sequence[str]) -> Path:
    """Check that ``root`` is a folder holding every entry; return it resolved.

    Args:
        dataset: the dataset name, for the message.
        root: the folder a user pointed at.
        entries: relative paths that must exist; an entry ending in ``/`` must be a folder.

    Raises:
        DatasetRootError: naming the root and *every* missing entry, e.g.
            ``ptbxl root /x lacks ptbxl_database.csv, records500/``.
    """
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise DatasetRootError(f"{dataset} root {folder} is not a folder")
    missing = [
        entry
        for entry in entries
        if not ((folder / entry).is_dir() if entry.endswith("/") else (folder / entry).is_file())
    ]
    if missing:
        raise DatasetRootError(f"{dataset} root {folder} lacks {', '.join(missing)}")
    return folder.resolve()


def missing_files_error(
    dataset: str, root: Path, what: str, missing: Sequence[str], shown: int = 5
) -> DatasetRootError:
    """The error for a partial download: how many files are missing and the first few names.

    Example:
        >>> str(missing_files_error("ptbxl", Path("/x"), "record files", ["a.hea", "a.dat"]))
        'ptbxl root /x lacks record files (2 missing): a.hea, a.dat'
    """
    listed = ", ".join(missing[:shown]) + (", …" if len(missing) > shown else "")
    return DatasetRootError(
        f"{dataset} root {root} lacks {what} ({len(missing)} missing): {listed}"
    )


def require_columns(
    dataset: str, root: Path, table: str, frame: pd.DataFrame, columns: Sequence[str]
) -> None:
    """Check that the table ``table`` read from ``root`` has every column in ``columns``.

    Raises:
        DatasetRootError: naming the table and every absent column.
    """
    absent = [column for column in columns if column not in frame.columns]
    if absent:
        raise DatasetRootError(f"{dataset} root {root}: {table} lacks columns {', '.join(absent)}")


def hash_split(key: str) -> Split:
    """A deterministic 80/10/10 train/val/test split from a record or subject name.

    The first 8 hex digits of the SHA-256 of the UTF-8 key, as an integer modulo 10, give the
    bucket: 0–7 train, 8 val, 9 test. The split depends on nothing but the key, so it is the same
    on every machine, for every subset and for every Python version.

    Example:
        >>> hash_split("E07504"), hash_split("1001")
        ('train', 'train')
    """
    bucket = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % 10
    if bucket < 8:
        return "train"
    return "val" if bucket == 8 else "test"


def header_demographics(header_path: Path) -> tuple[int | None, Sex | None]:
    """Age (capped at 90) and sex stated in a WFDB header's comments, ``None`` when absent.

    Uses the input layer's parser (:func:`models.ecg.io.deid.demographics_from_comments`), so
    LUDB ``#<age>: 51``, Challenge ``# Age: 57`` and QTDB ``# 69 M …`` lines all read.
    """
    text = header_path.read_text(encoding="utf-8", errors="replace")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    age_years, sex, _ = demographics_from_comments(comments)
    return age_years, sex


@dataclass(frozen=True)
class RecordSpec:
    """Everything needed to read one record: small and picklable, sent to worker processes.

    Attributes:
        record_id: the dataset's own record name (``"00320"``, ``"E07504"``).
        paths: the record's files (header first), absolute.
        age_years: age from the dataset's metadata (whole years, capped at 90), or ``None``.
        sex: sex from the dataset's metadata, or ``None``.
        limits: reader limits; by default those for trusted research datasets, which admit the
            Holter-length records of QTDB.
    """

    record_id: str
    paths: tuple[Path, ...]
    age_years: int | None = None
    sex: Sex | None = None
    limits: IngestLimits = DATASET_LIMITS


def read_record(spec: RecordSpec) -> Ecg:
    """Read a record's files into an :class:`Ecg` carrying the dataset's age and sex.

    Reads through :func:`models.ecg.io.read_paths`, the one path from files to an ``Ecg``.
    Demographics from the dataset's metadata (``spec``) take precedence over those in the file;
    a field the metadata leaves unknown keeps the file's value.

    Raises:
        EcgInputError: when the files are not a readable ECG (see :mod:`models.ecg.io`).
    """
    ecg = read_paths(spec.paths, spec.limits).ecg
    return dataclasses.replace(
        ecg,
        age_years=spec.age_years if spec.age_years is not None else ecg.age_years,
        sex=spec.sex if spec.sex is not None else ecg.sex,
    )


@dataclass(frozen=True)
class DatasetRecord:
    """One record of a dataset, ready for measurement, training or evaluation.

    Attributes:
        record_id: the dataset's record name.
        ecg: the signal in mV with age and sex.
        labels: 0/1 per label name of the dataset (e.g. ``{"lqts_risk": 1, "NORM": 0}``; empty
            for the fiducial datasets).
        split: ``"train"``, ``"val"``, ``"test"`` or ``"dev"``.
        fiducials: the waves cardiologists marked (LUDB, QTDB), else ``None``: marked waves in
            time order keyed by the canonical lead they were marked on, or by
            :data:`models.data.wfdb_annotated.ALL_LEADS` when marked on all leads together.
    """

    record_id: str
    ecg: Ecg
    labels: Mapping[str, int]
    split: Split
    fiducials: Mapping[str, tuple[AnnotatedWave, ...]] | None = None

    @property
    def annotated_span_s(self) -> tuple[float, float]:
        """First and last marked time over all leads in s (only part of a record is marked)."""
        times = [
            t
            for waves in (self.fiducials or {}).values()
            for wave in waves
            for t in (wave.onset_s, wave.peak_s, wave.offset_s)
            if t is not None
        ]
        return (min(times), max(times)) if times else (0.0, 0.0)


class Dataset(ABC):
    """A public dataset: a validated root folder and one metadata row per record.

    Subclasses set :attr:`name`, :attr:`label_names`, :attr:`task_labels` and :attr:`split_rule`,
    validate the root and pass the index they build to ``super().__init__``.
    """

    #: Registry name (``--dataset``/``--data`` value).
    name: ClassVar[str]
    #: 0/1 label columns of :attr:`index`.
    label_names: ClassVar[tuple[str, ...]]
    #: Which label column is the target of which risk task (see :mod:`models.tasks`).
    task_labels: ClassVar[Mapping[str, str]]
    #: How records are assigned to splits, in one line (recorded with every trained model).
    split_rule: ClassVar[str]

    def __init__(self, root: Path, index: pd.DataFrame) -> None:
        required = [*INDEX_COLUMNS, *self.label_names]
        absent = [column for column in required if column not in index.columns]
        if absent:
            raise ValueError(f"{self.name} index lacks columns {absent}")
        if index.index.name != "record_id" or not index.index.is_unique:
            raise ValueError(f"{self.name} index must be keyed by unique record_id")
        unknown_splits = set(index["split"]) - set(SPLITS)
        if unknown_splits:
            raise ValueError(f"{self.name} index has unknown splits {sorted(unknown_splits)}")
        self.root = root
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def record_ids(self, split: Split | None = None) -> list[str]:
        """Record names in index order, optionally of one split only."""
        rows = self.index if split is None else self.index[self.index["split"] == split]
        return [str(record_id) for record_id in rows.index]

    def split_of(self, record_id: str) -> Split:
        """The split of one record."""
        return self.index.at[record_id, "split"]

    def subset(self, record_ids: Sequence[str]) -> Self:
        """The same dataset restricted to ``record_ids``, in the order given.

        Raises:
            KeyError: for a name that is not a record of the dataset.
        """
        absent = [record_id for record_id in record_ids if record_id not in self.index.index]
        if absent:
            raise KeyError(f"{self.name} has no records {absent[:5]}")
        view = copy.copy(self)
        view.index = self.index.loc[list(record_ids)]
        return view

    def labels(self, record_id: str) -> dict[str, int]:
        """The 0/1 labels of one record."""
        row = self.index.loc[record_id]
        return {label: int(row[label]) for label in self.label_names}

    def summary(self) -> pd.DataFrame:
        """Records and label positives per split: rows train, val, test, (dev,) and total."""
        by_split = self.index.groupby("split")
        table = pd.DataFrame({"records": by_split.size()})
        for label in self.label_names:
            table[label] = by_split[label].sum()
        shown = [split for split in SPLITS if split != "dev" or split in table.index]
        table = table.reindex(shown, fill_value=0).astype(int)
        table.loc["total"] = table.sum()
        return table


class RecordDataset(Dataset):
    """A dataset of waveform records that can be read into :class:`Ecg` objects."""

    @abstractmethod
    def record_paths(self, record_id: str) -> tuple[Path, ...]:
        """The files of record ``record_id``, header first."""

    def spec(self, record_id: str) -> RecordSpec:
        """How to read record ``record_id``: its files and the age and sex of the index."""
        age, sex = self.index.at[record_id, "age_years"], self.index.at[record_id, "sex"]
        return RecordSpec(
            record_id=record_id,
            paths=self.record_paths(record_id),
            age_years=None if pd.isna(age) else int(age),
            sex=None if pd.isna(sex) else sex,
        )

    @classmethod
    def for_training_rate(cls, root: Path | str, fs_hz: float) -> Self:
        """The loader best suited to a training rate of ``fs_hz`` (PTB-XL picks 100 or 500 Hz)."""
        return cls(root)  # type: ignore[call-arg]

    def fiducials(self, record_id: str) -> Mapping[str, tuple[AnnotatedWave, ...]] | None:
        """The waves cardiologists marked on a record (see :class:`DatasetRecord`); ``None``
        for datasets without such marks."""
        return None

    def specs(self) -> list[RecordSpec]:
        """Specs of every record, in index order."""
        return [self.spec(record_id) for record_id in self.record_ids()]

    def load(self, record_id: str) -> DatasetRecord:
        """Read one record with its labels, split and fiducials."""
        return DatasetRecord(
            record_id=record_id,
            ecg=read_record(self.spec(record_id)),
            labels=self.labels(record_id),
            split=self.split_of(record_id),
            fiducials=self.fiducials(record_id),
        )

    def __iter__(self) -> Iterator[DatasetRecord]:
        for record_id in self.record_ids():
            yield self.load(record_id)
