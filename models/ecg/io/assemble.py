"""Turn decoded channels into the one :class:`IngestResult` every reader returns.

All readers end here, so lead naming, duplicate and unknown leads, invalid samples and lead order
follow one rule set whatever the file format:

* lead labels become canonical names (:func:`canonical_lead_name`); a label that is free text
  rather than a lead name becomes ``channel N``; a lead present twice is an error;
* when all 12 standard leads are present, extra channels (Frank vx/vy/vz, respiration…) are
  dropped with a warning; otherwise every channel is kept (QTDB's ``CM5`` or ``0``/``1`` leads are
  still ECG leads), non-standard names unchanged;
* a channel with no valid sample (lead off) is dropped with a warning; a channel with *some*
  non-finite samples is refused, since filling the gap would invent signal;
* standard leads come first in :data:`STANDARD_LEADS` order, then the others as stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from models.ecg.errors import MalformedEcg
from models.ecg.io.deid import IdentifyingField, removed_field_names
from models.ecg.io.device import DeviceReading
from models.ecg.io.upload import IngestResult
from models.ecg.limits import SHORT_RECORD_S
from models.ecg.record import STANDARD_LEADS, Ecg, Sex, canonical_lead_name

#: What a stored lead label may look like ("II", "MLII", "V4-V5", "mod.V1", "vx"); anything else
#: (e.g. QTDB's "record 14172, signal 0") is free text that may carry identifiers, and is replaced.
_LEAD_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+\-]{0,23}")

#: Peak amplitude (mV) above which the units or gains are almost certainly wrong.
IMPLAUSIBLE_AMPLITUDE_MV = 50.0


def canonical_names(raw_names: Sequence[str]) -> tuple[list[str], list[int]]:
    """Canonical lead names for stored labels, and the indices of free-text labels replaced.

    A label that does not look like a lead label becomes ``"channel N"`` (N counted from 1).

    Raises:
        MalformedEcg: a lead appears twice.
    """
    names: list[str] = []
    replaced: list[int] = []
    for index, raw in enumerate(raw_names):
        label = raw.strip()
        if _LEAD_LABEL.fullmatch(label):
            names.append(canonical_lead_name(label))
        else:
            names.append(f"channel {index + 1}")
            replaced.append(index)
    for name in names:
        if names.count(name) > 1:
            raise MalformedEcg(f"lead {name} appears {names.count(name)} times", field="lead names")
    return names, replaced


def assemble(
    signal_mv: np.ndarray,
    raw_lead_names: Sequence[str],
    fs_hz: float,
    *,
    source_format: str,
    age_years: int | None,
    sex: Sex | None,
    removed: Iterable[IdentifyingField] = (),
    warnings: Sequence[str] = (),
    device: DeviceReading | None = None,
) -> IngestResult:
    """Build the result from ``signal_mv`` (``[channels, samples]``, mV) and stored lead labels.

    Args:
        signal_mv: decoded samples in millivolts, one row per stored channel.
        raw_lead_names: the labels as stored in the file, one per row.
        fs_hz: sampling rate in Hz (already checked against the limits by the reader).
        source_format: the reader's format name.
        age_years, sex: the kept demographics.
        removed: identifying fields found in the input and dropped.
        warnings: notes from the reader, to which this function adds its own.
        device: the cart's own reading, kept as given.

    Raises:
        MalformedEcg: repeated leads, partly invalid channels, or no usable channel.
    """
    if signal_mv.ndim != 2 or signal_mv.shape[0] != len(raw_lead_names):
        raise MalformedEcg(
            f"{len(raw_lead_names)} lead labels for {signal_mv.shape[0]} decoded channels",
            field="lead names",
        )
    if signal_mv.shape[1] == 0:
        raise MalformedEcg("the record holds no samples", field="samples")
    names, replaced = canonical_names(raw_lead_names)
    notes = list(warnings)
    removed = list(removed)
    if replaced:
        removed.append(IdentifyingField.COMMENTS)
        notes.append(
            "channel labels that are free text, not lead names, were replaced by "
            + ", ".join(names[index] for index in replaced)
        )

    keep = list(range(len(names)))
    if set(STANDARD_LEADS) <= set(names):
        extra = [name for name in names if name not in STANDARD_LEADS]
        if extra:
            notes.append(
                f"dropped channels that are not among the 12 standard leads: {', '.join(extra)}"
            )
        keep = [index for index in keep if names[index] in STANDARD_LEADS]

    finite = np.isfinite(signal_mv[keep])
    lead_off = [index for index, row in zip(keep, finite) if not row.any()]
    partial = [index for index, row in zip(keep, finite) if row.any() and not row.all()]
    if partial:
        first = partial[0]
        n_bad = int(np.count_nonzero(~np.isfinite(signal_mv[first])))
        raise MalformedEcg(
            f"lead {names[first]} holds {n_bad} invalid (non-finite) samples among valid ones",
            field=names[first],
        )
    if lead_off:
        notes.append(
            f"dropped leads without any valid sample: {', '.join(names[i] for i in lead_off)}"
        )
        keep = [index for index in keep if index not in lead_off]
    if not keep:
        raise MalformedEcg("no channel holds valid samples", field="samples")

    standard_rank = {lead: rank for rank, lead in enumerate(STANDARD_LEADS)}
    keep.sort(key=lambda index: (standard_rank.get(names[index], len(STANDARD_LEADS)), index))
    signal = np.ascontiguousarray(signal_mv[keep], dtype=np.float32)
    peak_mv = float(np.max(np.abs(signal)))
    if peak_mv > IMPLAUSIBLE_AMPLITUDE_MV:
        notes.append(
            f"the signal reaches {peak_mv:,.0f} mV; an ECG rarely exceeds 10 mV, so the file's "
            "units or gains may be wrong"
        )
    duration_s = signal.shape[1] / float(fs_hz)
    if duration_s < SHORT_RECORD_S:
        notes.append(f"the record is only {duration_s:.2f} s long, too short to measure intervals")
    ecg = Ecg(
        signal_mv=signal,
        fs_hz=float(fs_hz),
        lead_names=tuple(names[index] for index in keep),
        age_years=age_years,
        sex=sex,
        source_format=source_format,
    )
    return IngestResult(
        ecg=ecg,
        format=source_format,
        removed_fields=removed_field_names(removed),
        warnings=tuple(notes),
        device=device,
    )
