"""How far an ECG lies from the real ECGs a network was trained on (out-of-distribution score).

Two distances of the network's penultimate features (the backbone embedding the concept heads
read) are computed:

* the **Mahalanobis distance** from the real training ECGs' features — the feature-space detector
  of Lee et al. (NeurIPS 2018) with one class; far inputs (noise, pacing spikes) score high;
* the **relative Mahalanobis distance**: that distance minus the one from a *background* fitted on
  everything the network was trained on (real and synthetic ECGs) — Ren et al., "A Simple Fix to
  Mahalanobis Distance for Improving Near-OOD Detection" (arXiv:2106.09022, 2021); it removes what
  all training inputs share, so a synthetic tracing, close to the synthetic half of the training
  data, still scores as unlike the real ECGs.

Covariances are shrunk towards a scaled identity (Ledoit & Wolf, J Multivar Anal 88:365, 2004);
the precision matrices are stored in half precision (computed in single precision).

Feature distances alone go blind to what training augmented away: a network fine-tuned long on
noise- and wander-augmented windows learns features that ignore noise, so a tracing drowned in
it lies close to the real ECGs in feature space (issue 16: 56 % of drowned tune windows flagged
after 6 epochs, 10 % after 30). Three **input descriptors** read the model input itself
(:func:`input_descriptors`) and are referenced the same way:

* **noise** — the median over leads of the median absolute sample-to-sample difference: between
  the QRS complexes (most of the samples) a clean ECG barely moves from one sample to the next,
  while broadband noise (muscle, mains, a loose electrode) moves it every sample;
* **wander** — the median over leads of the 5th–95th percentile range of the 1-s moving
  average: the baseline's excursion once the beats are averaged out;
* **limb reversal** — the polarity of aVR minus that of lead I (polarity: (p99.5 + p0.5) ÷
  (p99.5 − p0.5) of the lead, +1 all upright, −1 all inverted): aVR is negative and lead I
  positive on nearly every correctly wired ECG, and swapped arm electrodes turn lead I over and
  put aVL in aVR's place — the classic sign of the most common cable reversal (Batchvarov VN,
  Malik M, Camm AJ, Europace 9:1081, 2007). Dextrocardia scores high too, and should be checked.

Each is read against **reference values**: those of real ECGs the statistics were not fitted
on (the ``tune`` role of :mod:`models.data.splits`). ``percentile`` is where a record falls among
them in the respect where it lies furthest out — the largest of its five percentiles (two feature
distances, three input descriptors), reported with that respect (:data:`RESPECTS`), so the
message says what to check; an ECG beyond :data:`HIGH_PERCENTILE` is flagged: its concepts and
risks rest on a signal unlike any the network learned from (noise, pacing, swapped leads, a
synthetic tracing, another population).

The statistics live in the network's buffers (:class:`FeatureDistance`), so every bundle carries
its own; a network whose statistics were never fitted reports no score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import uniform_filter1d
from torch import nn

from models.ecg.record import STANDARD_LEADS

#: Reference percentile above which a record is flagged as unlike the training ECGs.
HIGH_PERCENTILE = 99.0
#: Number of reference quantiles stored (0, 1, …, 100 %).
N_QUANTILES = 101
#: The input descriptors of :func:`input_descriptors`, in column order.
INPUT_DESCRIPTORS: tuple[str, ...] = ("noise", "wander", "limb_reversal")
#: The feature distances of :meth:`FeatureDistance.distances`, in order.
FEATURE_DISTANCES: tuple[str, ...] = ("features", "relative_features")


@dataclass(frozen=True)
class Respect:
    """One respect in which an ECG is compared with the reference ECGs, in a clinician's words.

    Attributes:
        key: a name of :data:`INPUT_DESCRIPTORS` or :data:`FEATURE_DISTANCES`.
        what: what is compared ("its noise").
        advice: what to check when the ECG lies beyond the references in this respect.
    """

    key: str
    what: str
    advice: str


#: Every respect by key. Where a record lies equally far out in several (beyond every reference,
#: percentile 100), the score names the first in :data:`RESPECT_ORDER`.
RESPECTS: dict[str, Respect] = {r.key: r for r in (
    Respect("noise", "its noise (the sample-to-sample jitter between the beats)",
            "Muscle tremor, mains interference or a loose electrode can make its concepts and "
            "risks wrong: check the electrodes and the filters."),
    Respect("wander", "its baseline wander",
            "Breathing, movement or a loose electrode can make its concepts and risks wrong: "
            "check the electrodes and record again at rest."),
    Respect("limb_reversal", "the polarity of aVR against lead I",
            "Lead I inverted with aVR upright is the sign of swapped arm electrodes (or of "
            "dextrocardia): check the electrodes before reading its concepts and risks."),
    Respect("features", "the shape of its waveforms, as the network reads them,",
            "Pacing, an unusual rhythm or recording, or a patient group the model has not seen "
            "can make its concepts and risks wrong: check the tracing and the measured values."),
    Respect("relative_features",
            "the shape of its waveforms, as the network reads them apart from what synthetic "
            "ECGs share,",
            "A synthetic or simulated tracing, pacing or an unusual recording can make its "
            "concepts and risks wrong: check the tracing and the measured values."),
)}
#: Tie order of the respects: the input descriptors first (they say what to check), then the
#: feature distances.
RESPECT_ORDER: tuple[str, ...] = (*INPUT_DESCRIPTORS, *FEATURE_DISTANCES)
#: Width of the moving average whose excursion measures baseline wander (s).
WANDER_WINDOW_S = 1.0
#: Percentiles (of a lead's samples) whose sum and range give its polarity.
POLARITY_PERCENTILES = (0.5, 99.5)


def input_descriptors(signal: np.ndarray, lead_mask: np.ndarray, fs_hz: float) -> np.ndarray:
    """The input descriptors ``[B, 3]`` (:data:`INPUT_DESCRIPTORS`) of model inputs ``signal``
    ``[B, 12, L]`` (standardised units, :mod:`models.nets.inputs`; standard lead order) sampled
    at ``fs_hz`` (Hz), over the leads present in ``lead_mask`` ``[B, 12]``: noise and wander
    (standardised units, median over the present leads) and limb reversal (dimensionless, −2 to
    2; 0 unless both lead I and aVR are present). A record without leads gets zeros.

    Example:
        >>> t = np.arange(1000) / 100.0
        >>> clean = np.zeros((1, 12, 1000)); drowned = clean + 0.5 * np.sin(2 * np.pi * 0.3 * t)
        >>> found = input_descriptors(np.concatenate([clean, drowned]), np.ones((2, 12), bool), 100)
        >>> bool(found[1, 1] > found[0, 1] == 0.0)
        True
    """
    values = np.asarray(signal, dtype=np.float64)
    present = np.asarray(lead_mask, bool)
    noise = np.median(np.abs(np.diff(values, axis=-1)), axis=-1)
    smooth = uniform_filter1d(values, max(1, round(WANDER_WINDOW_S * fs_hz)), axis=-1,
                              mode="nearest")
    low, high = np.percentile(smooth, [5.0, 95.0], axis=-1)
    per_lead = np.stack([noise, high - low], axis=-1)  # [B, 12, 2]
    absent = np.broadcast_to(~present[..., None], per_lead.shape)
    spread = np.ma.median(np.ma.masked_array(per_lead, absent), axis=1).filled(0.0)
    return np.column_stack([spread, _limb_reversal(values, present)])


def _limb_reversal(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``[B]`` polarity of aVR minus polarity of lead I (0 where either lead is absent)."""
    lead_i, avr = STANDARD_LEADS.index("I"), STANDARD_LEADS.index("aVR")
    low, high = np.percentile(values[:, [lead_i, avr]], POLARITY_PERCENTILES, axis=-1)
    polarity = (high + low) / np.maximum(high - low, 1e-6)  # [B, 2]: I, aVR
    return np.where(present[:, lead_i] & present[:, avr], polarity[:, 1] - polarity[:, 0], 0.0)


class FeatureDistance(nn.Module):
    """Mahalanobis and relative Mahalanobis distances of features ``[B, E]``.

    Buffers: ``mean`` ``[E]`` and ``precision`` ``[E, E]`` of the real training features,
    ``background_mean`` and ``background_precision`` of all training features (precisions:
    inverse shrunk covariances, float16), ``quantiles`` and ``relative_quantiles`` ``[101]``
    (0–100 % of the reference records' two distances) and ``fitted`` (1 once :meth:`fit` ran);
    ``input_quantiles`` ``[3, 101]`` of the reference records' input descriptors
    (:func:`input_descriptors`) and ``input_fitted`` (0 in a bundle saved before they existed: its
    score then reads the features alone).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("precision", torch.zeros(dim, dim, dtype=torch.float16))
        self.register_buffer("background_mean", torch.zeros(dim))
        self.register_buffer("background_precision", torch.zeros(dim, dim, dtype=torch.float16))
        self.register_buffer("quantiles", torch.zeros(N_QUANTILES))
        self.register_buffer("relative_quantiles", torch.zeros(N_QUANTILES))
        self.register_buffer("fitted", torch.zeros(()))
        self.register_buffer("input_quantiles",
                             torch.zeros(len(INPUT_DESCRIPTORS), N_QUANTILES))
        self.register_buffer("input_fitted", torch.zeros(()))

    @property
    def is_fitted(self) -> bool:
        """Whether statistics were fitted (a network trained without real ECGs has none)."""
        return bool(self.fitted.item() > 0)

    def fit(
        self,
        train_features: np.ndarray,
        background_features: np.ndarray,
        reference_features: np.ndarray,
        reference_descriptors: np.ndarray | None = None,
    ) -> None:
        """Fit the real statistics on ``train_features`` ``[n, E]`` and the background on them
        plus ``background_features`` (the other training inputs, e.g. synthetic ECGs); store the
        quantiles of the distances of ``reference_features`` ``[m, E]`` (real records the fit
        did not see) and, when given, of those records' input descriptors ``reference_descriptors``
        ``[m, 3]`` (:func:`input_descriptors`).

        Raises:
            ValueError: fewer than 2 training or 1 reference records.
        """
        from sklearn.covariance import LedoitWolf

        if train_features.shape[0] < 2 or reference_features.shape[0] < 1:
            raise ValueError("the OOD statistics need ≥ 2 training and ≥ 1 reference records")
        for mean, precision, features in (
            (self.mean, self.precision, train_features),
            (
                self.background_mean,
                self.background_precision,
                np.concatenate([train_features, background_features]),
            ),
        ):
            estimate = LedoitWolf().fit(np.asarray(features, dtype=np.float64))
            mean.copy_(torch.as_tensor(estimate.location_, dtype=torch.float32))
            precision.copy_(torch.as_tensor(estimate.precision_, dtype=torch.float16))
        self.fitted.fill_(1.0)
        reference = torch.as_tensor(reference_features, dtype=torch.float32)
        levels = np.linspace(0.0, 100.0, N_QUANTILES)
        for quantiles, distances in zip(
            (self.quantiles, self.relative_quantiles), self.distances(reference), strict=True
        ):
            quantiles.copy_(
                torch.as_tensor(np.percentile(distances.numpy(), levels), dtype=torch.float32)
            )
        if reference_descriptors is not None:
            self.input_quantiles.copy_(torch.as_tensor(
                np.percentile(reference_descriptors, levels, axis=0).T, dtype=torch.float32))
            self.input_fitted.fill_(1.0)

    @staticmethod
    def _mahalanobis(
        features: torch.Tensor, mean: torch.Tensor, precision: torch.Tensor
    ) -> torch.Tensor:
        device = features.device
        centred = features.float() - mean.to(device)
        squared = ((centred @ precision.to(device).float()) * centred).sum(-1)
        return squared.clamp(min=0.0).sqrt()

    def distances(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mahalanobis and relative Mahalanobis distance ``[B]`` each (dimensionless)."""
        distance = self._mahalanobis(features, self.mean, self.precision)
        background = self._mahalanobis(features, self.background_mean, self.background_precision)
        return distance, distance - background

    def percentiles(self, features: torch.Tensor, descriptors: np.ndarray | None = None,
                    distances: tuple[torch.Tensor, torch.Tensor] | None = None
                    ) -> tuple[np.ndarray, tuple[str, ...]]:
        """Percentile (0–100) of each record among the reference records in each respect, and
        the respects' keys (:data:`RESPECT_ORDER`): its two feature distances and, when
        ``descriptors`` ``[B, 3]`` (:func:`input_descriptors`) are given and their reference was
        fitted, its input descriptors. ``distances``: :meth:`distances` of ``features`` when the
        caller already has them. Returns ``([B, n], keys)``."""
        distance, relative = (d.numpy() for d in distances or self.distances(features))
        scores = {"features": (distance, self.quantiles),
                  "relative_features": (relative, self.relative_quantiles)}
        if descriptors is not None and bool(self.input_fitted.item() > 0):
            scores.update(zip(INPUT_DESCRIPTORS,
                              zip(np.asarray(descriptors).T, self.input_quantiles, strict=True),
                              strict=True))
        keys = tuple(key for key in RESPECT_ORDER if key in scores)
        return np.stack([_percentile_of(*scores[key]) for key in keys], axis=1), keys

    def furthest(self, features: torch.Tensor, descriptors: np.ndarray | None = None,
                 distances: tuple[torch.Tensor, torch.Tensor] | None = None
                 ) -> tuple[np.ndarray, list[str]]:
        """Per record, the largest of its :meth:`percentiles` (0–100: it lies that far out in at
        least one respect) and that respect's key (of equals, the first in
        :data:`RESPECT_ORDER`)."""
        percentiles, keys = self.percentiles(features, descriptors, distances)
        index = percentiles.argmax(axis=1)
        return percentiles[np.arange(index.size), index], [keys[k] for k in index]

    def percentile(self, features: torch.Tensor,
                   descriptors: np.ndarray | None = None) -> np.ndarray:
        """The percentile (0–100) of :meth:`furthest`."""
        return self.furthest(features, descriptors)[0]


def _percentile_of(values: np.ndarray, quantiles: torch.Tensor) -> np.ndarray:
    """Where ``values`` fall (0–100) among the reference records whose 0–100 % ``quantiles``
    are given."""
    levels = np.linspace(0.0, 100.0, N_QUANTILES)
    return np.interp(values, quantiles.cpu().numpy(), levels, left=0.0, right=100.0)


def describe_score(percentile: float, high: bool, respect: str | None = None) -> str:
    """What a score means, in one or two sentences for a clinician: ``percentile`` (0–100) in
    the ``respect`` (a key of :data:`RESPECTS`) where the ECG lies furthest out (``None``, in a
    prediction stored before respects were named: any of them).

    Example:
        >>> describe_score(100.0, True, "noise").split(": ")[1].split(".")[0]
        'its noise (the sample-to-sample jitter between the beats) lies further out than in every held-out real ECG'
    """
    where = ("every held-out real ECG" if percentile >= 99.5
             else f"{percentile:.0f} % of held-out real ECGs")
    named = RESPECTS.get(respect or "")
    if named is None:  # a prediction stored before respects were named
        respects = "waveforms, noise, baseline wander, limb-lead polarity"
        if high:
            return (f"This ECG is unlike the real ECGs the model learned from: in at least one "
                    f"respect ({respects}) it lies further out than {where}. Noise, pacing, "
                    "swapped arm electrodes or an unusual recording can make its concepts and "
                    "risks wrong: check the tracing, the electrodes and the measured values.")
        return (f"This ECG lies within the real ECGs the model learned from: in no respect "
                f"({respects}) further out than {where}.")
    if high:
        return (f"This ECG is unlike the real ECGs the model learned from: {named.what} lies "
                f"further out than in {where}. {named.advice}")
    return (f"This ECG lies within the real ECGs the model learned from: where it is least "
            f"typical, {named.what} lies further out than in {where}.")
