"""Risk bands calibrated on real ECGs: "high" means the top of real development ECGs, at most.

A head learned on a drug study, or a network head learned on synthetic ECGs, has no reason to
put its 0.5 where a cardiologist would draw the line on ordinary ECGs: the shipped TdP head
called many normal-looking PTB-XL ECGs "high". :func:`calibrate_bands` runs a bundle on the real
12-lead development ECGs of the project that carry no long-QT label (PTB-XL, Challenge 2021,
LUDB in ``$QTLENS_DATA_DIR``), read by the same reader as an upload and scored by the same
:meth:`~models.bundle.LoadedBundle.predict`, and sets per learned head

* ``high_from`` so that, with 95 % confidence, at most :data:`HIGH_FRACTION` (10 %) of such
  ECGs fall in "high", and
* ``intermediate_from`` so that, with the same confidence, at most :data:`RAISED_FRACTION` (25 %)
  are above "low",

never lower than the task's defaults (0.2 and 0.5). "With 95 % confidence" is the stated margin:
the cut lets through the most records whose one-sided 95 % Clopper–Pearson upper bound of the
share stays within the goal (:func:`allowed_count`), so a cut that only just reaches the goal on
the records it was set on does not overshoot it on new ones by chance. The records follow the
project's one split rule (:mod:`models.data.splits`: ``tune`` records choose thresholds, and
the network never trained on them): the cut-offs are set on the ``tune`` records and the share
above them is checked on the ``check`` records, both stored with the bands in the card
(``task_heads.<task>.bands``) together with the rule; ``train`` records, which the concept
network was fitted on, are left out. A points head keeps its published categories; its share of
"high" on the same ECGs is recorded as its check.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from models.bundle import (
    CARD_FILE,
    FILE_HEADS,
    POINTS_HEAD,
    LoadedBundle,
    code_version,
    read_json,
    recorded_checksums,
    task_heads,
    write_checksums,
    write_json,
)
from models.data.base import RecordDataset
from models.data.registry import default_root, open_dataset
from models.data.splits import SPLIT_RULE, Role, record_role
from models.ecg.record import Ecg
from models.tasks import Bands, get_task

#: Real 12-lead development datasets the bands are calibrated on.
CALIBRATION_DATASETS: tuple[str, ...] = ("ptbxl", "challenge", "ludb")
#: The largest share of development ECGs a "high" band may hold.
HIGH_FRACTION = 0.10
#: The largest share of development ECGs above "low".
RAISED_FRACTION = 0.25
#: Confidence of the one-sided upper bound on a band's share that must stay within its goal.
CONFIDENCE = 0.95
HALF_RULE = (f"set on the tune role (the concept network never trained on it), checked on the "
             f"check role; train records left out: {SPLIT_RULE}")
#: Records per forward pass.
BATCH = 32


@dataclass(frozen=True)
class DevelopmentEcg:
    """One real development ECG without a long-QT label."""

    dataset: str
    record_id: str
    ecg: Ecg
    role: Role

    @property
    def half(self) -> str | None:
        """``set`` (tune role), ``check`` (check role) or ``None`` (train role: not used; see
        :data:`HALF_RULE`)."""
        return {"tune": "set", "check": "check"}.get(self.role)


def development_ecgs(
    data_dir: Path | None = None, datasets: Sequence[str] = CALIBRATION_DATASETS
) -> Iterator[DevelopmentEcg]:
    """The development ECGs of ``datasets`` that carry no long-QT label (full-rate records,
    read as an upload is read); records with a positive ``lqts_risk`` label are left out."""
    for name in datasets:
        dataset = open_dataset(name, default_root(name, data_dir))
        if not isinstance(dataset, RecordDataset):
            continue
        label = dataset.task_labels.get("lqts_risk")
        index = dataset.index
        for record_id in dataset.record_ids():
            if label is not None and index.loc[record_id, label] == 1:
                continue
            fold = int(index.at[record_id, "strat_fold"]) if "strat_fold" in index else None
            yield DevelopmentEcg(name, record_id, dataset.load(record_id).ecg,
                                 record_role(name, record_id, fold))


def upper_bound(count: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper–Pearson upper confidence bound of a share seen as ``count`` of ``n``
    (a fraction in [0, 1])."""
    if count >= n:
        return 1.0
    return float(stats.beta.ppf(confidence, count + 1, n - count))


def allowed_count(n: int, fraction: float, confidence: float = CONFIDENCE) -> int:
    """The most records of ``n`` a band may hold while the one-sided ``confidence`` upper bound
    of its share stays ≤ ``fraction`` (0 when even none would not prove it: too few records)."""
    count = int(np.floor(fraction * n))
    while count > 0 and upper_bound(count, n, confidence) > fraction:
        count -= 1
    return count


def _cut(probabilities: np.ndarray, fraction: float, floor: float) -> float:
    """The lowest cut-off ≥ ``floor`` that at most :func:`allowed_count` of ``probabilities``
    reach (``fraction``: the goal on the share)."""
    allowed = allowed_count(probabilities.size, fraction)
    ordered = np.sort(probabilities)[::-1]
    if allowed >= ordered.size:
        return floor
    above = ordered[allowed]  # the largest value that must stay below the cut
    cut = float(np.nextafter(above, np.inf))
    if allowed > 0 and ordered[allowed - 1] > above:
        cut = float((ordered[allowed - 1] + above) / 2.0)
    return max(floor, cut)


def calibrate_bands(bundle: LoadedBundle, ecgs: Sequence[DevelopmentEcg]) -> dict[str, Any]:
    """Per task, the calibrated bands (learned heads) or the check of a points head.

    Returns:
        task → ``{"bands": Bands | None, "set": {...}, "check": {...}}``: the share of each
        half in the high band, their sizes and datasets.

    Raises:
        ValueError: either half is empty.
    """
    halves = {h: [e for e in ecgs if e.half == h] for h in ("set", "check")}
    if not all(halves.values()):
        raise ValueError(f"need development ECGs in both halves, got "
                         f"{ {h: len(v) for h, v in halves.items()} }")
    probabilities: dict[str, dict[str, np.ndarray]] = {}
    for half, members in halves.items():
        rows = []
        for start in range(0, len(members), BATCH):
            predictions = bundle.predict([m.ecg for m in members[start:start + BATCH]])
            rows += [[p.tasks[t].probability for t in bundle.bands] for p in predictions]
        table = np.asarray(rows)
        probabilities[half] = {t: table[:, j] for j, t in enumerate(bundle.bands)}
    result: dict[str, Any] = {}
    heads = bundle.task_heads
    for task, current in bundle.bands.items():
        kind = heads[task]["kind"]
        defaults = get_task(task).bands
        if kind == POINTS_HEAD:
            bands = current
        else:
            on_set = probabilities["set"][task]
            high = _cut(on_set, HIGH_FRACTION, defaults.high_from)
            intermediate = min(high, _cut(on_set, RAISED_FRACTION, defaults.intermediate_from))
            bands = Bands(
                intermediate, high,
                f"calibrated on {len(on_set)} real development ECGs without a long-QT label "
                f"({', '.join(_datasets(halves['set']))}; {HALF_RULE}): at most "
                f"{HIGH_FRACTION:.0%} in high, {RAISED_FRACTION:.0%} above low at "
                f"{CONFIDENCE:.0%} confidence (one-sided Clopper-Pearson upper bound), never "
                f"below the defaults {defaults.intermediate_from:g}/{defaults.high_from:g}",
            )
        result[task] = {
            "bands": bands if kind != POINTS_HEAD else None,
            **{half: _share(probabilities[half][task], bands, halves[half]) for half in halves},
        }
    return result


def _datasets(members: Sequence[DevelopmentEcg]) -> list[str]:
    counts: dict[str, int] = {}
    for member in members:
        counts[member.dataset] = counts.get(member.dataset, 0) + 1
    return [f"{name} {n}" for name, n in counts.items()]


def _share(probabilities: np.ndarray, bands: Bands, members: Sequence[DevelopmentEcg]
           ) -> dict[str, Any]:
    bands_of = [bands.band(float(p)).value for p in probabilities]
    return {
        "n": len(bands_of),
        "datasets": _datasets(members),
        "fraction_high": bands_of.count("high") / len(bands_of),
        "fraction_high_upper_bound": upper_bound(bands_of.count("high"), len(bands_of)),
        "fraction_intermediate": bands_of.count("intermediate") / len(bands_of),
    }


def write_bands(path: Path, calibration: dict[str, Any]) -> str:
    """Store the calibration in the card of the bundle at ``path``; returns the new checksum.

    Each task's card entry gets ``bands`` (learned heads: the calibrated cut-offs; points
    heads: unchanged) and ``development_check`` (the share in each band on both halves).
    """
    card = read_json(path / CARD_FILE)
    sections = task_heads(card)
    for task, found in calibration.items():
        entry = dict(sections[task])
        if found["bands"] is not None:
            entry["bands"] = found["bands"].to_dict()
        entry["development_check"] = {"rule": HALF_RULE, "set": found["set"],
                                      "check": found["check"]}
        sections[task] = entry
    card["task_heads"] = sections
    card["band_calibration"] = {"command": f"qtlens calibrate-bands --bundle {path}",
                                "code_version": code_version()}
    write_json(path / CARD_FILE, card)
    names = list(recorded_checksums(path))
    kept = {e["file"] for e in sections.values() if e["kind"] in FILE_HEADS}
    return write_checksums(path, [*names, *sorted(kept - set(names))])
