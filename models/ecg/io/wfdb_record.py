"""WFDB records: a ``.hea`` header plus one or more data files (``.dat``, Challenge ``.mat``, …).

The header is parsed field by field (the positional grammar of the WFDB Applications Guide,
header(5), one whitespace-separated token per field — see :func:`_fields` for why not
``wfdb``'s own line expressions), every field is type-checked, and the declared shape is checked
against the :class:`IngestLimits` and against the byte size of each data file *before* any
sample is decoded. Only then are the samples decoded, by :func:`wfdb.rdrecord`.

Why a temporary directory: ``wfdb`` reads records only from paths, and its byte decoders
(formats 212, 310, 311, 24, …) are private functions of ``wfdb.io._signal`` whose signatures
change between releases. Writing the already validated files to a private
:class:`tempfile.TemporaryDirectory` (mode 0700, removed when the read ends) and calling the
documented ``rdrecord`` keeps the decoding in the library. The header written there holds only
the record and signal lines, under a neutral record name: no comment and no original record name
ever touches the disk.

Record names, base dates and every comment line except age and sex are dropped (see
:func:`models.ecg.io.deid.demographics_from_comments`).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb

from models.ecg.errors import MalformedEcg, UnsupportedFormat
from models.ecg.io.assemble import assemble
from models.ecg.io.checks import (
    check_channel_count,
    check_sample_count,
    check_sampling_rate,
    parse_int,
    parse_real,
)
from models.ecg.io.deid import IdentifyingField, demographics_from_comments
from models.ecg.io.units import millivolts_per_unit
from models.ecg.io.upload import IngestResult, UploadedFile
from models.ecg.limits import IngestLimits

FORMAT = "wfdb"
MAT_FORMAT = "wfdb-mat"

#: Bytes per sample of the WFDB signal formats QTLens decodes (212: two 12-bit samples in three
#: bytes; 310/311: three 10-bit samples in four bytes).
BYTES_PER_SAMPLE: dict[str, float] = {
    "8": 1,
    "16": 2,
    "24": 3,
    "32": 4,
    "61": 2,
    "80": 1,
    "160": 2,
    "212": 1.5,
    "310": 4 / 3,
    "311": 4 / 3,
}

#: FLAC-compressed formats: their byte size says nothing about the sample count.
COMPRESSED_FORMATS = frozenset({"508", "516", "524"})

#: WFDB defaults (WFDB Applications Guide, "header(5)"): sampling frequency and ADC gain.
DEFAULT_FS_HZ = 250.0
DEFAULT_ADC_GAIN = 200.0

#: How much of a file is inspected when sniffing for a header.
SNIFF_BYTES = 64 * 1024

_RECORD_BASENAME = "record"


@dataclass(frozen=True)
class SignalSpec:
    """One signal line of a WFDB header, type-checked."""

    file_name: str
    fmt: str
    samples_per_frame: int
    skew: int
    byte_offset: int
    adc_gain: float
    units: str
    name: str


@dataclass(frozen=True)
class WfdbHeader:
    """A parsed single-segment WFDB header (no identifying fields kept but the comments).

    ``record_line`` is the record line with the record name replaced by a neutral one and
    ``signal_lines`` the signal lines as written, so a header without comments can be rewritten.
    """

    fs_hz: float
    n_samples: int | None
    signals: tuple[SignalSpec, ...]
    comments: tuple[str, ...]
    record_line: str
    signal_lines: tuple[str, ...]
    has_base_date: bool
    warnings: tuple[str, ...]

    def data_file_names(self) -> tuple[str, ...]:
        """The data files the header refers to, in order of first use."""
        return tuple(dict.fromkeys(signal.file_name for signal in self.signals))


def _split_lines(data: bytes) -> tuple[list[tuple[int, str]], list[str]]:
    """Header lines (with their 1-based line number) and comment lines of a header file.

    Comment text is decoded leniently (it is dropped anyway, apart from age and sex); record and
    signal lines must be ASCII, as the WFDB format requires.
    """
    lines: list[tuple[int, str]] = []
    comments: list[str] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith(b"#"):
            comments.append(stripped.decode("utf-8", errors="replace"))
        elif stripped:
            try:
                lines.append((number, stripped.decode("ascii")))
            except UnicodeDecodeError:
                raise MalformedEcg(
                    f"line {number} of the WFDB header is not plain ASCII text",
                    field=f"header line {number}",
                ) from None
    return lines, comments


#: Longest header line accepted, and longest field token: WFDB lines are short, and the caps
#: keep parsing linear whatever a hostile header holds.
MAX_LINE_CHARS = 1024
MAX_FIELD_CHARS = 64

_DECIMAL = r"(?:\d+\.?\d*|\.\d+)"

#: Positional fields of the record line: ``name[/segments] signals [fs[/counter[(base)]]
#: [samples [time [date]]]]`` (WFDB Applications Guide, header(5)).
_RECORD_FIELDS = (
    re.compile(r"(?P<record_name>[-\w]+)(?:/(?P<n_seg>\d+))?"),
    re.compile(r"(?P<n_sig>\d+)"),
    re.compile(
        rf"(?P<fs>{_DECIMAL})(?:/(?P<counter_freq>-?{_DECIMAL})(?:\((?P<base_counter>-?{_DECIMAL})\))?)?"
    ),
    re.compile(r"(?P<sig_len>\d+)"),
    re.compile(r"(?P<base_time>\d{1,2}(?::\d{1,2}){0,2}(?:\.\d{1,6})?)"),
    re.compile(r"(?P<base_date>\d{1,2}/\d{1,2}/\d{1,4})"),
)

#: Positional fields of a signal line: ``file format[xframe][:skew][+offset]
#: [gain[(baseline)][/units] [resolution [zero [initial [checksum [block [description]]]]]]]``.
_SIGNAL_FIELDS = (
    re.compile(r"(?P<file_name>[-\w]*\.?\w*)"),
    re.compile(
        r"(?P<fmt>\d+)(?:x(?P<samps_per_frame>\d+))?(?::(?P<skew>\d+))?(?:\+(?P<byte_offset>\d+))?"
    ),
    re.compile(
        rf"(?P<adc_gain>-?{_DECIMAL}(?:e[+-]?\d+)?)?(?:\((?P<baseline>-?\d+)\))?"
        r"(?:/(?P<units>[\w^?%/-]+))?"
    ),
    re.compile(r"(?P<adc_res>\d+)"),
    re.compile(r"(?P<adc_zero>-?\d+)"),
    re.compile(r"(?P<init_value>-?\d+)"),
    re.compile(r"(?P<checksum>-?\d+)"),
    re.compile(r"(?P<block_size>\d+)"),
)


def _fields(
    line: str, patterns: tuple[re.Pattern[str], ...], what: str, field: str
) -> tuple[dict[str, str], list[str]]:
    """Match a header line's whitespace-separated tokens against positional field patterns.

    Returns the named fields (``""`` when absent) and the tokens beyond the patterns (a signal
    line's description). ``wfdb``'s own line expressions make every separator optional: they
    split ``"rec 12 -500 5000"`` into a record without a sampling rate, and on lines that do
    not match they backtrack exponentially (seconds of CPU for a 1 kB header). Matching one
    short token per field keeps the grammar and makes parsing linear.
    """
    if len(line) > MAX_LINE_CHARS:
        raise MalformedEcg(f"the {what} is longer than {MAX_LINE_CHARS} characters", field)
    tokens = line.split()
    groups = {name: "" for pattern in patterns for name in pattern.groupindex}
    for position, (token, pattern) in enumerate(zip(tokens, patterns), start=1):
        match = pattern.fullmatch(token) if len(token) <= MAX_FIELD_CHARS else None
        if match is None:
            raise MalformedEcg(f"field {position} of the {what} is not valid", field)
        groups.update({name: value or "" for name, value in match.groupdict().items()})
    if len(tokens) < 2:
        raise MalformedEcg(f"the {what} is incomplete", field)
    return groups, tokens[len(patterns) :]


def _parse_signal_line(line: str, number: int, index: int, notes: list[str]) -> SignalSpec:
    """Parse the signal line on header line ``number``, describing signal ``index`` (from 1)."""
    field = f"header line {number}"
    groups, description = _fields(line, _SIGNAL_FIELDS, f"signal line {number}", field)
    file_name = groups["file_name"]
    if not any(char.isalnum() for char in file_name) or file_name.lower().endswith(".hea"):
        raise MalformedEcg(f"line {number} of the WFDB header names no usable data file", field)
    fmt = groups["fmt"]
    if fmt in COMPRESSED_FORMATS:
        raise UnsupportedFormat(
            f"WFDB signal format {fmt} (FLAC-compressed) is not supported; convert the record "
            "to format 16",
            field,
        )
    if fmt not in BYTES_PER_SAMPLE:
        raise MalformedEcg(f"{fmt[:10]!r} is not a WFDB signal format", field)
    samples_per_frame = parse_int(groups["samps_per_frame"], "samples per frame", field, 1)
    if samples_per_frame < 1:
        raise MalformedEcg("the samples per frame must be at least 1", field)
    adc_gain = parse_real(groups["adc_gain"], "ADC gain", field, 0.0)
    if adc_gain == 0:
        adc_gain = DEFAULT_ADC_GAIN
        notes.append(
            f"signal {index} is uncalibrated (no ADC gain); the WFDB default of "
            f"{DEFAULT_ADC_GAIN:g} units per mV was used"
        )
    return SignalSpec(
        file_name=file_name,
        fmt=fmt,
        samples_per_frame=samples_per_frame,
        skew=parse_int(groups["skew"], "skew", field, 0),
        byte_offset=parse_int(groups["byte_offset"], "byte offset", field, 0),
        adc_gain=adc_gain,
        units=groups["units"] or "mV",
        name=" ".join(description),
    )


def parse_header(data: bytes, limits: IngestLimits) -> WfdbHeader:
    """Parse and check a WFDB header: grammar, numbers, and declared size against ``limits``.

    Raises:
        InputTooLarge: more channels, a higher rate or a longer record than ``limits`` allow.
        UnsupportedFormat: a multi-segment record or a FLAC-compressed signal format.
        MalformedEcg: any other inconsistency, with ``field`` naming the header line.
    """
    lines, comments = _split_lines(data)
    if not lines:
        raise MalformedEcg("the WFDB header has no record line", field="header line 1")
    number, record_line = lines[0]
    field = f"header line {number}"
    groups, extra = _fields(record_line, _RECORD_FIELDS, "record line", field)
    if extra:
        raise MalformedEcg("the record line has more fields than WFDB defines", field)
    if groups["n_seg"]:
        raise UnsupportedFormat(
            "multi-segment WFDB records are not supported; upload a single-segment record", field
        )
    notes: list[str] = []
    n_signals = parse_int(groups["n_sig"], "number of signals", field)
    check_channel_count(n_signals, limits, field)
    fs_hz = parse_real(groups["fs"], "sampling frequency", field, DEFAULT_FS_HZ)
    if groups["fs"] == "":
        notes.append(
            f"the header gives no sampling frequency; the WFDB default {fs_hz:g} Hz was used"
        )
    check_sampling_rate(fs_hz, limits, field)
    n_samples = None
    if groups["sig_len"]:
        n_samples = parse_int(groups["sig_len"], "number of samples", field)
        check_sample_count(n_samples, fs_hz, limits, field)

    signal_lines = lines[1:]
    if len(signal_lines) != n_signals:
        raise MalformedEcg(
            f"the header declares {n_signals} signals but describes {len(signal_lines)}", field
        )
    signals = tuple(
        _parse_signal_line(text, line_number, index, notes)
        for index, (line_number, text) in enumerate(signal_lines, start=1)
    )
    max_frame = max(signal.samples_per_frame for signal in signals)
    if max_frame > 1:
        check_sampling_rate(fs_hz * max_frame, limits, field="samples per frame")
    if n_samples is not None:
        _check_skews(signals, n_samples)
    # The copy decoded by rdrecord: neutral name, no base time or date, one space per separator.
    frequency = record_line.split()[2] if len(record_line.split()) > 2 else ""
    neutral_line = " ".join(
        token
        for token in (_RECORD_BASENAME, groups["n_sig"], frequency, groups["sig_len"])
        if token
    )
    return WfdbHeader(
        fs_hz=fs_hz,
        n_samples=n_samples,
        signals=signals,
        comments=tuple(comments),
        record_line=neutral_line,
        signal_lines=tuple(" ".join(text.split()) for _, text in signal_lines),
        has_base_date=bool(groups["base_date"]),
        warnings=tuple(notes),
    )


def _check_skews(signals: Sequence[SignalSpec], n_samples: int) -> None:
    """Refuse a skew (samples) beyond the record: ``wfdb`` allocates ``n_samples`` plus the
    largest skew per signal, so an unchecked skew of 10^9 costs gigabytes."""
    for index, signal in enumerate(signals, start=1):
        if signal.skew > n_samples:
            raise MalformedEcg(
                f"the skew of signal {index} ({signal.skew} samples) is outside the record of "
                f"{n_samples} samples",
                field=f"signal {index}",
            )


def _basename(name: str) -> str:
    """The file name without any directory part a client may have sent."""
    return name.replace("\\", "/").rsplit("/", 1)[-1]


#: The start of a record line: a record name and a number of signals. A ``.hea`` file whose
#: first line starts like this is read as a header even when a field is broken, so that the
#: error names the field instead of calling the file an unknown format.
_RECORD_LINE_START = re.compile(r"\s*\S+[ \t]+\d+")


def _looks_like_header(file: UploadedFile) -> bool:
    """Header grammar (record line, then a signal line), or a ``.hea`` name with a line that
    starts like a record line; never the name alone."""
    head = file.data[:SNIFF_BYTES]
    if b"\x00" in head:
        return False
    lines = [
        line.strip().decode("ascii", errors="replace")
        for line in head.splitlines()
        if line.strip() and not line.strip().startswith(b"#")
    ]
    if not lines:
        return False
    try:
        _fields(lines[0], _RECORD_FIELDS, "record line", "header")
        _fields(lines[1] if len(lines) > 1 else "", _SIGNAL_FIELDS, "signal line", "header")
        return True
    except MalformedEcg:
        is_named_header = _basename(file.name).lower().endswith(".hea")
        return is_named_header and _RECORD_LINE_START.match(lines[0][:MAX_LINE_CHARS]) is not None


def sniff(files: Sequence[UploadedFile]) -> bool:
    """Whether one of ``files`` is a WFDB header (record-line grammar, then a signal line)."""
    return any(_looks_like_header(file) for file in files)


def find_header(files: Sequence[UploadedFile]) -> UploadedFile:
    """The header among the uploaded files (a ``.hea`` name breaks a tie between candidates)."""
    candidates = [file for file in files if _looks_like_header(file)]
    if len(candidates) > 1:
        named = [file for file in candidates if _basename(file.name).lower().endswith(".hea")]
        candidates = named if len(named) == 1 else candidates
    if len(candidates) != 1:
        raise MalformedEcg(
            f"the upload holds {len(candidates)} WFDB headers; upload one record at a time",
            field="files",
        )
    return candidates[0]


def _match_data_files(
    header: WfdbHeader, files: Sequence[UploadedFile], header_file: UploadedFile
) -> dict[str, bytes]:
    """Map every data file name the header uses to the uploaded bytes of that file."""
    by_name = {_basename(file.name): file for file in files if file is not header_file}
    by_lower = {name.lower(): file for name, file in by_name.items()}
    matched: dict[str, bytes] = {}
    for name in header.data_file_names():
        file = by_name.get(name) or by_lower.get(name.lower())
        if file is None:
            raise MalformedEcg(f"{name} is missing: a WFDB header needs its data file", field=name)
        matched[name] = file.data
    return matched


def _required_bytes(fmt: str, n_samples: int) -> int:
    """Bytes that ``n_samples`` samples (all signals of one file together) occupy in ``fmt``."""
    if fmt in ("310", "311"):
        return -(-n_samples // 3) * 4
    return math.ceil(n_samples * BYTES_PER_SAMPLE[fmt])


def _check_data_sizes(
    header: WfdbHeader, data_files: dict[str, bytes], limits: IngestLimits
) -> tuple[int, list[str]]:
    """Check each data file's size against the header; returns the sample count per signal.

    A header without a sample count gets it from the data size (the shortest file decides).
    """
    notes: list[str] = []
    inferred: list[int] = []
    layouts = []
    for name, data in data_files.items():
        members = [signal for signal in header.signals if signal.file_name == name]
        formats = {signal.fmt for signal in members}
        offsets = {signal.byte_offset for signal in members}
        if len(formats) > 1 or len(offsets) > 1:
            raise MalformedEcg(
                f"the signals stored in {name} disagree on their format or byte offset", field=name
            )
        fmt, offset = formats.pop(), offsets.pop()
        samples_per_frame = sum(signal.samples_per_frame for signal in members)
        if offset > len(data):
            raise MalformedEcg(
                f"the header puts the first sample of {name} at byte {offset}, but the file holds "
                f"{len(data)} bytes",
                field=name,
            )
        layouts.append((name, data, members, fmt, offset, samples_per_frame))
        inferred.append(int((len(data) - offset) / BYTES_PER_SAMPLE[fmt]) // samples_per_frame)

    n_samples = header.n_samples
    if n_samples is None:
        n_samples = min(inferred)
        check_sample_count(n_samples, header.fs_hz, limits, field="number of samples")
        _check_skews(header.signals, n_samples)  # the declared count was checked in the header
        notes.append(f"the header gives no sample count; {n_samples} samples per signal were read")

    for name, data, members, fmt, offset, samples_per_frame in layouts:
        expected = offset + _required_bytes(fmt, n_samples * samples_per_frame)
        if len(data) != expected:
            per_lead = max(_required_bytes(fmt, n_samples), 1)
            leads_worth = (len(data) - offset) / per_lead
            raise MalformedEcg(
                f"the header says {len(members)} leads of {n_samples} samples in format {fmt} "
                f"({expected} bytes) but {name} holds {len(data)} bytes, {leads_worth:.3g} "
                "leads' worth",
                field=name,
            )
    return n_samples, notes


def _decode(header: WfdbHeader, data_files: dict[str, bytes]) -> np.ndarray:
    """Decode the validated record with :func:`wfdb.rdrecord`; ``[signals, samples]`` physical."""
    # Data files get neutral names too (their original names can identify the patient and
    # would otherwise surface in library debug logs); the extension is kept for wfdb.
    neutral = {name: f"{_RECORD_BASENAME}_{index}{Path(name).suffix}"
               for index, name in enumerate(data_files)}
    signal_lines = [" ".join((neutral[line.split(maxsplit=1)[0]], *line.split()[1:]))
                    for line in header.signal_lines]
    with tempfile.TemporaryDirectory(prefix="qtlens-wfdb-") as directory:
        header_text = "\n".join((header.record_line, *signal_lines)) + "\n"
        Path(directory, f"{_RECORD_BASENAME}.hea").write_text(header_text, encoding="ascii")
        for name, data in data_files.items():
            Path(directory, neutral[name]).write_bytes(data)
        try:
            record = wfdb.rdrecord(
                os.path.join(directory, _RECORD_BASENAME),
                physical=True,
                smooth_frames=True,
                return_res=32,
            )
        except (ValueError, IndexError, OSError) as error:
            # The header and sizes were checked above; this is a last line of defence.
            raise MalformedEcg(
                f"the WFDB data could not be decoded ({error})", field="data"
            ) from None
    return np.asarray(record.p_signal, dtype=np.float32).T


def read(files: Sequence[UploadedFile], limits: IngestLimits) -> IngestResult:
    """Read one WFDB record (header + data files) into a de-identified :class:`IngestResult`.

    Signals are converted to mV from the header's gain, baseline and units; channels whose
    units are not a voltage (e.g. mmHg) are dropped with a warning.

    Raises:
        InputTooLarge, UnsupportedFormat, MalformedEcg: see :func:`parse_header`; also when a
        data file is missing or its size does not match the header.
    """
    header_file = find_header(files)
    header = parse_header(header_file.data, limits)
    data_files = _match_data_files(header, files, header_file)
    n_samples, size_notes = _check_data_sizes(header, data_files, limits)
    notes = [*header.warnings, *size_notes]
    used = {_basename(header_file.name), *data_files}
    ignored = [_basename(file.name) for file in files if _basename(file.name) not in used]
    if ignored:
        notes.append(f"ignored files the header does not use: {', '.join(ignored)}")

    signal = _decode(header, data_files)[:, :n_samples]
    rows, names = [], []
    for index, spec in enumerate(header.signals):
        factor = millivolts_per_unit(spec.units)
        if factor is None:
            notes.append(f"dropped signal {index + 1}: its unit {spec.units!r} is not a voltage")
            continue
        rows.append(signal[index] * np.float32(factor))
        names.append(spec.name)
    if not rows:
        raise MalformedEcg("no signal of the record is measured in volts", field="units")

    age, sex, has_free_text = demographics_from_comments(header.comments)
    removed = [IdentifyingField.RECORD_NAME]
    if has_free_text:
        removed.append(IdentifyingField.COMMENTS)
    if header.has_base_date:
        removed.append(IdentifyingField.ACQUISITION_DATE)
    is_mat = any(name.lower().endswith(".mat") for name in data_files)
    return assemble(
        np.stack(rows),
        names,
        header.fs_hz,
        source_format=MAT_FORMAT if is_mat else FORMAT,
        age_years=age,
        sex=sex,
        removed=removed,
        warnings=notes,
    )
