"""Model bundles: one directory holding everything needed to run a trained QTLens model.

Layout::

    weights.safetensors   model parameters and buffers (incl. concept mean/SD, age mean/SD)
    card.json             model card: variant, config, concepts (unit, mean, SD), tasks, training
                          data, split, seed, metrics, intended use, limitations, code version
    preprocessing.json    the input rule (:mod:`models.nets.inputs`): rate, length, lead order,
                          per-lead scale, crop/pad and standardisation rules
    heads/<task>.json     optional: a task head learned elsewhere that replaces the network's
                          own head for that task (:mod:`models.heads`)
    SHA256SUMS            ``sha256sum`` lines for every file above

**Task heads.** The card's ``task_heads`` section says, per task, which head is in force and what
data it was learned from::

    "task_heads": {
      "lqts_risk": {"kind": "network", "learned_from": "joint network head trained on …"},
      "tdp_risk": {"kind": "logistic", "file": "heads/tdp_risk.json",
                   "learned_from": "logistic head on one ECG, learned on ECGRDVQ (6 subjects, …)",
                   "features": [...], "evaluation": {...}, "limitations": [...],
                   "replaces": {"kind": "network", "learned_from": "…", "note": "…"},
                   "change_head": {"file": "heads/tdp_risk.change.json", "learned_from": "…",
                                   "features": [...], "evaluation": {...}, ...}}}

A ``change_head`` reads change concepts of an ECG and its baseline (:mod:`models.change`); the
app reads it instead of the head for an ECG whose series has a baseline ECG
(:attr:`LoadedBundle.change_heads`).

A card without the section (every bundle ``qtlens train`` writes) carries the network's heads
for every task (:func:`task_heads`). ``qtlens compose-bundle`` writes composed bundles.

The bundle's identity is the SHA-256 of ``SHA256SUMS`` (:attr:`LoadedBundle.checksum`);
predictions carry it, so every number is traceable to the exact weights. :func:`load_bundle`
verifies every file before reading it: an edited or corrupted bundle fails with
:class:`BundleIntegrityError` naming the file (``sha256sum -c SHA256SUMS`` checks the same from a
shell).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.metadata
import json
import math
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from models.concepts import concept_names, get_concept
from models.ecg.errors import MalformedEcg
from models.ecg.record import STANDARD_LEADS, Ecg
from models.heads.logistic import ComposedConceptModel, TaskHead
from models.heads.points import POINTS_KIND, load_task_head, points_from_logit
from models.nets.batching import InputBatch, resolve_device, run_batched
from models.nets.inputs import InputSpec
from models.nets.model import (
    ConceptModel,
    HeadExplanation,
    ModelConfig,
    ModelOutput,
    RiskModel,
)
from models.nets.ood import HIGH_PERCENTILE, input_descriptors
from models.nets.prediction import (
    ConceptEstimate,
    HeadState,
    ModelPrediction,
    OodScore,
    TaskRisk,
)
from models.nets.registry import create_model, get_variant
from models.tasks import TASKS, Bands, RiskBand, get_task, task_names

WEIGHTS_FILE = "weights.safetensors"
CARD_FILE = "card.json"
PREPROCESSING_FILE = "preprocessing.json"
CHECKSUM_FILE = "SHA256SUMS"
BUNDLE_FILES: tuple[str, ...] = (WEIGHTS_FILE, CARD_FILE, PREPROCESSING_FILE)
HEADS_DIR = "heads"
#: ``kind`` of a card's task-head entry: the network's own linear head, a logistic head file, or
#: a fixed-weight points head file (published criteria, :mod:`models.heads.points`).
NETWORK_HEAD = "network"
LOGISTIC_HEAD = "logistic"
POINTS_HEAD = POINTS_KIND
#: Entry kinds whose head lives in a file under ``heads/``.
FILE_HEADS: tuple[str, ...] = (LOGISTIC_HEAD, POINTS_HEAD)

INTENDED_USE = (
    "Research use only — not a medical device. QTLens estimates Long-QT and drug-induced "
    "Torsade-de-Pointes risk from a 12-lead ECG and explains it through expert concepts, for "
    "research on interpretable ECG models and on clinician interventions. It must not be used "
    "to diagnose, treat or triage patients."
)

#: Records per forward pass in :meth:`LoadedBundle.predict`.
PREDICT_BATCH_SIZE = 32


class BundleError(ValueError):
    """A directory that is not a usable QTLens model bundle."""


class BundleIntegrityError(BundleError):
    """A bundle file whose SHA-256 differs from ``SHA256SUMS``: edited or corrupted."""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _git(*args: str) -> str:
    """Output of a git command run in the source tree."""
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10
    )
    return result.stdout.strip()


def code_version() -> str:
    """``qtlens <version> (<git commit>[+dirty])`` of the code that is running."""
    try:
        version = importlib.metadata.version("qtlens")
    except importlib.metadata.PackageNotFoundError:
        version = "source"
    try:
        commit = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return f"qtlens {version}"
    return f"qtlens {version} ({commit}{'+dirty' if dirty else ''})"


def save_bundle(out_dir: Path, model: RiskModel, card: dict[str, Any], spec: InputSpec) -> str:
    """Write a bundle to ``out_dir`` (created if needed); returns its checksum.

    Args:
        out_dir: bundle directory.
        model: the trained model (moved to CPU for saving).
        card: the model card (JSON-ready).
        spec: the input rule the model was trained with.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out_dir / WEIGHTS_FILE), metadata={"format": "qtlens-bundle-1"})
    write_json(out_dir / CARD_FILE, card)
    (out_dir / PREPROCESSING_FILE).write_text(json.dumps(spec.to_dict(), indent=2) + "\n")
    return write_checksums(out_dir, BUNDLE_FILES)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented UTF-8 JSON (the layout of every bundle JSON file)."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_checksums(out_dir: Path, names: Sequence[str]) -> str:
    """Write ``SHA256SUMS`` for ``names`` (paths relative to ``out_dir``); returns the checksum."""
    lines = [f"{sha256_file(out_dir / name)}  {name}" for name in names]
    (out_dir / CHECKSUM_FILE).write_text("\n".join(lines) + "\n")
    return sha256_file(out_dir / CHECKSUM_FILE)


def recorded_checksums(path: Path) -> dict[str, str]:
    """``SHA256SUMS`` of a bundle as file name → hex digest (names checked to stay inside).

    Raises:
        BundleError: ``SHA256SUMS`` is missing or malformed, or names a path outside the bundle.
    """
    if not (path / CHECKSUM_FILE).is_file():
        raise BundleError(f"{path} is not a complete QTLens model bundle: missing {CHECKSUM_FILE}")
    recorded: dict[str, str] = {}
    for line in (path / CHECKSUM_FILE).read_text().splitlines():
        digest, _, name = line.partition("  ")
        parts = Path(name).parts
        if len(digest) != 64 or not name or Path(name).is_absolute() or ".." in parts:
            raise BundleError(f"{path / CHECKSUM_FILE} is malformed (line {line!r})")
        recorded[name] = digest
    return recorded


def verify_bundle(path: Path) -> str:
    """Check every file ``SHA256SUMS`` lists (at least the weights, card and preprocessing
    files) against its recorded SHA-256; returns the bundle checksum.

    Raises:
        BundleError: a file is missing or ``SHA256SUMS`` is malformed.
        BundleIntegrityError: a file's SHA-256 differs from the recorded one.
    """
    if not path.is_dir():
        raise BundleError(f"model bundle {path} does not exist or is not a directory")
    missing = [n for n in (*BUNDLE_FILES, CHECKSUM_FILE) if not (path / n).is_file()]
    if missing:
        raise BundleError(
            f"{path} is not a complete QTLens model bundle: missing {', '.join(missing)}"
        )
    recorded = recorded_checksums(path)
    for name in (*BUNDLE_FILES, *(n for n in recorded if n not in BUNDLE_FILES)):
        if name not in recorded:
            raise BundleError(f"{path / CHECKSUM_FILE} lists no checksum for {name}")
        if not (path / name).is_file():
            raise BundleError(
                f"model bundle {path}: {name} is listed in {CHECKSUM_FILE} but missing"
            )
        actual = sha256_file(path / name)
        if actual != recorded[name]:
            raise BundleIntegrityError(
                f"model bundle {path}: {name} fails its SHA-256 check (recorded "
                f"{recorded[name][:16]}…, found {actual[:16]}…) — the bundle was edited or "
                "corrupted; restore the original files or retrain it"
            )
    return sha256_file(path / CHECKSUM_FILE)


def read_json(path: Path) -> dict[str, Any]:
    """A bundle JSON file as a dict; :class:`BundleError` when it is not a JSON object."""
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BundleError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise BundleError(f"{path} must hold a JSON object")
    return data


def network_head_source(card: dict[str, Any]) -> str:
    """What a network's own task head was learned from, in one line, from its card's data."""
    data = card.get("data", {})
    source = str(data.get("source", "unknown data"))
    trained_on = data.get("split", {}).get("train")
    records = f"{trained_on} " if trained_on else ""
    seed = f", seed {data['seed']}" if source == "synthetic" and "seed" in data else ""
    return f"{card.get('variant', 'network')} network head trained on {records}{source} ECGs{seed}"


def task_heads(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The card's ``task_heads`` section, one entry per task in :data:`TASKS` order; a card
    without it carries the network's own head for every task.

    Raises:
        BundleError: an entry for an unknown task, of an unknown kind, or a head entry without
            its file.
    """
    given = card.get("task_heads", {})
    if not isinstance(given, dict) or set(given) - set(task_names()):
        raise BundleError(f"the card's task_heads must map tasks among {task_names()}")
    heads = {}
    network = {"kind": NETWORK_HEAD, "learned_from": network_head_source(card)}
    for task in task_names():
        entry = given.get(task) or network
        if entry.get("kind") not in (NETWORK_HEAD, *FILE_HEADS):
            raise BundleError(f"task head of {task} has unknown kind {entry.get('kind')!r}")
        if entry["kind"] in FILE_HEADS and not isinstance(entry.get("file"), str):
            raise BundleError(f"task head of {task} names no file")
        heads[task] = entry
    return heads


def task_bands(card: dict[str, Any]) -> dict[str, Bands]:
    """Per task, the risk bands of the head in force: the card entry's ``bands`` (calibrated on
    data, or a guideline's categories), else the task's defaults.

    Raises:
        BundleError: malformed bands.
    """
    return {task: head_bands(task, entry) for task, entry in task_heads(card).items()}


def head_bands(task: str, entry: dict[str, Any]) -> Bands:
    """The risk bands of one :func:`task_heads` entry: its ``bands``, else the task's defaults.

    Raises:
        BundleError: malformed bands.
    """
    try:
        return Bands.from_dict(entry["bands"]) if "bands" in entry else get_task(task).bands
    except ValueError as error:
        raise BundleError(f"task head of {task}: {error}") from None


#: Key of a logistic head entry's change head (read for an ECG whose series has a baseline).
CHANGE_HEAD = "change_head"


def _composed_heads(
    path: Path, card: dict[str, Any], change: bool = False
) -> dict[str, TaskHead]:
    """The checksummed head files the card puts in force, by task: the heads on one ECG, or
    with ``change`` the change heads (on an ECG and its baseline) that some of them carry."""
    recorded = recorded_checksums(path)
    heads = {}
    for task, entry in task_heads(card).items():
        if entry["kind"] not in FILE_HEADS:
            continue
        if change:
            entry = entry.get(CHANGE_HEAD)
            if not entry:
                continue
        if entry["file"] not in recorded:
            raise BundleError(f"bundle {path}: {entry['file']} ({task}) is not in {CHECKSUM_FILE}")
        try:
            head = load_task_head(path / entry["file"])
        except ValueError as error:
            raise BundleError(f"bundle {path}: {error}") from None
        if head.task != task:
            raise BundleError(f"bundle {path}: {entry['file']} predicts {head.task}, not {task}")
        if getattr(head, "reads_change", False) != change:
            raise BundleError(f"bundle {path}: {entry['file']} is in the wrong place of the card")
        heads[task] = head
    return heads


def _create(config: ModelConfig, heads: dict[str, TaskHead]) -> RiskModel:
    """The bundle's network, composed with its task heads when it carries any."""
    if not heads:
        return create_model(config)
    architecture = get_variant(config.variant).architecture
    if architecture == "blackbox":
        raise BundleError("a black box has no concepts for a task head to read")
    return ComposedConceptModel(config, architecture, heads)


@dataclass(frozen=True)
class LoadedBundle:
    """A verified bundle with its model on a device, ready to predict (load once, reuse).

    Attributes:
        path: bundle directory.
        card: the model card.
        checksum: SHA-256 of ``SHA256SUMS`` — the model version every prediction records.
        device: where the model runs.
        model: the network (eval mode) on ``device``.
        spec: the input rule.
        head_model: the same network on the CPU for interventions (the model itself when
            ``device`` is the CPU); a tiny linear head, so a GPU round trip would only add latency.
        change_heads: per task, the change head read instead of the network's logit for an ECG
            whose series has a baseline ECG (:mod:`models.change`).
    """

    path: Path
    card: dict[str, Any]
    checksum: str
    device: torch.device
    model: RiskModel
    spec: InputSpec
    head_model: RiskModel
    change_heads: Mapping[str, TaskHead] = field(default_factory=dict)

    @property
    def variant(self) -> str:
        """The model variant (``joint``, ``cem``, ``blackbox``…)."""
        return str(self.card["variant"])

    @property
    def version(self) -> str:
        """Short model version for display: ``<variant>@<first 12 hex of the checksum>``."""
        return f"{self.variant}@{self.checksum[:12]}"

    @property
    def task_heads(self) -> dict[str, dict[str, Any]]:
        """Per task, the head in force and what it was learned from (see :func:`task_heads`)."""
        return task_heads(self.card)

    @functools.cached_property
    def bands(self) -> dict[str, Bands]:
        """Per task, the risk bands of the head in force (see :func:`task_bands`; read once)."""
        return task_bands(self.card)

    @functools.cached_property
    def points_tasks(self) -> frozenset[str]:
        """The tasks whose head in force is a points head (their risks carry ``points``)."""
        return frozenset(t for t, e in self.task_heads.items() if e["kind"] == POINTS_HEAD)

    def band(self, task: str, probability: float) -> RiskBand:
        """The risk band of ``probability`` (0–1) for ``task`` under this bundle's bands in force
        — the one function every risk band comes from: the single-ECG head's risk, the
        change head's (it gives the same probability, so it takes the task's bands), the
        worklist, ``qtlens predict`` and the analytics' band flips."""
        return self.bands[task].band(probability)

    @property
    def has_concepts(self) -> bool:
        """Whether the model predicts concepts (and accepts interventions)."""
        return self.model.has_concepts

    def concept_model(self) -> ConceptModel:
        """The CPU concept model for interventions.

        Raises:
            ValueError: the bundle is a black box (no concepts to intervene on).
        """
        if not isinstance(self.head_model, ConceptModel):
            # A request that cannot apply to this model, not a programming error: callers turn
            # ValueError into a 4xx answer or a CLI message.
            raise ValueError(  # noqa: TRY004
                f"bundle {self.version} is a {self.variant} model without concepts; "
                "interventions need a concept bottleneck bundle"
            )
        return self.head_model

    def predict(self, ecgs: Sequence[Ecg]) -> list[ModelPrediction]:
        """Concepts, risks and contributions for each ECG (the bundle's input rule applied).

        Raises:
            MalformedEcg: an ECG without any standard lead or with non-finite samples, or one so
                far outside the training data (e.g. amplitudes of hundreds of mV) that the model's
                concepts or risks overflow — never a silent NaN.
        """
        if not ecgs:
            return []
        inputs = InputBatch.from_ecgs(ecgs, self.spec)
        output = run_batched(self.model, inputs, self.device, PREDICT_BATCH_SIZE)
        ood = ood_scores(self.model, output.features,
                         input_descriptors(inputs.signal, inputs.lead_mask, self.spec.fs_hz))
        commons = [
            {
                "ood": ood[i],
                "variant": self.variant,
                "bundle_sha256": self.checksum,
                "age_years": ecg.age_years,
                "sex": ecg.sex,
                "leads_used": tuple(
                    lead for lead, on in zip(STANDARD_LEADS, inputs.lead_mask[i]) if on
                ),
            }
            for i, ecg in enumerate(ecgs)
        ]
        bands, points_tasks = self.bands, self.points_tasks
        if isinstance(self.head_model, ConceptModel):
            predictions = self._concept_predictions(output, inputs, commons, bands, points_tasks)
        else:
            predictions = [
                ModelPrediction(
                    **common,
                    concepts={},
                    tasks={
                        t.name: task_risk(float(output.task_logits[i, j]), bands[t.name],
                                          t.name in points_tasks)
                        for j, t in enumerate(TASKS)
                    },
                    head_state=None,
                )
                for i, common in enumerate(commons)
            ]
        for index, prediction in enumerate(predictions):
            _require_finite(prediction, index)
        return predictions

    def _concept_predictions(
        self,
        output: Any,
        inputs: InputBatch,
        commons: list[dict[str, Any]],
        bands: dict[str, Bands],
        points_tasks: frozenset[str],
    ) -> list[ModelPrediction]:
        """One prediction per record: uncertainty and head explanation computed for the whole
        batch at once (each record's numbers are those it gets alone)."""
        model = self.concept_model()
        space = model.space
        values = output.concept_values
        with torch.inference_mode():
            sex = torch.as_tensor(inputs.sex)
            sd, probability = concept_spread(model, output, sex)
            explanation = model.explain(
                values,
                sex,
                torch.as_tensor(inputs.age_years),
                output.embedding_positive,
                output.embedding_negative,
            )
        is_binary, is_derived = space.is_binary.tolist(), space.is_derived.tolist()
        cem = model.architecture == "cem"
        predictions = []
        for i, (row_values, row_sd, row_probability, row_activations) in enumerate(
            zip(
                values.tolist(),
                sd.tolist(),
                probability.tolist(),
                explanation.activations.tolist(),
                strict=True,
            )
        ):
            concepts = {}
            for k, name in enumerate(space.names):
                p = row_probability[k] if is_binary[k] else None
                # A measured finding is called present at p ≥ 0.5; a derived one follows its rule.
                value = float(p >= 0.5) if (p is not None and not is_derived[k]) else row_values[k]
                concepts[name] = ConceptEstimate(
                    value=value, uncertainty=row_sd[k], probability=p, derived=is_derived[k]
                )
            state = HeadState(
                head_values=row_values,
                standardised=row_activations,
                embedding_positive=output.embedding_positive[i].tolist() if cem else None,
                embedding_negative=output.embedding_negative[i].tolist() if cem else None,
            )
            predictions.append(
                ModelPrediction(
                    **commons[i],
                    concepts=concepts,
                    tasks=risks_from_explanation(explanation, i, bands, points_tasks),
                    head_state=state,
                )
            )
        return predictions


def concept_spread(
    model: ConceptModel, output: ModelOutput, sex: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per record and concept, the SD in registry units and the probability (binary concepts)
    of a forward ``output`` on the CPU (:meth:`models.nets.bottleneck.ConceptSpace.spread`)."""
    with torch.inference_mode():
        measured_sd = (0.5 * output.concept_logvar).exp() * model.space.sd
        return model.space.spread(output.concept_values, measured_sd, sex)


def ood_scores(model: RiskModel, features: torch.Tensor,
               descriptors: np.ndarray | None = None) -> list[OodScore | None]:
    """Per record, the out-of-distribution score of its penultimate ``features`` ``[B, E]`` and
    its input descriptors ``[B, 3]`` (:func:`models.nets.ood.input_descriptors`; ``None``:
    the features alone) — ``None`` for each record when the network carries no real-ECG
    statistics."""
    if not model.ood.is_fitted:
        return [None] * features.shape[0]
    with torch.inference_mode():
        distances = model.ood.distances(features.cpu())
        percentile, respect = model.ood.furthest(features.cpu(), descriptors, distances)
    distance = distances[0].numpy()
    return [
        OodScore(distance=float(d), percentile=float(p), high=bool(p > HIGH_PERCENTILE),
                 respect=r)
        for d, p, r in zip(distance, percentile, respect, strict=True)
    ]


def _require_finite(prediction: ModelPrediction, index: int) -> None:
    """Refuse a prediction whose concepts or risks are not finite numbers."""
    numbers = [risk.logit for risk in prediction.tasks.values()]
    for estimate in prediction.concepts.values():
        numbers += [estimate.value, estimate.uncertainty]
    if not all(math.isfinite(number) for number in numbers):
        raise MalformedEcg(
            f"ECG {index + 1}: the model cannot analyse this signal — it lies so far outside the "
            "ECGs it was trained on that its concepts are not finite numbers (check the "
            "amplitude units and the leads)",
            field="signal",
        )


def task_risk(logit: float, bands: Bands, points: bool = False, **decomposition: Any) -> TaskRisk:
    """A :class:`TaskRisk` for ``logit`` (probability and its band under ``bands`` filled in;
    with ``points``, the points of a points head's logit)."""
    probability = 1.0 / (1.0 + math.exp(-logit))
    return TaskRisk(probability=probability, band=bands.band(probability), logit=logit,
                    points=points_from_logit(logit) if points else None, **decomposition)


def risks_from_explanation(
    explanation: HeadExplanation,
    row: int,
    bands: dict[str, Bands],
    points_tasks: frozenset[str] = frozenset(),
) -> dict[str, TaskRisk]:
    """Per-task risks with contributions for record ``row`` of a head explanation, banded by
    ``bands`` (:attr:`LoadedBundle.bands`); ``points_tasks`` carry their points."""
    names = concept_names()
    # Python floats taken once per tensor (``tolist``): one per element costs microseconds each.
    logits, intercept, age, sex = (t[row].tolist() for t in (
        explanation.logits, explanation.intercept, explanation.age, explanation.sex))
    concept, weight = explanation.concept[row].tolist(), explanation.weight[row].tolist()
    risks = {}
    for j, task in enumerate(task_names()):
        risks[task] = task_risk(
            logits[j],
            bands[task],
            task in points_tasks,
            intercept=intercept[j],
            contributions=dict(zip(names, concept[j])),
            weights=dict(zip(names, weight[j])),
            age_contribution=age[j],
            sex_contribution=sex[j],
        )
    return risks


#: Weights a bundle may lack (name prefixes): added after some bundles were saved, each with a
#: neutral default (see :func:`load_weights`).
OPTIONAL_WEIGHTS: tuple[str, ...] = ("ood.", "concept_logvar_offset")


def load_weights(model: RiskModel, path: Path) -> None:
    """Load a bundle's ``weights.safetensors`` into ``model``.

    Every parameter and buffer must fit, except the out-of-distribution statistics
    (``ood.*``): a network trained before they existed simply reports no OOD score; and the
    concepts' SD scales (``concept_logvar_offset``): one trained before them keeps its variances
    as trained.

    Raises:
        BundleError: weights that do not fit the model.
    """
    state = load_file(str(path / WEIGHTS_FILE), device="cpu")
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as error:
        raise BundleError(
            f"weights in {path} do not fit the {model.config.variant} model: {error}"
        ) from None
    missing = [key for key in result.missing_keys if not key.startswith(OPTIONAL_WEIGHTS)]
    if missing or result.unexpected_keys:
        raise BundleError(
            f"weights in {path} do not fit the {model.config.variant} model: missing "
            f"{missing}, unexpected {list(result.unexpected_keys)}"
        )


def _check_concept_registry(path: Path, bundle_concepts: list[dict[str, Any]]) -> None:
    """Refuse a concept model trained on another registry: other concepts, or a concept its
    card says it predicted that this registry derives (or the reverse). The weights would still
    load, but the network's saved ``is_derived`` mask would disagree with the registry's
    formulas, so a derived view could contradict its inputs. A card that does not state a
    concept's ``derived_from`` (hand-written) is checked by names only.

    Raises:
        BundleError: naming the first concept that differs.
    """
    if not bundle_concepts:  # a black box has no bottleneck
        return
    names = tuple(c.get("name") for c in bundle_concepts)
    if names != concept_names():
        raise BundleError(
            f"bundle {path} was trained on another concept registry ({len(names)} "
            f"concepts); retrain it with this version of QTLens"
        )
    for entry in bundle_concepts:
        if "derived_from" not in entry:
            continue
        there = tuple(entry["derived_from"])
        here = get_concept(entry["name"]).derived_from
        if there != here:
            raise BundleError(
                f"bundle {path} was trained on another concept registry ({entry['name']} is "
                f"{_role(there)} there, {_role(here)} here); retrain it with this version of "
                "QTLens"
            )


def _role(derived_from: tuple[str, ...]) -> str:
    """How a registry gets a concept with these inputs: "derived from …" or "predicted"."""
    return f"derived from {', '.join(derived_from)}" if derived_from else "predicted"


def load_bundle(path: str | Path, device: str = "auto") -> LoadedBundle:
    """Verify and load a bundle (call once at start-up and reuse the result).

    Args:
        path: bundle directory.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``.

    Raises:
        BundleError: missing or malformed files, or a bundle built for another concept or task
            registry.
        BundleIntegrityError: a file fails its SHA-256 check.
    """
    path = Path(path)
    checksum = verify_bundle(path)
    card = read_json(path / CARD_FILE)
    _check_concept_registry(path, card.get("concepts", []))
    if tuple(t["name"] for t in card.get("tasks", [])) != task_names():
        raise BundleError(f"bundle {path} was trained for other tasks; retrain it")
    task_bands(card)
    try:
        config = ModelConfig.from_dict(card["config"])
        spec = InputSpec.from_dict(read_json(path / PREPROCESSING_FILE))
    except (KeyError, TypeError, ValueError) as error:
        raise BundleError(
            f"bundle {path} has an invalid card or preprocessing file: {error}"
        ) from None
    model = _create(config, _composed_heads(path, card))
    load_weights(model, path)
    model.eval()
    resolved = resolve_device(device)
    head_model = model if resolved.type == "cpu" else copy.deepcopy(model)
    return LoadedBundle(
        path=path,
        card=card,
        checksum=checksum,
        device=resolved,
        model=model.to(resolved),
        spec=spec,
        head_model=head_model,
        change_heads=_composed_heads(path, card, change=True),
    )
