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


def _table(scope: str, by_method: dict[str, dict[str, dict[str, object]]], tolerances: dict[str, float]) -> str:
    methods = list(by_method)
    fiducials = list(next(iter(by_method.values())))
    rows = []
    for fiducial in fiducials:
        sds = {m: by_method[m][fiducial]["sd_ms"] for m in methods if by_method[m][fiducial]["sd_ms"] is not None}
        best = min(sds, key=sds.get) if sds else None  # type: ignore[arg-type]
        tolerance = tolerances.get(fiducial)
        label = f"{fiducial}" + (f"<br><small>CSE SD ≤ {tolerance}</small>" if tolerance else "")
        cells = "".join(_cell(by_method[m][fiducial], m == best) for m in methods)
        rows.append(f"<tr><th>{label}</th>{cells}</tr>")
    header = "".join(f"<th>{html.escape(m)}</th>" for m in methods)
    return (
        f"<h2>{html.escape(_SCOPE_TITLES.get(scope, scope))}</h2>"
        f"<table><tr><th>fiducial</th>{header}</tr>{''.join(rows)}</table>"
    )


def _bland_altman(qt: dict[str, dict[str, object]]) -> str:
    import plotly.graph_objects as go
    import plotly.io as pio
    from plotly.subplots import make_subplots

    methods = [m for m in qt if qt[m]["n"]]
    if not methods:
        return "<p>No beat with both a marked QRS onset and T end.</p>"
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
    return pio.to_html(figure, include_plotlyjs=False, full_html=False) + f"<ul>{summary}</ul>"


def render_html(report: dict[str, object]) -> str:
    """The standalone HTML page of a validation report (see :func:`models.ecg.validate.summarise`)."""
    from plotly.offline import get_plotlyjs

    scores: dict[str, dict[str, dict[str, dict[str, object]]]] = report["scores"]  # type: ignore[assignment]
    tolerances: dict[str, float] = report["cse_tolerance_ms"]  # type: ignore[assignment]
    tables = "".join(_table(scope, by_method, tolerances) for scope, by_method in scores.items())
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
{report['match_window_ms']:.0f} ms); Se = sensitivity, PPV = positive predictive value. The lowest SD of
each row is highlighted.</p>
{tables}
<h2>QT: Bland–Altman against the marks (global scope)</h2>
{_bland_altman(report['qt'])}  
<h2>Definitions</h2><pre>{html.escape(str(report['definitions']))}</pre>
</body></html>
"""
