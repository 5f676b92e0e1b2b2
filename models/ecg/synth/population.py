"""A population of synthetic patients: :func:`sample_params` draws one :class:`SynthParams`.

The population mixes six phenotypes (a hidden variable: the labels depend on the concepts only):

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
≥ 10 ms (Tpeak-Tend, then jitter, give way when a short QT leaves no room); random heart axis rotation
(N(0, 12°) per axis); QRS amplitude × U(0.6, 1.5); age U(18, 85) (LQTS U(12, 65), drug
U(35, 85)); women 50 % (LQTS 55 %, drug 60 %).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from models.ecg.synth.generator import BROAD_BASED_T_MS, LATE_ONSET_ST_MS, T_TO_P_MARGIN_MS
from models.ecg.synth.params import SynthParams

#: Phenotype shares of the default population.
PHENOTYPE_SHARES: Mapping[str, float] = {
    "normal": 0.56,
    "lqt1": 0.09,
    "lqt2": 0.09,
    "lqt3": 0.07,
    "herg_drug": 0.10,
    "multichannel": 0.09,
}
_LQTS = ("lqt1", "lqt2", "lqt3")
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
    heart_rate_bpm: float, qtc_ms: float, pr_ms: float, repolarisation_tail_ms: float,
    max_deviation: float, qt_jitter_ms: float,
) -> float:
    """The highest rate ≤ ``heart_rate_bpm`` at which T/U ends ≥ the margin before the next P.

    Needs ``RR·(1 − max_deviation) − PR ≥ QT(RR·(1 + max_deviation)) + 3·jitter + tail + margin``
    with ``QT(RR) = QTc·(RR/1000)^(1/3)``; solved by fixed-point iteration on RR (ms), with
    10 ms to spare.
    """
    rr_ms = 60000.0 / heart_rate_bpm
    for _ in range(50):
        longest_qt = qtc_ms * (rr_ms * (1.0 + max_deviation) / 1000.0) ** (1.0 / 3.0)
        needed = (longest_qt + 3.0 * qt_jitter_ms + repolarisation_tail_ms + T_TO_P_MARGIN_MS
                  + 10.0 + pr_ms) / (1.0 - max_deviation)
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
    phenotype = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    is_lqts = phenotype in _LQTS
    is_drug = phenotype in ("herg_drug", "multichannel")

    female_share = 0.55 if is_lqts else 0.6 if is_drug else 0.5
    sex = "female" if rng.random() < female_share else "male"
    if is_lqts:
        age = int(rng.integers(12, 66))
    elif is_drug:
        age = int(rng.integers(35, 86))
    else:
        age = int(rng.integers(18, 86))

    qtc_mean, qtc_sd = {
        "normal": (412.0, 18.0), "lqt1": (485.0, 25.0), "lqt2": (485.0, 25.0),
        "lqt3": (490.0, 25.0), "herg_drug": (470.0, 20.0), "multichannel": (455.0, 15.0),
    }[phenotype]
    qtc_ms = _normal(rng, qtc_mean + (10.0 if sex == "female" else 0.0), qtc_sd, 360.0, 580.0)
    tpte_mean, tpte_sd = {
        "normal": (85.0, 10.0), "lqt1": (105.0, 15.0), "lqt2": (115.0, 15.0),
        "lqt3": (80.0, 10.0), "herg_drug": (105.0, 15.0), "multichannel": (120.0, 15.0),
    }[phenotype]
    tpeak_tend_ms = _normal(rng, tpte_mean, tpte_sd, 50.0, 170.0)

    heart_rate = _normal(rng, 62.0, 10.0, 45.0, 100.0) if is_lqts else _normal(rng, 70.0, 12.0, 45.0, 110.0)
    pr_ms = _normal(rng, 160.0, 18.0, 120.0, 220.0)
    p_duration_ms = min(_normal(rng, 100.0, 10.0, 70.0, 120.0), pr_ms - 30.0)
    qrs_ms = _normal(rng, 92.0, 9.0, 72.0, 118.0)
    rr_variability = float(rng.uniform(0.005, 0.03))
    respiratory = float(rng.uniform(0.0, 0.04))
    jitter_range = {"normal": (1.5, 6.0), "herg_drug": (6.0, 16.0)}.get(
        phenotype, (4.0, 12.0)
    )
    qt_jitter_ms = float(rng.uniform(*jitter_range))

    low_t = phenotype in ("lqt2", "herg_drug")
    t_ii = _normal(rng, 0.18, 0.06, 0.06, 0.5) if low_t else _normal(rng, 0.32, 0.1, 0.08, 0.7)
    t_v5 = t_ii * float(rng.uniform(1.0, 1.6))
    if rng.random() < 0.04:
        t_ii, t_v5 = -float(rng.uniform(0.08, 0.3)), -float(rng.uniform(0.08, 0.35))

    u_share = {"lqt2": 0.25, "herg_drug": 0.45}.get(phenotype, 0.04)
    u_wave_mv = float(rng.uniform(0.06, 0.15)) if rng.random() < u_share else 0.0
    u_width_ms = float(rng.uniform(140.0, 200.0))
    alternans_share = 0.1 if is_lqts else 0.15 if phenotype == "herg_drug" else 0.03
    alternans_fraction = float(rng.uniform(0.25, 0.6)) if rng.random() < alternans_share else 0.0
    notch_depth = float(rng.uniform(0.25, 0.4)) if phenotype == "lqt2" else 0.0
    t_exponent = {
        "lqt1": float(rng.uniform(2.5, 3.5)), "herg_drug": float(rng.uniform(2.0, 2.8)),
    }.get(phenotype, float(rng.uniform(1.7, 2.4)))
    rotation = tuple(float(np.clip(rng.normal(0.0, 12.0), -30.0, 30.0)) for _ in range(3))
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
    if phenotype == "lqt1":
        st_ms = min(float(rng.uniform(min_st_ms, max(min_st_ms, 60.0))),
                    room_ms - (BROAD_BASED_T_MS + 10.0 - tpeak_tend_ms))
    elif phenotype == "lqt3":
        st_ms = max(float(rng.uniform(LATE_ONSET_ST_MS + 10.0, 240.0)),
                    room_ms - (BROAD_BASED_T_MS - 20.0 - tpeak_tend_ms))
    else:
        upstroke_ratio = {
            "herg_drug": (1.3, 1.8), "multichannel": (0.9, 1.2), "lqt2": (0.9, 1.4)
        }.get(
            phenotype, (1.2, 1.7)
        )
        st_ms = room_ms - tpeak_tend_ms * float(rng.uniform(*upstroke_ratio))
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
        phenotype=phenotype,
    )
