"""Attributions on a black box whose training label depends on QTc only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.ecg.record import STANDARD_LEADS, Ecg
from models.explain.attributions import (
    METHODS,
    AttributionOptions,
    ExplainableModel,
    explain,
    explainable,
)
from models.explain.metrics import localisation
from models.nets.batching import run_batched
from models.nets.inputs import InputSpec, ecg_to_input, input_start_s
from tests.explain.conftest import inputs_for


@pytest.mark.parametrize("method", [m.name for m in METHODS])
def test_every_method_gives_per_lead_attributions_on_the_input_grid(
    method: str, bundles, qtc_data
) -> None:
    bundle = bundles["clean"]
    batch, _ = inputs_for(bundle, qtc_data)
    batch = batch.select(slice(0, 4))
    attribution = explain(method, bundle, batch, "tdp_risk")
    assert attribution.values.shape == (4, 12, 1000)
    assert attribution.lead_names == STANDARD_LEADS and attribution.fs_hz == 100.0
    assert np.allclose(attribution.times_s[0, [0, 1, -1]], [0.0, 0.01, 9.99])
    assert np.isfinite(attribution.values).all() and np.abs(attribution.values).max() > 0
    logits = run_batched(bundle.model, batch, bundle.device).task_logits[:, 1].numpy()
    assert np.allclose(attribution.target_values, logits, atol=1e-5)
    assert attribution.target_unit == "logit"
    chosen = next(m for m in METHODS if m.name == method)
    if not chosen.signed:
        assert attribution.values.min() >= 0.0
    assert (attribution.baseline_values is not None) == chosen.has_baseline


def test_integrated_gradients_is_complete_within_one_percent(bundles, qtc_data) -> None:
    """Σ attribution = f(x) − f(baseline) (Sundararajan et al.'s completeness axiom)."""
    bundle = bundles["clean"]
    batch, _ = inputs_for(bundle, qtc_data)
    attribution = explain(
        "ig",
        bundle,
        batch.select(slice(0, 8)),
        "lqts_risk",
        options=AttributionOptions(n_steps=256),
    )
    change = attribution.target_values - attribution.baseline_values
    total = attribution.values.sum(axis=(1, 2))
    assert np.allclose(total - change, attribution.completeness_gap, atol=1e-3)
    assert np.abs(total - change).sum() / np.abs(change).sum() < 0.01
    assert np.median(attribution.relative_completeness_gap()) < 0.01


def test_attribution_mass_in_st_t_is_above_its_share_of_the_signal(bundles, qtc_data) -> None:
    """The label depends on QTc only: every method must favour the ST–T segment (J point to
    T end) and the QT interval over their share of the signal."""
    bundle = bundles["clean"]
    batch, start_s = inputs_for(bundle, qtc_data)
    n = 24
    masks = qtc_data.region_masks(start_s, 100.0, 1000)
    masks = type(masks)({k: v[:n] for k, v in masks.regions.items()}, masks.evaluated[:n])
    net = explainable(bundle)
    found = {
        method: localisation(
            explain(
                method,
                net,
                batch.select(slice(0, n)),
                "lqts_risk",
                options=AttributionOptions(n_steps=32),
            ),
            masks,
        )
        for method in ("ig", "saliency", "deeplift", "input_x_gradient", "gradient_shap")
    }
    print({m: {r: round(v.enrichment, 2) for r, v in f.items()} for m, f in found.items()})
    for method, regions in found.items():
        assert regions["st_t"].n_records == n
        assert regions["st_t"].share > regions["st_t"].chance, method
        assert regions["qt"].share > regions["qt"].chance, method
    assert found["ig"]["st_t"].above_chance > 0.5


def test_a_concept_target_explains_the_predicted_concept(bundles, qtc_data) -> None:
    cbm = bundles["cbm"]
    batch, _ = inputs_for(cbm, qtc_data)
    batch = batch.select(slice(0, 3))
    attribution = explain("input_x_gradient", cbm, batch, "qt")
    qt = run_batched(cbm.model, batch, cbm.device).concept_values[:, 4].numpy()
    assert attribution.target_unit == "ms" and np.allclose(attribution.target_values, qt, atol=1e-3)
    with pytest.raises(ValueError, match="has no concepts"):
        explain("saliency", bundles["clean"], batch, "qt")
    with pytest.raises(ValueError, match="unknown attribution method"):
        explain("lime", cbm, batch, "qt")
    with pytest.raises(ValueError, match="unknown target"):
        explain("saliency", cbm, batch, "qt_ms")


def test_explaining_an_ecg_places_samples_at_record_times(bundles) -> None:
    """A 12 s record at 500 Hz is cut to its central 10 s: sample 0 lies at 1.0 s."""
    signal = np.zeros((12, 6000), dtype=np.float32)
    signal[:, 3000] = 2.0  # a spike at 6.0 s
    ecg = Ecg(signal_mv=signal, fs_hz=500.0, lead_names=STANDARD_LEADS, source_format="test")
    spec = InputSpec(fs_hz=100.0, duration_s=10.0)
    assert input_start_s(6000, 500.0, spec) == pytest.approx(1.0)
    assert input_start_s(1000, 100.0, spec) == 0.0
    model_input, _ = ecg_to_input(ecg, spec)
    assert int(np.argmax(model_input[0])) == round((6.0 - 1.0) * 100)
    attribution = explain("saliency", bundles["clean"], ecg, "lqts_risk")
    assert attribution.start_s[0] == pytest.approx(1.0)
    assert attribution.times_s[0, 500] == pytest.approx(6.0)


def test_the_served_model_is_never_touched(bundles, qtc_data) -> None:
    """captum's hooks and the no-grad switch act on a private copy."""
    bundle = bundles["clean"]
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    grads = [p.requires_grad for p in bundle.model.parameters()]
    net = explainable(bundle)
    assert isinstance(net, ExplainableModel) and net.model is not bundle.model
    batch, _ = inputs_for(bundle, qtc_data)
    explain("deeplift", net, batch.select(slice(0, 2)), "lqts_risk")
    assert all(torch.equal(before[k], v) for k, v in bundle.model.state_dict().items())
    assert [p.requires_grad for p in bundle.model.parameters()] == grads
    assert not bundle.model._forward_hooks and all(
        not m._forward_hooks for m in bundle.model.modules()
    )
