"""A population of synthetic patients: :func:`sample_params` draws one :class:`SynthParams`.

The population mixes six phenotypes (a hidden variable: the labels depend on the concepts only;
:data:`PHENOTYPES` holds the exact numbers):

============== ====== ===========================================================================
phenotype      share  what changes (QTc Fridericia in ms, women +10 ms)
============== ====== ===========================================================================
normal         0.56   QTc ~ N(412, 18); Tpeak-Tend ~ N(85, 10); Gaussian T
lqt1           0.09   QTc ~ N(485, 25); broad-based T (upstroke + Tpeak-Tend ≥ 250 ms), flatter
lqt2           0.09   QTc ~ N(485, 25); notched, low-amplitude T; long Tpeak-Tend; some U waves
lqt3           0.07   QTc ~ N(490, 25); late-onset T (ST ≥ 170 ms) of normal width
herg_drug      0.10   QTc ~ N(470, 20); long J-Tpeak and Tpeak-Tend, flat T, U waves, labile QT
multichannel   0.09   QTc ~ N(455, 15); long Tpeak-Tend but short J-Tpeak (late-Na/Ca block)
============== ====== ===========================================================================

Everyone: heart rate ~ N(70, 12) (LQTS ~ N(62, 10)) clipped to 45–110 bpm and lowered further
when needed so that T (and U) end ≥ 40 ms before the next P; PR ~ N(160, 18) in 120–220 ms;
QRS ~ N(92, 9) in 72–118 ms; T amplitude in II ~ N(0.32, 0.1) (lqt2 / hERG ~ N(0.18, 0.06))
in 0.06–0.7 mV with V5 = II × U(1.0, 1.6); 4 % inverted T in II and V5; alternans in 3 % of
normals, 10 % of LQTS, 15 % of hERG; U waves in 4 % of normals, 25 % of lqt2, 45 % of hERG;
per-beat QT jitter 1.5–6 ms (normals), 4–12 ms (LQTS, multichannel), 6–16 ms (hERG); T limb
exponent ``p`` ~ U(1.7, 2.4) (lqt1 U(2.5, 3.5), hERG U(2.0, 2.8)); T upstroke from the ST segment
the phenotype wants (normal: upstroke = Tpeak-Tend × U(1.2, 1.7)), with every beat's ST kept
≥ 10 ms (Tpeak-Tend, then jitter, give way when a short QT leaves no room); random heart axis
rotation (N(0, 12°) per axis); QRS amplitude × U(0.6, 1.5); age U(18, 85) (LQTS U(12, 65), drug
U(35, 85)); women 50 % (LQTS 55 %, drug 60 %).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np

from models.ecg.synth.generator import BROAD_BASED_T_MS, LATE_ONSET_ST_MS, T_TO_P_MARGIN_MS
from models.ecg.synth.params import SynthParams


@dataclass(frozen=True)
class Phenotype:
    """One component of the synthetic population (durations in ms, amplitudes in mV).

    Attributes:
        share: default share of the population.
        qtc_ms: mean and SD of QTc (Fridericia) in men; women +10 ms.
        tpeak_tend_ms: mean and SD of Tpeak-Tend.
        heart_rate_bpm: mean, SD, lowest and highest heart rate.
        female_share: share of women.
        age_years: age range (inclusive).
        qt_jitter_ms: range of the per-beat QT jitter SD.
        low_t_wave: low-amplitude T (lqt2, hERG block).
        u_wave_share, alternans_share: shares with a U wave / T-wave alternans.
        notched: notched T.
        t_exponent: range of the T limb exponent.
        t_pattern: ``"broad_based"`` (long upstroke, short ST), ``"late_onset"`` (long ST) or
            ``"ratio"`` (upstroke = Tpeak-Tend × ``upstroke_ratio``).
        upstroke_ratio: range of T upstroke / Tpeak-Tend for the ``"ratio"`` pattern.
    """

    share: float
    qtc_ms: tuple[float, float]
    tpeak_tend_ms: tuple[float, float]
    heart_rate_bpm: tuple[float, float, float, float] = (70.0, 12.0, 45.0, 110.0)
    female_share: float = 0.5
    age_years: tuple[int, int] = (18, 85)
    qt_jitter_ms: tuple[float, float] = (4.0, 12.0)
    low_t_wave: bool = False
    u_wave_share: float = 0.04
    alternans_share: float = 0.03
    notched: bool = False
    t_exponent: tuple[float, float] = (1.7, 2.4)
    t_pattern: Literal["ratio", "broad_based", "late_onset"] = "ratio"
    upstroke_ratio: tuple[float, float] = (1.2, 1.7)


_LQTS_RATE = (62.0, 10.0, 45.0, 100.0)

#: The default population (read-only).
PHENOTYPES: Mapping[str, Phenotype] = MappingProxyType(
    {
        "normal": Phenotype(0.56, (412.0, 18.0), (85.0, 10.0), qt_jitter_ms=(1.5, 6.0)),
        "lqt1": Phenotype(
            0.09,
            (485.0, 25.0),
            (105.0, 15.0),
            _LQTS_RATE,
            0.55,
            (12, 65),
            alternans_share=0.1,
            t_exponent=(2.5, 3.5),
            t_pattern="broad_based",
        ),
        "lqt2": Phenotype(
            0.09,
            (485.0, 25.0),
            (115.0, 15.0),
            _LQTS_RATE,
            0.55,
            (12, 65),
            low_t_wave=True,
            u_wave_share=0.25,
            alternans_share=0.1,
            notched=True,
            upstroke_ratio=(0.9, 1.4),
        ),
        "lqt3": Phenotype(
            0.07,
            (490.0, 25.0),
            (80.0, 10.0),
            _LQTS_RATE,
            0.55,
            (12, 65),
            alternans_share=0.1,
            t_pattern="late_onset",
        ),
        "herg_drug": Phenotype(
            0.10,
            (470.0, 20.0),
            (105.0, 15.0),
            female_share=0.6,
            age_years=(35, 85),
            qt_jitter_ms=(6.0, 16.0),
            low_t_wave=True,
            u_wave_share=0.45,
            alternans_share=0.15,
            t_exponent=(2.0, 2.8),
            upstroke_ratio=(1.3, 1.8),
        ),
        "multichannel": Phenotype(
            0.09,
            (455.0, 15.0),
            (120.0, 15.0),
            female_share=0.6,
            age_years=(35, 85),
            upstroke_ratio=(0.9, 1.2),
        ),
    }
)

#: Phenotype shares of the default population.
PHENOTYPE_SHARES: Mapping[str, float] = MappingProxyType(
    {name: phenotype.share for name, phenotype in PHENOTYPES.items()}
)
#: Smallest ST segment (J point → T onset) of any beat, in ms: the median beat's ST is at least
#: this plus the largest per-beat QT shortening (3 SD of jitter and the rate adaptation).
_MIN_ST_MS = 10.0
#: Shortest Tpeak-Tend the sampler keeps when a short QT leaves little room, in ms.
_MIN_TPEAK_TEND_MS = 40.0
#: Smallest T upstroke (T onset → T peak) the sampler produces, in ms.
_MIN_UPSTROKE_MS = 60.0


def _normal(rng: np.random.Generator, mean: float, sd: float, low: float, high: float) -> float:
    return min(max(float(rng.normal(mean, sd)), low), high)


def _feasible_heart_rate(
    heart_rate_bpm: float,
    qtc_ms: float,
    pr_ms: float,
    repolarisation_tail_ms: float,
    max_deviation: float,
    qt_jitter_ms: float,
) -> float:
    """The highest rate ≤ ``heart_rate_bpm`` at which T/U ends ≥ the margin before the next P.

    Needs ``RR·(1 − max_deviation) − PR ≥ QT(RR·(1 + max_deviation)) + 3·jitter + tail + margin``
    with ``QT(RR) = QTc·(RR/1000)^(1/3)``; solved by fixed-point iteration on RR (ms), with
    10 ms to spare.
    """
    rr_ms = 60000.0 / heart_rate_bpm
    for _ in range(50):
        longest_qt = qtc_ms * (rr_ms * (1.0 + max_deviation) / 1000.0) ** (1.0 / 3.0)
        needed = (
            longest_qt
            + 3.0 * qt_jitter_ms
            + repolarisation_tail_ms
            + T_TO_P_MARGIN_MS
            + 10.0
            + pr_ms
        ) / (1.0 - max_deviation)
        if rr_ms >= needed:
            break
        rr_ms = needed
    return 60000.0 / rr_ms


def sample_params(
    rng: np.random.Generator, phenotype_shares: Mapping[str, float] | None = None
) -> SynthParams:
    """Draw one patient of the synthetic population (see the module docstring).

    Args:
        rng: random source.
        phenotype_shares: overrides :data:`PHENOTYPE_SHARES` (shares are normalised).

    Returns:
        Parameters that :func:`models.ecg.synth.generate` accepts at 10 s and any rate.
    """
    shares = dict(phenotype_shares or PHENOTYPE_SHARES)
    unknown = set(shares) - set(PHENOTYPE_SHARES)
    if unknown:
        raise ValueError(f"unknown phenotypes {sorted(unknown)}; known: {list(PHENOTYPE_SHARES)}")
    names = list(shares)
    weights = np.array([shares[n] for n in names], dtype=np.float64)
    name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    phenotype = PHENOTYPES[name]

    sex = "female" if rng.random() < phenotype.female_share else "male"
    age = int(rng.integers(phenotype.age_years[0], phenotype.age_years[1] + 1))
    qtc_mean, qtc_sd = phenotype.qtc_ms
    qtc_ms = _normal(rng, qtc_mean + (10.0 if sex == "female" else 0.0), qtc_sd, 360.0, 580.0)
    tpeak_tend_ms = _normal(rng, *phenotype.tpeak_tend_ms, 50.0, 170.0)
    heart_rate = _normal(rng, *phenotype.heart_rate_bpm)
    pr_ms = _normal(rng, 160.0, 18.0, 120.0, 220.0)
    p_duration_ms = min(_normal(rng, 100.0, 10.0, 70.0, 120.0), pr_ms - 30.0)
    qrs_ms = _normal(rng, 92.0, 9.0, 72.0, 118.0)
    rr_variability = float(rng.uniform(0.005, 0.03))
    respiratory = float(rng.uniform(0.0, 0.04))
    qt_jitter_ms = float(rng.uniform(*phenotype.qt_jitter_ms))

    if phenotype.low_t_wave:
        t_ii = _normal(rng, 0.18, 0.06, 0.06, 0.5)
    else:
        t_ii = _normal(rng, 0.32, 0.1, 0.08, 0.7)
    t_v5 = t_ii * float(rng.uniform(1.0, 1.6))
    if rng.random() < 0.04:
        t_ii, t_v5 = -float(rng.uniform(0.08, 0.3)), -float(rng.uniform(0.08, 0.35))
    u_wave_mv = float(rng.uniform(0.06, 0.15)) if rng.random() < phenotype.u_wave_share else 0.0
    u_width_ms = float(rng.uniform(140.0, 200.0))
    has_alternans = rng.random() < phenotype.alternans_share
    alternans_fraction = float(rng.uniform(0.25, 0.6)) if has_alternans else 0.0
    notch_depth = float(rng.uniform(0.25, 0.4)) if phenotype.notched else 0.0
    t_exponent = float(rng.uniform(*phenotype.t_exponent))
    rotation = tuple(min(max(float(rng.normal(0.0, 12.0)), -30.0), 30.0) for _ in range(3))
    qrs_scale = float(rng.uniform(0.6, 1.5))

    max_deviation = respiratory + 3.0 * rr_variability
    heart_rate = _feasible_heart_rate(
        heart_rate, qtc_ms, pr_ms, u_width_ms if u_wave_mv > 0 else 0.0, max_deviation, qt_jitter_ms
    )
    # The T upstroke follows from the ST segment the phenotype wants at the nominal RR.
    qt_ms = qtc_ms * (60.0 / heart_rate) ** (1.0 / 3.0)
    # Per-beat QT may fall 3 SD of jitter and the Fridericia adaptation to a short RR below the
    # median beat's; its ST segment must stay ≥ _MIN_ST_MS even then. When a short QT leaves no
    # room, Tpeak-Tend shortens first (to _MIN_TPEAK_TEND_MS), then the jitter.
    rate_shortening_ms = qt_ms * (1.0 - (1.0 - max_deviation) ** (1.0 / 3.0))
    spare_ms = qt_ms - qrs_ms - _MIN_UPSTROKE_MS - _MIN_ST_MS - rate_shortening_ms
    tpeak_tend_ms = min(tpeak_tend_ms, max(_MIN_TPEAK_TEND_MS, spare_ms - 3.0 * qt_jitter_ms))
    qt_jitter_ms = max(0.0, min(qt_jitter_ms, (spare_ms - tpeak_tend_ms) / 3.0))
    min_st_ms = _MIN_ST_MS + rate_shortening_ms + 3.0 * qt_jitter_ms
    room_ms = qt_ms - qrs_ms - tpeak_tend_ms  # ST + upstroke
    if phenotype.t_pattern == "broad_based":
        st_ms = min(
            float(rng.uniform(min_st_ms, max(min_st_ms, 60.0))),
            room_ms - (BROAD_BASED_T_MS + 10.0 - tpeak_tend_ms),
        )
    elif phenotype.t_pattern == "late_onset":
        st_ms = max(
            float(rng.uniform(LATE_ONSET_ST_MS + 10.0, 240.0)),
            room_ms - (BROAD_BASED_T_MS - 20.0 - tpeak_tend_ms),
        )
    else:
        st_ms = room_ms - tpeak_tend_ms * float(rng.uniform(*phenotype.upstroke_ratio))
    st_ms = min(max(st_ms, min_st_ms), room_ms - _MIN_UPSTROKE_MS)
    t_upstroke_ms = room_ms - st_ms

    largest_t = max(abs(t_ii), abs(t_v5)) * 1.3  # the V3–V4 T is usually the largest
    return SynthParams(
        heart_rate_bpm=heart_rate,
        rr_variability=rr_variability,
        respiratory_arrhythmia=respiratory,
        pr_ms=pr_ms,
        p_duration_ms=p_duration_ms,
        qrs_ms=qrs_ms,
        qtc_ms=qtc_ms,
        tpeak_tend_ms=tpeak_tend_ms,
        t_upstroke_ms=t_upstroke_ms,
        t_exponent=t_exponent,
        t_amplitude_ii_mv=t_ii,
        t_amplitude_v5_mv=t_v5,
        notch_depth=notch_depth,
        u_wave_mv=u_wave_mv,
        u_width_ms=u_width_ms,
        alternans_mv=alternans_fraction * largest_t,
        qt_jitter_ms=qt_jitter_ms,
        qrs_amplitude_scale=qrs_scale,
        axis_rotation_deg=rotation,  # type: ignore[arg-type]
        age_years=age,
        sex=sex,  # type: ignore[arg-type]
        phenotype=name,
    )
