"""The Long-QT risk from the ECG items of the Schwartz score: the items, the shipped bundle,
interventions, Check next, the API and the compose command."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from models.bundle import LoadedBundle, load_bundle
from models.cli import build_cli
from models.concepts import concept_names
from models.ecg.record import Ecg
from models.heads.describe import describe_head, read_risk
from models.heads.points import (
    PointsTaskHead,
    load_task_head,
    points_from_logit,
    schwartz_head,
)
from models.intervene import intervene, suggest
from models.nets.bottleneck import SEX_FEMALE, SEX_MALE, SEX_UNKNOWN
from models.nets.prediction import ModelPrediction
from tests.api.conftest import ludb_files
from tests.clinic.conftest import DEMO_BUNDLE

NAMES = concept_names()


def score(qtc_bazett: float, alternans: float = 0.0, notched: float = 0.0, heart_rate: float = 70.0,
          sex: int = SEX_FEMALE, age: float = 40.0) -> tuple[float, dict[str, float]]:
    """Points of one record (and each concept's share) under the shipped Schwartz head."""
    values = torch.zeros(1, len(NAMES))
    for name, value in (("qtc_bazett", qtc_bazett), ("t_alternans", alternans),
                        ("t_notched", notched), ("heart_rate", heart_rate)):
        values[0, NAMES.index(name)] = value
    part = schwartz_head().module().explain(values, torch.tensor([sex]), torch.tensor([age]))
    shares = {n: float(v) for n, v in zip(NAMES, part.concept[0]) if v}
    assert float(part.logit[0]) == pytest.approx(float(part.intercept[0]) + sum(shares.values()))
    return points_from_logit(float(part.logit[0])), shares


@pytest.mark.parametrize(("qtc", "sex", "points"), [
    (440, SEX_MALE, 0), (450, SEX_MALE, 1), (459, SEX_MALE, 1), (455, SEX_FEMALE, 0),
    (455, SEX_UNKNOWN, 1), (460, SEX_FEMALE, 2), (479, SEX_MALE, 2), (480, SEX_FEMALE, 3),
    (560, SEX_MALE, 3),
])
def test_qtc_points_follow_the_published_sex_specific_cut_offs(qtc: float, sex: int,
                                                               points: float) -> None:
    assert score(qtc, sex=sex)[0] == points


def test_t_wave_items_and_low_heart_rate_for_age() -> None:
    assert score(440, alternans=0.7)[0] == 1  # a finding counts from probability 0.5
    assert score(440, alternans=0.4)[0] == 0
    assert score(440, notched=1.0, alternans=1.0)[0] == 2
    assert score(440, heart_rate=48)[0] == 0.5  # adult: below 50 bpm
    assert score(440, heart_rate=55)[0] == 0
    assert score(440, heart_rate=55, age=10)[0] == 0.5  # 8-12 years: 2nd percentile 62 bpm
    assert score(440, heart_rate=48, age=float("nan"))[0] == 0.5  # unknown age: adult limit
    points, shares = score(490, notched=1.0, heart_rate=45, sex=SEX_MALE)
    assert points == 4.5
    assert shares == {"qtc_bazett": 3.0, "t_notched": 1.0, "heart_rate": 0.5}


def test_categories_are_the_guidelines() -> None:
    head = schwartz_head()
    assert head.max_points == 5.5
    assert [head.category(p) for p in (0, 1, 1.5, 3, 3.5, 5.5)] == [
        "low", "low", "intermediate", "intermediate", "high", "high"]
    for points in (0, 1, 1.5, 3, 3.5, 5.5):
        probability = 1 / (1 + math.exp(-(points - 2.5)))
        assert head.bands.band(probability).value == head.category(points)


def test_the_head_file_round_trips_and_refuses_nonsense(tmp_path: Path) -> None:
    head = schwartz_head()
    head.save(tmp_path / "head.json")
    assert load_task_head(tmp_path / "head.json") == head
    data = json.loads((tmp_path / "head.json").read_text())
    data["items"][0]["concept"] = "qtc_nonsense"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="bad.json"):
        load_task_head(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="not a QTLens points head"):
        PointsTaskHead.from_dict({**head.to_dict(), "kind": "logistic-ish"})


def test_the_shipped_long_qt_risk_is_the_schwartz_score(demo_bundle: LoadedBundle,
                                                        ludb_ecg: Ecg) -> None:
    entry = demo_bundle.task_heads["lqts_risk"]
    assert entry["kind"] == "points" and "Schwartz" in entry["reference"]
    prediction = ModelPrediction.from_dict(
        json.loads(json.dumps(demo_bundle.predict([ludb_ecg])[0].to_dict())))
    risk = prediction.tasks["lqts_risk"]
    values = {n: prediction.head_state.head_values[i] for i, n in enumerate(NAMES)}
    expected, _ = score(values["qtc_bazett"], values["t_alternans"], values["t_notched"],
                        values["heart_rate"], SEX_FEMALE, 51)
    assert points_from_logit(risk.logit) == expected == risk.points
    assert prediction.tasks["tdp_risk"].points is None
    assert risk.band.value == schwartz_head().category(expected)
    reading = read_risk(demo_bundle.card, "lqts_risk", risk)
    assert reading.head == "Schwartz score (ECG items)" and reading.points == expected
    assert reading.sentence.startswith(f"Schwartz score (ECG items): {expected:g} of 5.5 points")
    # QTc points read at a fast rate: Bazett's overcorrection is said beside the score.
    qtc_points = replace(risk, contributions={**risk.contributions, "qtc_bazett": 3.0})
    fast = read_risk(demo_bundle.card, "lqts_risk", qtc_points, heart_rate_bpm=141.0)
    assert "At 141 bpm Bazett's formula" in fast.sentence and "Fridericia" in fast.sentence
    assert "Bazett's formula" not in read_risk(demo_bundle.card, "lqts_risk", qtc_points,
                                               heart_rate_bpm=72.0).sentence
    no_qtc_points = replace(risk, contributions={**risk.contributions, "qtc_bazett": 0.0})
    assert "Bazett's formula" not in read_risk(demo_bundle.card, "lqts_risk", no_qtc_points,
                                               heart_rate_bpm=141.0).sentence

    # Interventions: a QTc override moves the points; a QT override moves them through QTc.
    after = intervene(demo_bundle, prediction, {"qtc_bazett": 490.0, "t_notched": 1.0})
    risk_after = after.tasks["lqts_risk"]
    low_rate = 0.5 if values["heart_rate"] < 50 else 0.0
    assert points_from_logit(risk_after.logit) == 3 + 1 + low_rate + (
        1 if values["t_alternans"] >= 0.5 else 0)
    assert risk_after.band.value == "high"
    assert risk_after.contributions["qtc_bazett"] == 3.0
    rr_s = values["rr"] / 1000
    qt_for_470 = 470 * math.sqrt(rr_s)
    through_qt = intervene(demo_bundle, prediction, {"qt": qt_for_470})
    assert through_qt.tasks["lqts_risk"].contributions["qtc_bazett"] == 2.0

    # Check next speaks in the score's points.
    ranked = suggest(demo_bundle, prediction, {}, task="lqts_risk")
    assert ranked[0].expected_risk_change > 0
    assert "Schwartz score (ECG items) by up to" in ranked[0].reason_text
    assert " point" in ranked[0].reason_text and "%" not in ranked[0].reason_text.split("by")[-1]


def test_the_api_says_which_head_produced_the_risk_and_its_points(client_as,
                                                                  data_dir: Path) -> None:
    clinician = client_as("clinician")
    record = clinician.post("/api/v1/records", files=ludb_files(data_dir, "2")).json()
    prediction = clinician.post(f"/api/v1/records/{record['id']}/predictions").json()
    risks = {r["task"]: r for r in prediction["risks"]}
    lqts = risks["lqts_risk"]
    assert lqts["head"] == "Schwartz score (ECG items)" and lqts["head_kind"] == "points"
    assert lqts["max_points"] == 5.5 and lqts["meaning"].startswith(
        f"Schwartz score (ECG items): {lqts['points']:g} of 5.5 points")
    assert risks["tdp_risk"]["head_kind"] == "logistic"
    assert risks["tdp_risk"]["meaning"].startswith(
        "Probability that the ECG was recorded under a high-TdP-risk hERG blocker")
    assert "ECGRDVQ" in risks["tdp_risk"]["meaning"]
    listed = clinician.get(f"/api/v1/records/{record['id']}").json()
    assert listed["risk_bands"] == {t: r["band"] for t, r in risks.items()}  # the bundle's bands
    assert listed["risk_points"] == {"lqts_risk": lqts["points"]}
    edit = clinician.post(f"/api/v1/predictions/{prediction['id']}/interventions",
                          json={"concept": "qtc_bazett", "value": 485})
    assert edit.status_code == 201, edit.text
    after = {r["task"]: r for r in edit.json()["prediction"]["risks"]}["lqts_risk"]
    assert after["contributions"]["qtc_bazett"] == 3.0
    assert after["points"] == lqts["points"] - lqts["contributions"]["qtc_bazett"] + 3.0


def test_the_about_page_reads_the_model_card_for_every_role(client_as) -> None:
    for role in ("clinician", "researcher", "admin"):
        page = client_as(role).get("/about")
        assert page.status_code == 200, role
        assert '<a href="/about">About this model</a>' in page.text
    text = page.text
    assert 'data-testid="about-meaning-lqts_risk">Points of the Schwartz score (ECG items)' in text
    assert "Probability that the ECG was recorded under a high-TdP-risk hERG blocker" in text
    assert "Notched T wave in 3 leads: 1" in text
    assert "--head lqts_risk=network" in text  # the synthetic-trained head, for research
    assert "Research use only" in text
    assert '"task_auroc"' not in text and "{&#34;" not in text  # HTML, not JSON
    assert client_as(None).get("/about", follow_redirects=False).status_code in (303, 401)


def test_compose_puts_the_schwartz_head_in_force_and_the_network_back(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "research"
    result = runner.invoke(build_cli(), ["compose-bundle", "--base", str(DEMO_BUNDLE),
                                         "--head", "lqts_risk=network", "--out", str(out)])
    assert result.exit_code == 0, result.output
    research = load_bundle(out, device="cpu")
    assert research.task_heads["lqts_risk"]["kind"] == "network"
    assert research.task_heads["tdp_risk"]["kind"] == "logistic"
    assert not (out / "heads" / "lqts_risk.json").exists()
    reading = describe_head(research.card, "lqts_risk")
    assert (reading.head, reading.kind, reading.points) == ("joint network head", "network", None)
    assert reading.sentence == (
        "Probability of the Long-QT risk label of QTLens' synthetic causal model (a simulation, "
        "not a patient's risk) — joint network head trained on 4000 synthetic ECGs, seed 0.")
    wrong = runner.invoke(build_cli(), ["compose-bundle", "--base", str(out), "--head",
                                        "tdp_risk=schwartz", "--out", str(tmp_path / "x")])
    assert wrong.exit_code == 2 and "predicts lqts_risk" in wrong.output


def test_each_risk_says_where_its_bands_begin(demo_bundle: LoadedBundle) -> None:
    """A calibrated head's "low" may sit at a high probability (the shipped TdP head's
    intermediate band begins at 96.5 %): the reading says where each head's bands begin, in the
    unit its risk is shown in, and the band of a risk agrees with those cut-offs."""
    from models.heads.describe import cutoffs_text, percent_text
    from models.heads.points import fewest_points_reaching, logit_from_points
    from models.tasks import Bands

    assert [percent_text(p) for p in (0.2, 0.5, 0.9646, 0.99890, 1.0)] == [
        "20 %", "50 %", "96.5 %", "99.89 %", "100 %"]
    assert cutoffs_text(Bands(0.2, 0.5)) == "intermediate from 20 %, high from 50 %"
    # The Schwartz categories (intermediate 1.5–3, high ≥ 3.5) whatever side of a half point
    # the stored cut-off probability falls.
    for points in (1.5, 3.5):
        assert fewest_points_reaching(logit_from_points(points - 0.25)) == points
        assert fewest_points_reaching(logit_from_points(points)) == points
    assert describe_head(demo_bundle.card, "lqts_risk").band_cutoffs == \
        "intermediate from 1.5 points, high from 3.5 points"
    tdp = demo_bundle.bands["tdp_risk"]
    assert describe_head(demo_bundle.card, "tdp_risk").band_cutoffs == (
        f"intermediate from {percent_text(tdp.intermediate_from)}, "
        f"high from {percent_text(tdp.high_from)}")
