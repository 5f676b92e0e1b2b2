"""The concept bottleneck: coordinates, derivations and the heads that predict concepts.

Bottleneck order is the order of :data:`models.concepts.REGISTRY` (``K`` concepts). Every tensor
called ``values`` is ``[B, K]`` in registry units (ms, mV, bpm, a.u.), binary concepts as a
probability in [0, 1]; ``activations`` are what the task head reads: continuous concepts
standardised with the training mean and SD, binary concepts unchanged.

**Derived concepts are re-derived, never predicted nor kept.** ``heart_rate``, the four QTc
formulas, ``jtpeak_c`` and ``qtc_prolonged`` are computed inside the network from the predicted
``rr``, ``qt``, ``jtpeak`` (and sex) with the registry's own formulas (:meth:`ConceptSpace.derive`),
so the model can never show a QTc that disagrees with its QT and RR, and an intervention on QT
moves every QTc exactly as :func:`models.concepts.rederive` does. A derived concept a clinician
types in directly is *back-solved* into its primary input with the registry's inverse formula
(:meth:`ConceptSpace.override`: a QTc → QT with the RR in force), so the task head — whose input
includes derived columns, and which is not retrained for this — is a function of the primary
concepts in force whichever field was typed.

**Uncertainty** of a measured continuous concept is a predicted log-variance trained with a
Gaussian negative log-likelihood on the detached mean (Kendall & Gal, NeurIPS 2017,
heteroscedastic regression), so the Huber loss alone shapes the mean. A derived concept's
spread is propagated through its formula by Monte Carlo (:meth:`ConceptSpace.spread`); a binary
concept's uncertainty is the Bernoulli SD ``sqrt(p (1 − p))``.

**Concept embeddings.** Both heads return positive and negative embeddings ``[B, K, m]``; the
task head reads ``c⁻ + a · (c⁺ − c⁻)`` per concept. The Concept Embedding Model (Espinosa Zarlenga
et al., NeurIPS 2022) predicts them from the ECG; the plain bottleneck is the special case
``c⁺ = 1, c⁻ = 0, m = 1`` (the task head reads ``a`` itself). For a binary concept ``a = p`` gives
CEM's mixture ``p c⁺ + (1 − p) c⁻``; for a continuous one ``a`` is the standardised value, so
``c⁻`` is the embedding at the training mean and ``c⁺ − c⁻`` the change per SD.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import torch
from torch import nn

from models.concepts import REGISTRY, Sex, back_solving_order, derivation_order

#: Integer codes for sex in model inputs.
SEX_UNKNOWN, SEX_FEMALE, SEX_MALE = 0, 1, 2


def sex_code(sex: Sex | None) -> int:
    """The model's integer code for ``sex`` (0 unknown, 1 female, 2 male)."""
    return {None: SEX_UNKNOWN, "female": SEX_FEMALE, "male": SEX_MALE}[sex]


class _Columns(Mapping[str, torch.Tensor]):
    """Concept name → ``[B]`` column of a ``[B, K]`` tensor, read on demand (a registry formula
    touches two or three columns), with the derived columns computed so far in ``derived``."""

    def __init__(self, values: torch.Tensor, index: Mapping[str, int]) -> None:
        self.values = values
        self.index = index
        self.derived: dict[str, torch.Tensor] = {}

    def __getitem__(self, name: str) -> torch.Tensor:
        if name in self.derived:
            return self.derived[name]
        return self.values[:, self.index[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.index)

    def __len__(self) -> int:
        return len(self.index)


class ConceptSpace(nn.Module):
    """Registry-ordered concept coordinates: standardisation and in-network derivations.

    Buffers ``mean``/``sd`` hold the training-set mean and SD of every continuous concept in
    registry units (binary concepts: 0 and 1, i.e. unchanged); they are saved with the weights
    and written to the bundle card.
    """

    def __init__(self) -> None:
        super().__init__()
        n = len(REGISTRY)
        self.names: tuple[str, ...] = tuple(c.name for c in REGISTRY)
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("sd", torch.ones(n))
        self.register_buffer("is_binary", torch.tensor([c.is_binary for c in REGISTRY]))
        self.register_buffer("is_derived", torch.tensor([c.is_derived for c in REGISTRY]))
        low = [c.plausible_low if not c.is_binary else 0.0 for c in REGISTRY]
        high = [c.plausible_high if not c.is_binary else 1.0 for c in REGISTRY]
        self.register_buffer("plausible_low", torch.tensor(low, dtype=torch.float32))
        self.register_buffer("plausible_high", torch.tensor(high, dtype=torch.float32))
        self._index = {c.name: i for i, c in enumerate(REGISTRY)}
        self._derived = tuple((self._index[c.name], c) for c in derivation_order())
        index = torch.tensor([i for i, _ in self._derived])
        self.register_buffer("derived_index", index, persistent=False)
        self._solving = tuple(
            (self._index[c.name], self._index[c.solves], c)  # type: ignore[index]
            for c in back_solving_order()
        )

    @property
    def n_concepts(self) -> int:
        """``K``, the number of concepts in the bottleneck."""
        return len(self.names)

    @property
    def is_measured(self) -> torch.Tensor:
        """``[K]`` bool: concepts predicted from the ECG (not derived)."""
        return ~self.is_derived

    def set_statistics(self, mean: Sequence[float], sd: Sequence[float]) -> None:
        """Store training-set mean and SD (registry units) of the continuous concepts."""
        mean_t = torch.as_tensor(mean, dtype=torch.float32)
        sd_t = torch.as_tensor(sd, dtype=torch.float32)
        if mean_t.shape != self.mean.shape or sd_t.shape != self.sd.shape:
            raise ValueError(f"expected {self.n_concepts} means and SDs, got {tuple(mean_t.shape)}")
        if not bool(torch.all(sd_t > 0)):
            raise ValueError("every concept SD must be positive")
        self.mean.copy_(torch.where(self.is_binary, torch.zeros_like(mean_t), mean_t))
        self.sd.copy_(torch.where(self.is_binary, torch.ones_like(sd_t), sd_t))

    def standardise(self, values: torch.Tensor) -> torch.Tensor:
        """Registry units → activations (continuous: (v − mean) / SD; binary unchanged)."""
        return (values - self.mean) / self.sd

    def values_from_raw(self, raw: torch.Tensor) -> torch.Tensor:
        """Head outputs (standardised means, binary logits) → values in registry units.

        Continuous values are clipped to the registry's plausible range, so a derivation never
        sees an impossible input (a negative RR).
        """
        continuous = (raw * self.sd + self.mean).clamp(self.plausible_low, self.plausible_high)
        return torch.where(self.is_binary, torch.sigmoid(raw), continuous)

    def derive(self, values: torch.Tensor, sex: torch.Tensor) -> torch.Tensor:
        """Recompute every derived concept from its inputs with the registry's formulas.

        Args:
            values: ``[B, K]`` registry units; derived columns are overwritten.
            sex: ``[B]`` sex codes (sex-specific formulas such as ``qtc_prolonged``).

        Returns:
            ``[B, K]`` values whose derived columns follow from the rest.
        """
        columns = _Columns(values, self._index)
        for i, concept in self._derived:
            assert concept.derive is not None
            if concept.sex_specific:
                unknown, female, male = (
                    concept.derive(columns, s) for s in (None, "female", "male")
                )
                derived = torch.where(
                    sex == SEX_FEMALE, female, torch.where(sex == SEX_MALE, male, unknown)
                )
            else:
                derived = concept.derive(columns, None)
            columns.derived[concept.name] = derived
        derived_columns = torch.stack([columns.derived[c.name] for _, c in self._derived], dim=1)
        return values.index_copy(1, self.derived_index, derived_columns.to(values.dtype))

    def back_solve(self, values: torch.Tensor, overrides: torch.Tensor) -> torch.Tensor:
        """``values`` with the given ``overrides`` (``[B, K]``, NaN = not given) in force as
        primary concepts: a primary one is put in; a typed derived one (a QTc) sets its primary
        input (QT) through the registry's inverse, reading the other inputs in force (RR, itself
        possibly overridden or back-solved from a typed heart rate). A derived override without
        an inverse (``qtc_prolonged``) is ignored, and one whose primary input is given too
        yields to it; :func:`models.intervene.validate_overrides` refuses both up front.
        Derived columns are left for :meth:`derive`."""
        given = ~overrides.isnan()
        primary = torch.where(given & ~self.is_derived, overrides, values)
        typed = given.any(dim=0).tolist()  # [K]: a column no record types is left as it is
        for i, target, concept in self._solving:
            if not typed[i]:
                continue
            assert concept.inverse is not None
            solved = concept.inverse(_Columns(primary, self._index), overrides[:, i])
            use = given[:, i] & ~given[:, target]
            column = torch.where(use, solved, primary[:, target]).unsqueeze(1)
            primary = primary.index_copy(1, torch.tensor([target], device=values.device), column)
        return primary

    def override(
        self, values: torch.Tensor, overrides: torch.Tensor, sex: torch.Tensor
    ) -> torch.Tensor:
        """``values`` with ``overrides`` back-solved into the primary concepts
        (:meth:`back_solve`) and every derived concept re-derived from them."""
        return self.derive(self.back_solve(values, overrides), sex)

    def spread(
        self,
        values: torch.Tensor,
        measured_sd: torch.Tensor,
        sex: torch.Tensor,
        n_draws: int = 256,
        seed: int = 0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Uncertainty of every concept, derived ones propagated through their formulas.

        Measured continuous concepts are drawn from ``N(value, measured_sd²)`` (clipped to the
        registry's plausible range), binary ones from ``Bernoulli(p)``; derived concepts are
        computed on each draw. Deterministic for a given ``seed``, and every record gets the same
        standard draws (common random numbers), so a record's spread does not depend on the
        batch it came in.

        Args:
            values: ``[B, K]`` predicted values (registry units, binary = probability).
            measured_sd: ``[B, K]`` SD of the measured continuous concepts (other columns ignored).
            sex: ``[B]`` sex codes.
            n_draws: Monte Carlo draws per record.
            seed: seed of the draws.

        Returns:
            ``(sd [B, K], probability [B, K])``: SD in registry units (binary: Bernoulli SD);
            probability of binary concepts (continuous: NaN).
        """
        generator = torch.Generator(device=values.device).manual_seed(seed)
        b, k = values.shape
        noise = torch.randn((n_draws, 1, k), generator=generator, device=values.device)
        uniform = torch.rand((n_draws, 1, k), generator=generator, device=values.device)
        continuous_draw = (values + noise * measured_sd).clamp(
            self.plausible_low, self.plausible_high
        )  # [n_draws, B, K]
        binary_draw = (uniform < values).to(values.dtype)
        draws = torch.where(self.is_binary, binary_draw, continuous_draw).reshape(n_draws * b, k)
        derived = self.derive(draws, sex.repeat(n_draws)).reshape(n_draws, b, k)
        derived_sd = derived.std(dim=0)
        probability = torch.where(self.is_derived, derived.mean(dim=0), values)
        sd = torch.where(
            self.is_binary,
            (probability * (1 - probability)).sqrt(),
            torch.where(self.is_derived, derived_sd, measured_sd),
        )
        return sd, torch.where(
            self.is_binary, probability, torch.full_like(probability, float("nan"))
        )


class ConceptHead(nn.Module):
    """Plain concept bottleneck head: one linear map from the ECG embedding to the concepts.

    ``forward(embedding [B, E]) -> (raw [B, K], logvar [B, K], c⁺ [B, K, 1], c⁻ [B, K, 1])`` where
    ``raw`` holds standardised means of measured continuous concepts and logits of measured
    binary ones (derived columns 0), ``logvar`` the log-variance of the standardised continuous
    ones (0 elsewhere); the embeddings are the constants 1 and 0.
    """

    embedding_dim = 1

    def __init__(self, embedding_dim: int, space: ConceptSpace) -> None:
        super().__init__()
        measured = space.is_measured
        measured_continuous = measured & ~space.is_binary
        self.register_buffer("measured_index", torch.nonzero(measured).squeeze(1))
        self.register_buffer("variance_index", torch.nonzero(measured_continuous).squeeze(1))
        self.value = nn.Linear(embedding_dim, int(measured.sum()))
        self.logvar = nn.Linear(embedding_dim, int(measured_continuous.sum()))
        self.n_concepts = space.n_concepts

    def forward(
        self, embedding: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        b = embedding.shape[0]
        zeros = embedding.new_zeros(b, self.n_concepts)
        raw = zeros.index_copy(1, self.measured_index, self.value(embedding))  # [B, K]
        logvar = zeros.index_copy(1, self.variance_index, self.logvar(embedding))  # [B, K]
        positive = embedding.new_ones(b, self.n_concepts, 1)
        return raw, logvar, positive, torch.zeros_like(positive)


class ConceptEmbeddingHead(nn.Module):
    """Concept Embedding Model head (Espinosa Zarlenga et al., NeurIPS 2022).

    Each concept ``i`` has a generator ``φᵢ`` making a positive and a negative embedding
    (``m`` numbers each, LeakyReLU) from the ECG embedding; one scoring layer shared by all
    concepts reads ``[c⁺ᵢ, c⁻ᵢ]`` and returns the concept's standardised value or logit and its
    log-variance. Same outputs as :class:`ConceptHead`, with ``m = embedding_dim``.
    """

    def __init__(self, embedding_dim: int, space: ConceptSpace, concept_dim: int) -> None:
        super().__init__()
        self.embedding_dim = concept_dim
        self.n_concepts = space.n_concepts
        self.generators = nn.Linear(embedding_dim, self.n_concepts * 2 * concept_dim)
        self.act = nn.LeakyReLU()
        self.score = nn.Linear(2 * concept_dim, 2)
        self.register_buffer("measured", space.is_measured.clone())
        self.register_buffer("has_variance", space.is_measured & ~space.is_binary)

    def forward(
        self, embedding: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        b, m = embedding.shape[0], self.embedding_dim
        pairs = self.act(self.generators(embedding)).view(b, self.n_concepts, 2 * m)  # [B, K, 2m]
        score = self.score(pairs)  # [B, K, 2]
        raw = torch.where(self.measured, score[..., 0], torch.zeros_like(score[..., 0]))
        logvar = torch.where(self.has_variance, score[..., 1], torch.zeros_like(score[..., 1]))
        return raw, logvar, pairs[..., :m], pairs[..., m:]
