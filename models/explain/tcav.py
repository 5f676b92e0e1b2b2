"""TCAV — Testing with Concept Activation Vectors — on QTLens models, through captum.

Kim B et al., "Interpretability Beyond Feature Attribution: Quantitative Testing with Concept
Activation Vectors (TCAV)", ICML 2018. A concept is a set of ECGs where it holds (QTc > 470 ms,
a notched T wave) against a counterpart set where it does not (QTc < 430 ms, a smooth T); a
linear classifier on a layer's activations separates them, and its normal is the concept
activation vector (CAV). The **TCAV score** of a target (a task logit or a predicted concept) is
the share of inputs whose directional derivative along the CAV is positive: above 0.5, moving
the activations towards the concept raises the target.

Significance (Kim et al. §3.2): the CAV is relearned on ``repeats`` (≥ 10) fresh draws of the
example sets, and the same is done for pairs of *random* sets drawn from all examples — CAVs
that mean nothing. A two-sided Welch t-test compares the concept's scores with the random ones;
p-values are Bonferroni-corrected over every (concept, layer) test of the query. A ``random``
concept (random sets against random sets) is the negative control and must not come out
significant.

captum does the work (:class:`captum.concept.TCAV`, its :class:`~captum.concept.Concept` and
:class:`~captum.concept._utils.classifier.Classifier`): QTLens supplies the concept sets, a
seeded linear classifier and the cache. captum stores activations and CAVs below its
``save_path`` by ``model_id``, concept id and layer; QTLens makes ``model_id`` the bundle checksum
(or a hash of the weights) plus a hash of the example data and the classifier settings, and
every concept id a hash of the concept rule and the example indices, so a repeated query loads
them instead of recomputing (``$QTLENS_CACHE_DIR/tcav``, default ``~/.cache/qtlens/tcav``).
Only the gradients of the inputs are computed again.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from captum.concept import Classifier

from models.concepts import DEFAULT_QTC, concept_names, get_concept, is_concept
from models.explain.attributions import ExplainableModel, explainable
from models.nets.batching import InputBatch

#: Source name of the negative-control concept: random sets against random sets.
RANDOM = "random"

#: The linear classifier behind every CAV (captum's default settings, seeded).
CLASSIFIER = {"loss": "hinge", "alpha": 0.01, "max_iter": 1000, "tol": 1e-3, "test_size": 1 / 3}

#: Version of the cache layout; bump when what is stored changes meaning.
CACHE_VERSION = 1

#: Examples per forward pass when recording activations.
ACTIVATION_BATCH = 64


@dataclass(frozen=True)
class ConceptSet:
    """A TCAV concept: examples where it holds against a counterpart where it does not.

    Attributes:
        name: identifier in reports (``qtc_long``).
        description: one line for the report.
        source: a registry concept, a per-record flag of the data (``shortcut``) or
            :data:`RANDOM`.
        high, low: continuous concepts — one side holds values above ``high``, the other values
            below ``low`` (concept unit).
        positive: which side of a continuous concept is the concept (``"high"`` or ``"low"``).
        matched_on: a registry concept the counterpart examples are matched on (nearest value
            to each positive example), so a concept correlated with it in the data — the
            shortcut spike comes with long QTc — does not borrow its direction.
    """

    name: str
    description: str
    source: str
    high: float | None = None
    low: float | None = None
    positive: Literal["high", "low"] = "high"
    matched_on: str | None = None

    def pools(
        self, concepts: np.ndarray, flags: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the records that may serve as positive and as counterpart examples.

        Raises:
            ValueError: a source that is neither a concept, a flag of the data nor random.
        """
        n = concepts.shape[0]
        if self.source == RANDOM:
            everyone = np.arange(n)
            return everyone, everyone
        if self.source in flags:
            flag = np.asarray(flags[self.source], dtype=bool)
            if self.matched_on is not None:
                flag_known = np.isfinite(concepts[:, concept_names().index(self.matched_on)])
                return np.flatnonzero(flag & flag_known), np.flatnonzero(~flag & flag_known)
            return np.flatnonzero(flag), np.flatnonzero(~flag)
        if not is_concept(self.source):
            raise ValueError(
                f"concept set {self.name!r}: {self.source!r} is not a concept, a data flag "
                f"({', '.join(flags) or 'none'}) or {RANDOM!r}"
            )
        values = concepts[:, concept_names().index(self.source)]
        known = np.isfinite(values)
        if get_concept(self.source).is_binary:
            return np.flatnonzero(known & (values == 1)), np.flatnonzero(known & (values == 0))
        if self.high is None or self.low is None:
            raise ValueError(f"concept set {self.name!r} needs both `high` and `low`")
        high = np.flatnonzero(known & (values > self.high))
        low = np.flatnonzero(known & (values < self.low))
        return (high, low) if self.positive == "high" else (low, high)


DEFAULT_CONCEPT_SETS: tuple[ConceptSet, ...] = (
    ConceptSet("qtc_long", "QTc (Fridericia) > 470 ms vs < 430 ms", DEFAULT_QTC, 470.0, 430.0),
    ConceptSet("t_notched", "notched vs smooth T wave", "t_notched"),
    ConceptSet("tpeak_tend_long", "Tpeak-Tend > 110 ms vs < 85 ms", "tpeak_tend", 110.0, 85.0),
    ConceptSet(
        "t_low", "T amplitude in II < 0.15 mV vs > 0.30 mV", "t_amplitude_ii", 0.30, 0.15, "low"
    ),
    ConceptSet(
        "shortcut",
        "synthetic shortcut spike present vs absent, matched on QTc",
        "shortcut",
        matched_on=DEFAULT_QTC,
    ),
    ConceptSet(RANDOM, "random records vs random records (negative control)", RANDOM),
)


@dataclass(frozen=True)
class TcavConfig:
    """Settings of a TCAV query.

    Attributes:
        layers: backbone layers (names inside the risk model, e.g. ``backbone.stages.3``);
            ``None`` = the last two residual stages.
        repeats: CAVs per concept and random pairs (Kim et al. use ≥ 10).
        examples_per_set: examples drawn for each set of each repeat (fewer when a pool is
            smaller).
        min_examples: a concept whose positive or counterpart pool is smaller is skipped.
        alpha: significance level after Bonferroni correction.
        seed: seed of the example draws and the classifier.
        cache_dir: the cache root (default :func:`models.data.cache.cache_root`).
        use_cache: reuse activations and CAVs across queries; ``False`` computes everything in a
            temporary folder (plain captum).
    """

    layers: tuple[str, ...] | None = None
    repeats: int = 10
    examples_per_set: int = 30
    min_examples: int = 10
    alpha: float = 0.05
    seed: int = 0
    cache_dir: Path | None = None
    use_cache: bool = True

    def __post_init__(self) -> None:
        if self.repeats < 2:
            raise ValueError("TCAV needs at least 2 repeats for its t-test (10 recommended)")
        if self.min_examples < 2 or self.examples_per_set < self.min_examples:
            raise ValueError("need examples_per_set ≥ min_examples ≥ 2")


@dataclass(frozen=True)
class TcavResult:
    """TCAV of one concept set at one layer.

    Attributes:
        concept_set, description, layer, target: what was tested.
        scores: TCAV score (sign count) of each repeat's CAV.
        random_scores: the same for each random-pair CAV (the null distribution).
        score_mean, score_sd, random_mean, random_sd: their mean and SD.
        p_value: two-sided Welch t-test, concept against random scores.
        p_adjusted: Bonferroni-corrected over the query's tests.
        significant: ``p_adjusted < alpha``.
        cav_accuracy_mean, cav_accuracy_sd: held-out accuracy of the concept's CAVs.
        random_accuracy_mean: held-out accuracy of the random CAVs (≈ 0.5).
        n_positive, n_counterpart: records in the two pools.
        examples_per_set: examples drawn per set and repeat.
    """

    concept_set: str
    description: str
    layer: str
    target: str
    scores: tuple[float, ...]
    random_scores: tuple[float, ...]
    score_mean: float
    score_sd: float
    random_mean: float
    random_sd: float
    p_value: float
    p_adjusted: float
    significant: bool
    cav_accuracy_mean: float
    cav_accuracy_sd: float
    random_accuracy_mean: float
    n_positive: int
    n_counterpart: int
    examples_per_set: int


@dataclass(frozen=True)
class TcavReport:
    """Every result of one query plus what identifies it.

    Attributes:
        target: task or concept explained.
        layers: layers tested.
        results: one per (concept set, layer).
        skipped: concept set → why it was not tested.
        model_id: the cache key (model + data + classifier).
        n_inputs: inputs whose directional derivatives were taken.
        n_tests: tests in the Bonferroni correction.
        config: the settings.
        seconds: wall time.
    """

    target: str
    layers: tuple[str, ...]
    results: tuple[TcavResult, ...]
    skipped: Mapping[str, str]
    model_id: str
    n_inputs: int
    n_tests: int
    config: TcavConfig
    seconds: float

    def result(self, concept_set: str, layer: str | None = None) -> TcavResult:
        """The result of ``concept_set`` at ``layer`` (default: the last layer)."""
        layer = layer or self.layers[-1]
        for result in self.results:
            if result.concept_set == concept_set and result.layer == layer:
                return result
        raise KeyError(f"no TCAV result for {concept_set!r} at {layer!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        data = asdict(self)
        data["config"]["cache_dir"] = (
            None if self.config.cache_dir is None else str(self.config.cache_dir)
        )
        return data


class SeededLinearClassifier(Classifier):
    """The classifier behind every QTLens CAV: a seeded linear SVM (SGD, hinge loss — the model
    of captum's default classifier) with a stratified held-out third for the CAV accuracy; pass
    it to ``captum.concept.TCAV`` to reproduce QTLens' CAVs."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.model: Any = None

    def train_and_eval(self, dataloader: Any, **kwargs: Any) -> dict[str, float]:
        """Fit on two thirds of the activations (stratified, seeded); ``{"accs": accuracy on
        the held-out third}``."""
        from sklearn.linear_model import SGDClassifier
        from sklearn.model_selection import train_test_split

        batches = list(dataloader)
        x = torch.cat([b[0] for b in batches]).detach().cpu().numpy()
        y = torch.cat([b[1] for b in batches]).cpu().numpy()
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=CLASSIFIER["test_size"], random_state=self.seed, stratify=y
        )
        self.model = SGDClassifier(
            loss=CLASSIFIER["loss"],
            alpha=CLASSIFIER["alpha"],
            max_iter=CLASSIFIER["max_iter"],
            tol=CLASSIFIER["tol"],
            random_state=self.seed,
        ).fit(x_train, y_train)
        return {"accs": float(self.model.score(x_test, y_test))}

    def weights(self) -> torch.Tensor:
        """``[2, F]`` CAVs: row ``i`` points towards class ``classes()[i]``."""
        normal = torch.as_tensor(self.model.coef_[0], dtype=torch.float32)
        return torch.stack([-normal, normal])  # rows follow classes(): classes_[1] is "+"

    def classes(self) -> list[int]:
        """The concept ids, as plain ints (captum stores them with ``torch.save``)."""
        return [int(c) for c in self.model.classes_]


def data_digest(batch: InputBatch) -> str:
    """SHA-256 of a batch's arrays (signal, lead mask, sex, age)."""
    digest = hashlib.sha256()
    for array in (batch.signal, batch.lead_mask, batch.sex, batch.age_years):
        contiguous = np.ascontiguousarray(array)
        digest.update(str((contiguous.dtype, contiguous.shape)).encode())
        digest.update(contiguous.tobytes())
    return digest.hexdigest()


def weights_digest(net: ExplainableModel) -> str:
    """SHA-256 of a network's parameters and buffers (when no bundle checksum is at hand)."""
    digest = hashlib.sha256()
    for name, tensor in net.model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def default_layers(net: ExplainableModel) -> tuple[str, ...]:
    """The last two residual stages of the backbone."""
    n = len(net.model.backbone.stages)
    return tuple(f"backbone.stages.{i}" for i in range(max(0, n - 2), n))


def _concept_id(name: str, indices: Sequence[int] | np.ndarray) -> int:
    """A stable captum concept id: hash of the set's name and example indices."""
    text = name + ":" + ",".join(map(str, np.sort(np.asarray(indices, dtype=int))))
    return int(hashlib.sha256(text.encode()).hexdigest()[:13], 16)


def _matched(
    chosen: np.ndarray, candidates: np.ndarray, concepts: np.ndarray, matched_on: str
) -> np.ndarray:
    """For each chosen example, the unused candidate nearest in ``matched_on`` (greedy)."""
    column = concepts[:, concept_names().index(matched_on)]
    free = np.ones(len(candidates), dtype=bool)
    picked = []
    for index in chosen:
        distance = np.where(free, np.abs(column[candidates] - column[index]), np.inf)
        best = int(np.argmin(distance))
        free[best] = False
        picked.append(candidates[best])
    return np.array(picked)


def _welch_p(scores: np.ndarray, null: np.ndarray) -> float:
    """Two-sided Welch t-test p-value of ``scores`` against ``null``.

    A constant sample (every CAV scores 1.0) has no variance, and Welch's test then reduces to
    the one-sample t-test of the other sample against that constant; both constant: 0 or 1.
    """
    from scipy.stats import ttest_1samp, ttest_ind

    constant_scores, constant_null = np.ptp(scores) == 0, np.ptp(null) == 0
    if constant_scores and constant_null:
        return 1.0 if scores[0] == null[0] else 0.0
    if constant_scores:
        return float(ttest_1samp(null, scores[0]).pvalue)
    if constant_null:
        return float(ttest_1samp(scores, null[0]).pvalue)
    return float(ttest_ind(scores, null, equal_var=False).pvalue)


@dataclass
class TcavPlan:
    """The experimental sets of one query, as captum ``Concept`` pairs.

    Attributes:
        net: the network explained.
        layers: backbone layers (names inside the risk model).
        model_id: captum's model id — the cache key (model, example data, classifier).
        examples: the records the sets are drawn from.
        experiments: concept set → one (positive, counterpart) pair per repeat.
        null_pairs: one (random, random) pair per repeat.
        pool_sizes: concept set → (positive pool, counterpart pool, examples per set).
        skipped: concept set → why it is not tested.
        indices: captum concept id → example indices of that concept.
    """

    net: ExplainableModel
    layers: tuple[str, ...]
    model_id: str
    examples: InputBatch
    experiments: dict[str, list[tuple[Any, Any]]] = field(default_factory=dict)
    null_pairs: list[tuple[Any, Any]] = field(default_factory=list)
    pool_sizes: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    indices: dict[int, np.ndarray] = field(default_factory=dict)
    made: dict[int, Any] = field(default_factory=dict)

    @property
    def captum_layers(self) -> list[str]:
        """Layer names as captum sees them (inside :class:`ExplainableModel`)."""
        return [f"model.{layer}" for layer in self.layers]

    def concept(self, name: str, indices: np.ndarray) -> Any:
        """The captum ``Concept`` of these examples (one object per distinct set); its data
        iterator yields the examples as one batch of model inputs."""
        from captum.concept import Concept

        identifier = _concept_id(name, indices)
        if identifier not in self.made:
            ordered = np.sort(indices)
            tensors = self.examples.select(ordered).tensors(self.net.device)
            self.made[identifier] = Concept(identifier, name, [tensors])
            self.indices[identifier] = ordered
        return self.made[identifier]

    def experimental_sets(self) -> list[list[Any]]:
        """Every distinct (concept, counterpart) pair, concept pairs first, then random pairs."""
        pairs = [pair for group in self.experiments.values() for pair in group]
        unique = {_key(pair): list(pair) for pair in [*pairs, *self.null_pairs]}
        return list(unique.values())


def _key(pair: Sequence[Any]) -> str:
    """captum's key of an experimental set: its concept ids joined by ``-``."""
    return "-".join(str(concept.id) for concept in pair)


def plan_tcav(
    model: Any,
    examples: InputBatch,
    concepts: np.ndarray,
    concept_sets: Sequence[ConceptSet] = DEFAULT_CONCEPT_SETS,
    config: TcavConfig | None = None,
    flags: Mapping[str, np.ndarray] | None = None,
) -> TcavPlan:
    """Draw the example sets of every concept and of the random pairs (see :func:`run_tcav`).

    Raises:
        ValueError: unknown layer, or a malformed concept set.
    """
    config = config or TcavConfig()
    flags = flags or {}
    net = explainable(model)
    layers = config.layers or default_layers(net)
    known_layers = {name for name, _ in net.model.named_modules()}
    unknown = [layer for layer in layers if layer not in known_layers]
    if unknown:
        raise ValueError(f"unknown layers {unknown}; e.g. {', '.join(default_layers(net))}")
    model_key = getattr(model, "checksum", None) or weights_digest(net)
    settings = json.dumps({"classifier": CLASSIFIER, "version": CACHE_VERSION}, sort_keys=True)
    model_id = "-".join(
        [
            model_key[:24],
            data_digest(examples)[:24],
            hashlib.sha256(settings.encode()).hexdigest()[:8],
        ]
    )
    plan = TcavPlan(net, tuple(layers), model_id, examples)
    for concept_set in concept_sets:
        if concept_set.source not in flags and not (
            concept_set.source == RANDOM or is_concept(concept_set.source)
        ):
            plan.skipped[concept_set.name] = f"the data has no {concept_set.source!r} labels"
            continue
        positive, counterpart = concept_set.pools(concepts, flags)
        if concept_set.source == RANDOM:
            size = min(config.examples_per_set, len(positive) // 2)
        else:
            size = min(config.examples_per_set, len(positive), len(counterpart))
        if size < config.min_examples:
            plan.skipped[concept_set.name] = (
                f"too few examples ({len(positive)} positive, {len(counterpart)} counterpart; "
                f"need {config.min_examples} each)"
            )
            continue
        plan.pool_sizes[concept_set.name] = (len(positive), len(counterpart), size)
        pairs = []
        for repeat in range(config.repeats):
            rng = np.random.default_rng([config.seed, repeat, _concept_id(concept_set.name, [])])
            if concept_set.source == RANDOM:
                drawn = rng.choice(positive, 2 * size, replace=False)
                chosen, other = drawn[:size], drawn[size:]
            else:
                chosen = rng.choice(positive, size, replace=False)
                other = (
                    rng.choice(counterpart, size, replace=False)
                    if concept_set.matched_on is None
                    else _matched(chosen, counterpart, concepts, concept_set.matched_on)
                )
            pairs.append(
                (
                    plan.concept(f"{concept_set.name}+", chosen),
                    plan.concept(f"{concept_set.name}-", other),
                )
            )
        plan.experiments[concept_set.name] = pairs
    null_size = min(config.examples_per_set, len(examples) // 2)
    for repeat in range(config.repeats):
        drawn = np.random.default_rng([config.seed, repeat]).choice(
            len(examples), 2 * null_size, replace=False
        )
        plan.null_pairs.append(
            (plan.concept("null_a", drawn[:null_size]), plan.concept("null_b", drawn[null_size:]))
        )
    return plan


def run_tcav(
    model: Any,
    examples: InputBatch,
    concepts: np.ndarray,
    inputs: InputBatch,
    target: str,
    concept_sets: Sequence[ConceptSet] = DEFAULT_CONCEPT_SETS,
    config: TcavConfig | None = None,
    *,
    flags: Mapping[str, np.ndarray] | None = None,
    progress: Callable[[int], object] | None = None,
) -> TcavReport:
    """TCAV scores, significance and CAV accuracy of every concept set at every layer.

    Args:
        model: a :class:`~models.bundle.LoadedBundle` (its checksum keys the cache), a risk
            model or an :class:`~models.explain.attributions.ExplainableModel`.
        examples: model-ready records the concept and random sets are drawn from.
        concepts: ``[len(examples), K]`` concept values of ``examples`` (registry order, NaN
            unknown) — ground truth or measured.
        inputs: model-ready records whose directional derivatives give the scores.
        target: task (logit) or, for concept models, concept explained.
        concept_sets: concepts to test; sets whose source the data lacks (e.g. ``shortcut``
            without the flag) or whose pools are too small are skipped with the reason.
        config: settings (repeats, layers, cache).
        flags: per-record binary facts of ``examples`` usable as sources (``shortcut``).
        progress: called with the number of CAVs finished (experimental sets × layers).

    Raises:
        ValueError: unknown target or layer, or a malformed concept set.
    """
    started = time.perf_counter()
    config = config or TcavConfig()
    plan = plan_tcav(model, examples, concepts, concept_sets, config, flags)
    target_index = plan.net.target_index(target)
    with tempfile.TemporaryDirectory(prefix="qtlens-tcav-") as scratch:
        from models.data.cache import cache_root

        root = (
            Path(config.cache_dir or cache_root()) / "tcav" if config.use_cache else Path(scratch)
        )
        scores, accuracies = _compute(plan, root, config.seed, inputs, target_index, progress)
    n_tests = len(plan.experiments) * len(plan.layers)
    results = []
    for name, pairs in plan.experiments.items():
        concept_set = next(c for c in concept_sets if c.name == name)
        for layer in plan.layers:
            values = np.array([scores[_key(pair)][layer] for pair in pairs])
            null = np.array([scores[_key(pair)][layer] for pair in plan.null_pairs])
            accs = np.array([accuracies[_key(pair)][layer] for pair in pairs])
            null_accs = np.array([accuracies[_key(pair)][layer] for pair in plan.null_pairs])
            p_value = _welch_p(values, null)
            p_adjusted = min(1.0, p_value * n_tests)
            n_positive, n_counterpart, size = plan.pool_sizes[name]
            results.append(
                TcavResult(
                    concept_set=name,
                    description=concept_set.description,
                    layer=layer,
                    target=target,
                    scores=tuple(float(v) for v in values),
                    random_scores=tuple(float(v) for v in null),
                    score_mean=float(values.mean()),
                    score_sd=float(values.std(ddof=1)),
                    random_mean=float(null.mean()),
                    random_sd=float(null.std(ddof=1)),
                    p_value=p_value,
                    p_adjusted=p_adjusted,
                    significant=bool(p_adjusted < config.alpha),
                    cav_accuracy_mean=float(accs.mean()),
                    cav_accuracy_sd=float(accs.std(ddof=1)),
                    random_accuracy_mean=float(null_accs.mean()),
                    n_positive=n_positive,
                    n_counterpart=n_counterpart,
                    examples_per_set=size,
                )
            )
    return TcavReport(
        target=target,
        layers=plan.layers,
        results=tuple(results),
        skipped=dict(plan.skipped),
        model_id=plan.model_id,
        n_inputs=len(inputs),
        n_tests=n_tests,
        config=config,
        seconds=time.perf_counter() - started,
    )


def _store_activations(plan: TcavPlan, root: Path, concepts: Sequence[Any]) -> None:
    """Save the layer activations of ``concepts`` in captum's activation store.

    One batched forward pass over all examples serves every concept (captum's own
    ``generate_activation`` runs one per concept); each concept's rows are then saved under its
    identifier, where captum's ``train_cav`` reads them.
    """
    from captum._utils.av import AV
    from captum.attr import LayerActivation

    missing = [
        c
        for c in concepts
        if not all(
            AV.exists(str(root), plan.model_id, c.identifier, layer) for layer in plan.captum_layers
        )
    ]
    if not missing:
        return
    modules = dict(plan.net.named_modules())
    recorder = LayerActivation(plan.net, [modules[layer] for layer in plan.captum_layers])
    needed = np.unique(np.concatenate([plan.indices[c.id] for c in missing]))
    rows = {int(k): i for i, k in enumerate(needed)}
    chunks: list[list[torch.Tensor]] = [[] for _ in plan.layers]
    with torch.no_grad():
        for start in range(0, len(needed), ACTIVATION_BATCH):
            part = plan.examples.select(needed[start : start + ACTIVATION_BATCH])
            for j, activation in enumerate(recorder.attribute(part.tensors(plan.net.device))):
                chunks[j].append(activation.flatten(1).cpu())
    activations = [torch.cat(chunk) for chunk in chunks]
    for concept in missing:
        index = torch.as_tensor([rows[int(k)] for k in plan.indices[concept.id]])
        for layer, activation in zip(plan.captum_layers, activations, strict=True):
            AV.save(str(root), plan.model_id, concept.identifier, layer, activation[index], "0")


def _compute(
    plan: TcavPlan,
    root: Path,
    seed: int,
    inputs: InputBatch,
    target_index: int,
    progress: Callable[[int], object] | None,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Train the CAVs not in the cache, then let captum score every experimental set.

    Returns:
        ``(scores, CAV accuracies)`` by experimental-set key and layer.
    """
    from captum.concept import TCAV
    from captum.concept._core.cav import CAV
    from captum.concept._core.tcav import train_cav

    classifier = SeededLinearClassifier(seed)
    tcav = TCAV(
        plan.net,
        plan.captum_layers,
        model_id=plan.model_id,
        classifier=classifier,
        save_path=str(root),
    )
    sets = plan.experimental_sets()
    untrained = [
        pair
        for pair in sets
        if not all(
            Path(CAV.assemble_save_path(str(root), plan.model_id, pair, layer)).is_file()
            for layer in plan.captum_layers
        )
    ]
    _store_activations(plan, root, list({c.id: c for p in untrained for c in p}.values()))
    for pair in untrained:
        train_cav(plan.model_id, pair, plan.captum_layers, classifier, str(root), {})
        if progress is not None:
            progress(len(plan.layers))
    if progress is not None:
        progress((len(sets) - len(untrained)) * len(plan.layers))
    signal, mask, sex, age = inputs.tensors(plan.net.device)
    raw = tcav.interpret(
        signal, sets, target=target_index, additional_forward_args=(mask, sex, age)
    )
    scores = {
        key: {layer: float(raw[key][f"model.{layer}"]["sign_count"][0]) for layer in plan.layers}
        for key in raw
    }
    accuracies = {
        key: {layer: float(tcav.cavs[key][f"model.{layer}"].stats["accs"]) for layer in plan.layers}
        for key in raw
    }
    return scores, accuracies
