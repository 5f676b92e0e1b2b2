"""The bottleneck: in-network derivations, standardisation, uncertainty, contributions."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from models.concepts import REGISTRY, concept_names, rederive, with_typed_value
from models.nets.bottleneck import SEX_FEMALE, SEX_MALE, SEX_UNKNOWN, ConceptSpace
from models.nets.model import ConceptModel
from models.nets.registry import create_model
from tests.nets.conftest import TINY

NAMES = concept_names()


def _values(rng: np.random.Generator, n: int) -> torch.Tensor:
    """Plausible random concept values in registry units (binary 0/1)."""
    rows = []
    for _ in range(n):
        row = []
        for concept in REGISTRY:
            if concept.is_binary:
                row.append(float(rng.integers(0, 2)))
            else:
                low, high = max(concept.plausible_low, 0.0), min(concept.plausible_high, 1500.0)
                row.append(float(rng.uniform(low + 0.2 * (high - low), high - 0.2 * (high - low))))
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float64)


@pytest.mark.parametrize(
    "sex_code, sex", [(SEX_UNKNOWN, None), (SEX_FEMALE, "female"), (SEX_MALE, "male")]
)
def test_derive_in_the_network_equals_the_registry(sex_code: int, sex: str | None) -> None:
    space = ConceptSpace().double()
    values = _values(np.random.default_rng(0), 16)
    values[:, NAMES.index("qt")] = torch.linspace(
        380, 520, 16, dtype=torch.float64
    )  # straddle 450/460
    derived = space.derive(values, torch.full((16,), sex_code))
    for i in range(16):
        expected = rederive(dict(zip(NAMES, values[i].tolist())), sex)
        for k, name in enumerate(NAMES):
            assert math.isclose(derived[i, k].item(), expected[name], rel_tol=1e-9), name


def test_qt_override_moves_every_qtc() -> None:
    space = ConceptSpace()
    values = _values(np.random.default_rng(1), 1).float()
    sex = torch.tensor([SEX_MALE])
    base = space.derive(values, sex)
    longer = base.clone()
    longer[0, NAMES.index("qt")] += 60.0
    moved = space.derive(longer, sex)
    for name in ("qtc_bazett", "qtc_fridericia", "qtc_framingham", "qtc_hodges"):
        assert moved[0, NAMES.index(name)] > base[0, NAMES.index(name)] + 30.0
    assert moved[0, NAMES.index("heart_rate")] == base[0, NAMES.index("heart_rate")]


@pytest.mark.parametrize(
    "typed, solves",
    [
        ("qtc_bazett", "qt"),
        ("qtc_fridericia", "qt"),
        ("qtc_framingham", "qt"),
        ("qtc_hodges", "qt"),
        ("jtpeak_c", "jtpeak"),
        ("heart_rate", "rr"),
    ],
)
def test_a_typed_derived_value_back_solves_its_primary_input(typed: str, solves: str) -> None:
    """The typed value comes back out of the forward formula exactly, the primary input moved,
    and every other view follows that input (nothing is kept apart from its inputs)."""
    space = ConceptSpace().double()
    values = space.derive(_values(np.random.default_rng(2), 1), torch.tensor([SEX_FEMALE]))
    target = float(values[0, NAMES.index(typed)]) * 1.07
    overrides = torch.full_like(values, math.nan)
    overrides[0, NAMES.index(typed)] = target
    out = space.override(values, overrides, torch.tensor([SEX_FEMALE]))
    assert out[0, NAMES.index(typed)].item() == pytest.approx(target, rel=1e-9)
    assert out[0, NAMES.index(solves)] != values[0, NAMES.index(solves)]
    # The same as putting the back-solved primary value in and deriving (pure Python).
    primary = dict(zip(NAMES, values[0].tolist()))
    primary[solves] = out[0, NAMES.index(solves)].item()
    expected = rederive(primary, "female")
    for k, name in enumerate(NAMES):
        assert out[0, k].item() == pytest.approx(expected[name], rel=1e-9), name
    # The scalar path (synthetic ground truth, tables) types a value the same way.
    typed_scalar = with_typed_value(dict(zip(NAMES, values[0].tolist())), "female", typed, target)
    for k, name in enumerate(NAMES):
        assert typed_scalar[name] == pytest.approx(out[0, k].item(), rel=1e-9), name


def test_a_derived_value_without_an_inverse_is_never_typed() -> None:
    with pytest.raises(ValueError, match="never an input"):
        with_typed_value({"qt": 400.0, "rr": 1000.0}, "female", "qtc_prolonged", 1.0)


def test_back_solving_reads_the_rr_in_force_and_a_given_primary_wins() -> None:
    space = ConceptSpace().double()
    values = space.derive(_values(np.random.default_rng(3), 1), torch.tensor([SEX_MALE]))
    overrides = torch.full_like(values, math.nan)
    overrides[0, NAMES.index("heart_rate")] = 50.0  # RR 1200 ms
    overrides[0, NAMES.index("qtc_bazett")] = 480.0
    out = space.override(values, overrides, torch.tensor([SEX_MALE]))
    assert out[0, NAMES.index("rr")].item() == pytest.approx(1200.0)
    assert out[0, NAMES.index("qt")].item() == pytest.approx(480.0 * 1.2**0.5)
    overrides[0, NAMES.index("qt")] = 400.0  # QT given too: the primary value stands
    out = space.override(values, overrides, torch.tensor([SEX_MALE]))
    assert out[0, NAMES.index("qt")].item() == 400.0


def test_values_from_raw_clip_to_the_plausible_range_and_standardise_inverts() -> None:
    space = ConceptSpace()
    space.set_statistics([500.0] * len(NAMES), [100.0] * len(NAMES))
    raw = torch.zeros(1, len(NAMES))
    raw[0, NAMES.index("rr")] = -50.0  # 500 − 5000 ms: impossible
    values = space.values_from_raw(raw)
    assert values[0, NAMES.index("rr")] == 200.0  # plausible_low of rr
    assert values[0, NAMES.index("t_notched")] == 0.5  # sigmoid(0)
    assert torch.allclose(space.standardise(values)[0, NAMES.index("qt")], torch.tensor(0.0))
    with pytest.raises(ValueError, match="positive"):
        space.set_statistics([0.0] * len(NAMES), [0.0] * len(NAMES))


def test_spread_propagates_uncertainty_through_the_formulas() -> None:
    space = ConceptSpace()
    values = _values(np.random.default_rng(2), 1).float()
    values[0, NAMES.index("qt")] = 455.0
    values[0, NAMES.index("rr")] = 1000.0  # RR = 1 s: every QTc equals QT
    values[0, NAMES.index("t_notched")] = 0.3
    measured_sd = torch.zeros_like(values)
    measured_sd[0, NAMES.index("qt")] = 10.0
    sd, probability = space.spread(values, measured_sd, torch.tensor([SEX_MALE]), n_draws=4000)
    again, _ = space.spread(values, measured_sd, torch.tensor([SEX_MALE]), n_draws=4000)
    assert torch.equal(sd, again)  # seeded: deterministic
    assert sd[0, NAMES.index("qtc_fridericia")] == pytest.approx(10.0, rel=0.05)
    assert sd[0, NAMES.index("heart_rate")] == pytest.approx(0.0, abs=1e-4)  # RR had no spread
    assert sd[0, NAMES.index("qt")] == 10.0
    # P(QTc > 450 | QTc ~ N(455, 10²)) = Φ(0.5) ≈ 0.69
    assert probability[0, NAMES.index("qtc_prolonged")] == pytest.approx(0.69, abs=0.03)
    assert probability[0, NAMES.index("t_notched")] == pytest.approx(0.3)
    assert sd[0, NAMES.index("t_notched")] == pytest.approx(math.sqrt(0.21))
    assert math.isnan(probability[0, NAMES.index("qt")])


def test_explanation_decomposes_the_logits_exactly() -> None:
    for variant in ("joint", "cem"):
        torch.manual_seed(0)
        model = create_model(replace(TINY, variant=variant))
        assert isinstance(model, ConceptModel)
        model.space.set_statistics([400.0] * len(NAMES), [50.0] * len(NAMES))
        model.eval()
        signal = torch.randn(3, 12, TINY.n_samples)
        sex, age = torch.tensor([0, 1, 2]), torch.tensor([30.0, float("nan"), 80.0])
        with torch.inference_mode():
            output = model(signal, torch.ones(3, 12), sex, age)
            explanation = model.explain(
                output.concept_values,
                sex,
                age,
                output.embedding_positive,
                output.embedding_negative,
            )
        torch.testing.assert_close(explanation.logits, output.task_logits)
        total = (
            explanation.intercept + explanation.concept.sum(-1) + explanation.age + explanation.sex
        )
        torch.testing.assert_close(total, output.task_logits)
        assert torch.all(explanation.sex[0] == 0.0)  # sex unknown: no push
        assert torch.all(explanation.age[1] == 0.0)  # age unknown: no push
        torch.testing.assert_close(
            explanation.concept, explanation.weight * explanation.activations.unsqueeze(1)
        )
