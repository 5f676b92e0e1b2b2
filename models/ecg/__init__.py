"""ECG records, readers, preprocessing, delineation, measurement and synthesis."""

from models.ecg.record import STANDARD_LEADS, Ecg, canonical_lead_name

__all__ = ["STANDARD_LEADS", "Ecg", "canonical_lead_name"]
