"""The rhythm reader reads the beat interval before any training, stays differentiable, fades
smoothly to its prior on a flat input, and is a concept model's RR (the black box has none)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from models.concepts import concept_names
from models.data.dataset import ConceptDataset
from models.nets.inputs import InputSpec, standardise
from models.nets.model import ModelConfig
from models.nets.periodicity import RhythmReader, autocorrelation, energy_gate, envelope
from models.nets.registry import create_model
from tests.nets.conftest import TINY


def _inputs(data: ConceptDataset) -> tuple[torch.Tensor, torch.Tensor]:
    signal = standardise(data.signals_mv, data.lead_mask, InputSpec(100.0, 10.0))
    return torch.tensor(signal), torch.tensor(data.lead_mask)


def test_autocorrelation_is_one_at_lag_zero_and_peaks_at_the_period() -> None:
    period = 37
    series = torch.tensor(np.sin(2 * np.pi * np.arange(740) / period), dtype=torch.float32)
    ac = autocorrelation(series[None])[0]
    assert ac[0].item() == 1.0
    assert int(ac[20:60].argmax()) + 20 == period


def test_untrained_reader_reads_the_rr_of_synthetic_ecgs(tiny_data: ConceptDataset) -> None:
    """The initial scores (a soft-argmax of the autocorrelation) already give the RR interval of
    most synthetic ECGs within 5 %, at every heart rate the generator draws (noise, wander and
    ectopy make the rest: what training learns); the energy gate is ≥ 0.98 on every one."""
    torch.manual_seed(0)
    signal, mask = _inputs(tiny_data)
    interval_s = RhythmReader(tiny_data.fs_hz)(signal, mask).detach().numpy() / 1000.0
    true_rr_s = tiny_data.concepts[:, concept_names().index("rr")] / 1000.0
    relative_error = np.abs(interval_s - true_rr_s) / true_rr_s
    assert true_rr_s.max() / true_rr_s.min() > 1.4  # the check spans slow and fast rhythms
    assert np.median(relative_error) < 0.02 and (relative_error < 0.05).mean() >= 0.8
    assert bool((energy_gate(envelope(signal, mask)) >= 0.98).all())


def test_gradients_reach_the_lag_scorer_and_missing_leads_are_ignored() -> None:
    torch.manual_seed(1)
    reader = RhythmReader(100.0)
    signal = torch.randn(2, 12, 1000)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[1, 6:] = False
    reader(signal, mask).sum().backward()
    weight_grad = reader.scorer[-1].weight.grad
    assert weight_grad is not None and weight_grad.abs().sum() > 0
    noisy = signal.clone()
    noisy[1, 6:] = 100.0  # a missing lead's samples never count
    assert torch.equal(reader(signal, mask)[1], reader(noisy, mask)[1])


def test_the_interval_fades_smoothly_to_the_prior_along_an_attribution_path(
    tiny_data: ConceptDataset,
) -> None:
    """Along ``α · x`` (Integrated Gradients' path from the all-zero input) the interval moves
    from the prior 800 ms at α = 0 to the read one at α = 1 without a jump: the largest step
    between 64 evenly spaced α is under a third of the whole move."""
    signal, mask = _inputs(tiny_data)
    reader = RhythmReader(tiny_data.fs_hz)
    alphas = torch.linspace(0.0, 1.0, 65)
    with torch.no_grad():
        path = torch.stack([reader(a * signal[:4], mask[:4]) for a in alphas])  # [65, 4]
    assert torch.allclose(path[0], torch.full((4,), 800.0), rtol=1e-4)
    move = (path[-1] - path[0]).abs()
    assert bool((move > 50.0).all())  # the records are not at the prior's rate
    assert bool(((path[1:] - path[:-1]).abs().amax(0) < move / 3).all())


def test_rr_is_the_read_interval_and_the_black_box_has_no_reader(
    tiny_data: ConceptDataset,
) -> None:
    """A concept model's RR is the reader's interval whatever its RR head says (the head gives
    only the variance), heart rate follows from it, and another concept leans on it by its
    learned share."""
    torch.manual_seed(0)
    model = create_model(replace(TINY, variant="joint")).eval()
    names = concept_names()
    mean = np.nanmean(tiny_data.concepts, axis=0)
    sd = np.nan_to_num(np.nanstd(tiny_data.concepts, axis=0), nan=1.0) + 1.0
    model.space.set_statistics(np.nan_to_num(mean).tolist(), sd.tolist())
    rr_output = int((model.concept_head.measured_index == names.index("rr")).nonzero())
    with torch.no_grad():
        model.concept_head.value.bias[rr_output] = 5.0  # a head pushing RR far up changes nothing
        model.interval_weight[names.index("qt")] = 0.5
    signal, mask = _inputs(tiny_data)
    sex, age = torch.tensor(tiny_data.sex).long(), torch.tensor(tiny_data.age_years)
    with torch.no_grad():
        out = model(signal, mask, sex, age)
        interval_ms = model.rhythm(signal, mask)
        model.interval_weight.zero_()
        without_share = model(signal, mask, sex, age)
    rr = out.concept_values[:, names.index("rr")]
    assert torch.allclose(rr, interval_ms, rtol=1e-4)
    heart_rate = out.concept_values[:, names.index("heart_rate")]
    assert torch.allclose(heart_rate, 60000.0 / interval_ms, rtol=1e-4)
    rr_column, qt = names.index("rr"), names.index("qt")  # QT: 0.5 SD per SD of the interval
    interval_z = (interval_ms - model.space.mean[rr_column]) / model.space.sd[rr_column]
    shift = out.concept_raw[:, qt] - without_share.concept_raw[:, qt]
    assert torch.allclose(shift, 0.5 * interval_z, atol=1e-5)
    assert not hasattr(create_model(replace(TINY, variant="blackbox")), "rhythm")


def test_a_config_saved_before_the_reader_loads_without_it() -> None:
    saved_before = {k: v for k, v in TINY.to_dict().items() if k != "rhythm_reader"}
    config = ModelConfig.from_dict(saved_before)
    assert config.rhythm_reader is False
    assert create_model(replace(config, variant="joint")).rhythm is None
    assert ModelConfig.from_dict(TINY.to_dict()).rhythm_reader is True
