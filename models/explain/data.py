"""Records to explain, with what is known about them: concepts, labels and where the waves are.

Two sources feed the comparison (:mod:`models.explain.compare`):

* **synthetic** (:func:`synthetic_data`) — the generator's exact ground truth: every concept, the
  task labels, per-beat fiducials (identical in every lead) and, with the shortcut artefact on,
  the sample spans and leads of the spikes;
* **LUDB** (:func:`ludb_data`) — real 500 Hz records with cardiologists' per-lead P/QRS/T
  onsets and offsets (Kalyakulina et al., IEEE Access 8:186181, 2020) and concepts measured by
  :func:`models.ecg.measure.measure` (from the ``qtlens data build-cache`` concept cache when
  it is built); no task labels.

Regions (:data:`REGIONS`, record times in seconds, per lead):
    ``qrs`` QRS onset → offset; ``qt`` QRS onset → T end; ``st_t`` QRS offset (J point) → T end;
    ``t_wave`` T onset → T end; ``shortcut`` (synthetic data made with the artefact) the spike
    sites before every QRS widened by :data:`SHORTCUT_TOLERANCE_S` each side, in the leads that
    show the spike — in records without the spike, where it would be (a placebo region).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.concepts import concept_names
from models.ecg.record import STANDARD_LEADS, Ecg
from models.explain.metrics import RegionMasks, interval_mask
from models.tasks import TASKS

#: Regions with a meaning, in the order reports list them.
REGIONS: tuple[str, ...] = ("qrs", "qt", "st_t", "t_wave", "shortcut")

#: The shortcut spike lasts one or two samples at 100 Hz; attribution that lands on the
#: neighbouring samples (convolutions blur) still points at it.
SHORTCUT_TOLERANCE_S = 0.02

#: Synthetic fiducial columns (``models.ecg.synth.FIDUCIALS``) bounding each wave region.
_SYNTHETIC_BOUNDS: dict[str, tuple[str, str]] = {
    "qrs": ("qrs_onset", "qrs_offset"),
    "qt": ("qrs_onset", "t_end"),
    "st_t": ("qrs_offset", "t_end"),
    "t_wave": ("t_onset", "t_end"),
}

Intervals = Mapping[str, np.ndarray]
"""Lead name → ``[k, 2]`` ``(begin_s, end_s)`` rows."""


@dataclass(frozen=True)
class RecordTruth:
    """Where the waves of one record are.

    Attributes:
        regions: region name → per-lead intervals (record times, s).
        annotated_s: lead → ``(begin_s, end_s)`` stretch where the truth is known.
    """

    regions: Mapping[str, Intervals]
    annotated_s: Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class ExplainData:
    """``n`` records with their known concepts, labels and wave positions.

    Attributes:
        source: ``synthetic`` or ``ludb``.
        ecgs: the records.
        concepts: ``[n, K]`` registry order and units (binary 0/1), NaN unknown.
        labels: ``[n, T]`` task labels, NaN unknown (LUDB has none).
        truth: per record, where the waves (and shortcut spikes) are.
        flags: extra per-record binary facts usable as TCAV concepts (``shortcut``).
        provenance: how the data was made (source, seed, options) for the report.
    """

    source: str
    ecgs: tuple[Ecg, ...]
    concepts: np.ndarray
    labels: np.ndarray
    truth: tuple[RecordTruth, ...]
    flags: Mapping[str, np.ndarray] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ecgs)

    @property
    def has_labels(self) -> bool:
        """Whether any task label is known."""
        return bool(np.isfinite(self.labels).any())

    def region_masks(self, start_s: np.ndarray, fs_hz: float, n_samples: int) -> RegionMasks:
        """The regions on a model-input grid (``start_s [n]`` record time of sample 0)."""
        n, leads = len(self), len(STANDARD_LEADS)
        regions = {name: np.zeros((n, leads, n_samples), dtype=bool) for name in REGIONS}
        evaluated = np.zeros((n, leads, n_samples), dtype=bool)
        for i, truth in enumerate(self.truth):
            for j, lead in enumerate(STANDARD_LEADS):
                if lead not in truth.annotated_s or not self.ecgs[i].has_lead(lead):
                    continue
                span = np.array([truth.annotated_s[lead]])
                evaluated[i, j] = interval_mask(span, start_s[i], fs_hz, n_samples)
                for name, per_lead in truth.regions.items():
                    if lead in per_lead:
                        regions[name][i, j] = interval_mask(
                            per_lead[lead], start_s[i], fs_hz, n_samples
                        )
        return RegionMasks(regions=regions, evaluated=evaluated)


def synthetic_data(
    n: int,
    seed: int,
    *,
    fs_hz: float,
    duration_s: float,
    shortcut: bool = False,
    label_model: str = "full",
    progress: Callable[[int], object] | None = None,
) -> ExplainData:
    """``n`` synthetic records (:func:`models.data.synthetic.make_dataset`) with their truth.

    Args:
        n: number of records.
        seed: generator seed (use one no bundle was trained on).
        fs_hz, duration_s: the models' input rate and length.
        shortcut: add the label-correlated spike (agreement 0.9 with ``lqts_risk``).
        label_model: ``full`` or ``qtc_only``.
        progress: called with the number of records finished after each batch.
    """
    from models.data.synthetic import make_dataset

    made = make_dataset(
        n,
        seed,
        fs_hz=fs_hz,
        duration_s=duration_s,
        shortcut=shortcut,
        label_model=label_model,  # type: ignore[arg-type]
        progress=progress,
    )
    columns = {name: k for k, name in enumerate(made.fiducial_names)}
    whole = (0.0, duration_s)
    truths = []
    for i in range(n):
        beats = made.beat_fiducials_s[i]
        beats = beats[np.isfinite(beats[:, columns["qrs_onset"]])]
        regions: dict[str, Intervals] = {}
        for name, (begin, end) in _SYNTHETIC_BOUNDS.items():
            rows = beats[:, [columns[begin], columns[end]]]
            regions[name] = {lead: rows for lead in STANDARD_LEADS}
        if shortcut:
            regions["shortcut"] = {
                lead: _spike_sites(beats[:, columns["qrs_onset"]], made.fs_hz)
                for lead in made.shortcut_leads
            }
        truths.append(RecordTruth(regions, {lead: whole for lead in STANDARD_LEADS}))
    return ExplainData(
        source="synthetic",
        ecgs=tuple(made.ecg(i) for i in range(n)),
        concepts=made.concepts.astype(np.float32),
        labels=made.labels.astype(np.float32),
        truth=tuple(truths),
        flags={"shortcut": made.shortcut_present.copy()} if shortcut else {},
        provenance={
            "source": "synthetic",
            "generator": "models.data.synthetic.make_dataset",
            "n_records": n,
            "seed": seed,
            "fs_hz": fs_hz,
            "duration_s": duration_s,
            "shortcut": shortcut,
            "shortcut_leads": list(made.shortcut_leads),
            "label_model": label_model,
        },
    )


def _spike_sites(qrs_onsets_s: np.ndarray, fs_hz: float) -> np.ndarray:
    """``[k, 2]`` where the shortcut spike is — or, in a record without it, would be — before
    each QRS (the generator's :class:`~models.ecg.synth.ShortcutConfig` placement), widened by
    :data:`SHORTCUT_TOLERANCE_S` each side. Records without the spike give the placebo region
    that tells a model that reads the spike from one that only looks near the QRS."""
    from models.ecg.synth import ShortcutConfig

    config = ShortcutConfig()
    starts = np.round((qrs_onsets_s - config.lead_in_ms / 1000.0) * fs_hz) / fs_hz
    width_s = max(1, round(config.width_ms * fs_hz / 1000.0)) / fs_hz
    return np.stack(
        [starts - SHORTCUT_TOLERANCE_S, starts + width_s + SHORTCUT_TOLERANCE_S], axis=1
    )


def _ludb_truth(fiducials: Mapping[str, Sequence[Any]]) -> RecordTruth:
    """Regions of one LUDB record from its per-lead annotated waves."""
    regions: dict[str, dict[str, np.ndarray]] = {name: {} for name in _SYNTHETIC_BOUNDS}
    annotated: dict[str, tuple[float, float]] = {}
    for lead, waves in fiducials.items():
        times = [t for w in waves for t in (w.onset_s, w.peak_s, w.offset_s) if t is not None]
        if not times:
            continue
        annotated[lead] = (min(times), max(times))
        rows: dict[str, list[tuple[float, float]]] = {name: [] for name in _SYNTHETIC_BOUNDS}
        for k, wave in enumerate(waves):
            if wave.wave == "T" and wave.onset_s is not None and wave.offset_s is not None:
                rows["t_wave"].append((wave.onset_s, wave.offset_s))
            if wave.wave != "QRS" or wave.onset_s is None or wave.offset_s is None:
                continue
            rows["qrs"].append((wave.onset_s, wave.offset_s))
            following = next((w for w in waves[k + 1 :] if w.wave in ("QRS", "T")), None)
            if following is not None and following.wave == "T" and following.offset_s is not None:
                rows["qt"].append((wave.onset_s, following.offset_s))
                rows["st_t"].append((wave.offset_s, following.offset_s))
        for name, pairs in rows.items():
            regions[name][lead] = np.array(pairs, dtype=float).reshape(-1, 2)
    return RecordTruth(regions, annotated)


def ludb_data(
    n: int | None = None,
    data_dir: Path | None = None,
    progress: Callable[[int], object] | None = None,
) -> ExplainData:
    """LUDB records (the first ``n``, or all) with the cardiologists' marks and measured concepts.

    Raises:
        ValueError: the LUDB folder is missing or incomplete (the message names it).
    """
    from models.data.base import DatasetRootError
    from models.data.cache import load_concepts
    from models.data.ludb import Ludb
    from models.data.registry import default_root
    from models.ecg.measure import measure

    root = default_root("ludb", data_dir)
    try:
        dataset = Ludb(root)
    except DatasetRootError as error:
        raise ValueError(str(error)) from None
    ids = dataset.record_ids()[: n or None]
    try:
        cached = load_concepts(dataset.subset(ids))
        measured = cached[list(concept_names())].to_numpy(np.float32)
        concept_source = "qtlens data build-cache concept cache"
    except LookupError:
        measured = None
        concept_source = "models.ecg.measure.measure, measured now"
    ecgs, truths, rows = [], [], []
    for record_id in ids:
        record = dataset.load(record_id)
        ecgs.append(record.ecg)
        truths.append(_ludb_truth(record.fiducials or {}))
        if measured is None:
            values = measure(record.ecg).values()
            rows.append([np.nan if values[c] is None else values[c] for c in concept_names()])
        if progress is not None:
            progress(1)
    concepts = measured if measured is not None else np.array(rows, dtype=np.float32)
    return ExplainData(
        source="ludb",
        ecgs=tuple(ecgs),
        concepts=concepts,
        labels=np.full((len(ids), len(TASKS)), np.nan, dtype=np.float32),
        truth=tuple(truths),
        provenance={
            "source": "ludb",
            "root": str(root),
            "n_records": len(ids),
            "records": list(ids),
            "concepts": concept_source,
            "fiducials": "cardiologists' per-lead annotations (LUDB)",
        },
    )
