"""Limit checks every reader runs on *declared* sizes, before it allocates signal memory.

A header's claims (channels, sampling rate, samples) are checked against :class:`IngestLimits`
here, and against the bytes actually present by each reader. Claims beyond a limit raise
:class:`InputTooLarge` (HTTP 413); impossible claims (no samples, a zero rate) raise
:class:`MalformedEcg` (HTTP 422), both naming the header field at fault.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from models.ecg.errors import InputTooLarge, MalformedEcg
from models.ecg.io.upload import UploadedFile
from models.ecg.limits import IngestLimits


def check_upload_size(files: Sequence[UploadedFile], limits: IngestLimits) -> None:
    """Refuse an upload with no files, too many files or too many bytes in total."""
    check_file_count(len(files), limits)
    check_byte_count(sum(len(file.data) for file in files), limits)


def check_file_count(n_files: int, limits: IngestLimits) -> None:
    """Refuse an upload of no files or of more than ``limits.max_files``."""
    if n_files == 0:
        raise MalformedEcg("no file was uploaded", field="files")
    if n_files > limits.max_files:
        raise InputTooLarge(
            f"{n_files} files were uploaded; at most {limits.max_files} are accepted "
            "(a WFDB record is one header plus its data files)",
            field="files",
        )


def check_byte_count(total_bytes: int, limits: IngestLimits) -> None:
    """Refuse input larger than ``limits.max_upload_bytes`` in total."""
    if total_bytes > limits.max_upload_bytes:
        raise InputTooLarge(
            f"the upload holds {total_bytes / 1e6:.1f} MB; the limit is "
            f"{limits.max_upload_bytes / 1e6:.1f} MB",
            field="files",
        )


def check_channel_count(n_channels: int, limits: IngestLimits, field: str) -> None:
    """Refuse a declared channel count that is zero or above ``limits.max_channels``."""
    if n_channels > limits.max_channels:
        raise InputTooLarge(
            f"the file declares {n_channels} signal channels; at most {limits.max_channels} "
            "are accepted",
            field=field,
        )
    if n_channels < 1:
        raise MalformedEcg("the file declares no signal channels", field=field)


def check_sampling_rate(fs_hz: float, limits: IngestLimits, field: str) -> None:
    """Refuse a sampling rate (Hz) that is not a positive number inside the accepted range."""
    if not math.isfinite(fs_hz) or fs_hz <= 0:
        raise MalformedEcg(f"the sampling rate must be a positive number of Hz, not {fs_hz}", field)
    if fs_hz > limits.max_fs_hz:
        raise InputTooLarge(
            f"the sampling rate is {fs_hz:g} Hz; at most {limits.max_fs_hz:g} Hz is accepted", field
        )
    if fs_hz < limits.min_fs_hz:
        raise MalformedEcg(
            f"the sampling rate is {fs_hz:g} Hz; at least {limits.min_fs_hz:g} Hz is needed to "
            "measure ECG intervals",
            field,
        )


def check_sample_count(n_samples: int, fs_hz: float, limits: IngestLimits, field: str) -> None:
    """Refuse a declared number of samples per channel that is zero or longer than allowed."""
    if n_samples < 1:
        raise MalformedEcg("the record holds no samples", field=field)
    duration_s = n_samples / fs_hz
    if duration_s > limits.max_duration_s:
        raise InputTooLarge(
            f"the file declares {n_samples} samples at {fs_hz:g} Hz ({duration_s:,.0f} s); "
            f"records up to {limits.max_duration_s:g} s are accepted",
            field=field,
        )


def check_duration(duration_s: float, limits: IngestLimits, field: str) -> None:
    """Refuse a declared record duration (s) beyond ``limits.max_duration_s``."""
    if duration_s > limits.max_duration_s:
        raise InputTooLarge(
            f"the file declares {duration_s:,.0f} s of signal; records up to "
            f"{limits.max_duration_s:g} s are accepted",
            field=field,
        )


def check_min_duration(duration_s: float, limits: IngestLimits) -> None:
    """Refuse a record (duration in s) shorter than ``limits.min_duration_s``: too short for the
    beats a median beat, its intervals and a prediction need."""
    if duration_s < limits.min_duration_s:
        raise MalformedEcg(
            f"the record is only {duration_s:.2f} s long; QTLens needs at least "
            f"{limits.min_duration_s:g} s of signal (several beats) to measure intervals and "
            "predict a risk",
            field="samples",
        )


def samples_for_duration(duration_s: float, fs_hz: float, limits: IngestLimits, field: str) -> int:
    """The sample count of a record declared by its duration (s), after checking that duration."""
    check_duration(duration_s, limits, field)
    n_samples = round(duration_s * fs_hz)
    check_sample_count(n_samples, fs_hz, limits, field)
    return n_samples


def single_file(files: Sequence[UploadedFile], format_label: str) -> UploadedFile:
    """The one file of a single-file format (EDF, DICOM, the XML formats); more are refused."""
    if len(files) != 1:
        raise MalformedEcg(
            f"a {format_label} ECG is a single file; the upload holds {len(files)} files",
            field="files",
        )
    return files[0]


def parse_int(text: str, what: str, field: str, default: int | None = None) -> int:
    """A whole number read from a header field; ``default`` when the field is empty.

    Raises:
        MalformedEcg: the field is not a whole number (or is empty without a default).
    """
    if text.strip() == "" and default is not None:
        return default
    try:
        return int(text)
    except ValueError:
        raise MalformedEcg(f"the {what} {text[:20]!r} is not a whole number", field) from None


def parse_real(text: str, what: str, field: str, default: float | None = None) -> float:
    """A finite number read from a header field; ``default`` when the field is empty.

    Raises:
        MalformedEcg: the field is not a finite number (or is empty without a default).
    """
    if text.strip() == "" and default is not None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise MalformedEcg(f"the {what} {text[:20]!r} is not a number", field) from None
    if not math.isfinite(value):
        raise MalformedEcg(f"the {what} {text[:20]!r} is not a finite number", field)
    return value
