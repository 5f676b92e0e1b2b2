"""Synthetic 12-lead ECGs with exact, documented ground truth and a known causal risk.

A record is built ECGSYN-style (McSharry PE et al., IEEE Trans Biomed Eng 50:289, 2003) from a
3-D heart vector: every beat is a sum of waves, each wave a scalar shape in time times a fixed
direction (mV, Frank axes +X left, +Y feet, +Z back). The vector is projected to I, II, V1–V6
with the Dower matrix and III, aVR, aVL, aVF are derived from I and II in float32, so the
Einthoven and Goldberger identities hold exactly (:mod:`models.ecg.synth.leads`). Noise is added
to the independent leads before the derivation (:mod:`models.ecg.synth.noise`).

Use::

    rng = np.random.default_rng(seed)
    record = generate(sample_params(rng), rng, fs_hz=500.0, duration_s=10.0)
    record.ecg                 # Ecg, source_format "synthetic", mV float32, STANDARD_LEADS order
    record.truth.concepts      # every registry concept, exact
    record.truth.labels        # Bernoulli labels from the causal model

and :func:`models.data.synthetic.make_dataset` for many records as arrays.

Waves of one beat (times from the beat's QRS onset ``q``; shapes in :mod:`.waves`)
-----------------------------------------------------------------------------------
* P: two Hann pulses (right then left atrium) whose joint support is ``[q − PR, q − PR + P dur]``.
* QRS: Q, R and S Hann pulses on ``[0, 0.35]``, ``[0.10, 0.80]``, ``[0.50, 1.00]`` × QRS duration;
  their joint support is exactly ``[q, q + QRS]``.
* T: one asymmetric generalised-Gaussian lobe ``exp(−(|t − μ|/s)^p)`` (``s_a`` before the peak,
  ``s_d`` after) with one direction, so T has the same shape — and the same onset, peak and
  end — in every lead, scaled by the lead's projection. A notched T adds a negative Hann pulse
  on the ascending limb strictly between its steepest point and the peak (same direction).
* U: a Hann pulse of its own direction on ``[T end, T end + U width]``.
* Shortcut (optional): a box spike ``lead_in_ms`` before every QRS onset.

Fiducials (exact, on the noise-free waves)
------------------------------------------
Every beat whose QRS lies inside the record gets (:data:`FIDUCIALS`, seconds from the first
sample in ``GroundTruth.beat_fiducials_s``; ``× fs`` = fractional sample positions):

* **P onset** = ``q − PR``: the start of the P pulses' support. (A Hann pulse of width ``w`` and
  peak ``A`` rises as ``A·(π t / w)²`` from its onset, so a threshold-based delineator sees
  onsets a few ms late and offsets a few ms early, as on real ECGs.)
* **QRS onset** = ``q`` and **QRS offset** = ``q + QRS``: the support edges of the QRS pulses,
  which are the global (earliest / latest over all leads) onset and offset — every lead with a
  non-zero Q (S) projection starts (ends) there.
* **T end** — tangent method: the tangent to the T wave at the steepest point of its descending
  limb (after the last local maximum) meets the isoelectric baseline (0 mV; the noise-free signal
  has no offset) at ``μ + c_p·s_d`` with ``c_p = u* + 1/(p·u*^(p−1))``, ``u* = ((p−1)/p)^(1/p)``;
  for a Gaussian limb (``p = 2``, ``σ = s/√2``) this is ``μ + 2σ``. It is evaluated on the T
  component alone: the U wave starts at T end and so cannot move it; it is the same in every lead.
* **T onset** — the mirrored tangent on the ascending limb (before the first local maximum):
  ``μ − c_p·s_a``. A notch lies after the ascending steepest point, so it moves neither.
* **T peak** = ``μ``, the global maximum of the T shape (the notch ends before it).
* Per beat ``i``: ``QT_i = QTc·(RR_{i−1}/1000)^(1/3) + jitter_i`` (jitter ~ N(0, qt_jitter), clipped
  at ±3 SD, with ``RR_{i−1}`` the preceding RR), then shifted by a common constant so that the
  median QT over the *QT beats* (beats with both neighbours' QRS inside the record) equals the
  median-beat QT, and floored at ``QRS + T upstroke + Tpeak-Tend`` so that no T starts before its
  J point (a floor below the median leaves the median unchanged). The whole T (and U) of beat
  ``i`` is moved by ``QT_i − QT``.

The **median beat** (``median_fiducials_ms``, ms from its QRS onset) is the noise-free template:
P onset ``−PR``, QRS onset 0, QRS offset ``QRS``, T onset, T peak ``QT − Tpeak-Tend``, T end ``QT``.

Concepts (``GroundTruth.concepts``: every :data:`models.concepts.REGISTRY` entry)
--------------------------------------------------------------------------------
* ``rr`` — median of the intervals between consecutive QRS onsets (= R peaks: the QRS is the same
  in every beat) of beats whose QRS lies inside the record. RR varies beat to beat
  (respiratory sinus arrhythmia + random), so ``rr`` is close to, not equal to,
  ``60000 / heart_rate_bpm``.
* ``pr``, ``qrs``, ``tpeak_tend`` — the set values, exactly.
* ``qt`` = ``qtc_ms · (rr/1000)^(1/3)``, so ``qtc_fridericia`` = the set ``qtc_ms`` exactly; it is
  both the median-beat QT and the median per-beat QT over the QT beats.
* ``jtpeak`` = T peak − QRS offset = ``qt − tpeak_tend − qrs``.
* ``heart_rate``, ``qtc_*``, ``jtpeak_c``, ``qtc_prolonged`` — :func:`models.concepts.rederive`.
* ``t_amplitude_ii``, ``t_amplitude_v5`` — T peak (mV) vs the isoelectric level in II / V5 of the
  median beat: the set values, met exactly by solving for the T direction (the minimum-norm change
  of a nominal direction). With alternans it is the mean of even and odd beats.
* ``t_asymmetry``, ``t_flatness`` — :func:`models.ecg.morphology.t_asymmetry` /
  :func:`~models.ecg.morphology.t_flatness` of the noise-free T shape from T onset to T end,
  sampled at 1 kHz (whatever the record's rate). All leads share the shape, so the principal lead
  is any lead.
* ``qtc_variability`` — SD (``ddof=1``) of the per-beat QTc (Fridericia, preceding RR) over the
  QT beats, as generated.
* ``t_notched`` — 1 when the T shape has a notch (2 local maxima between T onset and T end) and
  ≥ 3 leads show a T wave of ≥ 0.05 mV (all leads share the shape, so all of them are notched).
* ``t_inverted`` — T amplitude < −0.05 mV in II or V5.
* ``t_late_onset`` — ST segment (QRS offset → T onset) ≥ 160 ms and T onset → T end < 240 ms.
* ``t_broad_based`` — T onset → T end ≥ 240 ms.
* ``u_wave`` — U peak ≥ 0.05 mV in its largest lead.
* ``t_alternans`` — the |even − odd| T amplitude difference in the lead with the largest T is
  ≥ 0.05 mV (beats alternate ``1 ± a/2`` times the median-beat T).

Labels: :class:`CausalRiskModel` (module :mod:`.causal`, coefficients there) — logistic in
standardised concepts, Bayes-optimal probability known, interventions exact. On the default
population (:func:`sample_params`, module :mod:`.population`; 20,000 records) ``label_model="full"``
gives a ``lqts_risk`` prevalence of 39 % and ``tdp_risk`` 39 %, Bayes AUROC (the true probability
as the score) 0.95 and 0.92, and the two probabilities correlate at 0.85; ``"qtc_only"`` gives
39 % and 35 % with Bayes AUROC 0.95 and 0.92. Binary concepts: notched T 9 %, inverted T 4 %,
late-onset T 15 %, broad-based T 33 %, U wave 10 %, alternans 6 %, QTc prolonged 38 %.
``tests/synth/test_causal.py`` pins these ranges.
"""

from models.ecg.synth.causal import CausalRiskModel, LogisticTerm, RiskEquation
from models.ecg.synth.generator import (
    FIDUCIALS,
    GroundTruth,
    ShortcutConfig,
    ShortcutTruth,
    SyntheticEcg,
    generate,
)
from models.ecg.synth.noise import NoiseConfig
from models.ecg.synth.params import SynthParams
from models.ecg.synth.population import PHENOTYPE_SHARES, PHENOTYPES, Phenotype, sample_params

__all__ = [
    "FIDUCIALS",
    "PHENOTYPES",
    "PHENOTYPE_SHARES",
    "CausalRiskModel",
    "GroundTruth",
    "LogisticTerm",
    "NoiseConfig",
    "Phenotype",
    "RiskEquation",
    "ShortcutConfig",
    "ShortcutTruth",
    "SynthParams",
    "SyntheticEcg",
    "generate",
    "sample_params",
]
