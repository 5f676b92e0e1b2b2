"""The HTML page of a delineation validation: score tables and QT Bland–Altman plots.

Self-contained: the plotly.js bundle of the installed ``plotly`` package is inlined once, so the
page opens offline and never loads anything from a CDN.
"""

from __future__ import annotations

import html

_SCOPE_TITLES = {
    "per_lead": "Per lead (each lead's marks vs each method's delineation of that lead)",
    "global": "Global (earliest onset / latest offset over the leads, or the multi-lead mark)",
    "global_consensus": "Global, consensus reference (median over leads of the marks)",
}


def _cell(summary: dict[str, object], best: bool) -> str:
    if summary["sd_ms"] is None:
        return "<td>—</td>"
    text = (
        f"{summary['mean_ms']:+.1f} ± {summary['sd_ms']:.1f}"
        f"<br><small>Se {summary['sensitivity']:.0%} · PPV {summary['ppv']:.0%} · n {summary['true_positives']}</small>"
    )
    return f'<td class="{"best" if best else ""}">{text}</td>'


def _table(
    scope: str,
    by_method: dict[str, dict[str, dict[str, object]]],
    best_neurokit: dict[str, dict[str, object] | None],
    tolerances: dict[str, float],
) -> str:
    methods = list(by_method)
    fiducials = list(next(iter(by_method.values())))
    rows = []
    for fiducial in fiducials:
        chosen = best_neurokit.get(fiducial)
        best = None if chosen is None else chosen["method"]
        tolerance = tolerances.get(fiducial)
        label = f"{fiducial}" + (f"<br><small>CSE SD ≤ {tolerance}</small>" if tolerance else "")
        cells = "".join(_cell(by_method[m][fiducial], m == best) for m in methods)
        rows.append(f"<tr><th>{label}</th>{cells}</tr>")
    header = "".join(f"<th>{html.escape(m)}</th>" for m in methods)
    return (
        f"<h2>{html.escape(_SCOPE_TITLES.get(scope, scope))}</h2>"
        f"<table><tr><th>fiducial</th>{header}</tr>{''.join(rows)}</table>"
    )


def _bland_altman(qt: dict[str, dict[str, object]], title: str) -> str:
    import plotly.graph_objects as go
    import plotly.io as pio
    from plotly.subplots import make_subplots

    methods = [m for m in qt if qt[m]["n"]]
    if not methods:
        return f"<h3>{html.escape(title)}</h3><p>No beat with both a marked QRS onset and T end.</p>"
    figure = make_subplots(rows=1, cols=len(methods), subplot_titles=methods, shared_yaxes=True)
    for column, method in enumerate(methods, start=1):
        pairs = qt[method]["pairs_ms"]
        means = [(a + b) / 2 for a, b in pairs]  # type: ignore[union-attr]
        differences = [b - a for a, b in pairs]  # type: ignore[union-attr]
        figure.add_trace(
            go.Scattergl(x=means, y=differences, mode="markers", marker={"size": 4, "opacity": 0.5}, name=method),
            row=1,
            col=column,
        )
        for key, dash in (("mean_diff_ms", "solid"), ("loa_low_ms", "dash"), ("loa_high_ms", "dash")):
            figure.add_hline(y=qt[method][key], line_dash=dash, line_color="firebrick", row=1, col=column)
        figure.update_xaxes(title_text="mean QT (ms)", row=1, col=column)
    figure.update_yaxes(title_text="method − reference QT (ms)", row=1, col=1)
    figure.update_layout(height=420, showlegend=False, margin={"t": 40})
    summary = "".join(
        f"<li>{html.escape(m)}: {qt[m]['mean_diff_ms']:+.1f} ± {qt[m]['sd_diff_ms']:.1f} ms "
        f"(limits {qt[m]['loa_low_ms']:.0f} to {qt[m]['loa_high_ms']:.0f} ms, n {qt[m]['n']})</li>"
        for m in methods
    )
    return f"<h3>{html.escape(title)}</h3>" + pio.to_html(figure, include_plotlyjs=False, full_html=False) + f"<ul>{summary}</ul>"


def _part(part: str, values: dict[str, object], tolerances: dict[str, float]) -> str:
    """One part of the split: score tables, QT Bland–Altman plots and QT availability."""
    scores: dict[str, dict[str, dict[str, dict[str, object]]]] = values["scores"]  # type: ignore[assignment]
    best: dict[str, dict[str, dict[str, object] | None]] = values["best_neurokit"]  # type: ignore[assignment]
    tables = "".join(_table(scope, by_method, best[scope], tolerances) for scope, by_method in scores.items())
    lead_qt: dict[str, dict[str, dict[str, object]]] = values["lead_qt"]  # type: ignore[assignment]
    plots = _bland_altman(values["qt"], "Global QT (CSE: earliest QRS onset → latest T end)")  # type: ignore[arg-type]
    plots += "".join(_bland_altman(by_method, f"Lead {lead} QT against lead {lead}'s marks") for lead, by_method in lead_qt.items())
    records = ", ".join(html.escape(str(r)) for r in values["records"])  # type: ignore[attr-defined]
    return (
        f"<h1>{part.capitalize()} part ({len(values['records'])} records)</h1>"  # type: ignore[arg-type]
        f"<p><small>Records: {records}</small></p>{tables}"
        f"<h2>QT: Bland–Altman against the marks</h2>{plots}"
        f"<p>QT available on {html.escape(availability_text(values))}.</p>"
    )


def availability_text(values: dict[str, object]) -> str:
    """The QT availability line of a part, e.g. ``"19 of 22 narrow-QRS records (…); 8 of 8 by
    the marked global QRS (…)"`` (the second count only where every lead is marked)."""
    availability: dict[str, object] = values["qt_availability"]  # type: ignore[assignment]
    text = f"{availability['with_qt']} of {availability['narrow_qrs']} narrow-QRS records"
    by_global: dict[str, object] | None = values.get("qt_availability_global_qrs")  # type: ignore[assignment]
    if by_global is None:
        return text + " (marked QRS < 120 ms)"
    return (f"{text} (median over leads of the marked QRS < 120 ms); {by_global['with_qt']} of "
            f"{by_global['narrow_qrs']} by the marked global QRS (earliest onset → latest offset "
            "over the leads, the AHA definition QTLens measures)")


def render_html(report: dict[str, object]) -> str:
    """The standalone HTML page of a validation report (see :func:`models.ecg.validate.summarise`)."""
    from plotly.offline import get_plotlyjs

    tolerances: dict[str, float] = report["cse_tolerance_ms"]  # type: ignore[assignment]
    parts: dict[str, dict[str, object]] = report["parts"]  # type: ignore[assignment]
    body = "".join(_part(part, values, tolerances) for part, values in parts.items())
    dataset = html.escape(str(report["dataset"]).upper())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>QTLens delineation validation — {dataset}</title>
<script>{get_plotlyjs()}</script>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 1400px; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: center; }}
td.best {{ background: #e3f4e3; font-weight: 600; }}
pre {{ white-space: pre-wrap; background: #f6f6f6; padding: 1em; font-size: 0.85em; }}
</style></head><body>
<h1>Delineation validation — {dataset} ({report['records']} records)</h1>
<p>Error = method − cardiologist's mark, mean ± SD in ms over true positives (matching window
{report['match_window_ms']:.0f} ms); Se = sensitivity, PPV = positive predictive value. Highlighted:
the {html.escape(str(report['best_rule']))}. {html.escape(str(report['openecg']))}. Figures to quote
are the <b>check</b> part's; the tuning part is what settings were chosen on.</p>
{body}
<h2>Definitions</h2><pre>{html.escape(str(report['definitions']))}</pre>
</body></html>
"""


_README_FIDUCIALS = {"P_on": "P on", "P_off": "P off", "QRS_on": "QRS on", "QRS_off": "QRS off", "T_peak": "T peak", "T_end": "T end"}


def _md_cell(summary: dict[str, object] | None) -> str:
    if summary is None or summary["sd_ms"] is None:
        return "—"
    return f"{summary['mean_ms']:+.1f} ± {summary['sd_ms']:.1f} ({summary['sensitivity']:.2f})".replace("-", "−")


def render_markdown(report: dict[str, object], part: str = "check") -> str:
    """The README table of one part: per fiducial QTLens, the best NeuroKit2 method (by the
    report's rule) and openecg, error mean ± SD ms (sensitivity); then the QT Bland–Altman lines."""
    values: dict[str, object] = report["parts"][part]  # type: ignore[index]
    scores: dict[str, dict[str, dict[str, dict[str, object]]]] = values["scores"]  # type: ignore[assignment]
    scope = "per_lead" if "per_lead" in scores else "global"
    by_method = scores[scope]
    best: dict[str, dict[str, object] | None] = values["best_neurokit"][scope]  # type: ignore[index]
    has_openecg = "openecg" in by_method
    header = "| fiducial | QTLens | best NeuroKit2 | " + ("openecg¹ | " if has_openecg else "") + "CSE 2SD |"
    lines = [
        f"{str(report['dataset']).upper()} {part} part ({len(values['records'])} records), {scope.replace('_', ' ')}:",  # type: ignore[arg-type]
        "",
        header,
        "|---" * (header.count("|") - 1) + "|",
    ]
    tolerances: dict[str, float] = report["cse_tolerance_ms"]  # type: ignore[assignment]
    for fiducial, label in _README_FIDUCIALS.items():
        chosen = best.get(fiducial)
        nk = "—" if chosen is None else f"{_md_cell(by_method[str(chosen['method'])][fiducial])} {str(chosen['method']).removeprefix('neurokit_')}"
        row = f"| {label} | {_md_cell(by_method['qtlens'][fiducial])} | {nk} | "
        if has_openecg:
            row += f"{_md_cell(by_method['openecg'][fiducial])} | "
        lines.append(row + f"{tolerances.get(fiducial, '—')} |")
    lines.append("")
    qt: dict[str, dict[str, object]] = values["qt"]  # type: ignore[assignment]
    lead_qt: dict[str, dict[str, dict[str, object]]] = values["lead_qt"]  # type: ignore[assignment]
    for title, stats in [("global QT", qt), *((f"lead {lead} QT", s) for lead, s in lead_qt.items())]:
        cells = ", ".join(
            f"{m} {s['mean_diff_ms']:+.1f} ± {s['sd_diff_ms']:.1f} (n {s['n']})".replace("-", "−")
            for m, s in stats.items()
            if s["n"] and (m in ("qtlens", "openecg") or m == (best.get("T_end") or {}).get("method"))
        )
        lines.append(f"- {title} vs marks: {cells}")
    lines.append(f"- QT available on {availability_text(values)}")
    return "\n".join(lines) + "\n"
