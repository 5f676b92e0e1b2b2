"""The two value types of the input layer: what comes in (files) and what goes out (a result)."""

from __future__ import annotations

from dataclasses import dataclass

from models.ecg.io.device import DeviceReading
from models.ecg.record import Ecg


@dataclass(frozen=True)
class UploadedFile:
    """One uploaded file: the name as the client sent it and its bytes.

    Only the name's suffix may serve as a hint (and WFDB headers refer to their data files by
    name); a reader never trusts the name alone to decide the format.
    """

    name: str
    data: bytes

    def __repr__(self) -> str:
        # The bytes may hold identifying header text; keep them out of logs and tracebacks.
        return f"UploadedFile(name={self.name!r}, size={len(self.data)} bytes)"


@dataclass(frozen=True)
class IngestResult:
    """A de-identified ECG and what the input layer did to get it.

    Attributes:
        ecg: the signal in mV with canonical lead names, age and sex.
        format: the reader that produced it (``"wfdb"``, ``"wfdb-mat"``, ``"edf"``, ``"bdf"``,
            ``"dicom"``, ``"muse-xml"``, ``"hl7-aecg"``, ``"philips-sierra"``).
        removed_fields: names (never values) of the identifying fields that were found in the
            input and dropped, e.g. ``("birth_date", "patient_name")``; sorted, no repeats.
        warnings: plain-language notes on anything the reader changed or ignored.
        device: the cart's own intervals and statements, for the formats that store them
            (MUSE, Philips Sierra, HL7 aECG); ``None`` otherwise.
    """

    ecg: Ecg
    format: str
    removed_fields: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    device: DeviceReading | None = None
