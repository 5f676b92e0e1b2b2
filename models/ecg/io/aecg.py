"""HL7 v3 annotated ECG (aECG, the FDA's XML for ECGs of clinical trials).

Hand-written: the FDA's reference package ``aecg`` (FDA/aecg-python) pulls in lxml, pandas and a
GUI toolchain and is not maintained as a library; the part needed here — one ``series`` of
simultaneously recorded leads — is small. Read from the ``RHYTHM`` series (else the first):
its ``sequenceSet`` holds a time sequence (``GLIST_TS``/``GLIST_PQ``) whose ``increment`` is the
sampling interval, and one ``SLIST_PQ`` sequence per lead (code ``MDC_ECG_LEAD_*``) whose value
``k`` stands for ``origin + scale × k``.

Reference: HL7 Version 3 Standard: Regulated Studies — Annotated ECG, Release 1 (2004).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from xml.etree.ElementTree import Element

import numpy as np

from models.ecg.errors import MalformedEcg
from models.ecg.io.assemble import assemble
from models.ecg.io.checks import (
    check_channel_count,
    check_sample_count,
    check_sampling_rate,
    parse_real,
    single_file,
)
from models.ecg.io.deid import IdentifyingField, parse_date, resolve_age
from models.ecg.io.device import MAX_ANNOTATIONS, DeviceReading, device_reading
from models.ecg.io.units import millivolts_per_unit
from models.ecg.io.upload import IngestResult, UploadedFile
from models.ecg.io.xmldoc import find_identifying, has_root, parse_tree
from models.ecg.limits import IngestLimits
from models.ecg.record import normalise_sex

FORMAT = "hl7-aecg"
NAMESPACE = "urn:hl7-org:v3"
_NS = {"hl7": NAMESPACE}
_LEAD_CODE_PREFIX = "MDC_ECG_LEAD_"
_REPORTED_AGE_LOINC = "21612-7"
_SECONDS_PER_TIME_UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
_YEARS_PER_AGE_UNIT = {"a": 1.0, "mo": 1 / 12, "wk": 7 / 365.25, "d": 1 / 365.25}

#: Elements (lower-case local names, optionally ``parent/child`` or ``element@attribute``) of an
#: aECG document that hold identifying information.
IDENTIFYING_ELEMENTS: dict[str, IdentifyingField] = {
    "annotatedecg/id": IdentifyingField.RECORD_NAME,
    "subjectdemographicperson/name": IdentifyingField.PATIENT_NAME,
    "trialsubject/id": IdentifyingField.PATIENT_ID,
    "birthtime": IdentifyingField.BIRTH_DATE,
    "assignedperson/name": IdentifyingField.OPERATOR_NAME,
    "investigatorperson/name": IdentifyingField.OPERATOR_NAME,
    "studyeventperformer/id": IdentifyingField.OPERATOR_NAME,
    "seriesperformer/id": IdentifyingField.OPERATOR_NAME,
    "trialinvestigator/id": IdentifyingField.OPERATOR_NAME,
    "assignedentity/id": IdentifyingField.OPERATOR_NAME,
    "location/name": IdentifyingField.INSTITUTION,
    "addr": IdentifyingField.INSTITUTION,
    "trialsite/id": IdentifyingField.INSTITUTION,
    "testingsite/id": IdentifyingField.INSTITUTION,
    "representedauthoringorganization/name": IdentifyingField.INSTITUTION,
    "manufacturedseriesdevice/id": IdentifyingField.DEVICE_SERIAL,
    "effectivetime": IdentifyingField.ACQUISITION_DATE,
    "head@value": IdentifyingField.ACQUISITION_DATE,
    "subjectfindingcomment": IdentifyingField.COMMENTS,
    "text": IdentifyingField.COMMENTS,
}


#: Annotation codes (upper case, without a ``_GL`` "global" suffix) → quantities of
#: :mod:`models.ecg.io.device`.
DEVICE_MEASUREMENTS: dict[str, str] = {
    "MDC_ECG_HEART_RATE": "heart_rate",
    "MDC_ECG_TIME_PD_RR": "rr",
    "MDC_ECG_TIME_PD_PR": "pr",
    "MDC_ECG_TIME_PD_QRS": "qrs",
    "MDC_ECG_TIME_PD_QT": "qt",
    "MDC_ECG_TIME_PD_QTC": "qtc",
    "MDC_ECG_TIME_PD_QTCB": "qtc_bazett",
    "MDC_ECG_TIME_PD_QTCF": "qtc_fridericia",
    "MDC_ECG_ANGLE_P_FRONT": "p_axis",
    "MDC_ECG_ANGLE_QRS_FRONT": "qrs_axis",
    "MDC_ECG_ANGLE_T_FRONT": "t_axis",
}
#: Factors to the quantity's unit (ms, bpm, degrees) of the units aECG writes.
_DEVICE_UNITS = {"ms": 1.0, "s": 1000.0, "bpm": 1.0, "/min": 1.0, "{beats}/min": 1.0, "deg": 1.0}
#: Annotation codes whose value is a statement (its display name or text).
_STATEMENT_CODES = ("MDC_ECG_RHY", "MDC_ECG_INTERPRETATION")


def sniff(files: Sequence[UploadedFile]) -> bool:
    """Whether a file is XML with an ``AnnotatedECG`` root in the HL7 v3 namespace."""
    return has_root(files, "AnnotatedECG", NAMESPACE)


def _attribute(element: Element | None, path: str, attribute: str) -> str:
    """An attribute of the element at ``path`` (HL7 namespace) below ``element``, or ``""``."""
    node = element.find(path, _NS) if element is not None else None
    return (node.get(attribute) or "").strip() if node is not None else ""


def _choose_series(root: Element) -> tuple[Element, list[str]]:
    series = root.findall("hl7:component/hl7:series", _NS)
    if not series:
        raise MalformedEcg("the aECG document holds no waveform series", field="series")
    for candidate in series:
        if _attribute(candidate, "hl7:code", "code").upper() == "RHYTHM":
            return candidate, []
    return series[0], ["the aECG document has no RHYTHM series; its first series was read"]


def _count_tokens(text: str) -> int:
    """Whitespace-separated tokens in ``text``, counted without building a list of them."""
    raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    if raw.size == 0:
        return 0
    space = (raw == 32) | (raw == 9) | (raw == 10) | (raw == 13)
    return int(np.count_nonzero(space[:-1] & ~space[1:])) + int(not space[0])


def _physical_quantity(value: Element, name: str, field: str) -> float:
    """``origin``/``scale`` of an ``SLIST_PQ`` in mV."""
    node = value.find(f"hl7:{name}", _NS)
    if node is None:
        raise MalformedEcg(f"the lead has no {name}", field)
    factor = millivolts_per_unit(node.get("unit") or "")
    if factor is None:
        raise MalformedEcg(f"the unit of the lead's {name} is not a voltage", field)
    return parse_real(node.get("value") or "", name, field) * factor


def _decode_lead(
    value: Element, n_expected: int | None, fs_hz: float, limits: IngestLimits, field: str
) -> np.ndarray:
    """One lead in mV; its sample count is checked against the limits before it is parsed."""
    digits_node = value.find("hl7:digits", _NS)
    digits = (digits_node.text or "") if digits_node is not None else ""
    n_samples = _count_tokens(digits)
    check_sample_count(n_samples, fs_hz, limits, field)
    if n_expected is not None and n_samples != n_expected:
        raise MalformedEcg(
            f"the lead holds {n_samples} samples, the first lead {n_expected}", field
        )
    origin_mv = _physical_quantity(value, "origin", field)
    scale_mv = _physical_quantity(value, "scale", field)
    try:
        numbers = np.fromstring(digits, dtype=np.float64, sep=" ")
    except ValueError:
        numbers = np.empty(0)
    if numbers.size != n_samples or not np.all(np.isfinite(numbers)):
        raise MalformedEcg("the lead's digits are not all numbers", field)
    return (origin_mv + scale_mv * numbers).astype(np.float32)


def _sampling_rate(sequences: list[Element]) -> float:
    for sequence in sequences:
        if _attribute(sequence, "hl7:code", "code").upper() in ("TIME_ABSOLUTE", "TIME_RELATIVE"):
            increment = sequence.find("hl7:value/hl7:increment", _NS)
            if increment is None:
                break
            unit = (increment.get("unit") or "s").strip()
            if unit not in _SECONDS_PER_TIME_UNIT:
                raise MalformedEcg(f"the time unit {unit[:10]!r} is not understood", "increment")
            step_s = parse_real(increment.get("value") or "", "time increment", "increment")
            step_s *= _SECONDS_PER_TIME_UNIT[unit]
            if step_s <= 0:
                raise MalformedEcg("the time increment must be positive", "increment")
            fs_hz = 1.0 / step_s
            return float(round(fs_hz)) if abs(fs_hz - round(fs_hz)) < 1e-6 else fs_hz
    raise MalformedEcg("the sequence set has no time sequence with an increment", "increment")


def _age(root: Element) -> int | None:
    """Reported age (LOINC 21612-7), else age from birth time and the ECG's date."""
    stated: float | None = None
    for observation in root.iter(f"{{{NAMESPACE}}}relatedObservation"):
        if _attribute(observation, "hl7:code", "code") == _REPORTED_AGE_LOINC:
            value = observation.find("hl7:value", _NS)
            unit = (value.get("unit") or "a") if value is not None else "a"
            if value is not None and unit in _YEARS_PER_AGE_UNIT:
                number = parse_real(value.get("value") or "", "reported age", "age", -1.0)
                stated = number * _YEARS_PER_AGE_UNIT[unit] if number >= 0 else None
    birth = next(root.iter(f"{{{NAMESPACE}}}birthTime"), None)
    birth_date = parse_date((birth.get("value") or "")[:8] if birth is not None else "", ["%Y%m%d"])
    acquired = _attribute(root, "hl7:effectiveTime/hl7:center", "value") or _attribute(
        root, "hl7:effectiveTime/hl7:low", "value"
    )
    return resolve_age(stated, birth_date, parse_date(acquired[:8], ["%Y%m%d"]))


def _device_value(code: str, value: Element) -> tuple[str, float] | None:
    """``(quantity, value in its unit)`` of a numeric annotation, if it is one kept."""
    quantity = DEVICE_MEASUREMENTS.get(code.upper().removesuffix("_GL"))
    factor = _DEVICE_UNITS.get((value.get("unit") or "").strip())
    try:
        number = float(value.get("value") or "")
    except ValueError:
        return None
    return (quantity, number * factor) if quantity and factor else None


def device_measurements(root: Element) -> DeviceReading | None:
    """The intervals and statements of the first annotation set authored by a device (the
    cart), not by a person, of a parsed aECG document. Values repeated per beat give their
    median."""
    for annotation_set in islice(root.iter(f"{{{NAMESPACE}}}annotationSet"), MAX_ANNOTATIONS):
        if annotation_set.find("hl7:author//hl7:assignedDevice", _NS) is None:
            continue
        values: list[tuple[str, float]] = []
        statements: list[str] = []
        annotations = annotation_set.iter(f"{{{NAMESPACE}}}annotation")
        for annotation in islice(annotations, MAX_ANNOTATIONS):
            code = _attribute(annotation, "hl7:code", "code")
            value = annotation.find("hl7:value", _NS)
            if not code or value is None:
                continue
            if code.upper().startswith(_STATEMENT_CODES):
                statements.append(value.get("displayName") or (value.text or ""))
            elif (found := _device_value(code, value)) is not None:
                values.append(found)
        return device_reading("HL7 aECG", values, statements)
    return None


def read(files: Sequence[UploadedFile], limits: IngestLimits) -> IngestResult:
    """Read an HL7 aECG document into a de-identified :class:`IngestResult` (mV).

    Raises:
        InputTooLarge, MalformedEcg: too many leads or samples, or a series without a time
        increment, leads of different lengths, digits that are not numbers.
    """
    file = single_file(files, "HL7 aECG")
    root = parse_tree(file)
    series, notes = _choose_series(root)
    sequence_sets = series.findall("hl7:component/hl7:sequenceSet", _NS)
    if not sequence_sets:
        raise MalformedEcg("the waveform series holds no sequence set", field="sequenceSet")
    if len(sequence_sets) > 1:
        notes.append("the series holds several sequence sets; the first was read")
    sequences = sequence_sets[0].findall("hl7:component/hl7:sequence", _NS)
    leads = [
        sequence
        for sequence in sequences
        if _attribute(sequence, "hl7:code", "code").upper().startswith(_LEAD_CODE_PREFIX)
    ]
    check_channel_count(len(leads), limits, field="sequenceSet")
    fs_hz = _sampling_rate(sequences)
    check_sampling_rate(fs_hz, limits, field="increment")

    rows: list[np.ndarray] = []
    names: list[str] = []
    for index, sequence in enumerate(leads, start=1):
        value = sequence.find("hl7:value", _NS)
        if value is None:
            raise MalformedEcg(f"lead sequence {index} has no value", field=f"sequence {index}")
        n_expected = rows[0].size if rows else None
        rows.append(_decode_lead(value, n_expected, fs_hz, limits, f"sequence {index}"))
        names.append(_attribute(sequence, "hl7:code", "code")[len(_LEAD_CODE_PREFIX) :])

    person = next(root.iter(f"{{{NAMESPACE}}}subjectDemographicPerson"), None)
    return assemble(
        np.stack(rows),
        names,
        fs_hz,
        source_format=FORMAT,
        age_years=_age(root),
        sex=normalise_sex(_attribute(person, "hl7:administrativeGenderCode", "code") or None),
        removed=find_identifying(root, IDENTIFYING_ELEMENTS),
        warnings=notes,
        device=device_measurements(root),
    )
