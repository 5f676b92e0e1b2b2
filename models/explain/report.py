"""The standalone HTML page of ``qtlens compare`` (Plotly figures, plotly.js inlined).

Reads only the JSON-ready report :func:`models.explain.compare.compare` writes, so the page can
be rebuilt from ``compare.json`` alone (:func:`write_report`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from models.explain.attributions import get_method, method_names
from models.tasks import TASKS

_ROLE_LABEL = {"cbm": "CBM", "blackbox": "black box"}


def _label(method: str) -> str:
    return get_method(method).label if method in method_names() else method


def _number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_number(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(figure: Any) -> str:
    return figure.to_html(full_html=False, include_plotlyjs=False)


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{''.join(parts)}</section>"


def _role_heading(role: str) -> str:
    return f"<h3>{html.escape(_ROLE_LABEL.get(role, role))}</h3>"


def _note(text: str) -> str:
    return f"<p class='note'>{html.escape(text)}</p>"


def _header(report: dict[str, Any]) -> str:
    rows = [
        (
            _ROLE_LABEL.get(role, role),
            b["variant"],
            b["sha256"],
            (b["training_data"] or {}).get("source"),
            (b["training_data"] or {}).get("seed"),
            str((b["training_data"] or {}).get("options") or {}),
        )
        for role, b in report["bundles"].items()
    ]
    data = report["data"]
    described = ", ".join(
        f"{k} {v}" for k, v in data.items() if k not in ("records", "root", "shortcut_leads")
    )
    return (
        "<p>Research use only — not a medical device.</p>"
        + _table(
            ("model", "variant", "bundle SHA-256", "trained on", "training seed", "options"), rows
        )
        + _note(f"Data: {described}.")
        + _note(f"Created {report['created_at']} by {report['code_version']}.")
    )


def _performance(report: dict[str, Any]) -> str:
    performance = report["performance"]
    if "skipped" in performance:
        return _section("Task performance", _note(performance["skipped"]))
    rows = []
    for role, tasks in performance.items():
        for task in TASKS:
            entry = tasks[task.name]
            low, high = entry["auroc"]["ci95"]
            rows.append(
                (
                    _ROLE_LABEL.get(role, role),
                    task.label,
                    entry["auroc"]["value"],
                    f"{_number(low)}–{_number(high)}",
                    entry["auprc"]["value"],
                    entry["calibration"]["ece"],
                    entry["n"],
                )
            )
    return _section(
        "Task performance",
        _table(("model", "task", "AUROC", "95 % CI", "AUPRC", "ECE", "records"), rows),
    )


def _tcav_cell(entry: dict[str, Any]) -> tuple[Any, Any, Any]:
    if "skipped" in entry:
        return ("skipped", entry["skipped"], "–")
    mark = " *" if entry["significant"] else ""
    return (
        f"{entry['score_mean']:.2f} ± {entry['score_sd']:.2f}{mark}",
        entry["p_adjusted"],
        f"{entry['cav_accuracy_mean']:.2f}",
    )


def _accuracy_text(accuracy: dict[str, Any] | None) -> str:
    if not accuracy:
        return "–"
    if "mae" in accuracy:
        return f"MAE {accuracy['mae']:.3g} {accuracy['unit']}"
    if "auroc" in accuracy and accuracy["auroc"] is not None:
        return f"AUROC {accuracy['auroc']:.3f}"
    return "–"


def _concept_fidelity(report: dict[str, Any]) -> str:
    import plotly.graph_objects as go

    fidelity = report["concept_fidelity"]
    roles = list(report["tcav"])
    rows = []
    for row in fidelity["tcav_vs_cbm"]:
        cells: list[Any] = [row["concept_set"], _accuracy_text(row["cbm_accuracy"])]
        for role in roles:
            cells += _tcav_cell(row[role])
        rows.append(cells)
    header = ["concept set", "CBM concept accuracy"]
    for role in roles:
        name = _ROLE_LABEL.get(role, role)
        header += [f"TCAV {name} (± SD)", f"p (Bonferroni) {name}", f"CAV acc. {name}"]
    figure = go.Figure()
    for role in roles:
        tested = [r for r in fidelity["tcav_vs_cbm"] if "score_mean" in r[role]]
        figure.add_bar(
            name=_ROLE_LABEL.get(role, role),
            x=[r["concept_set"] for r in tested],
            y=[r[role]["score_mean"] for r in tested],
            error_y={"type": "data", "array": [r[role]["score_sd"] for r in tested]},
        )
    figure.add_hline(y=0.5, line_dash="dot", annotation_text="no directional sensitivity")
    figure.update_layout(barmode="group", yaxis_title="TCAV score", yaxis_range=[0, 1.05])
    continuous = [
        (name, entry["mae"], entry["unit"])
        for name, entry in fidelity["concepts"].items()
        if entry.get("mae") is not None
    ]
    binary = [
        (name, entry["auroc"])
        for name, entry in fidelity["concepts"].items()
        if entry.get("auroc") is not None
    ]
    layer = next(iter(report["tcav"].values()))["layers"][-1]
    return _section(
        "Concept fidelity: CBM concept accuracy vs TCAV sensitivity",
        _note(
            f"TCAV at layer {layer} for target {report['config']['target']}: share of inputs whose "
            "directional derivative along the concept's CAV is positive, over "
            f"{report['config']['tcav']['repeats']} CAVs; * = differs from random CAVs "
            "(two-sided Welch t-test, Bonferroni). Correlated concepts share directions, so a "
            "significant score says the model is sensitive to the direction, not that it uses "
            "that concept rather than a correlated one."
        ),
        _table(header, rows),
        _figure(figure),
        "<h3>CBM concept accuracy (all concepts)</h3>",
        _table(("concept", "MAE", "unit"), continuous),
        _table(("binary concept", "AUROC"), binary),
    )


def _localisation(report: dict[str, Any]) -> str:
    import plotly.graph_objects as go

    synthetic = report["data"]["source"] == "synthetic"
    parts = [
        _note(
            "Share of the attribution magnitude Σ|a| inside each region against the region's "
            "share of the evaluated signal (chance); enrichment = share / chance. Regions: "
            f"{'generator fiducials' if synthetic else 'LUDB annotations'}."
        )
    ]
    for role, methods in report["localisation"].items():
        regions = sorted({r for entry in methods.values() for r in entry["regions"]})
        figure = go.Figure(
            [
                go.Bar(
                    name=_label(method),
                    x=regions,
                    y=[entry["regions"].get(r, {}).get("enrichment") for r in regions],
                )
                for method, entry in methods.items()
            ]
        )
        figure.add_hline(y=1.0, line_dash="dot", annotation_text="chance")
        figure.update_layout(barmode="group", yaxis_title="enrichment (share / chance)")
        rows = [
            (
                _label(method),
                region,
                values["share"],
                values["chance"],
                values["enrichment"],
                values["n_records"],
                entry["completeness_gap_median"],
            )
            for method, entry in methods.items()
            for region, values in entry["regions"].items()
        ]
        parts += [
            _role_heading(role),
            _figure(figure),
            _table(
                ("method", "region", "share", "chance", "enrichment", "records",
                 "completeness gap (median)"),
                rows,
            ),
        ]
    return _section("Localisation", *parts)


def _faithfulness(report: dict[str, Any]) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    parts = [
        _note(
            "Deletion: the most-attributed input samples are set to the baseline (0) first; a "
            "faithful map makes the task probability fall fast (small area). Insertion: they are "
            "restored onto the baseline first (large area). 'random' is a random ordering."
        )
    ]
    for role, methods in report["faithfulness"].items():
        figure = make_subplots(rows=1, cols=2, subplot_titles=("deletion", "insertion"))
        for method, curves in methods.items():
            for col, key in ((1, "deletion"), (2, "insertion")):
                figure.add_trace(
                    go.Scatter(
                        x=curves["fractions"],
                        y=curves[key],
                        name=_label(method),
                        legendgroup=method,
                        showlegend=col == 1,
                        mode="lines",
                    ),
                    row=1,
                    col=col,
                )
        figure.update_xaxes(title_text="fraction of samples")
        figure.update_yaxes(title_text=f"P({report['config']['target']})", col=1)
        rows = [(_label(m), c["deletion_auc"], c["insertion_auc"]) for m, c in methods.items()]
        parts += [
            _role_heading(role),
            _figure(figure),
            _table(
                ("method", "deletion AUC (lower better)", "insertion AUC (higher better)"), rows
            ),
        ]
    return _section("Faithfulness", *parts)


def _randomisation(report: dict[str, Any]) -> str:
    import plotly.graph_objects as go

    parts = [
        _note(
            "Adebayo et al. 2018: blocks are re-initialised from the output down; the Spearman "
            "correlation of |attribution| with the trained model's should fall towards 0. A map "
            "that stays similar does not depend on what the model learned."
        )
    ]
    for role, methods in report["randomisation"].items():
        figure = go.Figure(
            [
                go.Scatter(
                    x=list(c["blocks"]), y=c["correlation"], name=_label(m), mode="lines+markers"
                )
                for m, c in methods.items()
            ]
        )
        figure.update_layout(
            xaxis_title="re-initialised down to",
            yaxis_title="rank correlation with original",
            yaxis_range=[-0.2, 1.05],
        )
        parts += [_role_heading(role), _figure(figure)]
    return _section("Model randomisation (sanity check)", *parts)


def _shortcut(report: dict[str, Any]) -> str:
    shortcut = report["shortcut"]
    if "skipped" in shortcut:
        return _section("Shortcut detection", _note(shortcut["skipped"]))
    rows = []
    for role, methods in shortcut["attributions"].items():
        for method, entry in methods.items():
            if entry is None:
                continue
            rows.append(
                (
                    _ROLE_LABEL.get(role, role),
                    _label(method),
                    entry["share_present"],
                    entry["share_absent"],
                    entry["chance"],
                    entry["enrichment"],
                    entry["p_adjusted"],
                    "yes" if entry["exposed"] else "no",
                )
            )
    tcav_rows = [
        (
            _ROLE_LABEL.get(role, role),
            r["layer"],
            f"{r['score_mean']:.2f} ± {r['score_sd']:.2f}",
            r["p_adjusted"],
            "yes" if r["significant"] else "no",
        )
        for role, results in shortcut["tcav"].items()
        for r in results
    ]
    summary = "; ".join(
        f"{_ROLE_LABEL.get(role, role)}: {', '.join(map(_label, methods)) or 'none'}"
        for role, methods in shortcut["exposed_by"].items()
    )
    return _section(
        "Shortcut detection",
        _note(
            f"Spike before every QRS in leads {', '.join(shortcut['leads'])} "
            f"({shortcut['records_with_spike']} records with it, "
            f"{shortcut['records_without_spike']} without among those attributed). A method "
            "exposes it when the attribution share at the spike sites is higher with the spike "
            "than at the same sites without it (one-sided Mann–Whitney, Bonferroni) and at least "
            f"{shortcut['enrichment_threshold']}× the sites' share of the signal."
        ),
        f"<p><strong>Exposed by</strong> — {html.escape(summary)}</p>",
        _table(
            (
                "model",
                "method",
                "share (spike)",
                "share (no spike)",
                "chance",
                "enrichment",
                "p (Bonferroni)",
                "exposes",
            ),
            rows,
        ),
        "<h3>TCAV on the shortcut concept</h3>",
        _table(("model", "layer", "TCAV score", "p (Bonferroni)", "significant"), tcav_rows),
        "<h3>Does the spike reach the CBM's concepts?</h3>",
        _note(
            "Mean error of the CBM's estimate (predicted − true) with the spike minus without it; "
            "shift in the concept's unit and in training SDs, Welch t-test."
        ),
        _table(
            ("concept", "shift", "shift (SD)", "p"),
            [
                (r["concept"], r["shift"], r["shift_sd"], r["p_value"])
                for r in shortcut["concept_leakage"][:6]
            ],
        ),
    )


def _interventions(report: dict[str, Any]) -> str:
    import plotly.graph_objects as go

    interventions = report["interventions"]
    if "skipped" in interventions:
        return _section("Value of interventions (CBM)", _note(interventions["skipped"]))
    parts = []
    for task in TASKS:
        entry = interventions[task.name]
        figure = go.Figure(
            [
                go.Scatter(x=list(range(len(c))), y=c, name=policy, mode="lines+markers")
                for policy, c in entry["curves"].items()
            ]
        )
        figure.add_hline(
            y=entry["oracle_auroc"], line_dash="dot", annotation_text="all concepts true"
        )
        figure.update_layout(
            title=task.label,
            xaxis_title="concepts replaced by their true values",
            yaxis_title="AUROC",
        )
        parts.append(_figure(figure))
    return _section("Value of interventions (CBM)", *parts)


def write_report(report: dict[str, Any], path: Path) -> None:
    """Write the comparison as one standalone HTML page."""
    from plotly.offline import get_plotlyjs

    title = (
        f"QTLens comparison — {report['bundles']['cbm']['version']} vs "
        f"{report['bundles']['blackbox']['version']}"
    )
    body = "\n".join(
        [
            _header(report),
            _performance(report),
            _concept_fidelity(report),
            _localisation(report),
            _faithfulness(report),
            _randomisation(report),
            _shortcut(report),
            _interventions(report),
        ]
    )
    path.write_text(
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        f"<script>{get_plotlyjs()}</script>"
        "<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;"
        "padding:0 1em} table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid "
        "#ccc;padding:2px 8px;font-size:90%} .note{color:#555;max-width:60em}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
