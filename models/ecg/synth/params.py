"""The parameters of one synthetic ECG (what a caller sets) and their validation."""

from __future__ import annotations

from dataclasses import dataclass

from models.concepts import Sex


@dataclass(frozen=True)
class SynthParams:
    """Everything that shapes one synthetic record; every duration in ms, amplitude in mV.

    Attributes:
        heart_rate_bpm: nominal rate; the mean RR is ``60000 / heart_rate_bpm`` and the realised
            median RR (the ``rr`` concept) differs from it by the RR variability.
        rr_variability: SD of the random beat-to-beat RR deviation, as a fraction of the RR.
        respiratory_arrhythmia: amplitude of the respiratory sinus arrhythmia (fraction of RR).
        pr_ms: P onset → QRS onset.
        p_duration_ms: P onset → P offset (must leave a PR segment of ≥ 20 ms).
        qrs_ms: QRS onset → QRS offset.
        qtc_ms: QTc (Fridericia) of the median beat; its QT is ``qtc_ms · (rr / 1000)^(1/3)``
            with ``rr`` the realised median RR, so ``qtc_fridericia`` equals ``qtc_ms`` exactly.
        tpeak_tend_ms: T peak → T end (tangent method).
        t_upstroke_ms: T onset → T peak (tangent onset). The ST segment (J point → T onset) is
            what remains: ``qt − qrs − t_upstroke − tpeak_tend``; a long ST with a normal-width T
            is the late-onset (LQT3) pattern, a long upstroke + Tpeak-Tend the broad-based (LQT1).
        t_exponent: shape exponent ``p`` of both T limbs (2 = Gaussian; larger = flatter top).
        t_amplitude_ii_mv, t_amplitude_v5_mv: T peak in II and V5 vs the isoelectric level
            (negative = inverted).
        notch_depth: depth of the T notch as a fraction of the T peak (0 = no notch).
        u_wave_mv: U-wave peak in the lead where it is largest (0 = no U wave).
        u_width_ms: U-wave duration.
        alternans_mv: |even − odd| beat T amplitude difference in the lead with the largest T
            (0 = no alternans).
        qt_jitter_ms: SD of the random per-beat QT deviation (clipped at ±3 SD).
        qrs_amplitude_scale, p_amplitude_scale: multiply the nominal QRS / P vectors.
        axis_rotation_deg: rotation of the P, QRS, U and nominal T directions about X, Y, Z.
        age_years, sex: demographics (the causal model uses them).
        phenotype: a free label of the population component that produced the parameters
            (``"normal"``, ``"lqt1"`` …); never used by the label model.
    """

    heart_rate_bpm: float = 70.0
    rr_variability: float = 0.02
    respiratory_arrhythmia: float = 0.02
    pr_ms: float = 160.0
    p_duration_ms: float = 100.0
    qrs_ms: float = 90.0
    qtc_ms: float = 410.0
    tpeak_tend_ms: float = 85.0
    t_upstroke_ms: float = 130.0
    t_exponent: float = 2.0
    t_amplitude_ii_mv: float = 0.3
    t_amplitude_v5_mv: float = 0.4
    notch_depth: float = 0.0
    u_wave_mv: float = 0.0
    u_width_ms: float = 180.0
    alternans_mv: float = 0.0
    qt_jitter_ms: float = 3.0
    qrs_amplitude_scale: float = 1.0
    p_amplitude_scale: float = 1.0
    axis_rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    age_years: int = 50
    sex: Sex = "female"
    phenotype: str = "custom"

    def __post_init__(self) -> None:
        for name, low, high in _RANGES:
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name} must lie in [{low:g}, {high:g}], got {value!r}")
        if self.pr_ms < self.p_duration_ms + 20.0:
            raise ValueError(
                f"pr_ms ({self.pr_ms:g}) must exceed p_duration_ms ({self.p_duration_ms:g}) by "
                "≥ 20 ms (the PR segment)"
            )
        if len(self.axis_rotation_deg) != 3:
            raise ValueError(
                f"axis_rotation_deg needs three angles, got {self.axis_rotation_deg!r}"
            )
        if self.sex not in ("female", "male"):
            raise ValueError(f"sex must be 'female' or 'male', got {self.sex!r}")


#: Accepted range of every numeric parameter: (field, low, high).
_RANGES: tuple[tuple[str, float, float], ...] = (
    ("heart_rate_bpm", 20.0, 200.0),
    ("rr_variability", 0.0, 0.1),
    ("respiratory_arrhythmia", 0.0, 0.1),
    ("pr_ms", 60.0, 400.0),
    ("p_duration_ms", 40.0, 160.0),
    ("qrs_ms", 40.0, 250.0),
    ("qtc_ms", 200.0, 800.0),
    ("tpeak_tend_ms", 20.0, 350.0),
    ("t_upstroke_ms", 40.0, 400.0),
    ("t_exponent", 1.5, 6.0),
    ("t_amplitude_ii_mv", -3.0, 3.0),
    ("t_amplitude_v5_mv", -3.0, 3.0),
    ("notch_depth", 0.0, 0.8),
    ("u_wave_mv", 0.0, 1.0),
    ("u_width_ms", 60.0, 300.0),
    ("alternans_mv", 0.0, 3.0),
    ("qt_jitter_ms", 0.0, 50.0),
    ("qrs_amplitude_scale", 0.1, 5.0),
    ("p_amplitude_scale", 0.0, 5.0),
    ("age_years", 0, 120),
)
