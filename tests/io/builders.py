"""Build ECG files in every supported format for the tests (valid ones, to be broken on purpose).

Each builder takes a signal in mV (``[leads, samples]``) and returns the file(s) as
:class:`UploadedFile` values, written with the format's own library where one exists
(``wfdb.wrsamp``, ``pyedflib``, ``pydicom``) so the round trip exercises an independent writer.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pyedflib
import wfdb
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, generate_uid

from models.ecg.io import UploadedFile
from models.ecg.record import STANDARD_LEADS
from models.ecg.synth import generate, sample_params

#: Identifying values the builders write into headers, to check they never come out again.
PATIENT_NAME = "Doe^Jane"
PATIENT_ID = "MRN-4711-XQ"
BIRTH_DATE = dt.date(1961, 7, 14)
ACQUISITION = dt.datetime(2021, 3, 2, 9, 30, 0)
DEVICE_SERIAL = "SN-88172-ZT"
OPERATOR = "Tech^Oskar"

ECG_12_LEAD_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.9.1.1"


def sine_ecg(n_leads: int = 12, fs_hz: float = 500.0, duration_s: float = 10.0) -> np.ndarray:
    """A test signal in mV: lead k is a 1.2 Hz sine of amplitude (k+1)/10 mV plus a harmonic."""
    time_s = np.arange(round(fs_hz * duration_s)) / fs_hz
    return np.stack(
        [
            (k + 1) / 10 * np.sin(2 * np.pi * 1.2 * time_s)
            + 0.05 * np.sin(2 * np.pi * 7 * time_s + k)
            for k in range(n_leads)
        ]
    )


def synthetic_ecg(seed: int = 0) -> tuple[np.ndarray, float]:
    """One synthetic 12-lead ECG of the project's generator (``models.ecg.synth``): ``(signal
    [12, 5 000] mV, 500.0 Hz)``, 10 s. Beats and intervals are physiological, unlike
    :func:`sine_ecg`, whose slope repeats every half period — use this one where a test edits
    intervals that must fit the record's rhythm."""
    rng = np.random.default_rng(seed)
    record = generate(sample_params(rng), rng)
    return record.ecg.signal_mv, record.ecg.fs_hz


def wfdb_files(
    signal_mv: np.ndarray,
    fs_hz: float,
    leads: tuple[str, ...] = STANDARD_LEADS,
    fmt: str = "16",
    comments: list[str] | None = None,
) -> list[UploadedFile]:
    """A WFDB record written by ``wfdb.wrsamp`` (gain chosen by wfdb), as header + data files."""
    with tempfile.TemporaryDirectory() as directory:
        wfdb.wrsamp(
            "rec",
            fs=fs_hz,
            units=["mV"] * len(leads),
            sig_name=list(leads),
            p_signal=signal_mv.T.astype(np.float64),
            fmt=[fmt] * len(leads),
            comments=comments or [],
            write_dir=directory,
        )
        return [
            UploadedFile(path.name, path.read_bytes()) for path in sorted(Path(directory).iterdir())
        ]


def edf_file(
    signal_mv: np.ndarray,
    fs_hz: float,
    leads: tuple[str, ...] = STANDARD_LEADS,
    dimension: str = "uV",
) -> UploadedFile:
    """An EDF+ file written by pyedflib, with identifying patient and recording subfields."""
    scale = {"uV": 1000.0, "mV": 1.0, "V": 1e-3}[dimension]
    headers = pyedflib.highlevel.make_signal_headers(
        [f"ECG {lead}" for lead in leads],
        dimension=dimension,
        sample_frequency=fs_hz,
        physical_min=-10 * scale,
        physical_max=10 * scale,
    )
    header = pyedflib.highlevel.make_header(
        patientname="Doe_Jane",
        patientcode=PATIENT_ID,
        sex="Female",
        birthdate=dt.datetime.combine(BIRTH_DATE, dt.time()),
        startdate=ACQUISITION,
        technician="Tech_Oskar",
        equipment=DEVICE_SERIAL,
    )
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "rec.edf")
        pyedflib.highlevel.write_edf(str(path), signal_mv * scale, headers, header)
        return UploadedFile("rec.edf", path.read_bytes())


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def dicom_dataset(
    signal_mv: np.ndarray, fs_hz: float, leads: tuple[str, ...] = STANDARD_LEADS
) -> Dataset:
    """A 12-lead ECG Waveform Storage dataset (16-bit, 2.5 µV per unit) with patient data."""
    units_per_uv = 1 / 2.5
    raw = np.round(signal_mv * 1000 * units_per_uv).astype("<i2")
    group = Dataset()
    group.MultiplexGroupLabel = "RHYTHM"
    group.WaveformOriginality = "ORIGINAL"
    group.NumberOfWaveformChannels = len(leads)
    group.NumberOfWaveformSamples = raw.shape[1]
    group.SamplingFrequency = f"{fs_hz:g}"
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    channels = []
    for lead in leads:
        channel = Dataset()
        channel.ChannelSourceSequence = DicomSequence(
            [_code("5.6.3-9-1", "SCPECG", f"Lead {lead}")]
        )
        channel.ChannelSensitivity = "2.5"
        channel.ChannelSensitivityUnitsSequence = DicomSequence([_code("uV", "UCUM", "microvolt")])
        channel.ChannelSensitivityCorrectionFactor = "1"
        channel.ChannelBaseline = "0"
        channel.WaveformBitsStored = 16
        channels.append(channel)
    group.ChannelDefinitionSequence = DicomSequence(channels)
    group.WaveformData = raw.T.tobytes()

    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = ECG_12_LEAD_SOP_CLASS
    dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.SOPClassUID = ECG_12_LEAD_SOP_CLASS
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID
    dataset.Modality = "ECG"
    dataset.PatientName = PATIENT_NAME
    dataset.PatientID = PATIENT_ID
    dataset.PatientBirthDate = BIRTH_DATE.strftime("%Y%m%d")
    dataset.PatientSex = "F"
    dataset.StudyDate = ACQUISITION.strftime("%Y%m%d")
    dataset.AcquisitionDateTime = ACQUISITION.strftime("%Y%m%d%H%M%S")
    dataset.DeviceSerialNumber = DEVICE_SERIAL
    dataset.OperatorsName = OPERATOR
    dataset.WaveformSequence = DicomSequence([group])
    return dataset


def dicom_bytes(dataset: Dataset) -> bytes:
    """A dataset written as a DICOM Part 10 file (preamble + ``DICM``)."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _file_meta_end(data: bytes) -> int:
    """Where the file meta group of a DICOM file written by :func:`dicom_bytes` ends."""
    return 144 + int.from_bytes(data[140:144], "little")  # (0002,0000) UL value + 12 bytes


def deflated_dicom_bytes(dataset: Dataset, padding_bytes: int = 0) -> bytes:
    """``dataset`` as a Deflated Explicit VR Little Endian file, with an optional private OB
    element (7FE1,0010) of ``padding_bytes`` zeros deflated in a stream (≈ 1000:1), so that a
    1 MB file inflates to 1 GB without ever holding it."""
    body = dicom_bytes(dataset)
    body = body[_file_meta_end(body) :]
    dataset.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    meta = dicom_bytes(dataset)
    meta = meta[: _file_meta_end(meta)]
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream = [deflater.compress(body)]
    if padding_bytes:
        element = struct.pack("<HH2sHI", 0x7FE1, 0x0010, b"OB", 0, padding_bytes)
        stream.append(deflater.compress(element))
        zeros = bytes(1 << 20)
        for start in range(0, padding_bytes, len(zeros)):
            stream.append(deflater.compress(zeros[: padding_bytes - start]))
    return meta + b"".join(stream) + deflater.flush()


def edf_with_annotations(edf: bytes, samples_per_record: int) -> bytes:
    """``edf`` (written by :func:`edf_file`, annotation channel last) with its annotation channel
    widened to ``samples_per_record`` and filled with one-letter annotations (6-byte TALs)."""
    n_signals = int(edf[252:256])
    header_bytes = int(edf[184:192])
    column = 256 + 216 * n_signals  # the samples-per-record column
    counts = [int(edf[column + 8 * i : column + 8 * (i + 1)]) for i in range(n_signals)]
    signal_bytes, old_annotation_bytes = 2 * sum(counts[:-1]), 2 * counts[-1]
    out = bytearray(edf[:header_bytes])
    width = str(samples_per_record).encode().ljust(8)
    out[column + 8 * (n_signals - 1) : column + 8 * n_signals] = width
    tal = b"+0\x14a\x14\x00"
    for record in range(int(edf[236:244])):
        start = header_bytes + record * (signal_bytes + old_annotation_bytes)
        timekeeping = f"+{record}\x14\x14\x00".encode()
        n_tals = (2 * samples_per_record - len(timekeeping)) // len(tal)
        annotations = (timekeeping + tal * n_tals).ljust(2 * samples_per_record, b"\x00")
        out += edf[start : start + signal_bytes] + annotations
    return bytes(out)


def muse_xml(
    signal_mv: np.ndarray, fs_hz: float, waveform_type: str = "Rhythm", lead_data: str | None = None
) -> bytes:
    """A GE MUSE RestingECG document storing leads I, II, V1–V6 of ``signal_mv`` (4.88 µV/bit)."""
    stored = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    blocks = []
    for lead in stored:
        raw = np.round(signal_mv[STANDARD_LEADS.index(lead)] * 1000 / 4.88).astype("<i2")
        data = lead_data if lead_data is not None else base64.b64encode(raw.tobytes()).decode()
        blocks.append(
            f"<LeadData><LeadByteCountTotal>{raw.nbytes}</LeadByteCountTotal>"
            f"<LeadSampleCountTotal>{raw.size}</LeadSampleCountTotal>"
            "<LeadAmplitudeUnitsPerBit>4.88</LeadAmplitudeUnitsPerBit>"
            "<LeadAmplitudeUnits>MICROVOLTS</LeadAmplitudeUnits>"
            f"<LeadID>{lead}</LeadID><LeadSampleSize>2</LeadSampleSize>"
            f"<WaveFormData>{data}</WaveFormData></LeadData>"
        )
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        '<!DOCTYPE RestingECG SYSTEM "restecg.dtd">\n<RestingECG>'
        f"<PatientDemographics><PatientID>{PATIENT_ID}</PatientID>"
        f"<PatientLastName>Doe</PatientLastName><PatientFirstName>Jane</PatientFirstName>"
        f"<DateofBirth>{BIRTH_DATE:%m-%d-%Y}</DateofBirth><Gender>FEMALE</Gender>"
        "</PatientDemographics>"
        f"<TestDemographics><AcquisitionDate>{ACQUISITION:%m-%d-%Y}</AcquisitionDate></TestDemographics>"
        f"<Waveform><WaveformType>{waveform_type}</WaveformType><SampleBase>{fs_hz:g}</SampleBase>"
        f"<SampleExponent>0</SampleExponent>{''.join(blocks)}</Waveform></RestingECG>"
    ).encode("latin-1")


def aecg_xml(
    signal_mv: np.ndarray,
    fs_hz: float,
    leads: tuple[str, ...] = STANDARD_LEADS,
    digits: str | None = None,
    increment: str | None = None,
    unit: str = "uV",
) -> bytes:
    """An HL7 aECG document with one RHYTHM series (2.5 µV per digit) and subject data."""
    sequences = []
    for row, lead in zip(signal_mv, leads):
        values = (
            digits
            if digits is not None
            else " ".join(str(v) for v in np.round(row * 1000 / 2.5).astype(int))
        )
        sequences.append(
            f'<component><sequence><code code="MDC_ECG_LEAD_{lead.upper()}"/>'
            f'<value xsi:type="SLIST_PQ"><origin value="0" unit="{unit}"/>'
            f'<scale value="2.5" unit="{unit}"/><digits>{values}</digits></value>'
            "</sequence></component>"
        )
    step = increment if increment is not None else f"{1 / fs_hz:.6g}"
    return (
        '<AnnotatedECG xmlns="urn:hl7-org:v3" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f'<id root="1.2.3" extension="{PATIENT_ID}-ECG"/>'
        f'<effectiveTime><center value="{ACQUISITION:%Y%m%d%H%M%S}"/></effectiveTime>'
        "<componentOf><timepointEvent><componentOf><subjectAssignment><subject><trialSubject>"
        f'<id root="1.2.3" extension="{PATIENT_ID}"/><subjectDemographicPerson>'
        f'<name>Jane Doe</name><administrativeGenderCode code="F"/>'
        f'<birthTime value="{BIRTH_DATE:%Y%m%d}"/></subjectDemographicPerson>'
        "</trialSubject></subject></subjectAssignment></componentOf></timepointEvent></componentOf>"
        '<component><series><code code="RHYTHM"/><component><sequenceSet>'
        '<component><sequence><code code="TIME_ABSOLUTE"/><value xsi:type="GLIST_TS">'
        f'<head value="{ACQUISITION:%Y%m%d%H%M%S}"/><increment value="{step}" unit="s"/>'
        f"</value></sequence></component>{''.join(sequences)}"
        "</sequenceSet></component></series></component></AnnotatedECG>"
    ).encode()


def sierra_xml(
    data: bytes,
    *,
    n_leads: int = 12,
    fs_hz: str = "500",
    duration_ms: str = "10000",
    compression: str = "Uncompressed",
    version: str = "1.04",
    encoded: str | None = None,
) -> bytes:
    """A Philips Sierra 1.04 document around raw waveform ``data`` (base64-encoded here)."""
    labels = " ".join(STANDARD_LEADS[:n_leads]) if n_leads <= 12 else ""
    text = encoded if encoded is not None else base64.b64encode(data).decode()
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<restingecgdata xmlns="http://www3.medical.philips.com">'
        f"<documentinfo><documenttype>PhilipsECG</documenttype>"
        f"<documentversion>{version}</documentversion></documentinfo>"
        '<dataacquisition date="2021-03-02"><machine machineid="'
        f'{DEVICE_SERIAL}">PageWriter</machine><signalcharacteristics>'
        f"<samplingrate>{fs_hz}</samplingrate><resolution>5</resolution>"
        "<acquisitiontype>STD-12</acquisitiontype>"
        f"<numberchannelsallocated>{n_leads}</numberchannelsallocated></signalcharacteristics>"
        "</dataacquisition><patient><generalpatientdata>"
        f"<patientid>{PATIENT_ID}</patientid><name><lastname>Doe</lastname>"
        "<firstname>Jane</firstname></name>"
        f"<age><dateofbirth>{BIRTH_DATE:%Y-%m-%d}</dateofbirth></age><sex>Female</sex>"
        "</generalpatientdata></patient><waveforms>"
        f'<parsedwaveforms dataencoding="Base64" compression="{compression}" '
        f'numberofleads="{n_leads}" leadlabels="{labels}" durationperchannel="{duration_ms}">'
        f"{text}</parsedwaveforms></waveforms></restingecgdata>"
    ).encode()


def lzw_bomb_chunk(n_codes: int, start: int = 0) -> bytes:
    """One XLI chunk of 10-bit LZW codes that each expand to a longer run ("KwKwK" codes).

    About 1 kB of codes decompresses to hundreds of kilobytes: a decompression bomb.
    """
    return _xli_chunk([65] + [min(256 + i, 1022) for i in range(n_codes - 1)], start)


def lzw_run_chunk(n_bytes: int, byte: int = 65, start: int = 0) -> bytes:
    """One XLI chunk of 10-bit LZW codes that decompresses to exactly ``n_bytes`` × ``byte``.

    A literal, then "KwKwK" codes whose strings grow by one byte each until the dictionary is
    full (code 1022, 768 bytes), that code repeated, and one code for the remainder: about
    10 bits of input per 768 bytes of output.
    """
    codes, emitted = [byte], 1
    for code in range(256, 1023):
        if emitted + code - 254 > n_bytes:
            break
        codes.append(code)
        emitted += code - 254
    longest = codes[-1] - 254 if len(codes) > 1 else 1
    while n_bytes - emitted >= longest and len(codes) > 1:
        codes.append(codes[-1])
        emitted += longest
    remainder = n_bytes - emitted
    if remainder >= 2:
        codes.append(256 + remainder - 2)
    elif remainder == 1:
        codes.append(byte)
    return _xli_chunk(codes, start)


def _xli_chunk(codes: list[int], start: int) -> bytes:
    """An XLI chunk (size, reserved, start sample, then MSB-first 10-bit codes)."""
    bits = "".join(format(code, "010b") for code in codes)
    bits += "0" * (-len(bits) % 8)
    payload = int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""
    header = (
        len(payload).to_bytes(4, "little") + b"\x00\x00" + start.to_bytes(2, "little", signed=True)
    )
    return header + payload
