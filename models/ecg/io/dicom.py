"""DICOM ECG waveforms (12-lead ECG, General ECG and Ambulatory ECG Waveform Storage).

Read with :mod:`pydicom` from memory. The multiplex group labelled ``RHYTHM`` (else the longest
group that is not a median beat) is chosen; its declared channels, rate and samples are checked
against the limits and against the length of *Waveform Data* before
:meth:`pydicom.dataset.Dataset.waveform_array` applies the channel sensitivities. Lead names come
from each channel's *Channel Source Sequence* code meaning ("Lead I (Einthoven)", "Lead aVR"),
units from the *Channel Sensitivity Units Sequence* (UCUM ``uV``, ``mV``).

Reference: DICOM PS3.3, C.10.9 Waveform Module and A.34 Waveform IODs.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset, read_preamble
from pydicom.uid import DeflatedExplicitVRLittleEndian

from models.ecg.errors import EcgInputError, InputTooLarge, MalformedEcg, UnsupportedFormat
from models.ecg.io.assemble import assemble
from models.ecg.io.checks import (
    check_channel_count,
    check_sample_count,
    check_sampling_rate,
    parse_int,
    parse_real,
    single_file,
)
from models.ecg.io.deid import IdentifyingField, parse_date, resolve_age
from models.ecg.io.units import millivolts_per_unit
from models.ecg.io.upload import IngestResult, UploadedFile
from models.ecg.limits import IngestLimits
from models.ecg.record import normalise_sex

FORMAT = "dicom"

#: SOP classes of the ECG waveform IODs.
ECG_SOP_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.9.1.1": "12-lead ECG Waveform Storage",
    "1.2.840.10008.5.1.4.1.1.9.1.2": "General ECG Waveform Storage",
    "1.2.840.10008.5.1.4.1.1.9.1.3": "Ambulatory ECG Waveform Storage",
}

#: Sample encodings pydicom's waveform handler decodes: (bits allocated, interpretation).
SUPPORTED_ENCODINGS = frozenset(
    {
        (8, "SB"),
        (8, "UB"),
        (8, "MB"),
        (8, "AB"),
        (16, "SS"),
        (16, "US"),
        (32, "SL"),
        (32, "UL"),
        (64, "SV"),
        (64, "UV"),
    }
)

#: Top-level attributes (DICOM keywords) that identify the patient, the staff or the study.
IDENTIFYING_KEYWORDS: dict[str, IdentifyingField] = {
    "PatientName": IdentifyingField.PATIENT_NAME,
    "PatientID": IdentifyingField.PATIENT_ID,
    "IssuerOfPatientID": IdentifyingField.PATIENT_ID,
    "OtherPatientIDsSequence": IdentifyingField.PATIENT_ID,
    "PatientBirthDate": IdentifyingField.BIRTH_DATE,
    "PatientBirthTime": IdentifyingField.BIRTH_DATE,
    "PatientAddress": IdentifyingField.PATIENT_NAME,
    "InstitutionName": IdentifyingField.INSTITUTION,
    "InstitutionAddress": IdentifyingField.INSTITUTION,
    "InstitutionalDepartmentName": IdentifyingField.INSTITUTION,
    "StationName": IdentifyingField.INSTITUTION,
    "OperatorsName": IdentifyingField.OPERATOR_NAME,
    "PerformingPhysicianName": IdentifyingField.OPERATOR_NAME,
    "ReferringPhysicianName": IdentifyingField.OPERATOR_NAME,
    "NameOfPhysiciansReadingStudy": IdentifyingField.OPERATOR_NAME,
    "PhysiciansOfRecord": IdentifyingField.OPERATOR_NAME,
    "DeviceSerialNumber": IdentifyingField.DEVICE_SERIAL,
    "AccessionNumber": IdentifyingField.ORDER_NUMBER,
    "StudyID": IdentifyingField.ORDER_NUMBER,
    "StudyDate": IdentifyingField.ACQUISITION_DATE,
    "SeriesDate": IdentifyingField.ACQUISITION_DATE,
    "ContentDate": IdentifyingField.ACQUISITION_DATE,
    "AcquisitionDateTime": IdentifyingField.ACQUISITION_DATE,
    "StudyInstanceUID": IdentifyingField.RECORD_NAME,
    "SeriesInstanceUID": IdentifyingField.RECORD_NAME,
    "SOPInstanceUID": IdentifyingField.RECORD_NAME,
    "PatientComments": IdentifyingField.COMMENTS,
    "AdditionalPatientHistory": IdentifyingField.COMMENTS,
    "ReasonForStudy": IdentifyingField.COMMENTS,
    "StudyDescription": IdentifyingField.COMMENTS,
    "WaveformAnnotationSequence": IdentifyingField.COMMENTS,
}

_DICOM_PREAMBLE_BYTES = 128
#: Deflated datasets are inflated in pieces of this size while their size is counted.
_INFLATE_CHUNK_BYTES = 1024 * 1024
_DICOM_MAGIC = b"DICM"
_YEARS_PER_AGE_UNIT = {"Y": 1.0, "M": 1 / 12, "W": 7 / 365.25, "D": 1 / 365.25}
_LEAD_MEANING = re.compile(r"^(?:lead\s+)?(?P<lead>[^()]+?)\s*(?:\(.*\))?$", re.IGNORECASE)


def sniff(files: Sequence[UploadedFile]) -> bool:
    """Whether a file carries the DICOM ``DICM`` marker after its 128-byte preamble."""
    return any(
        file.data[_DICOM_PREAMBLE_BYTES : _DICOM_PREAMBLE_BYTES + 4] == _DICOM_MAGIC
        for file in files
    )


@contextmanager
def _dicom_errors() -> Iterator[None]:
    """Turn pydicom's failures on broken files into :class:`MalformedEcg`."""
    try:
        yield
    except EcgInputError:
        raise
    except (
        InvalidDicomError,
        BytesLengthException,
        zlib.error,
        EOFError,
        struct.error,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        NotImplementedError,
        OverflowError,
    ) as error:
        raise MalformedEcg(
            f"the DICOM file is damaged ({type(error).__name__})", field="DICOM"
        ) from None


def _check_deflated_size(data: bytes, limits: IngestLimits) -> None:
    """Refuse a Deflated Explicit VR Little Endian file that inflates beyond the upload limit.

    ``pydicom`` inflates the whole dataset in one ``zlib.decompress`` call before reading it:
    1 MB of deflated zeros becomes 1 GB. Here the file meta group is read first (always
    uncompressed, PS3.10 section 7.1) and the rest is inflated in a stream that stops at
    ``limits.max_upload_bytes`` + 1 bytes, so a deflated file may hold no more than an
    uncompressed upload may. Only then does ``pydicom`` inflate it (at most that many bytes).

    Raises:
        InputTooLarge: the dataset inflates to more than ``limits.max_upload_bytes`` (413).
    """
    stream = DicomBytesIO(data)
    read_preamble(stream, False)
    meta = read_dataset(
        stream, is_implicit_VR=False, is_little_endian=True,
        stop_when=lambda tag, vr, length: tag.group != 0x0002,
    )
    if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    pending: bytes | memoryview = memoryview(data)[stream.tell() :]
    inflated = 0
    while not inflater.eof and inflated <= limits.max_upload_bytes:
        try:
            piece = inflater.decompress(pending, _INFLATE_CHUNK_BYTES)
        except zlib.error:
            raise MalformedEcg("the deflated DICOM dataset is corrupt", field="DICOM") from None
        pending = inflater.unconsumed_tail
        if not piece and not pending:
            break  # a truncated stream: pydicom's own reading reports it
        inflated += len(piece)
    if inflated > limits.max_upload_bytes:
        raise InputTooLarge(
            f"the deflated DICOM dataset inflates to more than {limits.max_upload_bytes / 1e6:.1f} "
            "MB, the upload limit",
            field="TransferSyntaxUID",
        )


def _choose_group(dataset: Dataset) -> tuple[int, Dataset, list[str]]:
    groups = list(dataset.get("WaveformSequence") or [])
    if not groups:
        raise MalformedEcg(
            "the DICOM file holds no waveform (WaveformSequence)", field="WaveformSequence"
        )
    labels = [str(group.get("MultiplexGroupLabel", "")).strip().upper() for group in groups]
    if "RHYTHM" in labels:
        return labels.index("RHYTHM"), groups[labels.index("RHYTHM")], []
    candidates = [index for index, label in enumerate(labels) if "MEDIAN" not in label] or [0]
    index = max(candidates, key=lambda i: int(groups[i].get("NumberOfWaveformSamples", 0) or 0))
    note = [] if "MEDIAN" not in labels[index] else ["the file holds only a median beat"]
    return index, groups[index], note


def _channel_label(channel: Dataset, index: int) -> str:
    source = channel.get("ChannelSourceSequence") or []
    meaning = str(source[0].get("CodeMeaning", "")) if source else ""
    match = _LEAD_MEANING.match(meaning.strip())
    if match:
        return match["lead"]
    return str(channel.get("ChannelLabel", "")).strip() or f"channel {index}"


def _channel_factor_mv(channel: Dataset) -> float | None:
    """mV per unit of a channel's calibrated samples; ``None`` when it is not a voltage."""
    units = channel.get("ChannelSensitivityUnitsSequence") or []
    unit = str(units[0].get("CodeValue", "")) if units else ""
    return millivolts_per_unit(unit) if "ChannelSensitivity" in channel else None


def _check_group(group: Dataset, limits: IngestLimits) -> float:
    """Check a multiplex group's declared channels, rate and samples against the limits and
    against the length of its *Waveform Data*; returns the rate in Hz."""
    n_channels = parse_int(
        str(group.get("NumberOfWaveformChannels", "")),
        "number of channels",
        "NumberOfWaveformChannels",
    )
    check_channel_count(n_channels, limits, field="NumberOfWaveformChannels")
    fs_hz = parse_real(
        str(group.get("SamplingFrequency", "")), "sampling frequency", "SamplingFrequency"
    )
    check_sampling_rate(fs_hz, limits, field="SamplingFrequency")
    n_samples = parse_int(
        str(group.get("NumberOfWaveformSamples", "")),
        "number of samples",
        "NumberOfWaveformSamples",
    )
    check_sample_count(n_samples, fs_hz, limits, field="NumberOfWaveformSamples")
    bits = parse_int(
        str(group.get("WaveformBitsAllocated", "")), "bits allocated", "WaveformBitsAllocated"
    )
    interpretation = str(group.get("WaveformSampleInterpretation", ""))
    if (bits, interpretation) not in SUPPORTED_ENCODINGS:
        raise UnsupportedFormat(
            f"waveform samples of {bits} bits ({interpretation[:4]}) are not supported",
            field="WaveformSampleInterpretation",
        )
    expected = n_channels * n_samples * bits // 8
    actual = len(group.get("WaveformData", b"") or b"")
    if actual not in (expected, expected + 1):  # one pad byte keeps DICOM values even-length
        raise MalformedEcg(
            f"{n_channels} channels of {n_samples} samples need {expected} bytes of waveform data; "
            f"the file holds {actual}",
            field="WaveformData",
        )
    channels = group.get("ChannelDefinitionSequence") or []
    if len(channels) != n_channels:
        raise MalformedEcg(
            f"{n_channels} channels are declared but {len(channels)} are defined",
            field="ChannelDefinitionSequence",
        )
    return fs_hz


def _age(dataset: Dataset) -> int | None:
    """``PatientAge`` ("045Y", "006M"), else birth date against the acquisition date."""
    stated: float | None = None
    match = re.fullmatch(r"(\d{1,3})([DWMY])", str(dataset.get("PatientAge", "")).strip())
    if match:
        stated = int(match[1]) * _YEARS_PER_AGE_UNIT[match[2]]
    acquired = str(dataset.get("AcquisitionDateTime", "") or dataset.get("StudyDate", ""))[:8]
    birth = parse_date(str(dataset.get("PatientBirthDate", "")), ["%Y%m%d"])
    return resolve_age(stated, birth, parse_date(acquired, ["%Y%m%d"]))


def read(files: Sequence[UploadedFile], limits: IngestLimits) -> IngestResult:
    """Read a DICOM ECG waveform into a de-identified :class:`IngestResult` (mV).

    Raises:
        UnsupportedFormat: a DICOM object that is not an ECG waveform, or an unsupported
            sample encoding.
        InputTooLarge, MalformedEcg: declared sizes beyond the limits, no waveform, or waveform
            data that does not match its declaration.
    """
    file = single_file(files, "DICOM")
    with _dicom_errors():
        _check_deflated_size(file.data, limits)
        dataset = pydicom.dcmread(io.BytesIO(file.data))
        sop_class = str(
            dataset.get("SOPClassUID", "") or dataset.file_meta.get("MediaStorageSOPClassUID", "")
        )
        if sop_class not in ECG_SOP_CLASSES:
            raise UnsupportedFormat(
                "the DICOM file is not an ECG waveform (12-lead, general or ambulatory ECG)",
                field="SOPClassUID",
            )
        index, group, notes = _choose_group(dataset)
        fs_hz = _check_group(group, limits)
        channels = list(group.ChannelDefinitionSequence)
        factors = [_channel_factor_mv(channel) for channel in channels]
        keep = [i for i, factor in enumerate(factors) if factor is not None]
        if len(keep) < len(channels):
            notes.append(
                f"dropped {len(channels) - len(keep)} channels without a voltage sensitivity"
            )
        if not keep:
            raise MalformedEcg("no channel has a sensitivity in volts", field="ChannelSensitivity")
        samples = dataset.waveform_array(index)  # [samples, channels] in sensitivity units
        labels = [_channel_label(channels[i], i + 1) for i in keep]
        removed = {
            kind
            for keyword, kind in IDENTIFYING_KEYWORDS.items()
            if keyword in dataset and str(dataset[keyword].value or "").strip()
        }
        sex = normalise_sex(str(dataset.get("PatientSex", "")) or None)
        age = _age(dataset)
    return assemble(
        (samples[:, keep] * np.array([factors[i] for i in keep])).T,
        labels,
        fs_hz,
        source_format=FORMAT,
        age_years=age,
        sex=sex,
        removed=removed,
        warnings=notes,
    )
