"""The ECGRDVQ tdp_risk head: acceptance numbers asserted from the report JSON of a fresh run,
and the pieces the numbers rest on (rank AUROC, subject bootstrap, baselines, feature checks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from models.cli import build_cli
from models.concepts import concept_names
from models.heads.fit import (
    C_GRID,
    HeadFitConfig,
    SubjectBootstrap,
    change_from_baseline,
    feature_frame,
    fit_logistic,
    fit_tdp_head,
    leave_group_out_c,
    mid_ranks,
    rank_auroc,
)
from models.heads.logistic import LogisticHeadModule, LogisticTaskHead
from models.nets.bottleneck import SEX_FEMALE
from tests.heads.conftest import SHIPPED_HEAD

COMPARISONS = ("high_vs_low", "high_vs_placebo", "low_vs_placebo")


def test_head_separates_high_from_low_risk_drugs_as_well_as_qtcf(
    evaluation: dict[str, Any],
) -> None:
    absolute = evaluation["variants"]["absolute"]
    margin = evaluation["design"]["config"]["non_inferiority_margin"]
    assert margin == 0.05
    for comparison in COMPARISONS:
        head = absolute["scores"]["head"]["auroc"][comparison]
        qtcf = absolute["scores"]["qtcf"]["auroc"][comparison]
        qtcf_logistic = absolute["scores"]["qtcf_logistic"]["auroc"][comparison]
        # A univariate logistic is monotone in QTcF: ranked pair by pair it IS QTcF.
        assert qtcf_logistic["leave_pair_out"]["value"] == pytest.approx(
            qtcf["leave_pair_out"]["value"], abs=1e-12
        )
        difference = absolute["auroc_difference"]["head_minus_qtcf"][comparison]
        assert difference["leave_pair_out"]["value"] == pytest.approx(
            head["leave_pair_out"]["value"] - qtcf["leave_pair_out"]["value"]
        )
        low, high = difference["leave_pair_out"]["ci95"]
        assert low > -margin and low <= difference["leave_pair_out"]["value"] <= high
    for comparison in ("high_vs_low", "high_vs_placebo"):
        head = absolute["scores"]["head"]["auroc"][comparison]["leave_pair_out"]["value"]
        difference = absolute["auroc_difference"]["head_minus_qtcf"][comparison]
        # Issue 19: without a baseline no worse than QTcF — the lower 95 % bound of the
        # leave-pair-out difference above −0.02.
        assert difference["leave_pair_out"]["ci95"][0] > -0.02
        assert 0.85 < head < 1.0


def test_low_risk_drugs_score_close_to_placebo(evaluation: dict[str, Any]) -> None:
    margin = evaluation["design"]["config"]["close_margin"]
    assert margin == 0.10
    risk = evaluation["variants"]["absolute"]["scores"]["head"]["risk_difference"]
    low, high = risk["low_vs_placebo"]["ci95"]
    assert -margin <= low and high <= margin and risk["low_vs_placebo"]["within_margin"]
    # ... while the high-risk drugs are far from placebo, several times further.
    assert risk["high_vs_placebo"]["ci95"][0] > margin
    assert risk["high_vs_placebo"]["value"] > 4 * risk["low_vs_placebo"]["value"]
    assert risk["verapamil_vs_placebo"]["within_margin"]
    means = evaluation["variants"]["absolute"]["scores"]["head"]["mean_risk"]
    assert means["quinidine"]["value"] > means["dofetilide"]["value"] > means["ranolazine"]["value"]
    assert means["ranolazine"]["value"] > means["placebo"]["value"]


def test_the_head_is_calibrated_better_than_the_qtcf_logistic(evaluation: dict[str, Any]) -> None:
    scores = evaluation["variants"]["absolute"]["scores"]
    head, qtcf = scores["head"]["calibration"], scores["qtcf_logistic"]["calibration"]
    assert head["ece"] < 0.12 and head["ece"] < qtcf["ece"]
    assert sum(b["count"] for b in head["bins"]) == evaluation["variants"]["absolute"]["n_ecgs"]


def test_coefficients_have_units_and_consistent_signs(
    evaluation: dict[str, Any], fresh_head: LogisticTaskHead
) -> None:
    table = evaluation["variants"]["absolute"]["coefficients"]["features"]
    assert [f["name"] for f in table] == ["qtc_fridericia", "jtpeak_c", "tpeak_tend", "heart_rate"]
    for entry in table:
        assert entry["unit"] == ("bpm" if entry["name"] == "heart_rate" else "ms")
        assert 5 < entry["sd"] < 40
        assert entry["coefficient_per_unit"] == pytest.approx(
            entry["coefficient_per_sd"] / entry["sd"]
        )
        low, high = entry["loso_coefficient_per_sd_range"]
        if entry["name"] != "heart_rate":
            assert 0 < low <= entry["coefficient_per_sd"] <= high  # longer never lowers risk
    head = {f.name: f for f in fresh_head.features}
    assert head["tpeak_tend"].coefficient_per_sd == pytest.approx(table[2]["coefficient_per_sd"])
    assert "ECGRDVQ (6 subjects" in fresh_head.learned_from
    assert fresh_head.details["data"]["sex"] == {"female": 6}


def test_the_change_head_beats_delta_qtcf_and_leaves_low_risk_drugs_at_placebo(
    evaluation: dict[str, Any], fresh_head: LogisticTaskHead, head_run: Path
) -> None:
    """Issue 19's acceptance, leave-one-subject-out on the development subjects with a baseline:
    high- vs low-risk AUROC of the change head ≥ ΔQTcF alone + 0.03 (leave-pair-out: every pair
    ranked by a head fitted without both subjects), low-risk drugs vs placebo AUROC ≤ 0.60."""
    change = evaluation["variants"]["change_from_baseline"]
    assert change["qtcf_rule"] == "delta_qtc_fridericia" and "pre-dose" in change["feature_meaning"]
    assert change["features"] == ["delta_jtpeak_c", "delta_tpeak_tend", "delta_t_amplitude_v5"]
    auroc = change["scores"]["head"]["auroc"]
    delta_qtcf = change["scores"]["qtcf"]["auroc"]
    assert (
        auroc["high_vs_low"]["leave_pair_out"]["value"]
        >= delta_qtcf["high_vs_low"]["leave_pair_out"]["value"] + 0.03
    )
    assert auroc["low_vs_placebo"]["leave_pair_out"]["value"] <= 0.60
    assert auroc["low_vs_placebo"]["pooled"]["value"] <= 0.60
    # Johannesen 2014: hERG block lengthens J-Tpeak_c and Tpeak-Tend — both push the risk up
    # in every leave-one-subject-out fit.
    for entry in change["coefficients"]["features"][:2]:
        assert entry["loso_coefficient_per_sd_range"][0] > 0
    change_head = LogisticTaskHead.load(head_run / "change_head.json")
    assert change_head.reads_change and not fresh_head.reads_change
    assert change_head.details["variant"] == "change_from_baseline"
    # All six development subjects are women: sex cannot be learned, and the head says so.
    assert "female" not in [f.name for f in change_head.features]
    assert any("one sex" in line for line in change_head.details["limitations"])
    means = {f.name: f.mean for f in fresh_head.features}
    assert means["qtc_fridericia"] > 350  # the composed head reads absolute values


def test_the_head_file_reproduces_the_fitted_model(
    ecgrdvq_table: pd.DataFrame, fresh_head: LogisticTaskHead
) -> None:
    rows = ecgrdvq_table[~ecgrdvq_table["pre_dose"]]
    names = [f.name for f in fresh_head.features]
    inputs = feature_frame(rows, names).dropna()
    model = fit_logistic(
        inputs.to_numpy(),
        rows.loc[inputs.index, "tdp_high_risk_drug"].to_numpy(),
        rows.loc[inputs.index, "subject"].to_numpy(),
        HeadFitConfig().c_grid,
    )
    values = torch.zeros(len(inputs), len(concept_names()))
    for name in names:
        values[:, concept_names().index(name)] = torch.tensor(inputs[name].to_numpy())
    sex = torch.full((len(inputs),), SEX_FEMALE)
    part = LogisticHeadModule(fresh_head).explain(values, sex, torch.full((len(inputs),), 25.0))
    expected = model.predict_proba(inputs.to_numpy())[:, 1]
    np.testing.assert_allclose(torch.sigmoid(part.logit).numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(part.concept.sum(-1) + part.intercept, part.logit, atol=1e-5)


def test_the_shipped_head_is_what_the_documented_command_writes(
    fresh_head: LogisticTaskHead,
) -> None:
    shipped = LogisticTaskHead.load(SHIPPED_HEAD / "head.json")
    assert shipped.intercept == pytest.approx(fresh_head.intercept, rel=1e-6)
    for ours, theirs in zip(shipped.features, fresh_head.features, strict=True):
        assert ours.name == theirs.name
        assert ours.coefficient_per_sd == pytest.approx(theirs.coefficient_per_sd, rel=1e-6)
        assert ours.mean == pytest.approx(theirs.mean) and ours.sd == pytest.approx(theirs.sd)
    shipped_report = json.loads((SHIPPED_HEAD / "evaluation.json").read_text())
    assert shipped_report["head"]["intercept"] == pytest.approx(shipped.intercept)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_penalty_is_the_one_scikit_learn_s_grid_search_chooses(seed: int) -> None:
    """``leave_group_out_c`` scales each fold once for the whole grid and scores folds directly;
    the choice and the refitted model must be GridSearchCV's, to the bit."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(5), 40)
    x = rng.normal(size=(groups.size, 3)) * [1.0, 20.0, 0.1] + [0.0, 400.0, 5.0]
    y = (x[:, 0] + 0.05 * (x[:, 1] - 400.0) + rng.normal(size=groups.size) > 0).astype(int)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        {"logisticregression__C": list(C_GRID)}, cv=LeaveOneGroupOut(), scoring="neg_log_loss",
    ).fit(x, y, groups=groups)
    assert leave_group_out_c(x, y, groups, C_GRID) == search.best_params_["logisticregression__C"]
    ours, theirs = fit_logistic(x, y, groups, C_GRID), search.best_estimator_
    np.testing.assert_array_equal(ours[-1].coef_, theirs[-1].coef_)
    np.testing.assert_array_equal(ours.predict_proba(x), theirs.predict_proba(x))


def test_mid_ranks_are_scipy_s_ranks_to_the_bit() -> None:
    rng = np.random.default_rng(0)
    for size in (1, 2, 7, 300):
        values = np.round(rng.normal(size=size), 1)  # many ties
        np.testing.assert_array_equal(mid_ranks(values), rankdata(values))
    with_nan = np.array([0.3, np.nan, 0.1])
    np.testing.assert_array_equal(mid_ranks(with_nan), rankdata(with_nan))


def test_rank_auroc_is_the_roc_area_with_ties() -> None:
    rng = np.random.default_rng(0)
    positive = rng.random(300) < 0.4
    score = np.round(rng.normal(size=300) + positive, 1)  # many ties
    assert rank_auroc(positive, score) == pytest.approx(roc_auc_score(positive, score))
    assert np.isnan(rank_auroc(np.zeros(5, bool), score[:5]))


def test_the_bootstrap_resamples_subjects_not_ecgs() -> None:
    row_subjects = np.array([7, 7, 7, 9, 9, 11])
    boot = SubjectBootstrap(np.array([7, 9, 11]), row_subjects, n_boot=200, seed=1)
    assert boot.draws.shape == (200, 3)
    assert boot.rows(np.array([0, 0, 2])).tolist() == [0, 1, 2, 0, 1, 2, 5]
    values = np.array([1.0, 1.0, 1.0, 5.0, 5.0, 9.0])
    estimate = boot.estimate(lambda draw: float(values[boot.rows(draw)].mean()))
    assert estimate["value"] == pytest.approx(22 / 6)
    low, high = estimate["ci95"]
    assert 1.0 <= low < estimate["value"] < high <= 9.0


def test_change_from_baseline_subtracts_the_same_periods_baseline() -> None:
    table = pd.DataFrame(
        {
            "subject": [1, 1, 1, 1, 2, 2],
            "period": [1, 1, 2, 2, 1, 1],
            "baseline": [True, False, True, False, True, False],
            "tpeak_tend": [80.0, 110.0, 90.0, 95.0, 70.0, 110.0],
            "twave_amplitude_vm_uv": [500.0, 400.0, 40.0, 80.0, 800.0, 1000.0],
        },
        index=list("abcdef"),
    )
    change = change_from_baseline(
        table, pd.Index(["b", "d", "f"]), ["delta_tpeak_tend", "delta_t_amplitude_v5"]
    )
    assert change["delta_tpeak_tend"].tolist() == [30.0, 5.0, 40.0]
    # Relative change of the vector-magnitude T (µV stands in for mV); a 0.04 mV baseline T is
    # too flat for a percentage.
    assert change["delta_t_amplitude_v5"].tolist()[0::2] == pytest.approx([-20.0, 25.0])
    assert np.isnan(change["delta_t_amplitude_v5"].iloc[1])
    with pytest.raises(ValueError, match="no column for 'delta_qtc_bazett'"):
        change_from_baseline(table, pd.Index(["b"]), ["delta_qtc_bazett"])


@pytest.mark.parametrize(
    "features, message",
    [
        ("twave_amplitude_vm_uv", "unknown head feature"),
        ("t_amplitude_ii", "no column 't_amplitude_ii'"),
        ("qtc_fridericia,female", "constant in the training rows"),
        ("qtc_prolonged", "yes/no finding"),
    ],
    ids=["not-a-concept", "not-in-table", "one-sex", "binary"],
)
def test_unusable_features_are_refused_clearly(
    ecgrdvq_root: Path, tmp_path: Path, features: str, message: str
) -> None:
    result = CliRunner().invoke(
        build_cli(),
        [
            "train-head",
            "--data-dir",
            str(ecgrdvq_root),
            "--out",
            str(tmp_path),
            "--features",
            features,
            "--bootstrap",
            "50",
        ],
    )
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "head.json").exists()


def test_other_datasets_and_missing_folders_are_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    wrong = runner.invoke(build_cli(), ["train-head", "--data", "ptbxl", "--out", str(tmp_path)])
    assert wrong.exit_code == 2 and "use one of ecgrdvq" in wrong.output
    missing = runner.invoke(
        build_cli(), ["train-head", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path)]
    )
    assert missing.exit_code == 2 and "--data-dir" in missing.output


def test_too_few_subjects_are_refused(ecgrdvq_table: pd.DataFrame) -> None:
    two = ecgrdvq_table[ecgrdvq_table["subject"].isin([1001, 1002])]
    with pytest.raises(ValueError, match="at least 3 subjects"):
        fit_tdp_head(two)


def test_the_html_report_stands_alone(head_run: Path) -> None:
    page = (head_run / "report.html").read_text()
    assert "cdn" not in page.lower().split("<script>")[0]  # nothing fetched from outside
    assert len(page) > 1_000_000  # plotly.js inlined
    assert page.count("<th>AUROC leave-pair-out</th>") == 2  # one table per variant
    assert page.count("<td>tpeak_tend</td><td>ms</td>") == 1  # coefficient tables with units
    assert page.count("<td>delta_tpeak_tend</td><td>ms</td>") == 1
    assert "Mean risk per drug" in page and "Reliability" in page
