"""Every registered variant passes the same tests (the timm pattern)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from models.bundle import load_bundle, save_bundle
from models.concepts import REGISTRY
from models.data.dataset import ConceptDataset
from models.nets.inputs import InputSpec
from models.nets.losses import concept_loss, task_loss
from models.nets.model import ConceptModel
from models.nets.registry import VARIANTS, create_model, get_variant, variant_names
from models.tasks import TASKS
from tests.nets.conftest import TINY, train_tiny

K, T = len(REGISTRY), len(TASKS)


def _inputs(batch: int = 5, seed: int = 0) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    signal = torch.randn(batch, 12, TINY.n_samples, generator=generator)
    mask = torch.ones(batch, 12)
    mask[0, 6:] = 0  # a record with limb leads only
    sex = torch.tensor([0, 1, 2, 1, 2][:batch])
    age = torch.tensor([40.0, float("nan"), 70.0, 25.0, 55.0][:batch])
    return signal, mask, sex, age


def _model(variant: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(replace(TINY, variant=variant))
    if isinstance(model, ConceptModel):
        model.space.set_statistics(
            [400.0 if not c.is_binary else 0.0 for c in REGISTRY],
            [50.0 if not c.is_binary else 1.0 for c in REGISTRY],
        )
    return model


def test_registry_names_every_variant_once() -> None:
    assert variant_names() == ("independent", "sequential", "joint", "cem", "blackbox")
    assert {v.architecture for v in VARIANTS} == {"cbm", "cem", "blackbox"}
    with pytest.raises(KeyError, match="known: independent"):
        get_variant("hybrid")


@pytest.mark.parametrize("variant", variant_names())
def test_forward_backward_shapes(variant: str) -> None:
    model = _model(variant)
    output = model(*_inputs())
    assert output.task_logits.shape == (5, T)
    concepts = K if model.has_concepts else 0
    assert output.concept_values.shape == (5, concepts)
    assert output.concept_logvar.shape == (5, concepts)
    targets = torch.full((5, K), float("nan"))
    targets[:, 4] = 420.0  # only QT known: the loss must skip the rest, not turn NaN
    loss = task_loss(output.task_logits, torch.tensor([[1.0, 0.0]] * 5))
    if isinstance(model, ConceptModel):
        loss = loss + concept_loss(output, targets, model.space, 0.1)
    loss.backward()
    assert torch.isfinite(loss)
    gradients = [p.grad for p in model.backbone.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in gradients)
    assert any(float(g.abs().sum()) > 0 for g in gradients if g is not None)


@pytest.mark.parametrize("variant", variant_names())
def test_save_load_gives_identical_outputs(variant: str, tmp_path: Path) -> None:
    model = _model(variant).eval()
    save_bundle(
        tmp_path,
        model,
        {
            "variant": variant,
            "config": model.config.to_dict(),
            "concepts": [{"name": c.name} for c in REGISTRY] if model.has_concepts else [],
            "tasks": [{"name": t.name} for t in TASKS],
        },
        InputSpec(fs_hz=100.0, duration_s=10.0),
    )
    loaded = load_bundle(tmp_path, device="cpu")
    with torch.inference_mode():
        expected, actual = model(*_inputs()), loaded.model(*_inputs())
    for a, b in zip(expected, actual, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("variant", variant_names())
def test_same_seed_gives_same_weights(
    variant: str, tmp_path: Path, tiny_data: ConceptDataset
) -> None:
    first = train_tiny(variant, tmp_path / "a", tiny_data, seed=5).model.state_dict()
    second = train_tiny(variant, tmp_path / "b", tiny_data, seed=5).model.state_dict()
    other = train_tiny(variant, tmp_path / "c", tiny_data, seed=6).model.state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


@pytest.mark.parametrize("variant", variant_names())
def test_torch_export_matches_eager(variant: str) -> None:
    model = _model(variant).eval()
    exported = torch.export.export(model, _inputs())
    other_inputs = _inputs(seed=1)
    with torch.inference_mode():
        expected, actual = model(*other_inputs), exported.module()(*other_inputs)
    for a, b in zip(expected, actual, strict=True):
        torch.testing.assert_close(a, b, equal_nan=True)


@pytest.mark.parametrize("variant", ["joint", "cem"])
def test_missing_leads_change_the_encoding_only_through_the_mask(variant: str) -> None:
    model = _model(variant).eval()
    signal, mask, sex, age = _inputs()
    noisy = signal.clone()
    noisy[0, 6:] = 100.0  # garbage in the masked chest leads of record 0
    with torch.inference_mode():
        clean_out, noisy_out = model(signal, mask, sex, age), model(noisy, mask, sex, age)
    torch.testing.assert_close(clean_out.task_logits[0], noisy_out.task_logits[0])


@pytest.mark.parametrize("variant", ["joint", "cem"])
def test_concept_heads_stay_float32_under_bfloat16_autocast(variant: str) -> None:
    """The mixed-precision path (CUDA in training) must not round concept values in ms."""
    model = _model(variant).eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(*_inputs())
    assert output.concept_values.dtype == torch.float32
    assert output.task_logits.dtype == torch.float32
