"""Evaluate a model bundle on held-out data: JSON numbers plus a standalone HTML report.

What is measured (on the test split of the data, by default the bundle's own held-out records):

* **Tasks** — AUROC and AUPRC with percentile-bootstrap 95 % CIs (Efron & Tibshirani 1993),
  expected calibration error (10 equal-width bins; Naeini et al., AAAI 2015) with the
  reliability diagram; with ``baseline`` (e.g. the black box) the paired-bootstrap CI of the
  AUROC difference.
* **Concepts** — MAE in registry units for continuous concepts, AUROC for binary ones.
* **Interventions** — task AUROC against the number of concepts replaced by their true values,
  chosen per record by each policy of :mod:`models.intervene` (random averaged over 5 seeds),
  up to "all concepts true" (Koh et al., ICML 2020, Fig. 4).
* **Leakage** — the task head on soft (probabilities) versus hard (0/1) binary concepts: a head
  that needs the soft values is reading information the concepts do not name (Mahinpei et al.,
  "Promises and Pitfalls of Black-Box Concept Learning Models", 2021; Havasi et al., "Addressing
  Leakage in Concept Bottleneck Models", NeurIPS 2022).
* **Clinical rule** — QTc (Fridericia) above the sex-specific limit
  (:func:`models.concepts.qtc_fridericia_threshold_ms`) as the baseline a cardiologist would use,
  on the measured (true) QTc and on the model's predicted QTc.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from models.bundle import LoadedBundle, code_version, load_bundle
from models.concepts import DEFAULT_QTC, REGISTRY, concept_names, qtc_fridericia_threshold_ms
from models.data.dataset import ConceptDataset, DataRequest, load_dataset
from models.intervene import POLICIES, HeadBatch, Policy, policy_scores, uncertainty
from models.nets.batching import InputBatch, run_batched
from models.nets.bottleneck import SEX_FEMALE, SEX_MALE
from models.nets.inputs import standardise
from models.nets.model import ConceptModel, ModelOutput
from models.tasks import TASKS

EVALUATION_FILE = "evaluation.json"
REPORT_FILE = "report.html"
RANDOM_REPEATS = 5
ECE_BINS = 10
_CHUNK = 64  # records per intervention step (the candidate tensors grow as K × nodes × K)


def _known(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(labels) & np.isfinite(scores)
    return labels[keep], scores[keep]


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve; NaN when a class is missing (NaN labels are skipped)."""
    y, s = _known(np.asarray(labels, float), np.asarray(scores, float))
    if y.size == 0 or y.min() == y.max():
        return math.nan
    return float(roc_auc_score(y, s))


def auprc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve); NaN without positives."""
    y, s = _known(np.asarray(labels, float), np.asarray(scores, float))
    if y.size == 0 or y.max() == 0:
        return math.nan
    return float(average_precision_score(y, s))


def bootstrap_ci(
    metric: Callable[..., float], arrays: tuple[np.ndarray, ...], n_boot: int, seed: int
) -> tuple[float, float]:
    """Percentile-bootstrap 95 % CI of ``metric(*arrays)`` resampling records with replacement."""
    rng = np.random.default_rng(seed)
    n = arrays[0].shape[0]
    values = [
        metric(*(a[idx] for a in arrays)) for idx in (rng.integers(0, n, n) for _ in range(n_boot))
    ]
    finite = np.array([v for v in values if np.isfinite(v)])
    if finite.size == 0:
        return math.nan, math.nan
    return float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))


def calibration(
    labels: np.ndarray, probabilities: np.ndarray, n_bins: int = ECE_BINS
) -> dict[str, Any]:
    """Expected calibration error and the reliability-diagram bins (equal-width in probability)."""
    y, p = _known(np.asarray(labels, float), np.asarray(probabilities, float))
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        inside = which == b
        if not inside.any():
            continue
        confidence, observed = float(p[inside].mean()), float(y[inside].mean())
        ece += inside.mean() * abs(confidence - observed)
        bins.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": int(inside.sum()),
                "mean_predicted": confidence,
                "observed": observed,
            }
        )
    return {"ece": float(ece), "bins": bins}


def concept_metrics(
    predicted: np.ndarray, true: np.ndarray, sd: np.ndarray | None = None
) -> dict[str, dict[str, Any]]:
    """Per concept: MAE in registry units (continuous) or AUROC (binary), and records scored.

    Args:
        predicted: ``[n, K]`` predicted values (binary: probability).
        true: ``[n, K]`` true values, NaN unknown.
        sd: ``[n, K]`` predicted SDs; adds ``coverage_95``, the share of true continuous values
            within ±1.96 SD of the prediction (0.95 when the uncertainty is calibrated).
    """
    metrics: dict[str, dict[str, Any]] = {}
    for k, concept in enumerate(REGISTRY):
        known = np.isfinite(true[:, k])
        entry: dict[str, Any] = {
            "kind": concept.kind.value,
            "unit": concept.unit,
            "n": int(known.sum()),
        }
        if not known.any():
            metrics[concept.name] = entry
            continue
        if concept.is_binary:
            entry["auroc"] = auroc(true[known, k], predicted[known, k])
            entry["prevalence"] = float(true[known, k].mean())
        else:
            error = np.abs(predicted[known, k] - true[known, k])
            entry["mae"] = float(error.mean())
            if sd is not None:
                entry["coverage_95"] = float((error <= 1.96 * sd[known, k]).mean())
        metrics[concept.name] = entry
    return metrics


def _roc_points(
    labels: np.ndarray, scores: np.ndarray, n_points: int = 101
) -> dict[str, list[float]]:
    y, s = _known(labels, scores)
    if y.size == 0 or y.min() == y.max():
        return {"fpr": [], "tpr": []}
    fpr, tpr, _ = roc_curve(y, s)
    grid = np.linspace(0, 1, n_points)
    return {"fpr": grid.round(4).tolist(), "tpr": np.interp(grid, fpr, tpr).round(4).tolist()}


def task_report(
    labels: np.ndarray, probabilities: np.ndarray, n_boot: int, seed: int
) -> dict[str, Any]:
    """AUROC/AUPRC with bootstrap CIs, calibration and ROC points for one task."""
    y, p = _known(labels, probabilities)
    return {
        "n": int(y.size),
        "prevalence": float(y.mean()) if y.size else math.nan,
        "auroc": {"value": auroc(y, p), "ci95": bootstrap_ci(auroc, (y, p), n_boot, seed)},
        "auprc": {"value": auprc(y, p), "ci95": bootstrap_ci(auprc, (y, p), n_boot, seed + 1)},
        "calibration": calibration(y, p),
        "roc": _roc_points(y, p),
    }


def _auroc_difference(
    labels: np.ndarray, model: np.ndarray, baseline: np.ndarray, n_boot: int, seed: int
) -> dict[str, Any]:
    """Model AUROC minus baseline AUROC on the same records, paired-bootstrap 95 % CI."""
    keep = np.isfinite(labels)
    arrays = (labels[keep], model[keep], baseline[keep])

    def difference(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return auroc(y, a) - auroc(y, b)

    return {"value": difference(*arrays), "ci95": bootstrap_ci(difference, arrays, n_boot, seed)}


def _head_probabilities(model: ConceptModel, batch: HeadBatch) -> torch.Tensor:
    """``[B, T]`` task probabilities of a head batch."""
    return torch.sigmoid(
        model.decide(
            batch.values, batch.sex, batch.age_years, batch.positive, batch.negative
        )
    )


def intervention_curve(
    model: ConceptModel,
    batch: HeadBatch,
    true: torch.Tensor,
    labels: np.ndarray,
    oracle_probability: np.ndarray,
    policy: Policy,
    task_index: int,
    max_steps: int,
    seed: int,
) -> tuple[list[float], list[float]]:
    """Task AUROC, and the mean absolute distance of each record's risk from its risk with every
    concept true (``oracle_probability`` ``[B]``), after 0…``max_steps`` concepts replaced by
    their true values, per record.

    At each step every record gets the concept its policy ranks highest among the primary
    concepts not yet replaced (and with a known true value); derived ones follow from them.
    The distance measures what a clinician's checks are for — bringing this patient's risk to
    what the true concepts give — and moves even where the AUROC cannot (a network whose
    concepts already rank patients as well as the true ones).
    """
    rng = np.random.default_rng(seed)
    unknown = ~true.isfinite() | model.space.is_derived

    def measure() -> tuple[float, float]:
        probability = _head_probabilities(model, batch)[:, task_index].numpy()
        return auroc(labels, probability), float(np.abs(probability - oracle_probability).mean())

    first_auroc, first_gap = measure()
    curve, gap = [first_auroc], [first_gap]
    for _ in range(max_steps):
        parts = []
        for start in range(0, batch.values.shape[0], _CHUNK):
            part = batch.select(slice(start, start + _CHUNK))
            scores = policy_scores(model, part, policy, task_index, rng)
            scores = torch.where(unknown[start : start + _CHUNK], -math.inf, scores)
            choice = torch.zeros_like(part.overridden)
            has_candidate = scores.isfinite().any(dim=1)
            choice[has_candidate, scores.argmax(dim=1)[has_candidate]] = True
            parts.append(
                part.with_values(model.space, choice, true[start : start + _CHUNK].nan_to_num(0.0))
            )
        batch = HeadBatch(
            *(torch.cat([getattr(p, f) for p in parts]) for f in HeadBatch.__dataclass_fields__)
        )
        step_auroc, step_gap = measure()
        curve.append(step_auroc)
        gap.append(step_gap)
    return curve, gap


def intervention_report(
    model: ConceptModel,
    batch: HeadBatch,
    true_concepts: np.ndarray,
    labels: np.ndarray,
    max_steps: int,
    seed: int,
) -> dict[str, Any]:
    """Intervention curves of every policy for every task, with the all-concepts-true oracle:
    AUROC and the mean distance of the risk from the oracle's (``risk_gap_to_oracle``)."""
    true = torch.as_tensor(true_concepts, dtype=torch.float32)
    known_measured = true.isfinite() & model.space.is_measured
    oracle = batch.with_values(model.space, known_measured, true.nan_to_num(0.0))
    oracle_probabilities = _head_probabilities(model, oracle).numpy()
    report: dict[str, Any] = {}
    with torch.inference_mode():
        for j, task in enumerate(TASKS):
            curves: dict[str, list[float]] = {}
            gaps: dict[str, list[float]] = {}
            for policy in POLICIES:
                repeats = RANDOM_REPEATS if policy == "random" else 1
                runs = [
                    intervention_curve(
                        model, batch, true, labels[:, j], oracle_probabilities[:, j], policy, j,
                        max_steps, seed + r,
                    )
                    for r in range(repeats)
                ]
                curves[policy] = np.mean([c for c, _ in runs], axis=0).round(5).tolist()
                gaps[policy] = np.mean([g for _, g in runs], axis=0).round(5).tolist()
            oracle_auroc = auroc(labels[:, j], oracle_probabilities[:, j])
            at = min(3, max_steps)
            report[task.name] = {
                "oracle_auroc": oracle_auroc,
                "no_intervention_auroc": curves["random"][0],
                "curves": curves,
                "risk_gap_to_oracle": gaps,
                f"recovery_at_{at}": {p: c[at] / oracle_auroc for p, c in curves.items()},
            }
    return report


def leakage_report(model: ConceptModel, batch: HeadBatch, labels: np.ndarray) -> dict[str, Any]:
    """Task AUROC with soft versus hardened (0/1) measured binary concepts."""
    soft = _head_probabilities(model, batch).numpy()
    measured_binary = model.space.is_binary & model.space.is_measured
    hard_values = torch.where(measured_binary, (batch.values >= 0.5).float(), batch.values)
    hard = _head_probabilities(
        model, HeadBatch(**{**batch.__dict__, "values": hard_values})
    ).numpy()
    report = {}
    for j, task in enumerate(TASKS):
        soft_auc, hard_auc = auroc(labels[:, j], soft[:, j]), auroc(labels[:, j], hard[:, j])
        report[task.name] = {
            "soft_auroc": soft_auc,
            "hard_auroc": hard_auc,
            "difference": soft_auc - hard_auc,
        }
    return report


def clinical_rule_report(qtc_ms: np.ndarray, sex: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """QTc above the sex-specific limit as a classifier (AUROC of QTc − limit; sens./spec.)."""
    limit = np.where(
        sex == SEX_FEMALE,
        qtc_fridericia_threshold_ms("female"),
        np.where(
            sex == SEX_MALE, qtc_fridericia_threshold_ms("male"), qtc_fridericia_threshold_ms(None)
        ),
    )
    margin = qtc_ms - limit
    report = {}
    for j, task in enumerate(TASKS):
        y, m = _known(labels[:, j], margin)
        positive = m > 0
        report[task.name] = {
            "auroc": auroc(y, m),
            "sensitivity": float(positive[y == 1].mean()) if (y == 1).any() else math.nan,
            "specificity": float((~positive)[y == 0].mean()) if (y == 0).any() else math.nan,
        }
    return report


def _scored_inputs(
    bundle: LoadedBundle, data: ConceptDataset, split: str
) -> tuple[InputBatch, np.ndarray]:
    index = np.arange(len(data)) if split == "all" else data.indices(split)
    if index.size == 0:
        raise ValueError(f"the data has no {split} split ({data.split_sizes()})")
    inputs = InputBatch(
        signal=standardise(data.signals_mv[index], data.lead_mask[index], bundle.spec),
        lead_mask=data.lead_mask[index].astype(bool),
        sex=data.sex[index].astype(np.int64),
        age_years=data.age_years[index].astype(np.float32),
    )
    return inputs, index


def _bundle_summary(bundle: LoadedBundle) -> dict[str, Any]:
    return {
        "path": str(bundle.path),
        "sha256": bundle.checksum,
        "variant": bundle.variant,
        "version": bundle.version,
    }


def evaluate(
    bundle_path: Path,
    out_dir: Path,
    *,
    request: DataRequest | None = None,
    baseline_path: Path | None = None,
    device: str = "auto",
    n_boot: int = 1000,
    max_interventions: int | None = None,
    seed: int = 0,
    split: str = "test",
    dataset: ConceptDataset | None = None,
) -> dict[str, Any]:
    """Evaluate a bundle; write ``evaluation.json`` and ``report.html`` to ``out_dir``.

    Args:
        bundle_path: the bundle to evaluate.
        out_dir: output directory (created).
        request: the data; default = the data recorded in the bundle card (its test split is
            the bundle's held-out set).
        baseline_path: a second bundle (e.g. the black box) scored on the same records.
        device: where the networks run.
        n_boot: bootstrap resamples per CI.
        max_interventions: longest intervention curve (default: every concept).
        seed: seed of the bootstrap and the random policy.
        split: ``"test"``, or ``"all"`` records — only for data the bundle was not trained on
            (another source or seed).
        dataset: the data itself, when the caller already holds it.

    Returns:
        The report written to ``evaluation.json``.

    Raises:
        ValueError: ``split="all"`` on the bundle's own training data, or data without the split.
    """
    bundle = load_bundle(bundle_path, device)
    own = DataRequest.from_dict(bundle.card["data"])
    request = own if request is None else request
    if split not in ("test", "all"):
        raise ValueError(f"split must be 'test' or 'all', got {split!r}")
    if split == "all" and (request.source, request.seed) == (own.source, own.seed):
        raise ValueError(
            "split 'all' would score the bundle's own training records; "
            "use fresh data (another --data-seed) or the test split"
        )
    data = dataset if dataset is not None else load_dataset(request)
    inputs, index = _scored_inputs(bundle, data, split)
    labels = data.labels[index].astype(np.float64)
    true_concepts = data.concepts[index].astype(np.float32)
    output = run_batched(bundle.model, inputs, bundle.device)
    probabilities = torch.sigmoid(output.task_logits).numpy()
    report: dict[str, Any] = {
        "bundle": _bundle_summary(bundle),
        "data": {**request.to_dict(), "split": split, "n_records": int(index.size)},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "device": str(bundle.device),
        "n_bootstrap": n_boot,
        "seed": seed,
        "tasks": {
            t.name: task_report(labels[:, j], probabilities[:, j], n_boot, seed)
            for j, t in enumerate(TASKS)
        },
        "baseline": None,
    }
    if baseline_path is not None:
        baseline = load_bundle(baseline_path, device)
        base_probabilities = torch.sigmoid(
            run_batched(baseline.model, inputs, baseline.device).task_logits
        ).numpy()
        report["baseline"] = {
            "bundle": _bundle_summary(baseline),
            "tasks": {
                t.name: task_report(labels[:, j], base_probabilities[:, j], n_boot, seed)
                for j, t in enumerate(TASKS)
            },
            "auroc_difference": {
                t.name: _auroc_difference(
                    labels[:, j], probabilities[:, j], base_probabilities[:, j], n_boot, seed
                )
                for j, t in enumerate(TASKS)
            },
        }
    qtc = concept_names().index(DEFAULT_QTC)
    report["clinical_rule"] = {
        "measured": clinical_rule_report(true_concepts[:, qtc], inputs.sex, labels)
    }
    if bundle.has_concepts:
        model = bundle.concept_model()
        report.update(
            _concept_sections(model, output, inputs, true_concepts, labels, max_interventions, seed)
        )
        report["clinical_rule"]["predicted"] = clinical_rule_report(
            output.concept_values[:, qtc].numpy(), inputs.sex, labels
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / EVALUATION_FILE).write_text(json.dumps(json_ready(report), indent=2) + "\n")
    write_html(report, out_dir / REPORT_FILE, true_concepts, output)
    return report


def _concept_sections(
    model: ConceptModel,
    output: ModelOutput,
    inputs: InputBatch,
    true_concepts: np.ndarray,
    labels: np.ndarray,
    max_interventions: int | None,
    seed: int,
) -> dict[str, Any]:
    batch = HeadBatch.from_output(
        model, output, torch.as_tensor(inputs.sex), torch.as_tensor(inputs.age_years)
    )
    steps = model.space.n_concepts if max_interventions is None else max_interventions
    with torch.inference_mode():
        return {
            "concepts": concept_metrics(
                output.concept_values.numpy(), true_concepts, uncertainty(model, batch)[0].numpy()
            ),
            "interventions": intervention_report(model, batch, true_concepts, labels, steps, seed),
            "leakage": leakage_report(model, batch, labels),
        }


def json_ready(value: Any) -> Any:
    """NaN → null, tuples → lists, numpy scalars → floats, recursively."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_html(
    report: dict[str, Any], path: Path, true_concepts: np.ndarray, output: ModelOutput
) -> None:
    """A standalone HTML report (plotly.js inlined from the installed ``plotly`` package)."""
    from plotly.offline import get_plotlyjs

    figures = [figure for task in TASKS for figure in _task_figures(report, task.name)]
    if "concepts" in report:
        figures.append(_qtc_figure(report, true_concepts, output))
    sections = "\n".join(
        f"<section><h2>{html.escape(title)}</h2>"
        f"{figure.to_html(full_html=False, include_plotlyjs=False)}</section>"
        for title, figure in figures
    )
    version = html.escape(report["bundle"]["version"])
    data = report["data"]
    path.write_text(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>QTLens evaluation — {version}</title>
<script>{get_plotlyjs()}</script>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}</style>
</head><body><h1>QTLens evaluation: {version}</h1>
<p>Research use only — not a medical device. Data: {html.escape(data["source"])}
(seed {data["seed"]}), {html.escape(data["split"])} split, {data["n_records"]} records.
Bundle SHA-256 {html.escape(report["bundle"]["sha256"])}.</p>
{_summary_table(report)}
{sections}
</body></html>
"""
    )


def diagonal_line(name: str) -> Any:
    """The dotted identity line of ROC and reliability plots."""
    import plotly.graph_objects as go

    return go.Scatter(
        x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name=name
    )


def _task_figures(report: dict[str, Any], task: str) -> list[tuple[str, Any]]:
    """ROC (model, baseline), reliability diagram and intervention curves of one task."""
    import plotly.graph_objects as go

    label = next(t.label for t in TASKS if t.name == task)
    entry = report["tasks"][task]
    runs = [(report["bundle"]["variant"], entry)]
    if report["baseline"]:
        runs.append((report["baseline"]["bundle"]["variant"], report["baseline"]["tasks"][task]))
    roc = go.Figure(
        [
            go.Scatter(
                x=e["roc"]["fpr"], y=e["roc"]["tpr"], name=f"{n} (AUROC {e['auroc']['value']:.3f})"
            )
            for n, e in runs
        ]
        + [diagonal_line("chance")]
    )
    roc.update_layout(xaxis_title="1 − specificity", yaxis_title="sensitivity")
    bins = entry["calibration"]["bins"]
    reliability = go.Figure(
        [
            go.Scatter(
                x=[b["mean_predicted"] for b in bins],
                y=[b["observed"] for b in bins],
                mode="lines+markers",
                name="model",
                text=[f"{b['count']} records" for b in bins],
            ),
            diagonal_line("perfect calibration"),
        ]
    )
    reliability.update_layout(xaxis_title="predicted probability", yaxis_title="observed frequency")
    figures = [
        (f"ROC — {label}", roc),
        (f"Reliability — {label} (ECE {entry['calibration']['ece']:.3f})", reliability),
    ]
    if "interventions" in report:
        curves = report["interventions"][task]
        figure = _policy_figure(curves["curves"], "AUROC")
        figure.add_hline(
            y=curves["oracle_auroc"], line_dash="dot", annotation_text="all concepts true"
        )
        figures.append((f"Interventions — {label}", figure))
        gaps = _policy_figure(curves["risk_gap_to_oracle"], "mean |risk − all-true risk|")
        figures.append((f"Distance of each risk from its all-concepts-true risk — {label}", gaps))
    return figures


def _policy_figure(series: dict[str, list[float]], y_title: str) -> Any:
    """One line per "Check next" policy against the number of concepts replaced by their true
    values (``series``: policy → value after 0, 1, 2… replacements)."""
    import plotly.graph_objects as go

    figure = go.Figure(
        [
            go.Scatter(x=list(range(len(v))), y=v, mode="lines+markers", name=policy)
            for policy, v in series.items()
        ]
    )
    figure.update_layout(xaxis_title="concepts replaced by their true values", yaxis_title=y_title)
    return figure


def _qtc_figure(
    report: dict[str, Any], true_concepts: np.ndarray, output: ModelOutput
) -> tuple[str, Any]:
    """Predicted against true QTc (Fridericia), one dot per record."""
    import plotly.graph_objects as go

    k = concept_names().index(DEFAULT_QTC)
    figure = go.Figure(
        go.Scatter(
            x=true_concepts[:, k],
            y=output.concept_values[:, k].numpy(),
            mode="markers",
            marker={"size": 4},
            name="records",
        )
    )
    figure.update_layout(xaxis_title="true QTc (ms)", yaxis_title="predicted QTc (ms)")
    mae = report["concepts"][DEFAULT_QTC]["mae"]
    return f"QTc (Fridericia): predicted vs true — MAE {mae:.1f} ms", figure


def _summary_table(report: dict[str, Any]) -> str:
    """The headline numbers as an HTML table."""
    rows = []
    for task in TASKS:
        entry = report["tasks"][task.name]
        low, high = entry["auroc"]["ci95"]
        cells = [
            task.label,
            f"{entry['auroc']['value']:.3f} ({low:.3f}–{high:.3f})",
            f"{entry['auprc']['value']:.3f}",
            f"{entry['calibration']['ece']:.3f}",
            f"{report['clinical_rule']['measured'][task.name]['auroc']:.3f}",
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>" for h in ("task", "AUROC (95 % CI)", "AUPRC", "ECE", "QTc rule AUROC")
    )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"
