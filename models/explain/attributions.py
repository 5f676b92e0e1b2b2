"""Gradient attributions of any QTLens model, through captum, in one uniform call.

``explain(method, bundle_or_model, ecg | ecgs | input batch, target) -> Attribution`` runs one of
the registered :data:`METHODS` — each a captum class with its ``attribute`` call — and returns
per-lead attributions aligned to the model input: ``values [n, 12, L]`` at the model's rate, with
the lead names, the time of every sample in seconds and the explained target's value. Adding a
method is one :class:`AttributionMethod` entry in :data:`METHODS`.

Targets:
    * a risk task of :mod:`models.tasks` (``lqts_risk``, ``tdp_risk``): its **logit**, for any
      model;
    * for concept models also a concept of :mod:`models.concepts` (``qt``: "what in the ECG drove
      the predicted QT"): its predicted value in registry units (binary concepts: probability).

Inputs are the model inputs (standardised leads, :mod:`models.nets.inputs`), so attributions are
in *target units per standardised input unit* for saliency and in *target units* for the
attribution methods that multiply by the input (Integrated Gradients, DeepLift, Input×Gradient,
GradientSHAP): for those the values over all leads and samples add up to
``target(x) − target(baseline)`` (exactly for IG up to its integration error, reported as
``completeness_gap``). The baseline is the all-zero input: every lead flat at its median, the
isoelectric line.

Methods (captum classes; references in each entry):
    * ``saliency`` — |∂ target / ∂ input| (Simonyan et al. 2014);
    * ``ig`` — Integrated Gradients, Gauss–Legendre quadrature (Sundararajan et al. 2017);
    * ``deeplift`` — DeepLift rescale rule (Shrikumar et al. 2017);
    * ``input_x_gradient`` — input × gradient (Shrikumar et al. 2016);
    * ``gradient_shap`` — expected gradients from noisy zero baselines (Lundberg & Lee 2017);
    * ``grad_cam`` — Grad-CAM on the backbone's last 1-D convolution, linearly upsampled to the
      input length (Selvaraju et al. 2017). It has no lead axis: every present lead gets the
      same time course.

Every call works on a private copy of the network (:class:`ExplainableModel`: eval mode, ReLUs
not in place, no parameter gradients), so captum's hooks never touch a model that serves
predictions in another thread.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from models.concepts import concept_names, get_concept
from models.ecg.record import STANDARD_LEADS, Ecg
from models.nets.batching import InputBatch
from models.nets.inputs import InputSpec, input_start_s
from models.nets.model import RiskModel
from models.tasks import task_names

#: Records attributed together (bounds the memory of the path methods).
RECORDS_PER_CHUNK = 8


@dataclass(frozen=True)
class AttributionOptions:
    """Settings of the methods that need them.

    Attributes:
        n_steps: Integrated Gradients quadrature points.
        n_samples: GradientSHAP draws per record.
        stdevs: GradientSHAP noise SD, in standardised input units.
        internal_batch_size: most model evaluations per forward pass inside IG.
        seed: seed of GradientSHAP's draws (the global torch generator is left untouched).
    """

    n_steps: int = 64
    n_samples: int = 16
    stdevs: float = 0.1
    internal_batch_size: int = 64
    seed: int = 0


class ExplainableModel(nn.Module):
    """A private copy of a QTLens model as captum wants it.

    ``forward(signal [B, 12, L], lead_mask [B, 12], sex [B], age_years [B]) -> [B, T (+ K)]``: the
    task logits, then (concept models) the predicted concept values in registry units;
    :attr:`targets` names the columns.
    """

    def __init__(self, model: RiskModel) -> None:
        super().__init__()
        self.model = copy.deepcopy(model)
        self.model.eval()
        for module in self.model.modules():
            if isinstance(module, nn.ReLU):
                module.inplace = False  # captum's hooks need the activations kept
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        concepts = concept_names() if model.has_concepts else ()
        self.targets: tuple[str, ...] = (*task_names(), *concepts)

    @property
    def has_concepts(self) -> bool:
        """Whether concept targets are available."""
        return self.model.has_concepts

    @property
    def device(self) -> torch.device:
        """Where the network's weights are."""
        return next(self.model.parameters()).device

    def forward(
        self, signal: torch.Tensor, lead_mask: torch.Tensor, sex: torch.Tensor, age: torch.Tensor
    ) -> torch.Tensor:
        """``[B, T (+ K)]``: task logits, then concept values in registry units."""
        output = self.model(signal, lead_mask, sex, age)
        return torch.cat([output.task_logits, output.concept_values.to(output.task_logits)], 1)

    def target_index(self, target: str) -> int:
        """Column of ``target`` in the output.

        Raises:
            ValueError: an unknown target, or a concept asked of a model without concepts.
        """
        if target in self.targets:
            return self.targets.index(target)
        if not self.has_concepts and target in concept_names():
            raise ValueError(
                f"target {target!r} is a concept, but this {self.model.config.variant} model has "
                f"no concepts; use a task ({', '.join(task_names())})"
            )
        raise ValueError(f"unknown target {target!r}; use one of {', '.join(self.targets)}")

    def last_conv(self) -> nn.Conv1d:
        """The backbone's last 1-D convolution (Grad-CAM's layer)."""
        convs = [m for m in self.model.backbone.modules() if isinstance(m, nn.Conv1d)]
        return convs[-1]


def target_unit(target: str) -> str:
    """Unit of a target's value: ``"logit"`` for a task, the registry unit for a concept
    (``"probability"`` for a binary concept)."""
    if target in task_names():
        return "logit"
    concept = get_concept(target)
    return "probability" if concept.is_binary else concept.unit


@dataclass(frozen=True)
class Attribution:
    """Per-lead attributions of ``n`` records, aligned to the model input.

    Attributes:
        method: the :data:`METHODS` name.
        target: the task or concept explained.
        target_unit: unit of ``target_values`` (``logit``, ``ms``, ``mV``…).
        values: ``[n, 12, L]`` float32 attribution per lead and sample (absent leads 0).
        lead_names: the 12 standard leads, row order of ``values``.
        lead_mask: ``[n, 12]`` bool, leads present in the record.
        fs_hz: the model's input rate (Hz).
        start_s: ``[n]`` time of sample 0 in each source record (s; the input rule's crop).
        target_values: ``[n]`` the target's value for the input.
        baseline_values: ``[n]`` the target's value at the all-zero baseline (``None`` for
            methods without a baseline).
        completeness_gap: ``[n]`` ``Σ values − (target − baseline)`` as captum reports it
            (``None`` for methods without a completeness property).
    """

    method: str
    target: str
    target_unit: str
    values: np.ndarray
    lead_names: tuple[str, ...]
    lead_mask: np.ndarray
    fs_hz: float
    start_s: np.ndarray
    target_values: np.ndarray
    baseline_values: np.ndarray | None
    completeness_gap: np.ndarray | None

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_samples(self) -> int:
        """Samples per lead."""
        return int(self.values.shape[-1])

    @property
    def times_s(self) -> np.ndarray:
        """``[n, L]`` time of every sample in its source record (s)."""
        return self.start_s[:, None] + np.arange(self.n_samples) / self.fs_hz

    def relative_completeness_gap(self) -> np.ndarray | None:
        """``[n]`` ``|gap| / |target − baseline|`` (``None`` without a completeness property)."""
        if self.completeness_gap is None or self.baseline_values is None:
            return None
        change = np.abs(self.target_values - self.baseline_values)
        return np.abs(self.completeness_gap) / np.maximum(change, 1e-12)


@dataclass(frozen=True)
class _Call:
    """One captum call: inputs, the other forward arguments, target column and options."""

    signal: torch.Tensor
    extra: tuple[torch.Tensor, ...]
    target: int
    options: AttributionOptions

    @property
    def baseline(self) -> torch.Tensor:
        """The all-zero input: every lead flat at its median (the isoelectric line)."""
        return torch.zeros_like(self.signal)


Computed = tuple[torch.Tensor, torch.Tensor | None]


@dataclass(frozen=True)
class AttributionMethod:
    """One registered method.

    Attributes:
        name: the API / CLI name.
        label: what the screen shows.
        reference: the paper that defines it.
        signed: whether values carry a sign (saliency and Grad-CAM are non-negative).
        has_baseline: whether it compares with the all-zero baseline (and has a completeness
            property).
        compute: ``(network, call) -> (attributions [B, 12, L], completeness gap [B] | None)``.
    """

    name: str
    label: str
    reference: str
    signed: bool
    has_baseline: bool
    compute: Callable[[ExplainableModel, _Call], Computed]


def _saliency(net: ExplainableModel, call: _Call) -> Computed:
    from captum.attr import Saliency

    values = Saliency(net).attribute(
        call.signal, target=call.target, additional_forward_args=call.extra, abs=True
    )
    return values, None


def _integrated_gradients(net: ExplainableModel, call: _Call) -> Computed:
    from captum.attr import IntegratedGradients

    return IntegratedGradients(net).attribute(
        call.signal,
        baselines=call.baseline,
        target=call.target,
        additional_forward_args=call.extra,
        n_steps=call.options.n_steps,
        method="gausslegendre",
        internal_batch_size=call.options.internal_batch_size,
        return_convergence_delta=True,
    )


def _deeplift(net: ExplainableModel, call: _Call) -> Computed:
    from captum.attr import DeepLift

    return DeepLift(net).attribute(
        call.signal,
        baselines=call.baseline,
        target=call.target,
        additional_forward_args=call.extra,
        return_convergence_delta=True,
    )


def _input_x_gradient(net: ExplainableModel, call: _Call) -> Computed:
    from captum.attr import InputXGradient

    values = InputXGradient(net).attribute(
        call.signal, target=call.target, additional_forward_args=call.extra
    )
    return values, None


def _gradient_shap(net: ExplainableModel, call: _Call) -> Computed:
    from captum.attr import GradientShap

    values, delta = GradientShap(net).attribute(
        call.signal,
        baselines=call.baseline,
        n_samples=call.options.n_samples,
        stdevs=call.options.stdevs,
        target=call.target,
        additional_forward_args=call.extra,
        return_convergence_delta=True,
    )
    # captum reports one gap per draw; completeness holds in expectation, so average them.
    return values, delta.view(call.signal.shape[0], -1).mean(dim=1)


def _grad_cam(net: ExplainableModel, call: _Call) -> Computed:
    from captum.attr import LayerAttribution, LayerGradCam

    cam = LayerGradCam(net, net.last_conv()).attribute(
        call.signal,
        target=call.target,
        additional_forward_args=call.extra,
        relu_attributions=True,
    )  # [B, 1, L']
    upsampled = LayerAttribution.interpolate(cam, (call.signal.shape[-1],), "linear")
    return upsampled.expand_as(call.signal) * call.extra[0].unsqueeze(-1), None  # [B, 12, L]


METHODS: tuple[AttributionMethod, ...] = (
    AttributionMethod(
        "saliency",
        "Saliency",
        "Simonyan K et al. ICLR Workshop 2014 (arXiv:1312.6034)",
        signed=False,
        has_baseline=False,
        compute=_saliency,
    ),
    AttributionMethod(
        "ig",
        "Integrated Gradients",
        "Sundararajan M et al. ICML 2017 (arXiv:1703.01365)",
        signed=True,
        has_baseline=True,
        compute=_integrated_gradients,
    ),
    AttributionMethod(
        "deeplift",
        "DeepLift",
        "Shrikumar A et al. ICML 2017 (arXiv:1704.02685)",
        signed=True,
        has_baseline=True,
        compute=_deeplift,
    ),
    AttributionMethod(
        "input_x_gradient",
        "Input × Gradient",
        "Shrikumar A et al. 2016 (arXiv:1605.01713)",
        signed=True,
        has_baseline=False,
        compute=_input_x_gradient,
    ),
    AttributionMethod(
        "gradient_shap",
        "GradientSHAP",
        "Lundberg SM, Lee S-I. NeurIPS 2017 (arXiv:1705.07874)",
        signed=True,
        has_baseline=True,
        compute=_gradient_shap,
    ),
    AttributionMethod(
        "grad_cam",
        "Grad-CAM (last conv)",
        "Selvaraju RR et al. ICCV 2017 (arXiv:1610.02391)",
        signed=False,
        has_baseline=False,
        compute=_grad_cam,
    ),
)

_BY_NAME = {m.name: m for m in METHODS}


def method_names() -> tuple[str, ...]:
    """Names of every registered attribution method."""
    return tuple(_BY_NAME)


def get_method(name: str) -> AttributionMethod:
    """The method called ``name``; ``ValueError`` listing the valid names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown attribution method {name!r}; use one of {', '.join(_BY_NAME)}"
        ) from None


def explainable(model: Any) -> ExplainableModel:
    """``model`` (a :class:`~models.bundle.LoadedBundle`, a risk model or an
    :class:`ExplainableModel`) as an :class:`ExplainableModel` — reuse the result for many calls."""
    if isinstance(model, ExplainableModel):
        return model
    if isinstance(model, nn.Module):
        return ExplainableModel(model)  # type: ignore[arg-type]
    return ExplainableModel(model.model)


def model_inputs(
    inputs: Ecg | Sequence[Ecg] | InputBatch, spec: InputSpec | None
) -> tuple[InputBatch, np.ndarray]:
    """``(model-ready batch, start_s [n])`` for ECGs (input rule ``spec``) or a ready batch.

    Raises:
        ValueError: ECGs without an input rule to apply.
        MalformedEcg: an ECG the input rule refuses.
    """
    if isinstance(inputs, InputBatch):
        return inputs, np.zeros(len(inputs))
    ecgs = [inputs] if isinstance(inputs, Ecg) else list(inputs)
    if spec is None:
        raise ValueError("explaining ECGs needs the model's input rule: pass a bundle or spec=")
    starts = np.array([input_start_s(e.n_samples, e.fs_hz, spec) for e in ecgs])
    return InputBatch.from_ecgs(ecgs, spec), starts


def explain(
    method: str,
    model: Any,
    inputs: Ecg | Sequence[Ecg] | InputBatch,
    target: str,
    *,
    spec: InputSpec | None = None,
    options: AttributionOptions | None = None,
) -> Attribution:
    """Attribute ``target`` to every lead and sample of the model input with ``method``.

    Args:
        method: a :data:`METHODS` name (``ig``, ``saliency``, ``deeplift``, ``input_x_gradient``,
            ``gradient_shap``, ``grad_cam``).
        model: a :class:`~models.bundle.LoadedBundle`, a risk model or an
            :class:`ExplainableModel` (build one with :func:`explainable` to reuse it).
        inputs: one ECG, several ECGs (the bundle's input rule is applied) or a model-ready
            :class:`~models.nets.batching.InputBatch`.
        target: a task (logit) or, for concept models, a concept (value in registry units).
        spec: the input rule for ECG inputs when ``model`` is not a bundle.
        options: method settings (IG steps, GradientSHAP draws and seed).

    Returns:
        An :class:`Attribution` of ``n`` records (``n = 1`` for one ECG).

    Raises:
        ValueError: unknown method or target, or a concept target on a black box.
        MalformedEcg: an ECG the input rule refuses.

    Example:
        >>> from models.bundle import load_bundle  # doctest: +SKIP
        >>> bundle = load_bundle("models/weights/demo", device="cpu")  # doctest: +SKIP
        >>> attribution = explain("ig", bundle, ecg, "qt")  # doctest: +SKIP
        >>> attribution.values.shape, attribution.target_unit  # doctest: +SKIP
        ((1, 12, 1000), 'ms')
    """
    chosen = get_method(method)
    options = options or AttributionOptions()
    net = explainable(model)
    index = net.target_index(target)
    if spec is None and hasattr(model, "spec"):
        spec = model.spec
    batch, start_s = model_inputs(inputs, spec)
    values, gaps, targets, baselines = [], [], [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        for start in range(0, len(batch), RECORDS_PER_CHUNK):
            signal, mask, sex, age = batch.select(slice(start, start + RECORDS_PER_CHUNK)).tensors(
                net.device
            )
            signal.requires_grad_()  # captum differentiates with respect to it
            call = _Call(signal, (mask, sex, age), index, options)
            attributed, gap = chosen.compute(net, call)
            values.append(attributed.detach().float().cpu())
            gaps.append(gap)
            with torch.no_grad():
                targets.append(net(signal, mask, sex, age)[:, index].float().cpu())
                if chosen.has_baseline:
                    baselines.append(net(call.baseline, mask, sex, age)[:, index].float().cpu())
    return Attribution(
        method=chosen.name,
        target=target,
        target_unit=target_unit(target),
        values=torch.cat(values).numpy(),
        lead_names=STANDARD_LEADS,
        lead_mask=np.asarray(batch.lead_mask, dtype=bool),
        fs_hz=float(net.model.config.fs_hz),
        start_s=start_s,
        target_values=torch.cat(targets).numpy(),
        baseline_values=torch.cat(baselines).numpy() if baselines else None,
        completeness_gap=(
            None
            if any(g is None for g in gaps)
            else torch.cat([g.detach().float().cpu() for g in gaps]).numpy()  # type: ignore[union-attr]
        ),
    )
