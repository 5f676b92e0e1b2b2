"""The ``tdp_risk`` head learned on the ECGRDVQ drug study, evaluated subject-wise.

**Target.** The loader's ``tdp_high_risk_drug`` label (:mod:`models.data.ecgrdvq`): 1 for an ECG
recorded after a dose of dofetilide or quinidine (predominant hERG block, high TdP risk), 0 after
placebo, ranolazine or verapamil (hERG block balanced by late-sodium or calcium block, low TdP
risk) — Johannesen et al., Clin Pharmacol Ther 2014. Only post-dose ECGs are rows: the pre-dose
ECGs of every period carry no drug and serve as that period's baseline instead.

**Two variants, one composable.**

* ``absolute`` — the head reads the concepts of one ECG as they are. It is the head the network
  is composed with, used whenever an ECG comes without a drug-free baseline of the same person.
* ``change_from_baseline`` — the head reads change concepts (:mod:`models.change`): each ECG's
  concepts minus their mean over the subject's pre-dose ECGs of the same period (the study's own
  ΔQTcF-style analysis). A bundle carries it beside the absolute head, and the app uses it for
  an ECG whose series has a baseline ECG. Its default inputs follow the mechanism of Johannesen
  et al.: ΔJ-Tpeak_c (lengthened by pure hERG block, unchanged or shorter under added late-sodium
  or calcium block) and ΔTpeak-Tend (lengthened by both), plus the relative change of the T
  amplitude. The third was chosen among a few candidates (ΔQTcF, ΔHR, ΔQRS, ΔPR, ΔT amplitude)
  by leave-one-subject-out AUROC on the six development subjects, so its development numbers are
  optimistic; the unseen-subject re-run of ``qtlens evaluate-head`` is the test. Its coefficient
  is *positive*: at a given ΔJ-Tpeak_c and ΔTpeak-Tend, a flatter T points to ranolazine (which
  flattens T without lengthening J-Tpeak_c), not to a hERG blocker.

**Model.** L2-regularised logistic regression on standardised features (scikit-learn), the
penalty ``C`` chosen by leave-one-subject-out log-loss inside the training subjects (nested), so
probabilities are calibrated to the study's mix of ECGs. Features default to QTc (Fridericia),
J-Tpeak_c and Tpeak-Tend: QTc because it is what clinicians read and override, J-Tpeak_c and
Tpeak-Tend because they split QTc into the early and late repolarisation that separate the drugs
in Johannesen et al., and heart rate because ranolazine and verapamil change it while QTc
formulas correct for it imperfectly (heart rate was added after the first three fell short of
QTcF by up to 0.02 AUROC in leave-pair-out evaluation — a choice made on these six subjects, so
the unseen-subject re-run of ``qtlens evaluate-head`` is the test of it). Which table
columns are registry concepts is the loader's decision
(:data:`models.data.ecgrdvq.CONCEPT_COLUMNS`); the table's T-wave amplitude, asymmetry and
flatness use other definitions and scales (ECGlib, vector magnitude) than the concepts the
network predicts, so a head trained on them could not be composed (the one exception is the
*relative* change of the T amplitude, unit- and lead-free to first order, see
:data:`models.data.ecgrdvq.RELATIVE_CHANGE_STANDINS`). Sex enters both heads as ``female`` where
the data allow — when the training table holds both sexes (``HeadFitConfig.sex_input``); the six
development subjects are all women, so there it cannot be learned: the heads then carry no sex
term and their probabilities are those of women, applied unchanged to men. Age is an allowed
feature but not a default (ages 20–32 here, one constant per subject).

**Evaluation.** Every score is computed by models that never saw the subjects it scores. Three
AUROCs per comparison (high-risk drugs vs low-risk drugs, vs placebo):

* ``leave_pair_out`` — every (positive ECG, negative ECG) pair is ranked by one head fitted
  without both their subjects (leave-one-subject-out for pairs within a subject). Pooling
  leave-one-out scores of different fits biases the AUROC of fitted scores downwards; ranking
  each pair by one fit does not (Airola A et al. An experimental comparison of cross-validation
  techniques for estimating the area under the ROC curve. Comput Stat Data Anal 55:1828, 2011).
  This is the AUROC the head is compared with QTcF on.
* ``within_subject`` — the mean over subjects of the AUROC among one subject's own ECGs.
* ``pooled`` — the leave-one-subject-out scores of all subjects pooled (what calibration,
  mean risks and risk differences are computed on).

The QTcF-only rule is evaluated in the same run: a univariate logistic on QTcF fitted exactly
like the head (``qtcf_logistic``) and QTcF itself as the score (``qtcf``). 95 % CIs come from
resampling *subjects* with replacement (cluster bootstrap): the ~45 post-dose ECGs of a subject
and drug are repeated measures of one person, and resampling ECGs would treat them as
independent and give far too narrow intervals. With six subjects the bootstrap has few distinct
resamples and its intervals are themselves rough.

Definitions asserted by the tests: the head separates as well as QTcF when the lower 95 % bound
of its leave-pair-out AUROC minus QTcF's is above −``non_inferiority_margin`` (0.05); low-risk
drugs score close to placebo when the 95 % CI of the subject-averaged mean risk difference
(ranolazine/verapamil − placebo) lies within ±``close_margin`` (0.10 probability points).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import combinations
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from models.change import PREFIX, ChangeConcept, get_change_concept, is_change_concept
from models.concepts import DEFAULT_QTC, get_concept, is_concept
from models.data.ecgrdvq import HIGH_TDP_RISK_DRUGS, RELATIVE_CHANGE_STANDINS, Ecgrdvq
from models.evaluate import calibration
from models.heads.logistic import FEMALE_FEATURE, HeadFeature, LogisticTaskHead, feature_unit

TASK = "tdp_risk"
LABEL = Ecgrdvq.task_labels[TASK]
DEFAULT_FEATURES: tuple[str, ...] = ("qtc_fridericia", "jtpeak_c", "tpeak_tend", "heart_rate")
#: Inputs of the change-from-baseline head (change concepts, :mod:`models.change`).
DEFAULT_CHANGE_FEATURES: tuple[str, ...] = (
    "delta_jtpeak_c",
    "delta_tpeak_tend",
    "delta_t_amplitude_v5",
)
#: The clinical baseline: QTc (Fridericia) alone.
QTC_RULE = DEFAULT_QTC
#: Inverse L2 penalties searched (on standardised features).
C_GRID: tuple[float, ...] = tuple(float(c) for c in np.logspace(-3, 2, 11))
CLOSE_MARGIN = 0.10
NON_INFERIORITY_MARGIN = 0.05
PLACEBO = "placebo"
#: Risk groups of the study's drugs, and the comparisons reported (positive, negative).
GROUPS = ("high", "low", PLACEBO)
COMPARISONS: Mapping[str, tuple[str, str]] = {
    "high_vs_low": ("high", "low"),
    "high_vs_placebo": ("high", PLACEBO),
    "low_vs_placebo": ("low", PLACEBO),
}
VARIANTS = ("absolute", "change_from_baseline")
#: The QTcF rule each variant is compared with: QTcF of the ECG, or its change from baseline.
VARIANT_RULES: Mapping[str, str] = {
    "absolute": QTC_RULE,
    "change_from_baseline": PREFIX + QTC_RULE,
}
#: Scores of each variant: the head, the univariate QTcF logistic, QTcF itself.
SCORES = ("head", "qtcf_logistic", "qtcf")

STUDY = "ECGRDVQ"
STUDY_ID = "FDA NCT01873950"
STUDY_REFERENCE = (
    "Johannesen L et al. Differentiating drug-induced multichannel block on the "
    "electrocardiogram. Clin Pharmacol Ther 96:549-558 (2014)"
)


@dataclass(frozen=True)
class HeadFitConfig:
    """How the head is fitted and evaluated.

    Attributes:
        features: inputs of the absolute head — registry concepts present in the table,
            ``age_years``, ``female``.
        change_features: inputs of the change-from-baseline head — change concepts
            (:mod:`models.change`), ``age_years``, ``female``.
        sex_input: add ``female`` to both heads' inputs when the table holds both sexes.
        c_grid: inverse L2 penalties searched by inner leave-one-subject-out log-loss.
        n_boot: subject-bootstrap resamples per CI.
        seed: seed of the bootstrap.
        close_margin: the risk difference (probability points) within which low-risk drugs
            count as close to placebo.
        non_inferiority_margin: the AUROC deficit against QTcF still counted "as well".
    """

    features: tuple[str, ...] = DEFAULT_FEATURES
    change_features: tuple[str, ...] = DEFAULT_CHANGE_FEATURES
    sex_input: bool = True
    c_grid: tuple[float, ...] = C_GRID
    n_boot: int = 1000
    seed: int = 0
    close_margin: float = CLOSE_MARGIN
    non_inferiority_margin: float = NON_INFERIORITY_MARGIN


@dataclass(frozen=True)
class HeadFitResult:
    """What :func:`fit_tdp_head` produces.

    Attributes:
        head: the ``absolute`` head fitted on every subject.
        change_head: the ``change_from_baseline`` head fitted on every subject.
        report: the evaluation, JSON-ready (``evaluation.json``).
        scored: the evaluated ECGs (``subject``, ``drug``, ``group``, ``time_h``, ``label``)
            with one leave-one-subject-out column per ``"<variant>/<score>"``.
    """

    head: LogisticTaskHead
    change_head: LogisticTaskHead
    report: dict[str, Any]
    scored: pd.DataFrame


def rank_auroc(positive: np.ndarray, score: np.ndarray) -> float:
    """AUROC as the Mann-Whitney U statistic from mid-ranks (ties count one half); NaN when a
    class is empty. Hanley JA, McNeil BJ. Radiology 143:29-36 (1982). Ten times faster than
    ``sklearn.metrics.roc_auc_score`` (same value), which matters inside the bootstrap.

    Args:
        positive: ``[n]`` bool, the positive class.
        score: ``[n]`` higher = more likely positive.
    """
    n_positive = int(positive.sum())
    n_negative = positive.size - n_positive
    if n_positive == 0 or n_negative == 0:
        return float("nan")
    ranks = mid_ranks(score)
    u = ranks[positive].sum() - n_positive * (n_positive + 1) / 2
    return float(u / (n_positive * n_negative))


def mid_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1…n of ``values``, tied values sharing the mean of their ranks: what
    ``scipy.stats.rankdata(values)`` gives (same algorithm, same float values), without its
    per-call dispatch, which was most of the bootstrap's time (tens of thousands of calls on a
    few hundred values). A NaN makes every rank NaN, as scipy's default does."""
    if np.isnan(values).any():
        return np.full(values.size, np.nan)
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    group = np.cumsum(starts)  # 1-based tie group of each sorted position
    bounds = np.concatenate((np.flatnonzero(starts), [values.size]))
    ranks = np.empty(values.size)
    ranks[order] = 0.5 * (bounds[group] + bounds[group - 1] + 1)
    return ranks


def risk_group(drug: pd.Series) -> pd.Series:
    """``high`` (dofetilide, quinidine), ``placebo``, or ``low`` (ranolazine, verapamil)."""
    return pd.Series(
        np.where(drug.isin(HIGH_TDP_RISK_DRUGS), "high", np.where(drug == PLACEBO, PLACEBO, "low")),
        index=drug.index,
    )


def feature_frame(table: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """The head inputs of each row: registry concepts by name, ``age_years``, ``female`` (0/1).

    Raises:
        ValueError: an unknown feature, or a concept the table does not carry under its registry
            name (the dataset's loader maps only columns whose definition matches the registry).
    """
    columns: dict[str, pd.Series] = {}
    for name in features:
        feature_unit(name)
        if name == FEMALE_FEATURE:
            columns[name] = table["sex"].map({"female": 1.0, "male": 0.0}).astype(float)
        elif name in table.columns:
            columns[name] = table[name].astype(float)
        else:
            raise ValueError(
                f"the table has no column {name!r}: its loader maps to registry concepts only "
                "the columns whose definition matches the registry's"
            )
    return pd.DataFrame(columns, index=table.index)


def _change_source(table: pd.DataFrame, change: ChangeConcept) -> pd.Series:
    """The column a change concept is computed from, in its source concept's unit: the concept
    itself, or for a relative change the table's stand-in (:data:`RELATIVE_CHANGE_STANDINS`).

    Raises:
        ValueError: the table has neither.
    """
    if change.source in table.columns:
        return table[change.source].astype(float)
    if change.relative and change.source in RELATIVE_CHANGE_STANDINS:
        column, factor = RELATIVE_CHANGE_STANDINS[change.source]
        if column in table.columns:
            return table[column].astype(float) * factor
    raise ValueError(
        f"the table has no column for {change.name!r} (the change of {change.source!r})"
    )


def change_from_baseline(
    table: pd.DataFrame, rows: pd.Index, changes: Sequence[str]
) -> pd.DataFrame:
    """Change concepts (:mod:`models.change`) of ``rows`` against the mean of the same subject's
    baseline ECGs of the same period (NaN where that period has no baseline ECG).

    Args:
        table: the study table (``subject``, ``period``, ``baseline`` and the source columns).
        rows: the rows to express as changes.
        changes: change concept names (``delta_qtc_fridericia``…).

    Raises:
        ValueError: a name that is no change concept, or a source the table lacks.
    """
    keys = ["subject", "period"]
    at_baseline = table["baseline"].to_numpy()
    reference_rows = pd.MultiIndex.from_frame(table.loc[rows, keys])
    columns = {}
    for name in changes:
        try:
            change = get_change_concept(name)
        except KeyError as error:
            raise ValueError(error.args[0]) from None
        source = _change_source(table, change)
        baseline = source[at_baseline].groupby([table.loc[at_baseline, k] for k in keys]).mean()
        reference = baseline.reindex(reference_rows).to_numpy()
        current = source.loc[rows].to_numpy()
        columns[name] = [
            np.nan if (value := change.change(c, b)) is None else value
            for c, b in zip(current, reference, strict=True)
        ]
    return pd.DataFrame(columns, index=rows, dtype=float)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, c_grid: Sequence[float]
) -> Pipeline:
    """Standardise + L2 logistic regression, ``C`` chosen by leave-one-group-out log-loss
    (:func:`leave_group_out_c`), then refitted on every row.

    Raises:
        ValueError: a feature constant in the training rows (its effect cannot be learned).
    """
    constant = np.flatnonzero(np.std(x, axis=0) == 0)
    if constant.size:
        raise ValueError(f"feature column(s) {constant.tolist()} are constant in the training rows")
    best_c = leave_group_out_c(x, y, groups, c_grid)
    return make_pipeline(StandardScaler(), LogisticRegression(C=best_c, max_iter=1000)).fit(x, y)


def leave_group_out_c(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, c_grid: Sequence[float]
) -> float:
    """The ``C`` of ``c_grid`` whose standardised logistic regression has the best mean held-out
    log-loss over leave-one-group-out folds (the first on ties) — the choice of scikit-learn's
    ``GridSearchCV(cv=LeaveOneGroupOut(), scoring="neg_log_loss")``, to the bit: the same folds,
    fits, scores and averaging, but each fold's scaling is fitted once for the whole grid and
    the folds are scored without the scorer's input validation (together about half of a head
    fit's time, as the nested leave-subject-out search runs thousands of small folds)."""
    folds = list(LeaveOneGroupOut().split(x, y, groups))
    scores = np.empty((len(c_grid), len(folds)))
    for column, (train, test) in enumerate(folds):
        scaler = StandardScaler()
        seen, unseen = scaler.fit_transform(x[train]), scaler.transform(x[test])
        for row, c in enumerate(c_grid):
            model = LogisticRegression(C=c, max_iter=1000).fit(seen, y[train])
            scores[row, column] = negative_log_loss(model, unseen, y[test])
    return float(c_grid[int(np.argmax(np.average(scores, axis=1)))])


def negative_log_loss(model: LogisticRegression, x: np.ndarray, y: np.ndarray) -> float:
    """The mean log-loss of ``model`` on ``(x, y)``, negated: what scikit-learn's
    ``"neg_log_loss"`` scorer gives (probabilities clipped to [ε, 1 − ε], ε the float64
    machine epsilon; negation is exact, so the mean log-probability is that number), without
    its input validation."""
    probability = model.predict_proba(x)
    true_class = np.searchsorted(model.classes_, y)
    eps = np.finfo(probability.dtype).eps
    chosen = np.clip(probability[np.arange(y.size), true_class], eps, 1 - eps)
    return float(np.mean(np.log(chosen)))


def coefficients(model: Pipeline, names: Sequence[str]) -> dict[str, Any]:
    """Intercept, ``C`` and per feature: unit, mean, SD, coefficient per SD and per unit, odds
    ratio per SD, of a fitted :func:`fit_logistic` pipeline."""
    scaler, logistic = model[0], model[-1]
    return {
        "intercept": float(logistic.intercept_[0]),
        "C": float(logistic.C),
        "features": [
            {
                "name": name,
                "unit": feature_unit(name),
                "mean": float(scaler.mean_[i]),
                "sd": float(scaler.scale_[i]),
                "coefficient_per_sd": float(logistic.coef_[0, i]),
                "coefficient_per_unit": float(logistic.coef_[0, i] / scaler.scale_[i]),
                "odds_ratio_per_sd": float(np.exp(logistic.coef_[0, i])),
            }
            for i, name in enumerate(names)
        ],
    }


class PairCounts(NamedTuple):
    """Concordance of positive ECGs of subject ``i`` with negative ECGs of subject ``j``.

    Attributes:
        concordant: ``[S, S]`` pairs ranked right (ties count one half).
        pairs: ``[S, S]`` pairs compared.
    """

    concordant: np.ndarray
    pairs: np.ndarray


@dataclass(frozen=True)
class HeldOutScores:
    """A score evaluated on held-out subjects.

    Attributes:
        loso: ``[n]`` each ECG scored by the fit without its subject (the raw score itself for
            an unfitted score).
        counts: per comparison, the :class:`PairCounts` of leave-pair-out ranking.
        folds: per held-out subject, ``C``, intercept and coefficients per SD (fitted only).
    """

    loso: np.ndarray
    counts: dict[str, PairCounts]
    folds: list[dict[str, Any]]


def held_out_scores(
    frame: pd.DataFrame,
    subjects: np.ndarray,
    features: Sequence[str] | None,
    c_grid: Sequence[float],
    rule: str = QTC_RULE,
) -> HeldOutScores:
    """Fit a head without each subject and without each pair of subjects, and score them.

    Args:
        frame: rows with ``subject``, ``group``, ``label`` and the feature columns (no NaN).
        subjects: the subjects in bootstrap order.
        features: the head's inputs; ``None`` scores the ``rule`` column itself (no fitting).
        c_grid: as for :func:`fit_logistic`.
        rule: the column scored when ``features`` is ``None``.
    """
    position = np.searchsorted(subjects, frame["subject"].to_numpy())
    group = frame["group"].to_numpy()
    n = subjects.size
    x = frame[list(features or (rule,))].to_numpy()
    loso = np.full(len(frame), np.nan)
    counts = {c: PairCounts(np.zeros((n, n)), np.zeros((n, n))) for c in COMPARISONS}
    folds = []
    held_out_sets = [(a,) for a in range(n)] + list(combinations(range(n), 2))
    for held in held_out_sets:
        test = np.isin(position, held)
        if features is None:
            score = x[test, 0]
        else:
            model = fit_logistic(
                x[~test], frame["label"].to_numpy()[~test], position[~test], c_grid
            )
            score = model.predict_proba(x[test])[:, 1]
        if len(held) == 1:
            loso[test] = score
            if features is not None:
                fitted = coefficients(model, features)
                folds.append(
                    {
                        "held_out_subject": int(subjects[held[0]]),
                        "C": fitted["C"],
                        "intercept": fitted["intercept"],
                        "coefficient_per_sd": {
                            f["name"]: f["coefficient_per_sd"] for f in fitted["features"]
                        },
                    }
                )
        pairs = [(held[0], held[0])] if len(held) == 1 else [held, held[::-1]]
        for comparison, (positive, negative) in COMPARISONS.items():
            for i, j in pairs:
                high = score[(position[test] == i) & (group[test] == positive)]
                low = score[(position[test] == j) & (group[test] == negative)]
                difference = high[:, None] - low[None, :]
                counts[comparison].concordant[i, j] = (difference > 0).sum() + 0.5 * (
                    difference == 0
                ).sum()
                counts[comparison].pairs[i, j] = difference.size
    return HeldOutScores(loso, counts, folds)


class SubjectBootstrap:
    """Percentile-bootstrap 95 % CIs resampling subjects with replacement (cluster bootstrap).

    Every statistic is a function of a *draw*: positions of subjects (with repeats), so paired
    statistics (head minus QTcF on the same draw) stay paired. Efron B, Tibshirani RJ. An
    Introduction to the Bootstrap (1993), ch. 8 (resample the independent units).
    """

    def __init__(self, subjects: np.ndarray, row_subjects: np.ndarray, n_boot: int, seed: int):
        self.subjects = subjects
        self.rows_of = [np.flatnonzero(row_subjects == s) for s in subjects]
        rng = np.random.default_rng(seed)
        self.draws = rng.integers(0, subjects.size, size=(n_boot, subjects.size))

    def rows(self, draw: np.ndarray) -> np.ndarray:
        """Row positions of the subjects in ``draw`` (a subject drawn twice counts twice)."""
        return np.concatenate([self.rows_of[i] for i in draw])

    def estimate(self, statistic: Callable[[np.ndarray], float]) -> dict[str, Any]:
        """``{"value": statistic(all subjects), "ci95": [low, high]}``."""
        value = statistic(np.arange(self.subjects.size))
        resampled = np.array([statistic(draw) for draw in self.draws])
        finite = resampled[np.isfinite(resampled)]
        low, high = np.percentile(finite, [2.5, 97.5]) if finite.size else (np.nan, np.nan)
        return {"value": float(value), "ci95": [float(low), float(high)]}


def _leave_pair_out(counts: PairCounts) -> Callable[[np.ndarray], float]:
    """AUROC over all pairs of the drawn subjects (a subject drawn twice meets itself)."""

    def area(draw: np.ndarray) -> float:
        block = np.ix_(draw, draw)
        return float(counts.concordant[block].sum() / counts.pairs[block].sum())

    return area


def _within_subject(counts: PairCounts) -> Callable[[np.ndarray], float]:
    """Mean over the drawn subjects of the AUROC among each subject's own ECGs."""
    with np.errstate(invalid="ignore"):
        own = np.diag(counts.concordant) / np.diag(counts.pairs)
    return lambda draw: float(np.nanmean(own[draw]))


def pooled_auroc(
    boot: SubjectBootstrap, group: np.ndarray, score: np.ndarray, comparison: str
) -> Callable[[np.ndarray], float]:
    """AUROC of the leave-one-subject-out scores of the drawn subjects, pooled."""
    positive, negative = COMPARISONS[comparison]

    def area(draw: np.ndarray) -> float:
        rows = boot.rows(draw)
        rows = rows[np.isin(group[rows], (positive, negative))]
        return rank_auroc(group[rows] == positive, score[rows])

    return area


def _auroc_statistics(
    boot: SubjectBootstrap, group: np.ndarray, scores: HeldOutScores
) -> dict[str, dict[str, Callable[[np.ndarray], float]]]:
    """Per comparison, the three AUROC statistics of one score."""
    return {
        comparison: {
            "leave_pair_out": _leave_pair_out(scores.counts[comparison]),
            "within_subject": _within_subject(scores.counts[comparison]),
            "pooled": pooled_auroc(boot, group, scores.loso, comparison),
        }
        for comparison in COMPARISONS
    }


def _subject_means(scored: pd.DataFrame, score: np.ndarray, key: str) -> pd.DataFrame:
    """Mean score per subject (rows) and ``key`` level (columns)."""
    frame = pd.DataFrame({"subject": scored["subject"].to_numpy(), key: scored[key], "s": score})
    return frame.pivot_table(index="subject", columns=key, values="s", aggfunc="mean")


def _mean_over(per_subject: np.ndarray) -> Callable[[np.ndarray], float]:
    """The statistic "mean over the drawn subjects" of a per-subject value (NaN = absent)."""
    return lambda draw: float(np.nanmean(per_subject[draw]))


def _risk_report(
    scored: pd.DataFrame, probability: np.ndarray, boot: SubjectBootstrap, close_margin: float
) -> dict[str, Any]:
    """Calibration, subject-averaged mean risk per drug and risk differences against placebo."""
    label = scored["label"].to_numpy().astype(float)
    report: dict[str, Any] = {"calibration": calibration(label, probability)}
    report["calibration"]["ece_ci95"] = boot.estimate(
        lambda draw: calibration(label[boot.rows(draw)], probability[boot.rows(draw)])["ece"]
    )["ci95"]
    by_drug = _subject_means(scored, probability, "drug").reindex(boot.subjects)
    by_group = _subject_means(scored, probability, "group").reindex(boot.subjects)
    report["mean_risk"] = {
        drug: boot.estimate(_mean_over(by_drug[drug].to_numpy())) for drug in by_drug.columns
    }
    differences = {f"{g}_vs_placebo": by_group[g] - by_group[PLACEBO] for g in ("high", "low")}
    differences |= {
        f"{d}_vs_placebo": by_drug[d] - by_drug[PLACEBO] for d in by_drug if d != PLACEBO
    }
    report["risk_difference"] = {}
    for name, per_subject in differences.items():
        entry = boot.estimate(_mean_over(per_subject.to_numpy()))
        low, high = entry["ci95"]
        entry["within_margin"] = bool(-close_margin <= low and high <= close_margin)
        report["risk_difference"][name] = entry
    return report


def _time_course(scored: pd.DataFrame, score: np.ndarray) -> dict[str, dict[str, float]]:
    """Mean risk per drug and nominal time after dose (h), averaged over subjects."""
    frame = scored[["subject", "drug", "time_h"]].assign(s=score)
    per_subject = frame.groupby(["drug", "time_h", "subject"])["s"].mean()
    means = per_subject.groupby(level=["drug", "time_h"]).mean()
    course: dict[str, dict[str, float]] = {}
    for (drug, time_h), value in means.items():
        course.setdefault(str(drug), {})[f"{time_h:g}"] = float(value)
    return course


def variant_inputs(
    table: pd.DataFrame, rows: pd.Index, variant: str, features: Sequence[str]
) -> pd.DataFrame:
    """The feature columns of ``rows`` for a variant (head features ∪ the variant's QTcF rule);
    demographic features are the ECG's own in both variants."""
    names = list(dict.fromkeys([*features, VARIANT_RULES[variant]]))
    if variant == "absolute":
        return feature_frame(table.loc[rows], names)
    changes = [n for n in names if is_change_concept(n)]
    own = feature_frame(table.loc[rows], [n for n in names if not is_change_concept(n)])
    return pd.concat([change_from_baseline(table, rows, changes), own], axis=1)[names]


def variant_features(table: pd.DataFrame, variant: str, config: HeadFitConfig) -> list[str]:
    """A variant's head inputs: the configured ones, plus ``female`` when
    ``config.sex_input`` and the table holds ECGs of both sexes."""
    chosen = config.features if variant == "absolute" else config.change_features
    both_sexes = set(table["sex"].dropna()) >= {"female", "male"}
    if config.sex_input and both_sexes and FEMALE_FEATURE not in chosen:
        chosen = (*chosen, FEMALE_FEATURE)
    return list(chosen)


def study_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The post-dose ECGs with subject, drug, risk group, time and label."""
    post = table[~table["pre_dose"]]
    return pd.DataFrame(
        {
            "subject": post["subject"].astype(int),
            "drug": post["drug"].astype(str),
            "group": risk_group(post["drug"]),
            "time_h": post["time_h"].astype(float),
            "label": post[LABEL].astype(int),
        },
        index=post.index,
    )


def _data_summary(table: pd.DataFrame, rows: pd.DataFrame) -> dict[str, Any]:
    """The study, its subjects (count, sex, age range) and ECGs per drug."""
    subjects = table.drop_duplicates("subject")
    return {
        "dataset": STUDY.lower(),
        "study": f"{STUDY} ({STUDY_ID})",
        "reference": STUDY_REFERENCE,
        "subjects": sorted(int(s) for s in subjects["subject"]),
        "sex": {str(k): int(v) for k, v in subjects["sex"].value_counts().items()},
        "age_years": [int(subjects["age_years"].min()), int(subjects["age_years"].max())],
        "ecgs": len(table),
        "pre_dose_ecgs": int(table["pre_dose"].sum()),
        "post_dose_ecgs_by_drug": {str(k): int(v) for k, v in rows["drug"].value_counts().items()},
    }


def _variant_report(
    table: pd.DataFrame, rows: pd.DataFrame, variant: str, config: HeadFitConfig
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Held-out scores and their evaluation for one variant, on ECGs with every input."""
    features = variant_features(table, variant, config)
    rule = VARIANT_RULES[variant]
    inputs = variant_inputs(table, rows.index, variant, features)
    complete = inputs.notna().all(axis=1)
    frame = pd.concat([rows[complete], inputs[complete]], axis=1)
    subjects = np.unique(frame["subject"])
    group = frame["group"].to_numpy()
    held = {
        "head": held_out_scores(frame, subjects, features, config.c_grid),
        "qtcf_logistic": held_out_scores(frame, subjects, (rule,), config.c_grid),
        "qtcf": held_out_scores(frame, subjects, None, config.c_grid, rule),
    }
    boot = SubjectBootstrap(subjects, frame["subject"].to_numpy(), config.n_boot, config.seed)
    statistics = {name: _auroc_statistics(boot, group, h) for name, h in held.items()}
    scores: dict[str, Any] = {}
    for name, per_comparison in statistics.items():
        scores[name] = {
            "kind": "score" if name == "qtcf" else "probability",
            "auroc": {
                comparison: {kind: boot.estimate(stat) for kind, stat in kinds.items()}
                for comparison, kinds in per_comparison.items()
            },
        }
        if name != "qtcf":
            scores[name] |= _risk_report(frame, held[name].loso, boot, config.close_margin)
    differences: dict[str, Any] = {}
    for baseline, kinds in (("qtcf", ("leave_pair_out", "pooled")), ("qtcf_logistic", ("pooled",))):
        differences[f"head_minus_{baseline}"] = {
            comparison: {
                kind: boot.estimate(
                    lambda d, a=statistics["head"][comparison][kind], b=statistics[baseline][comparison][kind]: (
                        a(d) - b(d)
                    )
                )
                for kind in kinds
            }
            for comparison in COMPARISONS
        }
    final = fit_logistic(
        frame[features].to_numpy(),
        frame["label"].to_numpy(),
        frame["subject"].to_numpy(),
        config.c_grid,
    )
    fitted = coefficients(final, features)
    for entry in fitted["features"]:
        per_fold = [fold["coefficient_per_sd"][entry["name"]] for fold in held["head"].folds]
        entry["loso_coefficient_per_sd_range"] = [min(per_fold), max(per_fold)]
    report = {
        "features": features,
        "qtcf_rule": rule,
        "feature_meaning": "value of one ECG"
        if variant == "absolute"
        else "change from the mean of the subject's pre-dose ECGs of the same period",
        "composable": True,
        "n_ecgs": len(frame),
        "dropped_incomplete_ecgs": int((~complete).sum()),
        "scores": scores,
        "auroc_difference": differences,
        "time_course": {
            name: _time_course(frame, held[name].loso) for name in ("head", "qtcf_logistic")
        },
        "folds": {name: held[name].folds for name in ("head", "qtcf_logistic")},
        "coefficients": fitted,
    }
    columns = {f"{variant}/{name}": h.loso for name, h in held.items()}
    return report, frame[rows.columns].assign(**columns)


def _head_from(report: dict[str, Any], variant: str, code_version: str) -> LogisticTaskHead:
    """A variant's head fitted on every subject, with its provenance and evaluation summary."""
    chosen = report["variants"][variant]
    fitted = chosen["coefficients"]
    scores = chosen["scores"]
    data = report["data"]
    reads = "one ECG" if variant == "absolute" else "an ECG's change from the baseline ECG"
    return LogisticTaskHead(
        task=TASK,
        intercept=fitted["intercept"],
        features=tuple(
            HeadFeature(f["name"], f["mean"], f["sd"], f["coefficient_per_sd"])
            for f in fitted["features"]
        ),
        learned_from=(
            f"logistic head on {reads}, learned on {STUDY} ({len(data['subjects'])} subjects, "
            f"{chosen['n_ecgs']} post-dose ECGs; {STUDY_ID})"
        ),
        details={
            "variant": variant,
            "feature_meaning": chosen["feature_meaning"],
            "qtcf_rule": chosen["qtcf_rule"],
            "target": report["design"]["target"],
            "probability_meaning": report["design"]["probability_meaning"],
            "data": data,
            "regularisation": {
                "penalty": "l2 on standardised features",
                "C": fitted["C"],
                "chosen_by": "leave-one-subject-out log-loss over the C grid",
            },
            "evaluation": {
                "method": report["design"]["evaluation"],
                "leave_pair_out_auroc": {
                    comparison: {
                        score: scores[score]["auroc"][comparison]["leave_pair_out"]
                        for score in ("head", "qtcf")
                    }
                    for comparison in COMPARISONS
                },
                "leave_pair_out_auroc_difference_vs_qtcf": {
                    comparison: entry["leave_pair_out"]
                    for comparison, entry in chosen["auroc_difference"]["head_minus_qtcf"].items()
                },
                "ece": scores["head"]["calibration"]["ece"],
                "risk_difference_low_vs_placebo": scores["head"]["risk_difference"][
                    "low_vs_placebo"
                ],
            },
            "limitations": _limitations(report, variant),
            "code_version": code_version,
        },
    )


def _limitations(report: dict[str, Any], variant: str) -> list[str]:
    """What the head cannot claim, stated in the head file and the bundle card."""
    data = report["data"]
    sexes = " and ".join(f"{n} {s}" for s, n in data["sex"].items())
    ages = "–".join(str(a) for a in data["age_years"])
    chosen = report["variants"][variant]
    difference = chosen["auroc_difference"]["head_minus_qtcf"]
    low, high = difference["high_vs_low"]["leave_pair_out"]["ci95"]
    verdict = "better than" if low > 0 else "worse than" if high < 0 else "about as well as"
    rule = "ΔQTcF" if variant == "change_from_baseline" else "QTcF"
    sex_note = (
        "Sex is an input."
        if FEMALE_FEATURE in chosen["features"]
        else "All subjects were of one sex, so sex is no input: the probability is that learned "
        "on them, applied unchanged to everyone."
    )
    return [
        (
            f"Learned on {len(data['subjects'])} healthy volunteers ({sexes}, {ages} years) "
            "given single doses in a clinical pharmacology unit: not a patient population; "
            "effects of sex, age, disease and other drugs are unknown."
        ),
        (
            "The probability is that of an ECG recorded under dofetilide or quinidine rather "
            "than placebo, ranolazine or verapamil, at the study's mix of ECGs — not a "
            "patient's risk of Torsade de Pointes."
        ),
        (
            "The study's intervals were measured by FDA ECGlib on vector-magnitude median "
            "beats; composed with a network, the head reads the network's concepts, so a "
            "systematic difference between the two measurements shifts the risk."
        ),
        (
            f"Leave-pair-out it separates high- from low-risk drugs {verdict} {rule} alone "
            f"(AUROC difference 95 % CI {low:+.3f} to {high:+.3f})."
        ),
        sex_note,
    ]


def fit_tdp_head(
    table: pd.DataFrame, config: HeadFitConfig | None = None, code_version: str = ""
) -> HeadFitResult:
    """Fit the ``tdp_risk`` head on an ECGRDVQ table and evaluate it subject-wise.

    Args:
        table: :attr:`models.data.ecgrdvq.Ecgrdvq.index` (registry concepts as columns).
        config: features, penalty grid, bootstrap, margins (default :class:`HeadFitConfig`).
        code_version: recorded in the head and the report.

    Returns:
        The composable head (fitted on every subject), the report and the scored ECGs.

    Raises:
        ValueError: an unusable feature, fewer than three subjects, or a risk group missing.
    """
    config = config or HeadFitConfig()
    for name in config.features:
        if is_concept(name) and get_concept(name).is_binary:
            raise ValueError(f"{name} is a yes/no finding; the head reads continuous concepts")
    for name in config.change_features:
        feature_unit(name)
        if is_concept(name):
            raise ValueError(
                f"{name} is a concept of one ECG; the change head reads change concepts "
                f"({PREFIX}{name}…)"
            )
    rows = study_rows(table)
    n_subjects = rows["subject"].nunique()
    if n_subjects < 3:
        raise ValueError(f"the evaluation needs at least 3 subjects, the table has {n_subjects}")
    inputs = pd.concat(
        [
            feature_frame(table.loc[rows.index], config.features),
            variant_inputs(table, rows.index, "change_from_baseline", config.change_features),
        ],
        axis=1,
    )
    inputs = inputs.loc[:, ~inputs.columns.duplicated()]
    constant = {n: inputs[n].dropna().unique() for n in inputs.columns if inputs[n].nunique() < 2}
    if constant:
        raise ValueError(
            "constant in the training rows, so their effect cannot be learned: "
            + ", ".join(f"{n} (= {v[0] if v.size else 'missing'})" for n, v in constant.items())
        )
    missing = set(GROUPS) - set(rows["group"])
    if missing:
        raise ValueError(f"the table has no post-dose ECGs of group {', '.join(sorted(missing))}")
    low_drugs = sorted(set(rows["drug"]) - HIGH_TDP_RISK_DRUGS - {PLACEBO})
    report: dict[str, Any] = {
        "task": TASK,
        "design": {
            "rows": "post-dose ECGs; each period's pre-dose ECGs are its baseline, not rows",
            "target": f"{LABEL}: 1 = after dofetilide or quinidine (high TdP risk), 0 = after "
            "placebo, ranolazine or verapamil",
            "probability_meaning": "probability that the ECG was recorded under a high-TdP-risk "
            f"hERG blocker, at the study's mix ({rows['label'].mean():.0%} of post-dose ECGs)",
            "groups": {"high": sorted(HIGH_TDP_RISK_DRUGS), "low": low_drugs, PLACEBO: [PLACEBO]},
            "evaluation": f"held-out subjects ({n_subjects}): AUROC leave-pair-out (primary), "
            "within subject and pooled leave-one-subject-out; 95 % CIs by resampling subjects "
            f"({config.n_boot} resamples)",
            "qtcf_rule": "qtcf_logistic = univariate logistic on QTcF fitted like the head; "
            "qtcf = QTcF itself as the score",
            "as_well_as_qtcf": "lower 95 % bound of the leave-pair-out AUROC difference "
            f"head − QTcF above −{config.non_inferiority_margin}",
            "close_to_placebo": "95 % CI of the subject-averaged mean risk difference within "
            f"±{config.close_margin}",
            "config": asdict(config),
        },
        "data": _data_summary(table, rows),
        "variants": {},
    }
    scored_parts = [rows]
    # Thousands of tiny fits: one BLAS thread each is several times faster than two.
    with threadpool_limits(limits=1):
        for variant in VARIANTS:
            report["variants"][variant], scored = _variant_report(table, rows, variant, config)
            scored_parts.append(scored.drop(columns=rows.columns))
    report["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["code_version"] = code_version
    head = _head_from(report, "absolute", code_version)
    change_head = _head_from(report, "change_from_baseline", code_version)
    report["head"] = head.to_dict()
    report["change_head"] = change_head.to_dict()
    return HeadFitResult(
        head=head, change_head=change_head, report=report, scored=pd.concat(scored_parts, axis=1)
    )
