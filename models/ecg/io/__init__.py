"""ECG input: one code path from uploaded or local files to a de-identified :class:`Ecg`.

:func:`read_upload` serves the web upload, the CLI and the dataset loaders alike;
:func:`read_paths` reads local files (checking their sizes before reading them) and hands them
to it. The format is recognised from the content — each reader in :data:`READERS` sniffs the
bytes — never from the file name alone. Every failure is an :class:`EcgInputError`:
:class:`InputTooLarge` (413), :class:`UnsupportedFormat` (415) or :class:`MalformedEcg` (422).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from models.ecg.errors import EcgInputError, InputTooLarge, MalformedEcg, UnsupportedFormat
from models.ecg.io import aecg, dicom, edf, muse, sierra, wfdb_record
from models.ecg.io.checks import (
    check_byte_count,
    check_file_count,
    check_min_duration,
    check_upload_size,
)
from models.ecg.io.upload import IngestResult, UploadedFile
from models.ecg.limits import IngestLimits

__all__ = [
    "DATASET_LIMITS",
    "READERS",
    "UPLOAD_LIMITS",
    "EcgInputError",
    "EcgReader",
    "IngestLimits",
    "IngestResult",
    "InputTooLarge",
    "MalformedEcg",
    "UnsupportedFormat",
    "UploadedFile",
    "read_paths",
    "read_upload",
]


class EcgReader(Protocol):
    """What every format module provides."""

    FORMAT: str

    def sniff(self, files: Sequence[UploadedFile]) -> bool:
        """Whether the bytes of ``files`` are this format (cheap; never raises)."""
        ...

    def read(self, files: Sequence[UploadedFile], limits: IngestLimits) -> IngestResult:
        """Decode ``files``; raises only :class:`EcgInputError` subclasses."""
        ...


#: The readers, asked in this order whether they recognise an upload.
READERS: tuple[EcgReader, ...] = (dicom, edf, sierra, muse, aecg, wfdb_record)

#: The default limits of uploads (the app builds its own from settings).
UPLOAD_LIMITS = IngestLimits()

#: Limits for trusted research datasets read from disk: the Holter-length records of QTDB
#: (15 min) and MIT-BIH (30 min) exceed the 10-minute upload limit.
DATASET_LIMITS = IngestLimits(max_duration_s=3600.0)


def read_upload(
    files: Sequence[UploadedFile], limits: IngestLimits = UPLOAD_LIMITS
) -> IngestResult:
    """Read one uploaded ECG (one file, or a WFDB header with its data files).

    Args:
        files: the uploaded files; names serve WFDB headers to find their data files.
        limits: size limits, checked before any signal memory is allocated.

    Returns:
        The de-identified ECG (mV, canonical leads) with the names of the removed identifying
        fields and any warnings.

    Raises:
        InputTooLarge: too many files or bytes, or a declared signal beyond the limits (413).
        UnsupportedFormat: no reader recognises the content (415).
        MalformedEcg: a recognised format with inconsistent content, ``field`` naming the part
            at fault, or a record shorter than ``limits.min_duration_s`` (422).
    """
    check_upload_size(files, limits)
    for file in files:
        if not file.data:
            raise MalformedEcg(f"{file.name} is empty", field=file.name)
    for reader in READERS:
        if reader.sniff(files):
            result = reader.read(files, limits)
            check_min_duration(result.ecg.duration_s, limits)
            return result
    supported = ", ".join(reader.FORMAT for reader in READERS)
    raise UnsupportedFormat(
        f"the upload is not an ECG format QTLens reads (supported: {supported})", field="files"
    )


def _load(paths: Sequence[Path], limits: IngestLimits, bytes_before: int = 0) -> list[UploadedFile]:
    """Read local files after checking that they exist and that their sizes fit the limits."""
    sizes = []
    for path in paths:
        if not path.is_file():
            raise MalformedEcg(f"{path.name}: no such file", field=path.name)
        sizes.append(path.stat().st_size)
    check_byte_count(bytes_before + sum(sizes), limits)
    files = []
    total = bytes_before
    for path in paths:
        with path.open("rb") as handle:
            data = handle.read(limits.max_upload_bytes + 1)  # the file may have grown since stat
        total += len(data)
        check_byte_count(total, limits)
        files.append(UploadedFile(name=path.name, data=data))
    return files


def read_paths(paths: Sequence[Path], limits: IngestLimits = UPLOAD_LIMITS) -> IngestResult:
    """Read local ECG files through :func:`read_upload` (file sizes are checked before reading).

    A WFDB record may be given as its ``.hea`` path alone: the data files the header names are
    taken from the header's folder.

    Raises:
        EcgInputError: as :func:`read_upload`; :class:`MalformedEcg` also for a missing path.
    """
    paths = [Path(path) for path in paths]
    check_file_count(len(paths), limits)
    files = _load(paths, limits)
    if wfdb_record.sniff(files):
        header_file = wfdb_record.find_header(files)
        header_path = paths[files.index(header_file)]
        header = wfdb_record.parse_header(header_file.data, limits)
        given = {file.name for file in files}
        companions = [
            header_path.parent / name
            for name in header.data_file_names()
            if name not in given and (header_path.parent / name).is_file()
        ]
        files += _load(companions, limits, bytes_before=sum(len(file.data) for file in files))
    return read_upload(files, limits)
