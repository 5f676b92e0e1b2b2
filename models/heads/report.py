"""The standalone HTML report of a head's evaluation (plotly.js inlined from the local package)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_curve

from models.evaluate import diagonal_line
from models.heads.fit import COMPARISONS, SCORES, VARIANTS, HeadFitResult

_SCORE_LABELS = {
    "head": "concept head",
    "qtcf_logistic": "QTcF logistic",
    "qtcf": "QTcF (ms) as the score",
}
_AUROC_KINDS = ("leave_pair_out", "within_subject", "pooled")


def _ci(entry: dict[str, Any], digits: int = 3) -> str:
    low, high = entry["ci95"]
    return f"{entry['value']:.{digits}f} ({low:.{digits}f} to {high:.{digits}f})"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _auroc_table(variant: dict[str, Any]) -> str:
    rows = []
    for comparison in COMPARISONS:
        for score in SCORES:
            entry = variant["scores"][score]["auroc"][comparison]
            rows.append(
                [comparison.replace("_", " "), _SCORE_LABELS[score]]
                + [_ci(entry[kind]) for kind in _AUROC_KINDS]
            )
        difference = variant["auroc_difference"]["head_minus_qtcf"][comparison]
        rows.append(
            [
                comparison.replace("_", " "),
                "head − QTcF",
                _ci(difference["leave_pair_out"]),
                "",
                _ci(difference["pooled"]),
            ]
        )
    return _table(["comparison", "score", "AUROC leave-pair-out", "within subject", "pooled"], rows)


def _risk_table(variant: dict[str, Any]) -> str:
    rows = []
    for score in ("head", "qtcf_logistic"):
        entry = variant["scores"][score]
        for name, difference in entry["risk_difference"].items():
            rows.append(
                [
                    _SCORE_LABELS[score],
                    name.replace("_", " "),
                    _ci(difference),
                    "yes" if difference["within_margin"] else "no",
                ]
            )
        ece = entry["calibration"]
        rows.append([_SCORE_LABELS[score], "ECE", f"{ece['ece']:.3f}", ""])
    return _table(["score", "mean risk difference", "value (95 % CI)", "within margin"], rows)


def _coefficient_table(variant: dict[str, Any]) -> str:
    fitted = variant["coefficients"]
    rows = [
        [
            f["name"],
            f["unit"],
            f"{f['mean']:.1f}",
            f"{f['sd']:.1f}",
            f"{f['coefficient_per_sd']:+.3f}",
            f"{f['coefficient_per_unit']:+.4f}",
            f"{f['odds_ratio_per_sd']:.2f}",
            "{:+.3f} to {:+.3f}".format(*f["loso_coefficient_per_sd_range"]),
        ]
        for f in fitted["features"]
    ]
    rows.append(["intercept", "", "", "", f"{fitted['intercept']:+.3f}", "", "", ""])
    return _table(
        [
            "feature",
            "unit",
            "mean",
            "SD",
            "logit per SD",
            "logit per unit",
            "odds ratio per SD",
            "per SD across LOSO folds",
        ],
        rows,
    )


def _figures(result: HeadFitResult, variant: str) -> list[tuple[str, Any]]:
    """ROC (pooled held-out scores), mean risk per drug, time course and reliability."""
    import plotly.graph_objects as go

    report = result.report["variants"][variant]
    scored = result.scored.dropna(subset=[f"{variant}/head"])
    figures = []
    for comparison, (positive, negative) in COMPARISONS.items():
        chosen = scored[scored["group"].isin((positive, negative))]
        traces = []
        for score in SCORES:
            fpr, tpr, _ = roc_curve(chosen["group"] == positive, chosen[f"{variant}/{score}"])
            area = report["scores"][score]["auroc"][comparison]["pooled"]["value"]
            traces.append(go.Scatter(x=fpr, y=tpr, name=f"{_SCORE_LABELS[score]} ({area:.3f})"))
        roc = go.Figure([*traces, diagonal_line("chance")])
        roc.update_layout(xaxis_title="1 − specificity", yaxis_title="sensitivity")
        figures.append((f"ROC, {comparison.replace('_', ' ')} (pooled held-out scores)", roc))
    bars = []
    for score in ("head", "qtcf_logistic"):
        means = report["scores"][score]["mean_risk"]
        drugs = list(means)
        values = np.array([means[d]["value"] for d in drugs])
        bounds = np.array([means[d]["ci95"] for d in drugs])
        bars.append(
            go.Bar(
                x=drugs,
                y=values,
                name=_SCORE_LABELS[score],
                error_y={
                    "type": "data",
                    "array": bounds[:, 1] - values,
                    "arrayminus": values - bounds[:, 0],
                },
            )
        )
    risk = go.Figure(bars)
    risk.update_layout(barmode="group", yaxis_title="mean predicted risk (subject-averaged)")
    figures.append(("Mean risk per drug, 95 % subject-bootstrap CI", risk))
    course = report["time_course"]["head"]
    timeline = go.Figure(
        [
            go.Scatter(
                x=[float(t) for t in points],
                y=list(points.values()),
                name=drug,
                mode="lines+markers",
            )
            for drug, points in course.items()
        ]
    )
    timeline.update_layout(xaxis_title="hours after dose", yaxis_title="mean head risk")
    figures.append(("Head risk over time after the dose", timeline))
    reliability = go.Figure(
        [
            go.Scatter(
                x=[b["mean_predicted"] for b in report["scores"][score]["calibration"]["bins"]],
                y=[b["observed"] for b in report["scores"][score]["calibration"]["bins"]],
                mode="lines+markers",
                name=f"{_SCORE_LABELS[score]} (ECE "
                f"{report['scores'][score]['calibration']['ece']:.3f})",
            )
            for score in ("head", "qtcf_logistic")
        ]
        + [diagonal_line("perfect calibration")]
    )
    reliability.update_layout(xaxis_title="predicted probability", yaxis_title="observed frequency")
    figures.append(("Reliability (held-out probabilities)", reliability))
    return figures


def write_head_report(result: HeadFitResult, path: Path) -> None:
    """Write the evaluation of ``result`` as one standalone HTML file."""
    from plotly.offline import get_plotlyjs

    report = result.report
    design, data = report["design"], report["data"]
    sections = []
    for variant in VARIANTS:
        entry = report["variants"][variant]
        composable = (
            "read when the ECG comes alone"
            if variant == "absolute"
            else "read when the ECG's series has a baseline ECG"
        )
        figures = "".join(
            f"<h3>{html.escape(title)}</h3>"
            f"{figure.to_html(full_html=False, include_plotlyjs=False)}"
            for title, figure in _figures(result, variant)
        )
        sections.append(
            f"<section><h2>{html.escape(variant.replace('_', ' '))} — "
            f"{html.escape(composable)}</h2>"
            f"<p>Features: {html.escape(', '.join(entry['features']))} "
            f"(compared with {html.escape(entry['qtcf_rule'])}) "
            f"({html.escape(entry['feature_meaning'])}); {entry['n_ecgs']} ECGs "
            f"({entry['dropped_incomplete_ecgs']} without every input left out).</p>"
            f"<h3>Coefficients (fitted on every subject)</h3>{_coefficient_table(entry)}"
            f"<h3>Discrimination</h3>{_auroc_table(entry)}"
            f"<h3>Risk against placebo, calibration</h3>{_risk_table(entry)}"
            f"{figures}</section>"
        )
    drugs = ", ".join(f"{k} {v}" for k, v in data["post_dose_ecgs_by_drug"].items())
    sexes = ", ".join(f"{n} {s}" for s, n in data["sex"].items())
    path.write_text(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>QTLens task head — {report["task"]}</title>
<script>{get_plotlyjs()}</script>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse;margin:0.5em 0}}td,th{{border:1px solid #ccc;padding:3px 8px}}</style>
</head><body><h1>QTLens task head: {html.escape(report["task"])}</h1>
<p>Research use only — not a medical device. Head: {html.escape(report["head"]["learned_from"])}.
{html.escape(data["reference"])}. Subjects: {len(data["subjects"])} ({html.escape(sexes)},
age {data["age_years"][0]}–{data["age_years"][1]} y). Post-dose ECGs: {html.escape(drugs)}.</p>
<ul>
<li>Rows: {html.escape(design["rows"])}.</li>
<li>Target: {html.escape(design["target"])}.</li>
<li>Probability: {html.escape(design["probability_meaning"])}.</li>
<li>Evaluation: {html.escape(design["evaluation"])}.</li>
<li>QTcF rule: {html.escape(design["qtcf_rule"])}.</li>
<li>"As well as QTcF": {html.escape(design["as_well_as_qtcf"])};
"close to placebo": {html.escape(design["close_to_placebo"])}.</li>
</ul>
{"".join(sections)}
<p>Code: {html.escape(report["code_version"])}; {html.escape(report["created_at"])}.</p>
</body></html>
"""
    )
