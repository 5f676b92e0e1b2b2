"""Synthetic data sets: many generated records as numpy arrays, deterministic for a seed.

Record ``i`` of ``make_dataset(n, seed, …)`` is generated from its own random stream, child ``i``
of ``numpy.random.SeedSequence(seed)``: its parameters come from
:func:`models.ecg.synth.population.sample_params` and then everything else from the same stream,
exactly as :func:`models.ecg.synth.generate` would. So record ``i`` does not depend on ``n`` or
on the batch size, and the first ``m`` records of a larger set equal the set of size ``m``.
Rendering is vectorised over batches of records.

The train/validation/test split (:func:`split_indices`) is a permutation of ``0 … n − 1`` drawn
from ``SeedSequence([seed, 1])``, cut at the requested fractions; records are independent
synthetic patients, so no grouping is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from models.concepts import concept_names
from models.ecg.record import STANDARD_LEADS, Ecg
from models.ecg.synth import FIDUCIALS, CausalRiskModel, GroundTruth, NoiseConfig, ShortcutConfig
from models.ecg.synth.causal import LabelModel
from models.ecg.synth.generator import RecordPlan, n_samples_for, plan_record, render_plans
from models.ecg.synth.population import sample_params
from models.tasks import task_names

#: Samples per lead rendered together when no batch size is given: small enough that the per-sample
#: work stays in cache, large enough to amortise the per-call overhead (8 records at 500 Hz × 10 s,
#: 40 at 100 Hz).
BATCH_SAMPLES = 40_000


def default_batch_size(n_samples: int) -> int:
    """Records per rendering batch for records of ``n_samples`` samples."""
    return max(1, BATCH_SAMPLES // n_samples)


@dataclass(frozen=True)
class SyntheticDataset:
    """A synthetic data set; row ``i`` of every array belongs to record ``i``.

    Attributes:
        signals: ``float32 [n, 12, samples]`` in mV, STANDARD_LEADS order.
        concepts: ``float32 [n, n_concepts]`` in :data:`models.concepts.REGISTRY` order.
        concept_names: the column names of ``concepts``.
        probabilities: ``float32 [n, n_tasks]`` Bayes-optimal risk, :mod:`models.tasks` order.
        labels: ``int8 [n, n_tasks]`` labels drawn from ``probabilities``.
        task_names: the column names of ``probabilities`` and ``labels``.
        age_years: ``int16 [n]``.
        female: ``int8 [n]``: 1 for women, 0 for men.
        phenotype: ``[n]`` population component (``"normal"``, ``"lqt2"`` …; not a concept).
        beat_fiducials_s: ``float64 [n, max_beats, len(FIDUCIALS)]`` per-beat fiducial times (s),
            NaN beyond each record's beats.
        qt_beats: ``bool [n, max_beats]``: beats entering ``qt`` and ``qtc_variability``.
        median_fiducials_ms: ``float64 [n, len(FIDUCIALS)]`` median-beat fiducials, ms from QRS
            onset.
        shortcut_present: ``bool [n]``.
        shortcut_spans: ``int64 [n, max_beats, 2]`` spike sample ranges ``[start, stop)``, −1
            padded.
        shortcut_leads: leads showing the spike (empty when the shortcut is off).
        clean_signals: noise-free signals like ``signals``, or ``None`` unless asked for.
        fs_hz, duration_s, seed, label_model: how the set was made.
    """

    signals: np.ndarray
    concepts: np.ndarray
    concept_names: tuple[str, ...]
    probabilities: np.ndarray
    labels: np.ndarray
    task_names: tuple[str, ...]
    age_years: np.ndarray
    female: np.ndarray
    phenotype: np.ndarray
    beat_fiducials_s: np.ndarray
    qt_beats: np.ndarray
    median_fiducials_ms: np.ndarray
    shortcut_present: np.ndarray
    shortcut_spans: np.ndarray
    shortcut_leads: tuple[str, ...]
    clean_signals: np.ndarray | None
    fs_hz: float
    duration_s: float
    seed: int
    label_model: str

    def __len__(self) -> int:
        return int(self.signals.shape[0])

    @property
    def fiducial_names(self) -> tuple[str, ...]:
        """Column names of the fiducial arrays."""
        return FIDUCIALS

    def ecg(self, index: int) -> Ecg:
        """Record ``index`` as an :class:`~models.ecg.record.Ecg`."""
        return Ecg(
            signal_mv=self.signals[index],
            fs_hz=self.fs_hz,
            lead_names=STANDARD_LEADS,
            age_years=int(self.age_years[index]),
            sex="female" if self.female[index] else "male",
            source_format="synthetic",
        )


def record_rngs(n: int, seed: int) -> list[np.random.Generator]:
    """The independent random stream of each record ``0 … n − 1`` of a data set."""
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(n)]


def split_indices(
    n: int, seed: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> dict[str, np.ndarray]:
    """Train / val / test record indices: a seed-derived permutation cut at ``fractions``.

    Example:
        >>> parts = split_indices(10, seed=3)
        >>> [len(parts[k]) for k in ("train", "val", "test")]
        [8, 1, 1]
    """
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(
            f"fractions must be three non-negative numbers summing to 1, got {fractions}"
        )
    order = np.random.default_rng(np.random.SeedSequence([seed, 1])).permutation(n)
    n_train = round(fractions[0] * n)
    n_val = round(fractions[1] * n)
    return {
        "train": np.sort(order[:n_train]),
        "val": np.sort(order[n_train : n_train + n_val]),
        "test": np.sort(order[n_train + n_val :]),
    }


def _resolve_noise(noise: NoiseConfig | str) -> NoiseConfig:
    if isinstance(noise, NoiseConfig):
        return noise
    if noise == "default":
        return NoiseConfig()
    if noise == "clean":
        return NoiseConfig.clean()
    raise ValueError(f"noise must be a NoiseConfig, 'default' or 'clean', got {noise!r}")


def _resolve_shortcut(shortcut: bool | ShortcutConfig | None) -> ShortcutConfig | None:
    if isinstance(shortcut, ShortcutConfig):
        return shortcut
    return ShortcutConfig() if shortcut else None


@dataclass(frozen=True)
class _Settings:
    """Resolved generation settings shared by every batch of a data set."""

    fs_hz: float
    duration_s: float
    n_samples: int
    noise: NoiseConfig
    shortcut: ShortcutConfig | None
    risk_model: CausalRiskModel
    seed: int
    label_model: str


def validate_settings(*, fs_hz: float, duration_s: float, label_model: str) -> None:
    """Raise ``ValueError`` with a clear message when a data set cannot be made with these."""
    n_samples_for(fs_hz, duration_s)
    CausalRiskModel.named(label_model)  # type: ignore[arg-type]


def _settings(
    seed: int,
    fs_hz: float,
    duration_s: float,
    shortcut: bool | ShortcutConfig | None,
    noise: NoiseConfig | str,
    label_model: LabelModel,
) -> _Settings:
    return _Settings(
        fs_hz=fs_hz,
        duration_s=duration_s,
        n_samples=n_samples_for(fs_hz, duration_s),
        noise=_resolve_noise(noise),
        shortcut=_resolve_shortcut(shortcut),
        risk_model=CausalRiskModel.named(label_model),
        seed=seed,
        label_model=label_model,
    )


def _render_batches(
    n: int, settings: _Settings, batch_size: int | None
) -> Iterator[tuple[list[GroundTruth], np.ndarray, np.ndarray]]:
    """Yield ``(truths, signals, clean)`` for consecutive batches of records."""
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    if batch_size is None:
        batch_size = default_batch_size(settings.n_samples)
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    rngs = record_rngs(n, settings.seed)
    for start in range(0, n, batch_size):
        plans: list[RecordPlan] = []
        for rng in rngs[start : start + batch_size]:
            plans.append(
                plan_record(
                    sample_params(rng),
                    rng,
                    fs_hz=settings.fs_hz,
                    n_samples=settings.n_samples,
                    noise=settings.noise,
                    risk_model=settings.risk_model,
                    shortcut=settings.shortcut,
                )
            )
        signals, clean = render_plans(
            plans, fs_hz=settings.fs_hz, n_samples=settings.n_samples, noise=settings.noise
        )
        yield [plan.truth for plan in plans], signals, clean


def iter_batches(
    n: int,
    seed: int,
    *,
    fs_hz: float = 500.0,
    duration_s: float = 10.0,
    shortcut: bool | ShortcutConfig | None = False,
    noise: NoiseConfig | str = "default",
    label_model: LabelModel = "full",
    batch_size: int | None = None,
    keep_clean: bool = False,
) -> Iterator[SyntheticDataset]:
    """Yield the records of :func:`make_dataset` as consecutive smaller data sets (bounded memory).

    Batch ``b`` holds records ``b·batch_size …``; concatenated, they equal ``make_dataset``'s.
    """
    settings = _settings(seed, fs_hz, duration_s, shortcut, noise, label_model)
    for truths, signals, clean in _render_batches(n, settings, batch_size):
        yield _collect(truths, signals, clean if keep_clean else None, settings)


def _padded(rows: list[np.ndarray], fill: float, dtype: type) -> np.ndarray:
    """Stack ragged ``[k_i, …]`` arrays into ``[len(rows), max k_i, …]`` padded with ``fill``."""
    width = max(row.shape[0] for row in rows)
    tail = rows[0].shape[1:]
    out = np.full((len(rows), width, *tail), fill, dtype=dtype)
    for index, row in enumerate(rows):
        out[index, : row.shape[0]] = row
    return out


def _collect(
    truths: list[GroundTruth], signals: np.ndarray, clean: np.ndarray | None, settings: _Settings
) -> SyntheticDataset:
    tasks = task_names()
    shortcut_leads = () if settings.shortcut is None else truths[0].shortcut.leads
    return SyntheticDataset(
        signals=signals,
        concepts=np.stack([t.concept_vector() for t in truths]),
        concept_names=concept_names(),
        probabilities=np.array([[t.probabilities[k] for k in tasks] for t in truths], np.float32),
        labels=np.array([[t.labels[k] for k in tasks] for t in truths], dtype=np.int8),
        task_names=tasks,
        age_years=np.array([t.params.age_years for t in truths], dtype=np.int16),
        female=np.array([t.params.sex == "female" for t in truths], dtype=np.int8),
        phenotype=np.array([t.params.phenotype for t in truths]),
        beat_fiducials_s=_padded([t.beat_fiducials_s for t in truths], np.nan, np.float64),
        qt_beats=_padded([t.qt_beats for t in truths], False, np.bool_),
        median_fiducials_ms=np.stack([t.median_fiducials_ms for t in truths]),
        shortcut_present=np.array([t.shortcut.present for t in truths], dtype=np.bool_),
        shortcut_spans=_padded([t.shortcut.spans for t in truths], -1, np.int64),
        shortcut_leads=shortcut_leads,
        clean_signals=clean,
        fs_hz=settings.fs_hz,
        duration_s=settings.duration_s,
        seed=settings.seed,
        label_model=settings.label_model,
    )


def make_dataset(
    n: int,
    seed: int,
    fs_hz: float = 500.0,
    duration_s: float = 10.0,
    shortcut: bool | ShortcutConfig | None = False,
    noise: NoiseConfig | str = "default",
    label_model: LabelModel = "full",
    *,
    batch_size: int | None = None,
    keep_clean: bool = False,
    progress: Callable[[int], object] | None = None,
) -> SyntheticDataset:
    """Generate ``n`` synthetic records with their ground truth, deterministically for ``seed``.

    Args:
        n: number of records.
        seed: the data set's seed (record ``i`` uses child ``i`` of ``SeedSequence(seed)``).
        fs_hz: sampling rate in Hz (the model trains at 100–500 Hz).
        duration_s: record length in s.
        shortcut: ``True`` for the default :class:`ShortcutConfig` (agreement 0.9 with the
            ``lqts_risk`` label), a config, or ``False`` for none.
        noise: ``"default"`` (:class:`NoiseConfig()`), ``"clean"`` or a config.
        label_model: ``"full"`` (literature-shaped causal model) or ``"qtc_only"``.
        batch_size: records rendered together (default :func:`default_batch_size`).
        keep_clean: also return the noise-free signals.
        progress: called with the number of records finished after each batch (e.g. a tqdm
            bar's ``update``).

    Returns:
        A :class:`SyntheticDataset`.
    """
    settings = _settings(seed, fs_hz, duration_s, shortcut, noise, label_model)
    truths: list[GroundTruth] = []
    signals: list[np.ndarray] = []
    cleans: list[np.ndarray] = []
    for batch_truths, batch_signals, batch_clean in _render_batches(n, settings, batch_size):
        truths.extend(batch_truths)
        signals.append(batch_signals)
        if keep_clean:
            cleans.append(batch_clean)
        if progress is not None:
            progress(len(batch_truths))
    return _collect(
        truths, np.concatenate(signals), np.concatenate(cleans) if keep_clean else None, settings
    )
