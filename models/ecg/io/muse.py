"""GE MUSE ``RestingECG`` XML exports.

Hand-written: GE publishes no reader and no maintained open-source package parses these files
(the few on PyPI are unmaintained scripts). The layout read here is the one of MUSE 8/9 exports:
``Waveform`` blocks (``Rhythm`` = the full 10 s, ``Median`` = one averaged beat) holding
``LeadData`` items with base64-encoded little-endian 16-bit samples, ``LeadAmplitudeUnitsPerBit``
and ``LeadAmplitudeUnits``. MUSE usually stores 8 leads (I, II, V1–V6); the four other limb leads
follow from Einthoven's and Goldberger's equations: III = II − I, aVR = −(I + II)/2,
aVL = I − II/2, aVF = II − I/2.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from xml.etree.ElementTree import Element

import numpy as np

from models.ecg.errors import MalformedEcg
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
from models.ecg.io.device import MAX_ANNOTATIONS, MAX_STATEMENTS, DeviceReading, device_reading
from models.ecg.io.units import millivolts_per_unit
from models.ecg.io.upload import IngestResult, UploadedFile
from models.ecg.io.xmldoc import child_text, find_identifying, has_root, local_name, parse_tree
from models.ecg.limits import IngestLimits
from models.ecg.record import canonical_lead_name, normalise_sex

FORMAT = "muse-xml"

_MUSE_DATE_FORMATS = ("%m-%d-%Y", "%m/%d/%Y", "%Y-%m-%d")

#: Element names (lower case) of MUSE exports that hold identifying information.
IDENTIFYING_ELEMENTS: dict[str, IdentifyingField] = {
    "patientid": IdentifyingField.PATIENT_ID,
    "patientlastname": IdentifyingField.PATIENT_NAME,
    "patientfirstname": IdentifyingField.PATIENT_NAME,
    "patientmiddlename": IdentifyingField.PATIENT_NAME,
    "dateofbirth": IdentifyingField.BIRTH_DATE,
    "site": IdentifyingField.INSTITUTION,
    "sitename": IdentifyingField.INSTITUTION,
    "location": IdentifyingField.INSTITUTION,
    "locationname": IdentifyingField.INSTITUTION,
    "roomid": IdentifyingField.INSTITUTION,
    "bed": IdentifyingField.INSTITUTION,
    "hislocation": IdentifyingField.INSTITUTION,
    "servicingfacility": IdentifyingField.INSTITUTION,
    "acquisitiondate": IdentifyingField.ACQUISITION_DATE,
    "editdate": IdentifyingField.ACQUISITION_DATE,
    "orderplacementdate": IdentifyingField.ACQUISITION_DATE,
    "cartnumber": IdentifyingField.DEVICE_SERIAL,
    "overreaderid": IdentifyingField.OPERATOR_NAME,
    "editorid": IdentifyingField.OPERATOR_NAME,
    "acquisitiontechid": IdentifyingField.OPERATOR_NAME,
    "orderingmdid": IdentifyingField.OPERATOR_NAME,
    "orderingmdhisid": IdentifyingField.OPERATOR_NAME,
    "overreaderlastname": IdentifyingField.OPERATOR_NAME,
    "overreaderfirstname": IdentifyingField.OPERATOR_NAME,
    "editorlastname": IdentifyingField.OPERATOR_NAME,
    "editorfirstname": IdentifyingField.OPERATOR_NAME,
    "acquisitiontechlastname": IdentifyingField.OPERATOR_NAME,
    "acquisitiontechfirstname": IdentifyingField.OPERATOR_NAME,
    "orderingmdlastname": IdentifyingField.OPERATOR_NAME,
    "orderingmdfirstname": IdentifyingField.OPERATOR_NAME,
    "referringmdlastname": IdentifyingField.OPERATOR_NAME,
    "referringmdfirstname": IdentifyingField.OPERATOR_NAME,
    "hisorderingmdlastname": IdentifyingField.OPERATOR_NAME,
    "hisorderingmdfirstname": IdentifyingField.OPERATOR_NAME,
    "requisitionnumber": IdentifyingField.ORDER_NUMBER,
    "accessionnumber": IdentifyingField.ORDER_NUMBER,
    "testreason": IdentifyingField.COMMENTS,
    "reasonfortest": IdentifyingField.COMMENTS,
    "userdefined": IdentifyingField.COMMENTS,
    "stmttext": IdentifyingField.COMMENTS,
    "tipistatement": IdentifyingField.COMMENTS,
    "admitdiagnosis": IdentifyingField.COMMENTS,
}

#: The 8 leads MUSE stores when it leaves out the derivable limb leads.
_STORED_EIGHT = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")


#: ``RestingECGMeasurements`` elements → quantities of :mod:`models.ecg.io.device`. MUSE's
#: ``QTCorrected`` follows the formula set up on the cart (Bazett by default), so it stays ``qtc``.
DEVICE_MEASUREMENTS: dict[str, str] = {
    "VentricularRate": "heart_rate",
    "PRInterval": "pr",
    "QRSDuration": "qrs",
    "QTInterval": "qt",
    "QTCorrected": "qtc",
    "QTcFrederica": "qtc_fridericia",
    "PAxis": "p_axis",
    "RAxis": "qrs_axis",
    "TAxis": "t_axis",
}


def sniff(files: Sequence[UploadedFile]) -> bool:
    """Whether a file is XML with a ``RestingECG`` root element."""
    return has_root(files, "RestingECG")


def _choose_waveform(root: Element) -> tuple[Element, list[str]]:
    waveforms = [node for node in root if local_name(node.tag) == "Waveform"]
    by_type = {child_text(node, "WaveformType").lower(): node for node in waveforms}
    if "rhythm" in by_type:
        return by_type["rhythm"], []
    if "median" in by_type:
        return by_type["median"], ["the file holds only a median beat, no 10 s rhythm strip"]
    raise MalformedEcg("the MUSE file holds no Rhythm or Median waveform", field="Waveform")


def _decode_lead(lead: Element, n_samples: int, index: int) -> np.ndarray:
    """One lead's samples in mV, after checking its declared and actual byte counts."""
    field = f"LeadData {index}"
    sample_size = parse_int(child_text(lead, "LeadSampleSize"), "LeadSampleSize", field, 2)
    if sample_size != 2:
        raise MalformedEcg(
            f"lead samples of {sample_size} bytes are not supported (MUSE uses 2)", field
        )
    units_per_bit = parse_real(
        child_text(lead, "LeadAmplitudeUnitsPerBit"), "LeadAmplitudeUnitsPerBit", field
    )
    unit = child_text(lead, "LeadAmplitudeUnits") or "MICROVOLTS"
    factor = millivolts_per_unit(unit)
    if factor is None:
        raise MalformedEcg(f"the amplitude unit {unit[:20]!r} is not a voltage", field)
    text = "".join(child_text(lead, "WaveFormData").split())
    expected_chars = 4 * -(-n_samples * sample_size // 3)
    if len(text) != expected_chars:
        raise MalformedEcg(
            f"the lead declares {n_samples} samples ({n_samples * sample_size} bytes) but its "
            f"base64 data holds {len(text) * 3 // 4} bytes",
            field,
        )
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII characters in the text
        raise MalformedEcg("the lead's waveform data is not valid base64", field) from None
    if len(raw) != n_samples * sample_size:
        raise MalformedEcg("the lead's waveform data does not decode to its declared size", field)
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) * np.float32(units_per_bit * factor)


def _derive_limb_leads(signals: dict[str, np.ndarray]) -> list[str]:
    """Add III, aVR, aVL, aVF from I and II when the file leaves them out (in place)."""
    if not {"I", "II"} <= signals.keys():
        return []
    lead_i, lead_ii = signals["I"], signals["II"]
    derived = {
        "III": lead_ii - lead_i,
        "aVR": -(lead_i + lead_ii) / 2,
        "aVL": lead_i - lead_ii / 2,
        "aVF": lead_ii - lead_i / 2,
    }
    added = [name for name in derived if name not in signals]
    for name in added:
        signals[name] = derived[name]
    return added


def _statement_lines(diagnosis: Element | None) -> list[str]:
    """The ``Diagnosis`` statements as lines: MUSE splits a line into ``StmtText`` pieces and
    flags the last piece of each line ``ENDSLINE`` (a statement may carry several flags)."""
    lines: list[str] = []
    pieces: list[str] = []
    statements = [node for node in ([] if diagnosis is None else diagnosis)
                  if local_name(node.tag) == "DiagnosisStatement"]
    for statement in statements[:MAX_ANNOTATIONS]:
        pieces.append(child_text(statement, "StmtText"))
        if any(local_name(flag.tag) == "StmtFlag" and (flag.text or "").strip() == "ENDSLINE"
               for flag in statement):
            lines.append(" ".join(piece for piece in pieces if piece))
            pieces = []
        if len(lines) >= MAX_STATEMENTS:
            break
    return [*lines, " ".join(piece for piece in pieces if piece)]


def device_measurements(root: Element) -> DeviceReading | None:
    """The cart's intervals (``RestingECGMeasurements``) and its interpretation (``Diagnosis``,
    as confirmed; ``OriginalDiagnosis`` is the cart's unedited text) of a parsed MUSE export."""
    measured = next((node for node in root if local_name(node.tag) == "RestingECGMeasurements"),
                    None)
    values = [(DEVICE_MEASUREMENTS[local_name(node.tag)], node.text)
              for node in ([] if measured is None else measured)
              if local_name(node.tag) in DEVICE_MEASUREMENTS]
    diagnosis = next((node for node in root if local_name(node.tag) == "Diagnosis"), None)
    return device_reading("GE MUSE", values, _statement_lines(diagnosis))


def read(files: Sequence[UploadedFile], limits: IngestLimits) -> IngestResult:
    """Read a GE MUSE XML export into a de-identified :class:`IngestResult` (mV, 12 leads).

    Raises:
        InputTooLarge, MalformedEcg: declared sizes beyond the limits, or data that does not
        match them (a lead's base64 length, garbage base64, a missing field).
    """
    file = single_file(files, "GE MUSE XML")
    root = parse_tree(file)
    waveform, notes = _choose_waveform(root)
    leads = [node for node in waveform if local_name(node.tag) == "LeadData"]
    check_channel_count(len(leads), limits, field="Waveform")
    base = parse_real(child_text(waveform, "SampleBase"), "SampleBase", "SampleBase")
    exponent = parse_int(
        child_text(waveform, "SampleExponent"), "SampleExponent", "SampleExponent", 0
    )
    if not -3 <= exponent <= 3:
        raise MalformedEcg(f"the sample exponent {exponent} is implausible", field="SampleExponent")
    fs_hz = base * 10.0**exponent
    check_sampling_rate(fs_hz, limits, field="SampleBase")
    counts = {
        parse_int(child_text(lead, "LeadSampleCountTotal"), "LeadSampleCountTotal", f"LeadData {i}")
        for i, lead in enumerate(leads, start=1)
    }
    if len(counts) != 1:
        raise MalformedEcg(
            "the leads hold different numbers of samples", field="LeadSampleCountTotal"
        )
    n_samples = counts.pop()
    check_sample_count(n_samples, fs_hz, limits, field="LeadSampleCountTotal")

    signals: dict[str, np.ndarray] = {}
    for index, lead in enumerate(leads, start=1):
        name = canonical_lead_name(child_text(lead, "LeadID")) or f"channel {index}"
        signals[name] = _decode_lead(lead, n_samples, index)
    if len(signals) != len(leads):
        raise MalformedEcg("a lead appears twice in the waveform", field="LeadID")
    if set(_STORED_EIGHT) <= signals.keys():
        added = _derive_limb_leads(signals)
        if added:
            notes.append(f"derived {', '.join(added)} from leads I and II")

    demographics = next(
        (node for node in root if local_name(node.tag) == "PatientDemographics"), None
    )
    test = next((node for node in root if local_name(node.tag) == "TestDemographics"), None)
    age_units = child_text(demographics, "AgeUnits").upper()
    stated_age = child_text(demographics, "PatientAge") if age_units in ("", "YEARS") else "0"
    age = resolve_age(
        stated_age or None,
        parse_date(child_text(demographics, "DateofBirth"), _MUSE_DATE_FORMATS),
        parse_date(child_text(test, "AcquisitionDate"), _MUSE_DATE_FORMATS),
    )
    names = list(signals)
    return assemble(
        np.stack([signals[name] for name in names]),
        names,
        fs_hz,
        source_format=FORMAT,
        age_years=age,
        sex=normalise_sex(child_text(demographics, "Gender")),
        removed=find_identifying(root, IDENTIFYING_ELEMENTS),
        warnings=notes,
        device=device_measurements(root),
    )
