"""Philips Sierra ECG XML (``restingecgdata``, document versions 1.03 and 1.04).

The waveforms are base64 text, usually XLI-compressed (LZW + second-difference coding), the
format :mod:`sierraecg` decodes. Its ``read_file`` is not called, because it decompresses
without bound — a few kilobytes of LZW codes can expand to gigabytes — and checks nothing
against the declared duration; its decoder also works one output byte and one sample at a time
in Python (≈ 2 s of CPU per lead of 10 minutes at 2000 Hz, declared by 6 kB of codes) and
raises ``OverflowError`` when a sample leaves the 16-bit range. Instead the document is parsed
here with :mod:`defusedxml` (no entity expansion, no external references), the declared
channels, rate and duration are checked against the limits, and each lead is decompressed by
:func:`lzw_decode` (one step per code, stopped at the declared sample count) and
:func:`xli_decode_deltas` (vectorised, a sample outside 16 bits refused). Both give the samples
``sierraecg`` gives (tested against it on the example files).

Sierra stores leads III, aVR, aVL and aVF as residuals of their Einthoven/Goldberger estimate;
:func:`_reconstruct_limb_leads` undoes this exactly as ``sierraecg.read_file`` does (tested
against it).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from xml.etree.ElementTree import Element

import numpy as np

from models.ecg.errors import MalformedEcg, UnsupportedFormat
from models.ecg.io.assemble import assemble
from models.ecg.io.checks import (
    check_channel_count,
    check_sampling_rate,
    parse_int,
    parse_real,
    samples_for_duration,
    single_file,
)
from models.ecg.io.deid import IdentifyingField, parse_date, resolve_age
from models.ecg.io.device import MAX_ANNOTATIONS, DeviceReading, device_reading
from models.ecg.io.upload import IngestResult, UploadedFile
from models.ecg.io.xmldoc import child_text, find_identifying, has_root, local_name, parse_tree
from models.ecg.limits import IngestLimits
from models.ecg.record import normalise_sex

FORMAT = "philips-sierra"

#: Document types and versions ``sierraecg`` 0.4 decodes.
SUPPORTED_VERSIONS = frozenset({"1.03", "1.04", "1.04.01", "1.04.02"})
SUPPORTED_TYPES = frozenset({"SierraECG", "PhilipsECG"})

_LIMB_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF")
_STANDARD_12_LABELS = (*_LIMB_LEADS, "V1", "V2", "V3", "V4", "V5", "V6")
_XLI_CHUNK_HEADER_BYTES = 8
_LZW_CODE_BITS = 10
#: The largest LZW code; a larger one (1023) ends the stream, as in ``sierraecg.lzw``.
_LZW_MAX_CODE = (1 << _LZW_CODE_BITS) - 2
#: Offset of the stored second differences (``sierraecg.xli``).
_XLI_DELTA_BIAS = 64

#: Elements (lower-case local names, optionally ``parent/child`` or ``element@attribute``) of a
#: Sierra document that hold identifying information.
IDENTIFYING_ELEMENTS: dict[str, IdentifyingField] = {
    "patientid": IdentifyingField.PATIENT_ID,
    "uniquepatientid": IdentifyingField.PATIENT_ID,
    "mrn": IdentifyingField.PATIENT_ID,
    "generalpatientdata/name": IdentifyingField.PATIENT_NAME,
    "dateofbirth": IdentifyingField.BIRTH_DATE,
    "machine@machineid": IdentifyingField.DEVICE_SERIAL,
    "operatorid": IdentifyingField.OPERATOR_NAME,
    "operator": IdentifyingField.OPERATOR_NAME,
    "editor": IdentifyingField.OPERATOR_NAME,
    "mdsignatureline": IdentifyingField.OPERATOR_NAME,
    "departmentid": IdentifyingField.INSTITUTION,
    "departmentname": IdentifyingField.INSTITUTION,
    "institutionid": IdentifyingField.INSTITUTION,
    "institutionname": IdentifyingField.INSTITUTION,
    "institutionlocationid": IdentifyingField.INSTITUTION,
    "facilityid": IdentifyingField.INSTITUTION,
    "facilityname": IdentifyingField.INSTITUTION,
    "dataacquisition@date": IdentifyingField.ACQUISITION_DATE,
    "reportinfo@date": IdentifyingField.ACQUISITION_DATE,
    "measurements@date": IdentifyingField.ACQUISITION_DATE,
    "internalmeasurements@date": IdentifyingField.ACQUISITION_DATE,
    "documentname": IdentifyingField.RECORD_NAME,
    "filename": IdentifyingField.RECORD_NAME,
    "ordernumber": IdentifyingField.ORDER_NUMBER,
    "uniqueorderid": IdentifyingField.ORDER_NUMBER,
    "userdefine": IdentifyingField.COMMENTS,
    "comments": IdentifyingField.COMMENTS,
    "reasonfororder": IdentifyingField.COMMENTS,
    "orderremarks": IdentifyingField.COMMENTS,
    "interpretation": IdentifyingField.COMMENTS,
}


#: Measurement elements of an ``interpretation`` (1.04: ``globalmeasurements``; 1.03:
#: ``interpretationmeasurements``) → quantities of :mod:`models.ecg.io.device`. Philips'
#: ``meanqtc`` follows the formula set up on the cart, so it stays ``qtc``.
DEVICE_MEASUREMENTS: dict[str, str] = {
    "heartrate": "heart_rate",
    "rrint": "rr",
    "print": "pr",
    "meanprint": "pr",
    "qrsdur": "qrs",
    "meanqrsdur": "qrs",
    "qtint": "qt",
    "meanqtint": "qt",
    "meanqtc": "qtc",
    "qtcb": "qtc_bazett",
    "qtcf": "qtc_fridericia",
    "pfrontaxis": "p_axis",
    "qrsfrontaxis": "qrs_axis",
    "tfrontaxis": "t_axis",
}
_MEASUREMENT_BLOCKS = ("globalmeasurements", "interpretationmeasurements")


def sniff(files: Sequence[UploadedFile]) -> bool:
    """Whether a file is XML with a ``restingecgdata`` root element."""
    return has_root(files, "restingecgdata")


def _find(element: Element | None, *path: str) -> Element | None:
    """The first element at ``path`` (local names, any namespace) below ``element``."""
    node = element
    for name in path:
        if node is None:
            return None
        node = next((child for child in node if local_name(child.tag) == name), None)
    return node


def _required(element: Element | None, *path: str) -> Element:
    node = _find(element, *path)
    if node is None:
        raise MalformedEcg(f"the Sierra document has no {'/'.join(path)} element", field=path[-1])
    return node


def device_measurements(root: Element) -> DeviceReading | None:
    """The cart's intervals and statements from the first ``interpretation`` of a parsed Sierra
    document: its measurements, its severity ("- ABNORMAL ECG -") and each statement as
    "left statement — right statement" (">>> Acute MI <<<", "Sinus bradycardia — rate< 50")."""
    interpretation = _find(root, "interpretations", "interpretation")
    if interpretation is None:
        return None
    values = []
    statements = []
    for node in list(interpretation)[:MAX_ANNOTATIONS]:
        name = local_name(node.tag)
        if name in _MEASUREMENT_BLOCKS:
            values += [(DEVICE_MEASUREMENTS[local_name(item.tag)], item.text)
                       for item in list(node)[:MAX_ANNOTATIONS]
                       if local_name(item.tag) in DEVICE_MEASUREMENTS]
        elif name == "severity":
            statements.append((node.text or "").strip(" -"))
        elif name == "statement":
            parts = [child_text(node, "leftstatement"), child_text(node, "rightstatement")]
            statements.append(" — ".join(part for part in parts if part))
    return device_reading("Philips", values, statements)


def _check_version(root: Element) -> None:
    document_type = child_text(root, "documentinfo", "documenttype")
    version = child_text(root, "documentinfo", "documentversion")
    if document_type not in SUPPORTED_TYPES or version not in SUPPORTED_VERSIONS:
        raise UnsupportedFormat(
            f"Philips {document_type[:20] or 'XML'} version {version[:10] or '?'} is not "
            "supported (Sierra ECG XML 1.03 and 1.04 are)",
            field="documentversion",
        )


def _lead_labels(characteristics: Element, waveforms: Element, limits: IngestLimits) -> list[str]:
    """Lead labels as ``sierraecg`` derives them, after checking the declared count."""
    declared = waveforms.get("numberofleads") or child_text(
        characteristics, "numberchannelsallocated"
    )
    n_leads = parse_int(declared, "number of leads", "numberofleads")
    check_channel_count(n_leads, limits, field="numberofleads")
    labels = (waveforms.get("leadlabels") or "").split()
    if labels:
        if len(labels) < n_leads:
            raise MalformedEcg(
                f"{n_leads} leads are declared but {len(labels)} are labelled", field="leadlabels"
            )
        return labels[:n_leads]
    if child_text(characteristics, "acquisitiontype") in ("STD-12", "10-WIRE") and n_leads <= 12:
        return list(_STANDARD_12_LABELS[:n_leads])
    return [f"channel {index}" for index in range(1, n_leads + 1)]


def _lzw_codes(chunk: bytes) -> list[int]:
    """The 10-bit codes of an LZW chunk (most significant bit first), up to the end code."""
    bits = np.unpackbits(np.frombuffer(chunk, dtype=np.uint8))
    n_codes = bits.size // _LZW_CODE_BITS
    weights = 1 << np.arange(_LZW_CODE_BITS - 1, -1, -1)
    codes = bits[: n_codes * _LZW_CODE_BITS].reshape(n_codes, _LZW_CODE_BITS) @ weights
    ends = np.flatnonzero(codes > _LZW_MAX_CODE)
    return codes[: ends[0] if ends.size else n_codes].tolist()


def lzw_decode(chunk: bytes, max_bytes: int, field: str) -> bytes:
    """Decompress one XLI chunk of 10-bit LZW codes, refusing more than ``max_bytes`` of output.

    The dictionary rules are ``sierraecg.lzw.LzwDecoder``'s, applied one code (one dictionary
    string) at a time; every code yields at least one byte, so the work is bounded by
    ``max_bytes`` whatever the chunk holds.

    Raises:
        MalformedEcg: the output would exceed ``max_bytes``, or the codes are inconsistent.
    """
    strings: dict[int, bytes] = {code: bytes((code,)) for code in range(256)}
    previous = b""
    next_code = 256
    pieces: list[bytes] = []
    total = 0
    for code in _lzw_codes(chunk):
        data = strings.get(code)
        if data is None:
            if not previous:
                raise MalformedEcg("the compressed waveform is corrupt", field)
            data = strings[code] = previous + previous[:1]
        if previous and next_code <= _LZW_MAX_CODE:
            strings[next_code] = previous + data[:1]
            next_code += 1
        previous = data
        total += len(data)
        if total > max_bytes:
            raise MalformedEcg(
                f"the lead decompresses to more than the declared {max_bytes // 2} samples", field
            )
        pieces.append(data)
    return b"".join(pieces)


def xli_decode_deltas(buffer: bytes, first: int, field: str) -> np.ndarray:
    """Samples (int32) from XLI's decompressed bytes: high bytes, then low bytes, of 16-bit
    values whose second differences are stored (``sierraecg.xli.xli_decode_deltas``, in numpy).

    Raises:
        MalformedEcg: a sample leaves the 16-bit range (where ``sierraecg`` overflows).
    """
    half = len(buffer) // 2
    raw = np.frombuffer(buffer, dtype=np.uint8)
    values = ((raw[:half].astype(np.uint16) << 8) | raw[half : 2 * half]).view(np.int16)
    samples = values.astype(np.int64)
    if half > 2:
        # sample[i] = 2 sample[i-1] - sample[i-2] - e[i], e[2] = first, e[i] = value[i-1] - 64:
        # the slope falls by e[i] at every step. In place, to hold two int64 arrays at most.
        steps = samples[1:-1] - _XLI_DELTA_BIAS
        steps[0] = first
        np.cumsum(steps, out=steps)
        np.subtract(samples[1] - samples[0], steps, out=steps)
        np.cumsum(steps, out=steps)
        steps += samples[1]
        samples[2:] = steps
    if samples.size and (samples.min() < -(2**15) or samples.max() >= 2**15):
        raise MalformedEcg("the decompressed waveform leaves the 16-bit sample range", field)
    return samples.astype(np.int32)


def _decompress_xli(data: bytes, n_leads: int, n_samples: int) -> np.ndarray:
    """XLI chunks → ``[n_leads, n_samples]`` int32, refusing anything beyond the declared size."""
    leads: list[np.ndarray] = []
    max_bytes = 2 * n_samples
    offset = 0
    # Chunks beyond the labelled leads (Sierra pads to 16 channels) are ignored, as sierraecg does.
    while offset < len(data) and len(leads) < n_leads:
        field = f"lead {len(leads) + 1}"
        header = data[offset : offset + _XLI_CHUNK_HEADER_BYTES]
        size = int.from_bytes(header[0:4], byteorder="little", signed=True)
        start = int.from_bytes(header[6:8], byteorder="little", signed=True)
        offset += _XLI_CHUNK_HEADER_BYTES
        if len(header) < _XLI_CHUNK_HEADER_BYTES or size < 0 or offset + size > len(data):
            raise MalformedEcg("the compressed waveform is truncated", field)
        buffer = lzw_decode(data[offset : offset + size], max_bytes, field)
        offset += size
        if len(buffer) != max_bytes or n_samples < 2:
            raise MalformedEcg(
                f"the lead decompresses to {len(buffer) // 2} samples, not the declared {n_samples}",
                field,
            )
        leads.append(xli_decode_deltas(buffer, start, field))
    if len(leads) != n_leads:
        raise MalformedEcg(
            f"the waveform holds {len(leads)} of the {n_leads} declared leads", "parsedwaveforms"
        )
    return np.stack(leads)


def _reconstruct_limb_leads(samples: np.ndarray) -> None:
    """Undo Sierra's residual coding of III, aVR, aVL, aVF in place (rows 0–5, int32).

    Same arithmetic as ``sierraecg.read_file`` (floor division), vectorised.
    """
    lead_i, lead_ii = samples[0], samples[1]
    samples[2] = lead_ii - lead_i - samples[2]
    lead_iii = samples[2]
    samples[3] = -samples[3] - (lead_i + lead_ii) // 2
    samples[4] = (lead_i - lead_iii) // 2 - samples[4]
    samples[5] = (lead_ii + lead_iii) // 2 - samples[5]


def _resolution_uv(characteristics: Element, waveforms: Element) -> float:
    """Microvolts per stored unit (1.04: ``resolution``; 1.03: ``signalresolution``)."""
    text = (
        waveforms.get("resolution")
        or child_text(characteristics, "resolution")
        or child_text(characteristics, "signalresolution")
    )
    resolution = parse_real(text, "signal resolution", "resolution")
    if resolution <= 0:
        raise MalformedEcg("the signal resolution must be positive", field="resolution")
    return resolution


def read(files: Sequence[UploadedFile], limits: IngestLimits) -> IngestResult:
    """Read a Philips Sierra ECG XML file into a de-identified :class:`IngestResult` (mV).

    Raises:
        UnsupportedFormat: another Philips document type or version.
        InputTooLarge, MalformedEcg: declared sizes beyond the limits, or a waveform that is
        not valid base64 or does not decompress to the declared leads and samples.
    """
    file = single_file(files, "Philips Sierra XML")
    root = parse_tree(file)
    _check_version(root)
    characteristics = _required(root, "dataacquisition", "signalcharacteristics")
    waveforms = _required(root, "waveforms", "parsedwaveforms")
    labels = _lead_labels(characteristics, waveforms, limits)
    fs_hz = parse_real(child_text(characteristics, "samplingrate"), "sampling rate", "samplingrate")
    check_sampling_rate(fs_hz, limits, field="samplingrate")
    duration_ms = parse_real(
        waveforms.get("durationperchannel") or "", "duration per channel", "durationperchannel"
    )
    n_samples = samples_for_duration(duration_ms / 1000, fs_hz, limits, field="durationperchannel")

    if (waveforms.get("dataencoding") or "") != "Base64":
        raise UnsupportedFormat(
            "only Base64-encoded Sierra waveforms are supported", "dataencoding"
        )
    try:
        data = base64.b64decode("".join((waveforms.text or "").split()), validate=True)
    except ValueError:  # binascii.Error, or non-ASCII characters in the text
        raise MalformedEcg(
            "the waveform data is not valid base64", field="parsedwaveforms"
        ) from None
    compression = waveforms.get("compressmethod") or waveforms.get("compression") or "Uncompressed"
    if compression == "XLI":
        samples = _decompress_xli(data, len(labels), n_samples)
    elif compression == "Uncompressed":
        if len(data) != 2 * len(labels) * n_samples:
            needed = 2 * len(labels) * n_samples
            raise MalformedEcg(
                f"the waveform holds {len(data)} bytes; {len(labels)} leads of {n_samples} "
                f"samples need {needed}",
                field="parsedwaveforms",
            )
        samples = np.frombuffer(data, dtype="<i2").reshape(len(labels), n_samples).astype(np.int32)
    else:
        raise UnsupportedFormat(
            f"Sierra waveform compression {compression[:20]!r} is not supported", "compression"
        )
    notes: list[str] = []
    if tuple(labels[:6]) == _LIMB_LEADS:
        _reconstruct_limb_leads(samples)
    else:
        notes.append("the first six leads are not I, II, III, aVR, aVL, aVF; stored as found")

    signal_mv = samples.astype(np.float32) * np.float32(
        _resolution_uv(characteristics, waveforms) / 1000
    )
    patient = _find(root, "patient", "generalpatientdata")
    acquisition = _find(root, "dataacquisition")
    age = resolve_age(
        child_text(patient, "age", "years") or None,
        parse_date(child_text(patient, "age", "dateofbirth"), ["%Y-%m-%d"]),
        parse_date(acquisition.get("date") if acquisition is not None else None, ["%Y-%m-%d"]),
    )
    return assemble(
        signal_mv,
        labels,
        fs_hz,
        source_format=FORMAT,
        age_years=age,
        sex=normalise_sex(child_text(patient, "sex") or None),
        removed=find_identifying(root, IDENTIFYING_ELEMENTS),
        warnings=notes,
        device=device_measurements(root),
    )
