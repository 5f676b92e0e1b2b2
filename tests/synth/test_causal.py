"""Labels follow the stated causal model: coefficients recovered, prevalence as documented."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from models.data.synthetic import SyntheticDataset, make_dataset
from models.ecg.synth import CausalRiskModel, LogisticTerm, RiskEquation

N_RECORDS = 6000


@pytest.fixture(scope="module")
def full_set() -> SyntheticDataset:
    return make_dataset(N_RECORDS, seed=21, fs_hz=50.0, noise="clean")


@pytest.fixture(scope="module")
def qtc_only_set() -> SyntheticDataset:
    return make_dataset(N_RECORDS, seed=22, fs_hz=50.0, noise="clean", label_model="qtc_only")


def _fit(design: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unpenalised logistic regression: (intercept + weights, their standard errors)."""
    fit = LogisticRegression(C=np.inf, max_iter=5000).fit(design, labels)
    coefficients = np.concatenate([fit.intercept_, fit.coef_[0]])
    x = np.column_stack([np.ones(len(design)), design])
    p = fit.predict_proba(design)[:, 1]
    covariance = np.linalg.inv(x.T @ (x * (p * (1 - p))[:, None]))
    return coefficients, np.sqrt(np.diag(covariance))


def _design(data: SyntheticDataset, equation: RiskEquation) -> np.ndarray:
    return equation.design_matrix(data.concepts, data.concept_names, data.female, data.age_years)


@pytest.mark.parametrize("task_index", [0, 1])
def test_full_model_coefficients_are_recovered(full_set: SyntheticDataset, task_index: int) -> None:
    equation = CausalRiskModel.full().equations[task_index]
    estimate, standard_error = _fit(_design(full_set, equation), full_set.labels[:, task_index])
    truth = np.concatenate([[equation.intercept], equation.weights])
    z_scores = (estimate - truth) / standard_error
    assert np.all(np.abs(z_scores) < 4.0), dict(
        zip(["intercept", *[t.name for t in equation.terms]], z_scores.round(2))
    )
    assert np.all(standard_error < 0.45)  # the data set pins every coefficient


def test_probabilities_are_the_model_applied_to_the_concepts(full_set: SyntheticDataset) -> None:
    model = CausalRiskModel.full()
    for task_index, equation in enumerate(model.equations):
        logit = equation.intercept + _design(full_set, equation) @ equation.weights
        np.testing.assert_allclose(
            full_set.probabilities[:, task_index], 1 / (1 + np.exp(-logit)), atol=1e-6
        )


def test_prevalence_and_bayes_auroc_are_as_documented(
    full_set: SyntheticDataset, qtc_only_set: SyntheticDataset
) -> None:
    for data, ranges in (
        (full_set, ((0.35, 0.43), (0.34, 0.42))),
        (qtc_only_set, ((0.35, 0.43), (0.30, 0.38))),
    ):
        for task_index, (low, high) in enumerate(ranges):
            assert low < data.labels[:, task_index].mean() < high
            auroc = roc_auc_score(data.labels[:, task_index], data.probabilities[:, task_index])
            assert 0.9 < auroc < 0.97


def test_qtc_only_labels_depend_on_qtc_alone(qtc_only_set: SyntheticDataset) -> None:
    # Fit the full model's terms on labels made from QTc only: only QTc carries weight.
    for task_index, equation in enumerate(CausalRiskModel.full().equations):
        estimate, standard_error = _fit(
            _design(qtc_only_set, equation), qtc_only_set.labels[:, task_index]
        )
        names = [t.name for t in equation.terms]
        for name, value, error in zip(names, estimate[1:], standard_error[1:]):
            if name == "qtc_fridericia":
                assert value > 10 * error
            else:
                assert abs(value) < 4 * error, name


def test_intervention_effects_are_exact() -> None:
    model = CausalRiskModel.full()
    values = {
        "qt": 400.0,
        "rr": 1000.0,
        "qrs": 90.0,
        "tpeak_tend": 90.0,
        "jtpeak": 220.0,
        "t_amplitude_ii": 0.3,
        "t_notched": 0.0,
        "t_broad_based": 0.0,
        "t_late_onset": 0.0,
        "t_alternans": 0.0,
        "qtc_variability": 8.0,
        "u_wave": 0.0,
    }
    from models.concepts import rederive

    values = rederive(values, "female")
    effect = model.intervene(values, "female", 30, "qt", 480.0)
    lqts_before, lqts_after = effect["lqts_risk"]
    logit = lambda p: np.log(p / (1 - p))
    # QT 400 → 480 at RR 1 s moves QTc (Fridericia) by 80 ms: +1.8 × 80/30 log-odds
    assert logit(lqts_after) - logit(lqts_before) == pytest.approx(1.8 * 80 / 30, abs=1e-9)
    unchanged = model.intervene(values, "female", 30, "pr", 250.0)
    assert all(before == after for before, after in unchanged.values())
    # setting a QTc directly back-solves QT at the RR in force, so the QTc is as set
    direct = model.intervene(values, "female", 30, "qtc_fridericia", 430.0)
    assert logit(direct["lqts_risk"][1]) - logit(direct["lqts_risk"][0]) == pytest.approx(
        1.8, abs=1e-9
    )


def test_bad_models_are_refused() -> None:
    with pytest.raises(ValueError, match="neither a registry concept"):
        LogisticTerm("qtc_sagie", 1.0)
    with pytest.raises(ValueError, match="cover tasks"):
        CausalRiskModel(equations=(RiskEquation("lqts_risk", 0.0, ()),))
    with pytest.raises(ValueError, match="label model"):
        CausalRiskModel.named("everything")  # type: ignore[arg-type]
