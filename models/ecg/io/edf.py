"""EDF, EDF+ and BDF recordings (European Data Format; BioSemi's 24-bit variant).

The 256-byte main header and the per-signal headers are parsed and checked here — number of
signals, header size, samples per data record, record duration, and the record count against
the file size — before :mod:`pyedflib` decodes anything. ``pyedflib`` reads only from paths, so
the checked bytes are written to a private temporary directory; in that copy the patient and
recording fields are blanked (EDF+ "X" placeholders), so identifying text never reaches the disk
and a non-ASCII name cannot make the strict reader refuse an otherwise valid file.

EDF+ subfields (Kemp & Olivan 2003, "European data format 'plus' (EDF+)", Clin Neurophysiol
114:1755): patient = ``code sex birthdate name …``, recording =
``Startdate dd-MMM-yyyy admincode technician equipment …``. Sex and the age at the start date
are kept; every other subfield is dropped and reported, and so are EDF+ annotations (free text).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyedflib

from models.ecg.errors import InputTooLarge, MalformedEcg, UnsupportedFormat
from models.ecg.io.assemble import assemble
from models.ecg.io.checks import (
    check_channel_count,
    check_duration,
    check_sampling_rate,
    parse_int,
    parse_real,
    samples_for_duration,
    single_file,
)
from models.ecg.io.deid import IdentifyingField, age_from_dates, parse_date
from models.ecg.io.units import millivolts_per_unit
from models.ecg.io.upload import IngestResult, UploadedFile
from models.ecg.limits import IngestLimits
from models.ecg.record import Sex, canonical_lead_name, normalise_sex

FORMAT = "edf"
BDF_FORMAT = "bdf"

_EDF_VERSION = b"0       "
_BDF_VERSION = b"\xffBIOSEMI"
_MAIN_HEADER_BYTES = 256
_SIGNAL_HEADER_BYTES = 256
_PATIENT = slice(8, 88)
_RECORDING = slice(88, 168)
_ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")
#: Widths of the per-signal header fields, in the order they are stored (EDF specification).
_SIGNAL_FIELD_WIDTHS = (
    ("label", 16),
    ("transducer", 80),
    ("dimension", 8),
    ("physical_min", 8),
    ("physical_max", 8),
    ("digital_min", 8),
    ("digital_max", 8),
    ("prefilter", 80),
    ("samples_per_record", 8),
    ("reserved", 32),
)


@dataclass(frozen=True)
class EdfSignal:
    """One signal header, checked."""

    label: str
    dimension: str
    samples_per_record: int
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int

    @property
    def is_annotation(self) -> bool:
        """Whether this is the EDF+/BDF+ annotation channel."""
        return self.label in _ANNOTATION_LABELS


@dataclass(frozen=True)
class EdfHeader:
    """The checked main header (identifying fields only as text to de-identify)."""

    is_bdf: bool
    is_edf_plus: bool
    patient_field: str
    recording_field: str
    start_date: dt.date | None
    n_records: int
    record_duration_s: float
    signals: tuple[EdfSignal, ...]

    @property
    def header_bytes(self) -> int:
        """Size of the main plus signal headers."""
        return _MAIN_HEADER_BYTES + _SIGNAL_HEADER_BYTES * len(self.signals)

    @property
    def record_bytes(self) -> int:
        """Bytes of one data record (2 per EDF sample, 3 per BDF sample)."""
        return (3 if self.is_bdf else 2) * sum(signal.samples_per_record for signal in self.signals)


def sniff(files: Sequence[UploadedFile]) -> bool:
    """Whether a file starts with the EDF version field ``"0       "`` or BDF's ``\\xffBIOSEMI``."""
    return any(
        len(file.data) >= _MAIN_HEADER_BYTES and file.data[:8] in (_EDF_VERSION, _BDF_VERSION)
        for file in files
    )


def _text(data: bytes) -> str:
    """A header field as text (EDF headers are ASCII; Latin-1 keeps stray bytes readable)."""
    return data.decode("latin-1").strip()


def _signal_headers(data: bytes, n_signals: int) -> tuple[EdfSignal, ...]:
    """Parse the ``n_signals`` signal headers stored column-wise after the main header."""
    columns: dict[str, list[str]] = {}
    offset = _MAIN_HEADER_BYTES
    for name, width in _SIGNAL_FIELD_WIDTHS:
        columns[name] = [
            _text(data[offset + index * width : offset + (index + 1) * width])
            for index in range(n_signals)
        ]
        offset += n_signals * width
    signals = []
    for index in range(n_signals):
        field = f"signal {index + 1}"
        signal = EdfSignal(
            label=columns["label"][index],
            dimension=columns["dimension"][index],
            samples_per_record=parse_int(
                columns["samples_per_record"][index], "samples per record", field
            ),
            physical_min=parse_real(columns["physical_min"][index], "physical minimum", field),
            physical_max=parse_real(columns["physical_max"][index], "physical maximum", field),
            digital_min=parse_int(columns["digital_min"][index], "digital minimum", field),
            digital_max=parse_int(columns["digital_max"][index], "digital maximum", field),
        )
        if signal.samples_per_record < 1:
            raise MalformedEcg("a signal must have at least one sample per data record", field)
        if signal.digital_max <= signal.digital_min or signal.physical_max == signal.physical_min:
            raise MalformedEcg("the signal's digital or physical range is empty", field)
        signals.append(signal)
    return tuple(signals)


def _edf_date(text: str) -> dt.date | None:
    """The EDF start date ``dd.mm.yy`` (years 85–99 → 19xx, 00–84 → 20xx, as the spec says)."""
    date = parse_date(text, ["%d.%m.%y"])
    if date is None:
        return None
    century = 1900 if date.year % 100 >= 85 else 2000
    return date.replace(year=century + date.year % 100)


def parse_header(data: bytes, limits: IngestLimits) -> EdfHeader:
    """Parse and check the headers of an EDF/BDF file against ``limits`` and its size.

    Raises:
        InputTooLarge: too many signals, too high a rate or too long a recording.
        UnsupportedFormat: a discontinuous (EDF+D) recording.
        MalformedEcg: an inconsistent header or a file size that does not match it.
    """
    n_signals = parse_int(_text(data[252:256]), "number of signals", "number of signals")
    check_channel_count(n_signals, limits, field="number of signals")
    header_bytes = parse_int(_text(data[184:192]), "header size", "header size")
    expected_header = _MAIN_HEADER_BYTES + _SIGNAL_HEADER_BYTES * n_signals
    if header_bytes != expected_header or len(data) < header_bytes:
        raise MalformedEcg(
            f"the header declares {n_signals} signals and {header_bytes} header bytes; that "
            f"needs {expected_header} bytes and the file holds {len(data)}",
            field="header size",
        )
    reserved = _text(data[192:236])
    if reserved.startswith(("EDF+D", "BDF+D")):
        raise UnsupportedFormat(
            "discontinuous EDF+D recordings are not supported; export a continuous one", "reserved"
        )
    duration_s = parse_real(_text(data[244:252]), "data record duration", "data record duration")
    if duration_s <= 0:
        raise MalformedEcg(
            "the data record duration must be positive", field="data record duration"
        )
    header = EdfHeader(
        is_bdf=data[:8] == _BDF_VERSION,
        is_edf_plus=reserved.startswith(("EDF+", "BDF+")),
        patient_field=_text(data[_PATIENT]),
        recording_field=_text(data[_RECORDING]),
        start_date=_edf_date(_text(data[168:176])),
        n_records=parse_int(
            _text(data[236:244]), "number of data records", "number of data records"
        ),
        record_duration_s=duration_s,
        signals=_signal_headers(data, n_signals),
    )
    data_bytes = len(data) - header.header_bytes
    records_held = data_bytes // header.record_bytes
    n_records = header.n_records if header.n_records != -1 else records_held
    for index, signal in enumerate(header.signals, start=1):
        fs_hz = signal.samples_per_record / duration_s
        if signal.is_annotation:
            # Annotation bytes count like samples: pyedflib's annotation parser costs ~100x
            # their size, so an unchecked annotation channel is a memory amplifier.
            _check_annotation_rate(fs_hz, limits, field=f"signal {index}")
            check_duration(max(n_records, 1) * duration_s, limits, "number of data records")
        else:
            check_sampling_rate(fs_hz, limits, field=f"signal {index}")
            samples_for_duration(
                max(n_records, 1) * duration_s, fs_hz, limits, "number of data records"
            )
    if n_records < 1 or n_records * header.record_bytes != data_bytes:
        raise MalformedEcg(
            f"the header says {header.n_records} data records of {header.record_bytes} bytes but "
            f"the file holds {data_bytes} bytes of data, {data_bytes / header.record_bytes:.3g} "
            "records' worth",
            field="number of data records",
        )
    return dataclasses.replace(header, n_records=n_records)


def _check_annotation_rate(rate_per_s: float, limits: IngestLimits, field: str) -> None:
    """Refuse an annotation channel of more 2-byte units per second than a signal may have."""
    if rate_per_s > limits.max_fs_hz:
        raise InputTooLarge(
            f"the annotation channel holds {rate_per_s:g} samples per second; at most "
            f"{limits.max_fs_hz:g} are accepted, as for a signal",
            field=field,
        )


def count_annotations(data: bytes, header: EdfHeader) -> int:
    """Number of EDF+ annotation texts in the annotation channels (their text is not kept).

    Counted on the bytes, without pyedflib's annotation parser (whose memory grows about 130
    times the annotation bytes): every annotation text starts right after a ``\x14`` separator
    (Kemp & Olivan 2003, section 2.2.2); the empty text of each record's time-keeping TAL
    does not count.
    """
    channels = [index for index, signal in enumerate(header.signals) if signal.is_annotation]
    if not channels:
        return 0
    width = 3 if header.is_bdf else 2
    starts = np.cumsum([0] + [width * signal.samples_per_record for signal in header.signals])
    records = np.frombuffer(
        data, dtype=np.uint8, count=header.n_records * header.record_bytes,
        offset=header.header_bytes,
    ).reshape(header.n_records, header.record_bytes)
    count = 0
    for index in channels:
        block = records[:, starts[index] : starts[index + 1]]
        separator, following = block[:, :-1] == 0x14, block[:, 1:]
        count += int(np.count_nonzero(separator & (following != 0x14) & (following != 0)))
    return count


def _demographics(header: EdfHeader) -> tuple[int | None, Sex | None, set[IdentifyingField]]:
    """Age, sex and the identifying fields present in the patient and recording fields."""
    removed: set[IdentifyingField] = set()
    if header.start_date is not None:
        removed.add(IdentifyingField.ACQUISITION_DATE)
    patient = header.patient_field.split()
    recording = header.recording_field.split()
    if not header.is_edf_plus or len(patient) < 4:
        if header.patient_field:
            removed.add(IdentifyingField.PATIENT_ID)
        if header.recording_field:
            removed.add(IdentifyingField.COMMENTS)
        return None, None, removed
    code, sex_text, birth_text, name, *patient_extra = patient
    start_date = header.start_date
    if len(recording) >= 2 and recording[0] == "Startdate":
        start_date = parse_date(recording[1], ["%d-%b-%Y"]) or start_date
        for kind, value in zip(
            (
                IdentifyingField.ORDER_NUMBER,
                IdentifyingField.OPERATOR_NAME,
                IdentifyingField.DEVICE_SERIAL,
            ),
            recording[2:5],
        ):
            if value != "X":
                removed.add(kind)
        if recording[5:]:
            removed.add(IdentifyingField.COMMENTS)
    for kind, value in (
        (IdentifyingField.PATIENT_ID, code),
        (IdentifyingField.BIRTH_DATE, birth_text),
        (IdentifyingField.PATIENT_NAME, name),
    ):
        if value != "X":
            removed.add(kind)
    if patient_extra:
        removed.add(IdentifyingField.COMMENTS)
    age = age_from_dates(parse_date(birth_text, ["%d-%b-%Y"]), start_date)
    return age, normalise_sex(sex_text if sex_text != "X" else None), removed


def _blank_identity(data: bytes, header: EdfHeader) -> bytes:
    """A copy of the file whose patient and recording fields hold only EDF+ placeholders."""
    patient = b"X X X X" if header.is_edf_plus else b""
    recording = b"Startdate X X X X" if header.is_edf_plus else b""
    return (
        data[: _PATIENT.start] + patient.ljust(80) + recording.ljust(80) + data[_RECORDING.stop :]
    )


def _decode(data: bytes, header: EdfHeader, channels: list[int]) -> np.ndarray:
    """Physical samples of ``channels`` via pyedflib (``[channels, samples]`` float64); the
    annotations are not parsed (see :func:`count_annotations`)."""
    with tempfile.TemporaryDirectory(prefix="qtlens-edf-") as directory:
        path = Path(directory, "record.bdf" if header.is_bdf else "record.edf")
        path.write_bytes(_blank_identity(data, header))
        try:
            with pyedflib.EdfReader(str(path), pyedflib.DO_NOT_READ_ANNOTATIONS) as reader:
                return np.stack([reader.readSignal(channel) for channel in channels])
        except OSError as error:
            # pyedflib's own checks (e.g. a malformed start date) after ours passed.
            raise MalformedEcg(
                f"the EDF file could not be decoded ({error})", field="header"
            ) from None


def _choose_channels(header: EdfHeader) -> tuple[list[int], list[str]]:
    """Indices of the ECG channels to read (voltage units, one shared rate), and warnings."""
    notes: list[str] = []
    voltage = []
    for index, signal in enumerate(header.signals):
        if signal.is_annotation:
            continue
        if millivolts_per_unit(signal.dimension) is None:
            notes.append(
                f"dropped signal {index + 1}: its unit {signal.dimension[:8]!r} is not a voltage"
            )
        else:
            voltage.append(index)
    if not voltage:
        raise MalformedEcg("no signal of the file is measured in volts", field="physical dimension")
    rates = Counter(header.signals[index].samples_per_record for index in voltage)
    shared = rates.most_common(1)[0][0]
    chosen = [index for index in voltage if header.signals[index].samples_per_record == shared]
    if len(chosen) < len(voltage):
        notes.append(
            f"dropped {len(voltage) - len(chosen)} signals recorded at another sampling rate"
        )
    return chosen, notes


def read(files: Sequence[UploadedFile], limits: IngestLimits) -> IngestResult:
    """Read an EDF/EDF+/BDF file into a de-identified :class:`IngestResult` (mV).

    Signal labels such as ``"ECG V2"`` map to canonical leads; channels that are not voltages
    (respiration, SpO2) or are recorded at another rate are dropped with a warning.

    Raises:
        InputTooLarge, UnsupportedFormat, MalformedEcg: see :func:`parse_header`.
    """
    file = single_file(files, "EDF")
    header = parse_header(file.data, limits)
    channels, notes = _choose_channels(header)
    physical = _decode(file.data, header, channels)
    n_annotations = count_annotations(file.data, header)
    factors = np.array([millivolts_per_unit(header.signals[i].dimension) for i in channels])
    age, sex, removed = _demographics(header)
    if n_annotations:
        removed.add(IdentifyingField.COMMENTS)
        notes.append(f"{n_annotations} EDF+ annotations were not kept")
    labels = [header.signals[index].label for index in channels]
    names = [
        canonical_lead_name(label[4:] if label.upper().startswith("ECG ") else label)
        for label in labels
    ]
    return assemble(
        physical * factors[:, None],
        names,
        header.signals[channels[0]].samples_per_record / header.record_duration_s,
        source_format=BDF_FORMAT if header.is_bdf else FORMAT,
        age_years=age,
        sex=sex,
        removed=removed,
        warnings=notes,
    )
