"""The model on a CUDA device: bfloat16-autocast training, GPU inference that agrees with the CPU,
and interventions on a GPU-loaded bundle.

Skipped, with the reason, where no CUDA device is present (CI has none). On a GPU machine run
``pytest -m gpu``; the README's "GPU" section says what was last seen there.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from models.bundle import LoadedBundle, load_bundle
from models.data.dataset import ConceptDataset
from models.ecg.record import STANDARD_LEADS, Ecg
from models.intervene import intervene, suggest
from models.train import train
from tests.nets.conftest import TINY, TINY_DATA, TINY_TRAIN

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="no CUDA device here: the GPU paths are checked on a GPU machine (pytest -m gpu)",
    ),
]

DEMO_BUNDLE = Path(__file__).resolve().parents[2] / "models" / "weights" / "demo"

#: GPU and CPU kernels sum in different orders and cuDNN convolutions use TF32 by default, so
#: the devices agree to about 1e-3 relative; these bounds still catch a wrong dtype or device.
RISK_TOLERANCE = 1e-2
CONCEPT_RELATIVE_TOLERANCE = 1e-2


def _ecgs(data: ConceptDataset, count: int) -> list[Ecg]:
    return [
        Ecg(
            signal_mv=data.signals_mv[index],
            fs_hz=data.fs_hz,
            lead_names=STANDARD_LEADS,
            age_years=int(data.age_years[index]),
            sex="female" if data.sex[index] == 1 else "male",
        )
        for index in range(count)
    ]


def _assert_same_predictions(cpu: LoadedBundle, gpu: LoadedBundle, ecgs: list[Ecg]) -> None:
    """The GPU-loaded bundle predicts what the CPU-loaded one does, concept by concept."""
    assert gpu.device.type == "cuda" and cpu.device.type == "cpu"
    for on_cpu, on_gpu in zip(cpu.predict(ecgs), gpu.predict(ecgs), strict=True):
        assert on_gpu.concepts.keys() == on_cpu.concepts.keys()
        for name, concept in on_cpu.concepts.items():
            assert on_gpu.concepts[name].value == pytest.approx(
                concept.value, rel=CONCEPT_RELATIVE_TOLERANCE, abs=1e-2
            ), name
        for task, risk in on_cpu.tasks.items():
            assert on_gpu.tasks[task].probability == pytest.approx(
                risk.probability, abs=RISK_TOLERANCE
            ), task


@pytest.mark.parametrize("variant", ["joint", "cem", "blackbox"])
def test_bf16_autocast_training_on_cuda_writes_a_bundle_both_devices_load(
    variant: str, tmp_path: Path, tiny_data: ConceptDataset
) -> None:
    result = train(
        replace(TINY, variant=variant),
        replace(TINY_TRAIN, amp=True),
        TINY_DATA,
        tmp_path / variant,
        device="cuda",
        progress=False,
        dataset=tiny_data,
    )
    assert result.bundle_dir is not None
    assert all(math.isfinite(epoch["train_loss"]) for epoch in result.history)
    card = json.loads((result.bundle_dir / "card.json").read_text())
    assert card["training"]["device"].startswith("cuda")
    _assert_same_predictions(
        load_bundle(result.bundle_dir, device="cpu"),
        load_bundle(result.bundle_dir, device="cuda"),
        _ecgs(tiny_data, 4),
    )


def test_the_demo_bundle_predicts_intervenes_and_suggests_alike_on_cuda() -> None:
    cpu, gpu = load_bundle(DEMO_BUNDLE, device="cpu"), load_bundle(DEMO_BUNDLE, device="cuda")
    rng = np.random.default_rng(0)
    fs_hz = cpu.model.config.fs_hz
    samples = int(fs_hz * cpu.model.config.duration_s)
    beats = np.sin(2 * np.pi * 1.2 * np.arange(samples) / fs_hz) ** 31
    ecg = Ecg(
        signal_mv=(beats + rng.normal(0, 0.02, (12, samples))).astype(np.float32),
        fs_hz=fs_hz,
        lead_names=STANDARD_LEADS,
        age_years=60,
        sex="female",
    )
    _assert_same_predictions(cpu, gpu, [ecg])
    on_cpu, on_gpu = cpu.predict([ecg])[0], gpu.predict([ecg])[0]
    qt = on_cpu.concepts["qt"].value + 60.0
    changed_cpu = intervene(cpu, on_cpu, {"qt": qt})
    changed_gpu = intervene(gpu, on_gpu, {"qt": qt})
    for task, risk in changed_cpu.tasks.items():
        assert changed_gpu.tasks[task].probability == pytest.approx(
            risk.probability, abs=RISK_TOLERANCE
        )
    assert [s.concept for s in suggest(gpu, on_gpu, {})][:3] == [
        s.concept for s in suggest(cpu, on_cpu, {})
    ][:3]
