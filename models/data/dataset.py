"""The training-data interface: what a dataset loader gives the concept models.

A loader only has to return a :class:`ConceptDataset` — signals, concept targets, task labels,
demographics and a split — for a :class:`DataRequest`. ``synthetic`` is built here from
:func:`models.data.synthetic.make_dataset`; every other source in :data:`DATA_SOURCES` is a
public dataset of :mod:`models.data.registry`, served from the caches of ``qtlens data
build-cache`` by :func:`models.data.public.load_concept_dataset`.

Conventions (checked by :meth:`ConceptDataset.__post_init__`):
    * signals in mV, float32 ``[n, 12, L]`` in :data:`~models.ecg.record.STANDARD_LEADS` order at
      ``request.fs_hz`` and ``L = fs_hz · duration_s`` samples (a loader may return a memory map);
      a missing lead is zeros with ``lead_mask`` False;
    * concepts ``[n, K]`` in registry order and registry units (binary 0/1), NaN = not measured;
    * labels ``[n, T]`` in :data:`models.tasks.TASKS` order (0/1), NaN = not labelled;
    * age in years (NaN unknown); sex as model codes (:func:`models.nets.bottleneck.sex_code`);
    * split: ``"train"``, ``"val"`` or ``"test"`` per record — fixed by the loader, so every
      variant trained on a source sees the same held-out records (PTB-XL: strat_fold 9/10).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.concepts import REGISTRY
from models.ecg.record import STANDARD_LEADS
from models.tasks import TASKS

#: Data sources ``qtlens train/evaluate --data`` accepts.
DATA_SOURCES: tuple[str, ...] = ("synthetic", "ptbxl", "challenge")

SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class DataRequest:
    """What the training or evaluation run asks a loader for.

    Attributes:
        source: one of :data:`DATA_SOURCES`.
        fs_hz: sampling rate the signals must have (Hz).
        duration_s: length the signals must have (s).
        n_records: synthetic — how many to generate; real data — an upper bound (None = all).
        seed: synthetic generator seed (real loaders may use it to subsample).
        data_dir: root of the public datasets (``QTLENS_DATA_DIR``); unused for synthetic.
        options: source-specific settings recorded in the card (synthetic: ``noise``,
            ``shortcut``, ``label_model``).
    """

    source: str
    fs_hz: float
    duration_s: float
    n_records: int | None = None
    seed: int = 0
    data_dir: Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (stored in the card so evaluation can rebuild the data)."""
        return {
            "source": self.source,
            "fs_hz": self.fs_hz,
            "duration_s": self.duration_s,
            "n_records": self.n_records,
            "seed": self.seed,
            "options": dict(self.options),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], data_dir: Path | None = None) -> DataRequest:
        """Inverse of :meth:`to_dict`."""
        return cls(
            source=str(data["source"]),
            fs_hz=float(data["fs_hz"]),
            duration_s=float(data["duration_s"]),
            n_records=None if data.get("n_records") is None else int(data["n_records"]),
            seed=int(data.get("seed", 0)),
            data_dir=data_dir,
            options=dict(data.get("options", {})),
        )


@dataclass(frozen=True)
class ConceptDataset:
    """Signals, concept targets, labels, demographics and split of ``n`` records.

    Attributes:
        signals_mv: ``[n, 12, L]`` float32 in mV.
        fs_hz: sampling rate (Hz).
        lead_mask: ``[n, 12]`` bool.
        concepts: ``[n, K]`` float32, registry order and units, NaN unknown.
        labels: ``[n, T]`` float32, task order, NaN unknown.
        age_years: ``[n]`` float32, NaN unknown.
        sex: ``[n]`` int8 model sex codes.
        split: ``[n]`` str, ``train``/``val``/``test``.
        provenance: how the data was made (source, version, generator settings) for the card.
    """

    signals_mv: np.ndarray
    fs_hz: float
    lead_mask: np.ndarray
    concepts: np.ndarray
    labels: np.ndarray
    age_years: np.ndarray
    sex: np.ndarray
    split: np.ndarray
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.signals_mv.shape[0]
        expected = {
            "signals_mv": (n, len(STANDARD_LEADS), self.signals_mv.shape[-1]),
            "lead_mask": (n, len(STANDARD_LEADS)),
            "concepts": (n, len(REGISTRY)),
            "labels": (n, len(TASKS)),
            "age_years": (n,),
            "sex": (n,),
            "split": (n,),
        }
        for name, shape in expected.items():
            actual = getattr(self, name).shape
            if actual != shape:
                raise ValueError(f"ConceptDataset.{name} has shape {actual}, expected {shape}")
        unknown = set(np.unique(self.split)) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown split names {sorted(unknown)}; use {SPLITS}")

    def __len__(self) -> int:
        return int(self.signals_mv.shape[0])

    @property
    def n_samples(self) -> int:
        """Samples per lead."""
        return int(self.signals_mv.shape[-1])

    def indices(self, split: str) -> np.ndarray:
        """Record indices of ``split``."""
        return np.flatnonzero(self.split == split)

    def split_sizes(self) -> dict[str, int]:
        """Number of records per split."""
        return {s: int((self.split == s).sum()) for s in SPLITS}


def load_dataset(request: DataRequest) -> ConceptDataset:
    """The dataset ``request`` describes, checked against the request's rate and length.

    Raises:
        ValueError: unknown source, a loader that is not available, or data that breaks the
            conventions above.
    """
    if request.source not in DATA_SOURCES:
        raise ValueError(f"unknown data source {request.source!r}; use one of {DATA_SOURCES}")
    if request.source == "synthetic":
        dataset = _synthetic(request)
    else:
        from models.data.public import load_concept_dataset

        dataset = load_concept_dataset(request)
    expected_samples = round(request.fs_hz * request.duration_s)
    if dataset.fs_hz != request.fs_hz or dataset.n_samples != expected_samples:
        raise ValueError(
            f"{request.source} loader returned {dataset.n_samples} samples at {dataset.fs_hz} Hz; "
            f"the model needs {expected_samples} at {request.fs_hz} Hz"
        )
    return dataset


def _synthetic(request: DataRequest) -> ConceptDataset:
    """Generate ``request.n_records`` synthetic ECGs with the split of the generator.

    ``request.options`` may set ``noise`` (``"default"``/``"clean"``), ``shortcut`` (bool) and
    ``label_model`` (``"full"``/``"qtc_only"``) of :func:`models.data.synthetic.make_dataset`.
    """
    from models.data.synthetic import make_dataset, split_indices
    from models.nets.bottleneck import SEX_FEMALE, SEX_MALE

    if not request.n_records or request.n_records < 10:
        raise ValueError("synthetic data needs n_records ≥ 10")
    unknown = set(request.options) - {"noise", "shortcut", "label_model"}
    if unknown:
        raise ValueError(f"unknown synthetic options {sorted(unknown)}")
    options = {"noise": "default", "shortcut": False, "label_model": "full", **request.options}
    generated = make_dataset(
        request.n_records,
        request.seed,
        fs_hz=request.fs_hz,
        duration_s=request.duration_s,
        shortcut=bool(options["shortcut"]),
        noise=options["noise"],
        label_model=options["label_model"],
    )
    split = np.empty(len(generated), dtype=object)
    for name, index in split_indices(len(generated), request.seed).items():
        split[index] = name
    return ConceptDataset(
        signals_mv=generated.signals,
        fs_hz=generated.fs_hz,
        lead_mask=np.ones((len(generated), len(STANDARD_LEADS)), dtype=bool),
        concepts=generated.concepts.astype(np.float32),
        labels=generated.labels.astype(np.float32),
        age_years=generated.age_years.astype(np.float32),
        sex=np.where(generated.female == 1, SEX_FEMALE, SEX_MALE).astype(np.int8),
        split=split.astype(str),
        provenance={
            "generator": "models.data.synthetic.make_dataset",
            **options,
            "seed": request.seed,
            "split_rule": "seed-derived permutation cut 80/10/10 "
            "(models.data.synthetic.split_indices)",
        },
    )
