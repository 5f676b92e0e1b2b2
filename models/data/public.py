"""A public dataset as training data: the :class:`ConceptDataset` of ``--data ptbxl|challenge``.

Everything comes from the caches ``qtlens data build-cache`` writes, so a training run parses no
WFDB file and measures nothing:

* signals — the memory-mapped signal store at the requested rate and length (PTB-XL: the
  ``records100/`` files for ≤ 100 Hz, ``records500/`` otherwise);
* concepts — the concept cache, measured on the dataset's full-rate records;
* labels — each task the dataset labels (``Dataset.task_labels``), NaN for the others;
* age, sex and split — the dataset's index (its documented split rule).

Records the reader refused (cached as unreadable) are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from models.concepts import concept_names
from models.data.base import RecordDataset
from models.data.cache import (
    StoreLayout,
    load_concepts,
    measurement_code_version,
    open_signal_store,
)
from models.data.registry import default_root, open_dataset
from models.ecg.record import STANDARD_LEADS
from models.tasks import TASKS

if TYPE_CHECKING:
    from models.data.dataset import ConceptDataset, DataRequest


def load_concept_dataset(request: DataRequest) -> ConceptDataset:
    """The registered dataset ``request.source`` as signals, concepts, labels and split.

    Args:
        request: ``source`` a registry name; ``fs_hz``/``duration_s`` the signal store to use;
            ``data_dir`` the folder holding the datasets (default ``$QTLENS_DATA_DIR``);
            ``n_records`` an upper bound met by a ``seed``-drawn subset (``None`` = all).

    Raises:
        ValueError: when the dataset folder is incomplete, is not a waveform dataset with labels,
            or its caches are not built (the message names the ``build-cache`` command).
    """
    from models.data.dataset import ConceptDataset
    from models.nets.bottleneck import sex_code

    root = default_root(request.source, request.data_dir)
    signals_source = open_dataset(request.source, root, training_fs_hz=request.fs_hz)
    measured_source = open_dataset(request.source, root)
    if not isinstance(signals_source, RecordDataset) or not signals_source.task_labels:
        raise ValueError(f"{request.source} has no labelled waveforms to train on")
    try:
        store = open_signal_store(signals_source, StoreLayout(request.fs_hz, request.duration_s))
        concepts = load_concepts(measured_source)
    except LookupError as error:
        raise ValueError(str(error)) from None

    readable = store.index["unreadable"].isna().to_numpy()
    rows = np.flatnonzero(readable)
    if request.n_records is not None and request.n_records < len(rows):
        chosen = np.random.default_rng(request.seed).choice(rows, request.n_records, replace=False)
        rows = np.sort(chosen)
    record_ids = store.index.index[rows]
    index = signals_source.index.loc[record_ids]
    all_rows = len(rows) == len(store)
    labels = np.full((len(rows), len(TASKS)), np.nan, dtype=np.float32)
    for column, task in enumerate(TASKS):
        if task.name in signals_source.task_labels:
            labels[:, column] = index[signals_source.task_labels[task.name]].to_numpy()
    return ConceptDataset(
        signals_mv=store.signals if all_rows else np.asarray(store.signals[rows]),
        fs_hz=request.fs_hz,
        lead_mask=store.index.iloc[rows][[f"has_{lead}" for lead in STANDARD_LEADS]].to_numpy(),
        concepts=concepts.loc[record_ids, list(concept_names())].to_numpy(np.float32),
        labels=labels,
        age_years=index["age_years"].to_numpy(dtype=np.float32, na_value=np.nan),
        sex=np.array(
            [sex_code(sex if isinstance(sex, str) else None) for sex in index["sex"]], np.int8
        ),
        split=index["split"].to_numpy(dtype=str),
        provenance={
            "source": request.source,
            "records": len(rows),
            "unreadable_left_out": int((~readable).sum()),
            "signal_code_version": store.meta["code_version"],
            "measurement_code_version": measurement_code_version(),
            "split_rule": signals_source.split_rule,
        },
    )
