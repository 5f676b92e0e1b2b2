"""``qtlens compare``: the concept bottleneck model against a black box explained post hoc.

Both bundles are run on the same records (fresh synthetic data, or LUDB) and every section of
the report is computed for both, so the two routes to an explanation can be judged side by side:

1. **Task performance** — AUROC/AUPRC with bootstrap CIs and calibration
   (:func:`models.evaluate.task_report`); synthetic data only (LUDB has no risk labels).
2. **Concept fidelity** — the CBM's concept accuracy (MAE, AUROC; :func:`models.evaluate.
   concept_metrics`) beside the TCAV sensitivity of both models to the same concepts
   (:mod:`models.explain.tcav`): does the black box use QTc the way the CBM is forced to?
3. **Localisation** — share of the attribution mass in the QRS, QT interval, ST–T segment and
   T wave against each region's share of the signal, per method (:mod:`models.explain.
   metrics`), from the generator's fiducials or LUDB's annotations.
4. **Faithfulness** — deletion and insertion curves per method against a random ordering.
5. **Model randomisation** — Adebayo et al. 2018's cascading sanity check per method.
6. **Shortcut detection** (synthetic data with ``--shortcut``) — per method, whether the
   attribution concentrates on the spike sites when the spike is there (enrichment over the
   sites' share of the signal, and a Mann–Whitney test against the same sites in records
   without the spike), and TCAV on the ``shortcut`` concept.
7. **Value of interventions** (CBM) — task AUROC as concepts are replaced by their true values
   (:func:`models.evaluate.intervention_report`).

Everything is seeded; the report states both bundles' checksums and training-data seeds, the
data seed and every setting, in ``compare.json`` and a standalone ``compare.html`` (Plotly,
plotly.js inlined from the installed package).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from models.bundle import LoadedBundle, code_version, load_bundle
from models.concepts import concept_names
from models.evaluate import concept_metrics, intervention_report, json_ready, task_report
from models.explain.attributions import (
    Attribution,
    AttributionOptions,
    ExplainableModel,
    explain,
    explainable,
    method_names,
    model_inputs,
)
from models.explain.data import ExplainData, ludb_data, synthetic_data
from models.explain.metrics import (
    RegionMasks,
    cascade_blocks,
    faithfulness,
    localisation,
    model_randomisation,
    shortcut_exposure,
)
from models.explain.tcav import DEFAULT_CONCEPT_SETS, TcavConfig, default_layers, run_tcav
from models.intervene import HeadBatch
from models.nets.batching import InputBatch, run_batched
from models.nets.model import ModelOutput
from models.tasks import TASKS

REPORT_JSON = "compare.json"
REPORT_HTML = "compare.html"
COMPARE_SOURCES: tuple[str, ...] = ("synthetic", "ludb")

#: A method exposes the shortcut when its attribution share at the spike sites is this many
#: times the sites' share of the signal (records with the spike) — input-multiplying methods
#: put more mass on any large deflection, so presence alone is not enough; a model that never
#: saw the spike stays near 1.
EXPOSURE_ENRICHMENT = 1.5


@dataclass(frozen=True)
class CompareConfig:
    """Settings of a comparison.

    Attributes:
        data: ``synthetic`` or ``ludb``.
        n_records: records generated (synthetic) or read (LUDB, at most 60 in the development
            set); all of them feed TCAV's example sets.
        data_seed: synthetic generator seed (default: one above the bundles' training seeds).
        shortcut: add the generator's label-correlated spike (synthetic).
        label_model: synthetic label model (default: the CBM's training data's).
        target: task explained (attributions, TCAV, faithfulness).
        methods: attribution methods compared.
        n_explain: records attributed for localisation, faithfulness and shortcut detection.
        n_sanity: records attributed at every step of the randomisation check.
        tcav_inputs: records whose directional derivatives give the TCAV scores.
        tcav: TCAV settings (repeats, example-set size, layers, cache).
        attribution: method settings (IG steps…).
        n_boot: bootstrap resamples per confidence interval.
        max_interventions: longest intervention curve.
        seed: seed of the bootstrap, the random orderings and the randomisation check.
        device: where the networks run.
    """

    data: str = "synthetic"
    n_records: int = 200
    data_seed: int | None = None
    shortcut: bool = False
    label_model: str | None = None
    target: str = "lqts_risk"
    methods: tuple[str, ...] = field(default_factory=method_names)
    n_explain: int = 32
    n_sanity: int = 4
    tcav_inputs: int = 50
    tcav: TcavConfig = field(default_factory=TcavConfig)
    attribution: AttributionOptions = field(default_factory=lambda: AttributionOptions(n_steps=32))
    n_boot: int = 200
    max_interventions: int = 5
    seed: int = 0
    device: str = "cpu"


@dataclass
class _Explained:
    """One bundle with everything its sections share."""

    role: str
    bundle: LoadedBundle
    net: ExplainableModel
    batch: InputBatch
    masks: RegionMasks
    output: ModelOutput
    attributions: dict[str, Attribution] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, Any]:
        """Path, checksum, variant and training data of the bundle, for the report."""
        data = self.bundle.card.get("data", {})
        return {
            "role": self.role,
            "path": str(self.bundle.path),
            "sha256": self.bundle.checksum,
            "variant": self.bundle.variant,
            "version": self.bundle.version,
            "training_data": {k: data.get(k) for k in ("source", "seed", "n_records", "options")},
        }


def _training_seeds(bundles: list[LoadedBundle]) -> set[int]:
    return {
        int(b.card["data"]["seed"])
        for b in bundles
        if b.card.get("data", {}).get("source") == "synthetic"
    }


def load_data(
    config: CompareConfig,
    cbm: LoadedBundle,
    blackbox: LoadedBundle,
    progress: Callable[[int], object],
) -> ExplainData:
    """The records both bundles are compared on.

    Raises:
        ValueError: an unknown source, bundles with different input rates or lengths, or a data
            seed a bundle was trained on.
    """
    if config.data not in COMPARE_SOURCES:
        raise ValueError(f"unknown data {config.data!r}; use one of {', '.join(COMPARE_SOURCES)}")
    if (cbm.spec.fs_hz, cbm.spec.duration_s) != (blackbox.spec.fs_hz, blackbox.spec.duration_s):
        raise ValueError(
            f"the bundles read different inputs ({cbm.spec.fs_hz} Hz × {cbm.spec.duration_s} s vs "
            f"{blackbox.spec.fs_hz} Hz × {blackbox.spec.duration_s} s); compare bundles trained "
            "at the same rate and length"
        )
    if config.data == "ludb":
        return ludb_data(config.n_records, progress=progress)
    trained_on = _training_seeds([cbm, blackbox])
    seed = config.data_seed if config.data_seed is not None else max(trained_on, default=-1) + 1
    if seed in trained_on:
        raise ValueError(
            f"data seed {seed} generated a bundle's training records; pick another --data-seed"
        )
    label_model = config.label_model or cbm.card.get("data", {}).get("options", {}).get(
        "label_model", "full"
    )
    return synthetic_data(
        config.n_records,
        seed,
        fs_hz=cbm.spec.fs_hz,
        duration_s=cbm.spec.duration_s,
        shortcut=config.shortcut,
        label_model=label_model,
        progress=progress,
    )


def _prepare(role: str, bundle: LoadedBundle, data: ExplainData) -> _Explained:
    batch, start_s = model_inputs(data.ecgs, bundle.spec)
    return _Explained(
        role=role,
        bundle=bundle,
        net=explainable(bundle),
        batch=batch,
        masks=data.region_masks(start_s, bundle.spec.fs_hz, bundle.spec.n_samples),
        output=run_batched(bundle.model, batch, bundle.device),
    )


def _performance(model: _Explained, data: ExplainData, config: CompareConfig) -> dict[str, Any]:
    probabilities = torch.sigmoid(model.output.task_logits).numpy()
    return {
        task.name: task_report(
            data.labels[:, j].astype(np.float64), probabilities[:, j], config.n_boot, config.seed
        )
        for j, task in enumerate(TASKS)
    }


def _concept_fidelity(
    cbm: _Explained, data: ExplainData, tcav: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """CBM concept accuracy and, per TCAV concept set, both models' sensitivity."""
    accuracy = concept_metrics(cbm.output.concept_values.numpy(), data.concepts)
    rows = []
    for concept_set in DEFAULT_CONCEPT_SETS:
        row: dict[str, Any] = {
            "concept_set": concept_set.name,
            "description": concept_set.description,
            "concept": concept_set.source if concept_set.source in concept_names() else None,
            "cbm_accuracy": accuracy.get(concept_set.source),
        }
        for role, report in tcav.items():
            last = [
                r
                for r in report["results"]
                if r["concept_set"] == concept_set.name and r["layer"] == report["layers"][-1]
            ]
            row[role] = last[0] if last else {"skipped": report["skipped"].get(concept_set.name)}
        rows.append(row)
    return {"concepts": accuracy, "tcav_vs_cbm": rows}


def _attribute(model: _Explained, config: CompareConfig, bar: Any) -> None:
    records = model.batch.select(slice(0, config.n_explain))
    for method in config.methods:
        bar.set_postfix_str(f"{model.role} {method}")
        model.attributions[method] = explain(
            method, model.net, records, config.target, options=config.attribution
        )
        bar.update(1)


def _subset(masks: RegionMasks, n: int) -> RegionMasks:
    return RegionMasks({k: v[:n] for k, v in masks.regions.items()}, masks.evaluated[:n])


def _localisation(model: _Explained, config: CompareConfig) -> dict[str, Any]:
    """Per method, the wave regions' attribution shares (the shortcut sites have their own
    section) and, for methods with a baseline, the median relative completeness gap."""
    masks = _subset(model.masks, config.n_explain)
    out = {}
    for method, attribution in model.attributions.items():
        found = localisation(attribution, masks)
        gaps = attribution.relative_completeness_gap()
        out[method] = {
            "regions": {r: asdict(v) for r, v in found.items() if r != "shortcut"},
            "completeness_gap_median": None if gaps is None else float(np.median(gaps)),
        }
    return out


def _faithfulness(model: _Explained, config: CompareConfig) -> dict[str, Any]:
    records = model.batch.select(slice(0, config.n_explain))
    target = model.net.target_index(config.target)
    scores = {m: a.values for m, a in model.attributions.items()}
    scores["random"] = np.random.default_rng(config.seed).random(records.signal.shape)
    return {m: asdict(faithfulness(model.net, records, s, target)) for m, s in scores.items()}


def _randomisation(model: _Explained, config: CompareConfig, bar: Any) -> dict[str, Any]:
    bar.set_postfix_str(f"{model.role} randomisation")
    records = model.batch.select(slice(0, config.n_sanity))
    curves = model_randomisation(
        model.net,
        records,
        config.target,
        config.methods,
        config.attribution,
        seed=config.seed,
        progress=lambda: bar.update(1),
    )
    return {m: asdict(c) for m, c in curves.items()}


def _shortcut(
    models: list[_Explained],
    data: ExplainData,
    config: CompareConfig,
    tcav: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Which methods expose the synthetic shortcut, per model (Bonferroni over all tests)."""
    present = np.asarray(data.flags["shortcut"][: config.n_explain], dtype=bool)
    results: dict[str, dict[str, Any]] = {}
    tests = 0
    for model in models:
        results[model.role] = {}
        masks = _subset(model.masks, config.n_explain)
        for method, attribution in model.attributions.items():
            exposure = shortcut_exposure(attribution, masks, present)
            results[model.role][method] = None if exposure is None else asdict(exposure)
            tests += exposure is not None
    alpha = config.tcav.alpha
    for per_method in results.values():
        for entry in per_method.values():
            if entry is None:
                continue
            entry["p_adjusted"] = min(1.0, entry["p_value"] * tests)
            entry["exposed"] = bool(
                entry["p_adjusted"] < alpha and entry["enrichment"] >= EXPOSURE_ENRICHMENT
            )
    tcav_shortcut = {
        role: [r for r in report["results"] if r["concept_set"] == "shortcut"]
        for role, report in tcav.items()
    }
    cbm = next(m for m in models if m.role == "cbm")
    return {
        "records_with_spike": int(present.sum()),
        "records_without_spike": int((~present).sum()),
        "leads": data.provenance.get("shortcut_leads", []),
        "enrichment_threshold": EXPOSURE_ENRICHMENT,
        "attributions": results,
        "exposed_by": {
            role: [m for m, e in per_method.items() if e is not None and e["exposed"]]
            for role, per_method in results.items()
        },
        "tcav": tcav_shortcut,
        "tcav_significant": {
            role: any(r["significant"] for r in rows) for role, rows in tcav_shortcut.items()
        },
        "concept_leakage": _concept_leakage(cbm, data),
    }


def _concept_leakage(cbm: _Explained, data: ExplainData) -> list[dict[str, Any]]:
    """How the spike moves the CBM's concept estimates: per measured continuous concept, the
    mean error (predicted − true) with the spike minus without it (Welch t-test), largest
    standardised shift first. A shortcut that reaches the concepts biases what the clinician
    reads, which interventions then have to undo."""
    from scipy.stats import ttest_ind

    space = cbm.bundle.concept_model().space
    error = cbm.output.concept_values.numpy() - data.concepts
    present = np.asarray(data.flags["shortcut"], dtype=bool)
    rows = []
    for k, name in enumerate(space.names):
        if bool(space.is_binary[k]) or bool(space.is_derived[k]):
            continue
        with_spike, without = error[present, k], error[~present, k]
        with_spike, without = with_spike[np.isfinite(with_spike)], without[np.isfinite(without)]
        if with_spike.size < 2 or without.size < 2:
            continue
        shift = float(with_spike.mean() - without.mean())
        rows.append(
            {
                "concept": name,
                "shift": shift,
                "shift_sd": shift / float(space.sd[k]),
                "p_value": float(ttest_ind(with_spike, without, equal_var=False).pvalue),
            }
        )
    return sorted(rows, key=lambda row: -abs(row["shift_sd"]))


def _interventions(cbm: _Explained, data: ExplainData, config: CompareConfig) -> dict[str, Any]:
    model = cbm.bundle.concept_model()
    batch = HeadBatch.from_output(
        model, cbm.output, torch.as_tensor(cbm.batch.sex), torch.as_tensor(cbm.batch.age_years)
    )
    with torch.inference_mode():
        return intervention_report(
            model,
            batch,
            data.concepts,
            data.labels.astype(np.float64),
            config.max_interventions,
            config.seed,
        )


def _steps(config: CompareConfig, models: list[_Explained]) -> int:
    """Progress-bar units (an upper bound): each model's attributions, randomisation steps and
    TCAV CAVs (concept and random sets × layers)."""
    methods = len(config.methods)
    total = 0
    for model in models:
        layers = len(config.tcav.layers or default_layers(model.net))
        cavs = (len(DEFAULT_CONCEPT_SETS) + 1) * config.tcav.repeats * layers
        total += methods * (1 + len(cascade_blocks(model.net))) + cavs
    return total


def compare(
    cbm_path: Path,
    blackbox_path: Path,
    out_dir: Path,
    config: CompareConfig | None = None,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Compare a CBM bundle with a black-box bundle; write ``compare.json`` and ``compare.html``.

    Args:
        cbm_path: a concept bottleneck bundle (joint, sequential, independent, CEM).
        blackbox_path: the bundle explained post hoc (normally the ``blackbox`` variant).
        out_dir: output directory (created).
        config: what to compute (data, methods, sizes, seeds).
        progress: show progress bars.

    Returns:
        The report written to ``compare.json``.

    Raises:
        ValueError: a CBM bundle without concepts, mismatched bundles, an unknown method, target
            or data source, or a data seed a bundle was trained on.
        BundleError: a bundle that does not load.
    """
    config = config or CompareConfig()
    unknown = [m for m in config.methods if m not in method_names()]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; use {', '.join(method_names())}")
    cbm_bundle = load_bundle(cbm_path, config.device)
    blackbox_bundle = load_bundle(blackbox_path, config.device)
    if not cbm_bundle.has_concepts:
        raise ValueError(f"--cbm {cbm_path} is a {cbm_bundle.variant} bundle without concepts")
    explainable(blackbox_bundle).target_index(config.target)
    with tqdm(total=config.n_records, desc="data", unit="record", disable=not progress) as bar:
        data = load_data(config, cbm_bundle, blackbox_bundle, bar.update)
    config = replace(config, n_explain=min(config.n_explain, len(data)))
    models = [_prepare("cbm", cbm_bundle, data), _prepare("blackbox", blackbox_bundle, data)]
    report: dict[str, Any] = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "bundles": {m.role: m.summary for m in models},
        "data": dict(data.provenance),
        "config": json_ready(json.loads(json.dumps(asdict(config), default=str))),
    }
    flags = dict(data.flags)
    with tqdm(total=_steps(config, models), desc="compare", disable=not progress) as bar:
        report["performance"] = (
            {m.role: _performance(m, data, config) for m in models}
            if data.has_labels
            else {"skipped": f"{data.source} has no risk labels"}
        )
        tcav = {}
        for model in models:
            bar.set_postfix_str(f"{model.role} TCAV")
            tcav[model.role] = run_tcav(
                model.bundle,
                model.batch,
                data.concepts,
                model.batch.select(slice(0, config.tcav_inputs)),
                config.target,
                DEFAULT_CONCEPT_SETS,
                config.tcav,
                flags=flags,
                progress=bar.update,
            ).to_dict()
        report["tcav"] = tcav
        report["concept_fidelity"] = _concept_fidelity(models[0], data, tcav)
        for model in models:
            _attribute(model, config, bar)
        report["localisation"] = {m.role: _localisation(m, config) for m in models}
        report["faithfulness"] = {m.role: _faithfulness(m, config) for m in models}
        report["randomisation"] = {m.role: _randomisation(m, config, bar) for m in models}
        report["shortcut"] = (
            _shortcut(models, data, config, tcav)
            if "shortcut" in flags
            else {"skipped": "no shortcut artefact in this data (synthetic data with --shortcut)"}
        )
        report["interventions"] = (
            _interventions(models[0], data, config)
            if data.has_labels
            else {"skipped": f"{data.source} has no risk labels"}
        )
    report = json_ready(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / REPORT_JSON).write_text(json.dumps(report, indent=2) + "\n")
    from models.explain.report import write_report

    write_report(report, out_dir / REPORT_HTML)
    return report


def headline(report: dict[str, Any]) -> list[str]:
    """A few lines summarising a comparison for the terminal."""
    lines = []
    performance = report["performance"]
    if "skipped" not in performance:
        for role, tasks in performance.items():
            aurocs = ", ".join(f"{t} {e['auroc']['value']:.3f}" for t, e in tasks.items())
            lines.append(f"{role}: AUROC {aurocs}")
    for role, tcav in report["tcav"].items():
        significant = sorted({r["concept_set"] for r in tcav["results"] if r["significant"]})
        lines.append(f"{role}: TCAV significant for {', '.join(significant) or 'no concept'}")
    shortcut = report["shortcut"]
    if "skipped" not in shortcut:
        for role, methods in shortcut["exposed_by"].items():
            lines.append(f"{role}: shortcut exposed by {', '.join(methods) or 'no method'}")
    return lines
