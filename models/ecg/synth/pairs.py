"""Baseline/on-drug pairs of one synthetic subject, with the drug's mechanism as ground truth.

Johannesen L et al. (Clin Pharmacol Ther 96:549-558, 2014) showed on the ECGRDVQ study that a
pure hERG blocker (dofetilide) lengthens both early repolarisation (J-Tpeak_c) and late
repolarisation (Tpeak-Tend) and flattens the T wave, while a hERG blocker with added late-sodium
or calcium block (ranolazine, verapamil: *multichannel*) leaves J-Tpeak_c unchanged or shorter
and still lengthens Tpeak-Tend. :func:`drug_pair` makes that contrast on waveforms: the baseline
ECG of a subject of the ``normal`` synthetic population and the same subject on a drug, with

* ``herg``: ΔJ-Tpeak +10…+35 ms, ΔTpeak-Tend +8…+25 ms, T amplitude × 0.70…0.90;
* ``multichannel``: ΔJ-Tpeak −15…0 ms, ΔTpeak-Tend +5…+20 ms, T amplitude × 0.90…1.00;

(uniform draws, at the subject's nominal heart rate, so ΔJ-Tpeak_c ≈ ΔJ-Tpeak). Both ECGs are
drawn from the same seed, so the subject's rhythm (RR sequence) is the same and only the drug
effect and the noise differ. The exact change concepts (:mod:`models.change`) of the two ground
truths come with the pair, so a pipeline measuring both ECGs can be scored against them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from models.change import change_values
from models.ecg.synth.generator import SyntheticEcg, generate
from models.ecg.synth.noise import NoiseConfig
from models.ecg.synth.params import SynthParams
from models.ecg.synth.population import sample_params

DrugEffect = Literal["herg", "multichannel"]
#: Effect → (ΔJ-Tpeak range ms, ΔTpeak-Tend range ms, T amplitude factor range).
DRUG_EFFECTS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "herg": ((10.0, 35.0), (8.0, 25.0), (0.70, 0.90)),
    "multichannel": ((-15.0, 0.0), (5.0, 20.0), (0.90, 1.00)),
}
#: Draws of a baseline subject tried before giving up (a draw whose on-drug ECG would put T onset
#: before the J point is redrawn).
_MAX_TRIES = 20


@dataclass(frozen=True)
class DrugPair:
    """A subject's baseline ECG and the same subject's ECG on a drug.

    Attributes:
        effect: ``herg`` or ``multichannel``.
        baseline, on_drug: the two records with their exact ground truth.
        change: exact change concepts (on-drug − baseline; T amplitudes in %) of the truths.
    """

    effect: str
    baseline: SyntheticEcg
    on_drug: SyntheticEcg
    change: dict[str, float | None]


def on_drug_params(
    params: SynthParams, effect: str, rng: np.random.Generator
) -> SynthParams:
    """The parameters of ``params``' subject on a drug of mechanism ``effect``.

    J-Tpeak and Tpeak-Tend change by draws from :data:`DRUG_EFFECTS`; the QT changes by their
    sum, so QTc (Fridericia) changes by that sum over ``(RR/1000)^(1/3)`` at the nominal rate.
    """
    if effect not in DRUG_EFFECTS:
        raise ValueError(f"unknown drug effect {effect!r}; use one of {', '.join(DRUG_EFFECTS)}")
    jtpeak_range, tpte_range, t_factor_range = DRUG_EFFECTS[effect]
    d_jtpeak = float(rng.uniform(*jtpeak_range))
    d_tpte = float(rng.uniform(*tpte_range))
    t_factor = float(rng.uniform(*t_factor_range))
    rr_s = 60.0 / params.heart_rate_bpm
    return replace(
        params,
        qtc_ms=params.qtc_ms + (d_jtpeak + d_tpte) / rr_s ** (1.0 / 3.0),
        tpeak_tend_ms=params.tpeak_tend_ms + d_tpte,
        t_amplitude_ii_mv=params.t_amplitude_ii_mv * t_factor,
        t_amplitude_v5_mv=params.t_amplitude_v5_mv * t_factor,
        phenotype=f"{params.phenotype}+{effect}",
    )


def drug_pair(
    effect: str,
    seed: int,
    *,
    fs_hz: float = 500.0,
    duration_s: float = 10.0,
    noise: NoiseConfig | None = None,
) -> DrugPair:
    """A baseline/on-drug pair of one ``normal`` synthetic subject (see the module docstring).

    Args:
        effect: ``herg`` or ``multichannel``.
        seed: seeds the subject, the drug effect and both records (reproducible).
        fs_hz: sampling rate in Hz.
        duration_s: record length in s.
        noise: noise of both records (default :class:`NoiseConfig()`).

    Raises:
        ValueError: an unknown effect, or no valid pair in :data:`_MAX_TRIES` draws.
    """
    rng = np.random.default_rng(seed)
    for _ in range(_MAX_TRIES):
        baseline_params = sample_params(rng, {"normal": 1.0})
        drug_params = on_drug_params(baseline_params, effect, rng)
        record_seed = int(rng.integers(2**31))
        try:
            baseline, on_drug = (
                generate(
                    params,
                    np.random.default_rng(record_seed),
                    fs_hz=fs_hz,
                    duration_s=duration_s,
                    noise=noise,
                )
                for params in (baseline_params, drug_params)
            )
        except ValueError:
            continue
        change = change_values(on_drug.truth.concepts, baseline.truth.concepts)
        return DrugPair(effect, baseline, on_drug, change)
    raise ValueError(f"no valid {effect} pair in {_MAX_TRIES} draws of seed {seed}")
