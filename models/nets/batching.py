"""Model inputs as one batch of arrays, and running a model over many of them in chunks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from models.ecg.record import Ecg
from models.nets.bottleneck import sex_code
from models.nets.inputs import InputSpec, ecg_to_input
from models.nets.model import ModelOutput, RiskModel


@dataclass(frozen=True)
class InputBatch:
    """Model-ready inputs for ``n`` records (already resampled, cropped and standardised).

    Attributes:
        signal: ``[n, 12, L]`` float32.
        lead_mask: ``[n, 12]`` bool.
        sex: ``[n]`` int codes (:func:`models.nets.bottleneck.sex_code`).
        age_years: ``[n]`` float32, NaN unknown.
    """

    signal: np.ndarray
    lead_mask: np.ndarray
    sex: np.ndarray
    age_years: np.ndarray

    def __len__(self) -> int:
        return int(self.signal.shape[0])

    @classmethod
    def from_ecgs(cls, ecgs: Sequence[Ecg], spec: InputSpec) -> InputBatch:
        """The model inputs of ``ecgs`` under the input rule ``spec`` (resampled, cropped,
        standardised; age and sex from each ECG).

        Raises:
            MalformedEcg: an ECG without any standard lead or with non-finite samples.
        """
        prepared = [ecg_to_input(ecg, spec) for ecg in ecgs]
        return cls(
            signal=np.stack([p[0] for p in prepared]),
            lead_mask=np.stack([p[1] for p in prepared]),
            sex=np.array([sex_code(e.sex) for e in ecgs], dtype=np.int64),
            age_years=np.array(
                [np.nan if e.age_years is None else e.age_years for e in ecgs], dtype=np.float32
            ),
        )

    def select(self, index: np.ndarray | slice) -> InputBatch:
        """The records at ``index``."""
        return InputBatch(
            self.signal[index], self.lead_mask[index], self.sex[index], self.age_years[index]
        )

    def tensors(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        """``(signal, lead_mask, sex, age_years)`` as tensors on ``device``."""
        return (
            torch.as_tensor(self.signal, dtype=torch.float32, device=device),
            torch.as_tensor(self.lead_mask, dtype=torch.float32, device=device),
            torch.as_tensor(self.sex, dtype=torch.long, device=device),
            torch.as_tensor(self.age_years, dtype=torch.float32, device=device),
        )


def resolve_device(device: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; otherwise ``torch.device(device)``.

    Raises:
        ValueError: a CUDA device was asked for on a machine without one.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return resolved


def run_batched(
    model: RiskModel,
    inputs: InputBatch,
    device: torch.device,
    batch_size: int = 256,
    overrides: np.ndarray | None = None,
) -> ModelOutput:
    """Forward ``inputs`` through ``model`` (in eval mode, no gradients) in chunks.

    Args:
        overrides: optional ``[n, K]`` concept values for the task head (NaN = prediction).

    Returns:
        One :class:`ModelOutput` with every field concatenated over records, on the CPU.
    """
    model.eval()
    chunks: list[ModelOutput] = []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            part = slice(start, start + batch_size)
            extra = () if overrides is None else (torch.as_tensor(overrides[part], device=device),)
            output = model(*inputs.select(part).tensors(device), *extra)
            chunks.append(ModelOutput(*(t.float().cpu() for t in output)))
    return ModelOutput(*(torch.cat(parts) for parts in zip(*chunks, strict=True)))
