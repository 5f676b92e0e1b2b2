"""Periodicity pooling reads the beat interval before any training, and stays differentiable."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from models.concepts import concept_names
from models.data.dataset import ConceptDataset
from models.nets.inputs import InputSpec, standardise
from models.nets.periodicity import PeriodicityPool, autocorrelation, beat_interval_ms
from models.nets.registry import create_model
from tests.nets.conftest import TINY


def test_autocorrelation_is_one_at_lag_zero_and_peaks_at_the_period() -> None:
    period = 37
    series = torch.tensor(np.sin(2 * np.pi * np.arange(740) / period), dtype=torch.float32)
    ac = autocorrelation(series[None])[0]
    assert ac[0].item() == 1.0
    assert int(ac[20:60].argmax()) + 20 == period


def test_untrained_module_reads_the_rr_of_synthetic_ecgs(tiny_data: ConceptDataset) -> None:
    """The initial scores (a soft-argmax of the autocorrelation) already give the RR interval of
    most synthetic ECGs within 5 %, at every heart rate the generator draws (noise, wander and
    ectopy make the rest: what training learns)."""
    torch.manual_seed(0)
    pool = PeriodicityPool(tiny_data.fs_hz)
    signal = standardise(tiny_data.signals_mv, tiny_data.lead_mask, InputSpec(100.0, 10.0))
    features = pool(torch.tensor(signal), torch.tensor(tiny_data.lead_mask))
    true_rr_s = tiny_data.concepts[:, concept_names().index("rr")] / 1000.0
    interval_s = beat_interval_ms(features).detach().numpy() / 1000.0
    relative_error = np.abs(interval_s - true_rr_s) / true_rr_s
    assert true_rr_s.max() / true_rr_s.min() > 1.4  # the check spans slow and fast rhythms
    assert np.median(relative_error) < 0.02 and (relative_error < 0.05).mean() >= 0.8
    assert ((features[:, 1] > 0) & (features[:, 1] <= 1)).all()  # regular rhythms


def test_gradients_reach_the_lag_scorer_and_missing_leads_are_ignored() -> None:
    torch.manual_seed(1)
    pool = PeriodicityPool(100.0)
    signal = torch.randn(2, 12, 1000)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[1, 6:] = False
    pool(signal, mask).sum().backward()
    assert pool.scorer[-1].weight.grad is not None and pool.scorer[-1].weight.grad.abs().sum() > 0
    noisy = signal.clone()
    noisy[1, 6:] = 100.0  # a missing lead's samples never count
    assert torch.equal(pool(signal, mask)[1], pool(noisy, mask)[1])


def test_rr_is_the_beat_interval(tiny_data: ConceptDataset) -> None:
    """A concept model's RR is the periodicity interval whatever its RR head says (the head gives
    only the variance), and heart rate and every QTc follow from it."""
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
    signal = torch.tensor(
        standardise(tiny_data.signals_mv, tiny_data.lead_mask, InputSpec(100.0, 10.0))
    )
    mask = torch.tensor(tiny_data.lead_mask)
    sex, age = torch.tensor(tiny_data.sex).long(), torch.tensor(tiny_data.age_years)
    with torch.no_grad():
        out = model(signal, mask, sex, age)
        interval_ms = beat_interval_ms(model.backbone.periodicity(signal, mask))
        model.interval_weight.zero_()
        without_share = model(signal, mask, sex, age)
    rr = out.concept_values[:, names.index("rr")]
    assert torch.allclose(rr, interval_ms, rtol=1e-4)
    heart_rate = out.concept_values[:, names.index("heart_rate")]
    assert torch.allclose(heart_rate, 60000.0 / interval_ms, rtol=1e-4)
    # QT's share of the interval: 0.5 SD of QT per SD of RR
    rr_col, qt = names.index("rr"), names.index("qt")
    interval_z = (interval_ms - model.space.mean[rr_col]) / model.space.sd[rr_col]
    shift = out.concept_raw[:, qt] - without_share.concept_raw[:, qt]
    assert torch.allclose(shift, 0.5 * interval_z, atol=1e-5)
