"""The training loop: resumable checkpoints, DDP on CPU (gloo), and the command line."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from typer.testing import CliRunner

from models.cli import build_cli
from models.data.dataset import ConceptDataset
from models.nets.registry import create_model
from models.train import CHECKPOINT_FILE
from tests.nets.conftest import TINY, train_tiny
from tests.processes import free_port


class _Interrupted(RuntimeError):
    pass


def _crash_at(epoch_log: int) -> object:
    """A ``log`` callback raising at its ``epoch_log``-th line (before that epoch's checkpoint)."""
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if len(lines) == epoch_log:
            raise _Interrupted(line)

    return log


@pytest.mark.parametrize("variant, crash_at", [("joint", 2), ("sequential", 3)])
def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(
    variant: str, crash_at: int, tmp_path: Path, tiny_data: ConceptDataset
) -> None:
    straight = train_tiny(variant, tmp_path / "straight", tiny_data)
    out = tmp_path / "interrupted"
    with pytest.raises(_Interrupted):
        train_tiny(variant, out, tiny_data, log=_crash_at(crash_at))  # type: ignore[arg-type]
    assert (out / CHECKPOINT_FILE).is_file() and not (out / "weights.safetensors").exists()
    resumed = train_tiny(variant, out, tiny_data, resume=True)
    reference, state = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(reference[k], state[k]) for k in reference)
    untimed = [
        [{k: v for k, v in e.items() if k != "seconds"} for e in run.history]
        for run in (straight, resumed)
    ]
    assert untimed[0] == untimed[1]
    assert not (out / CHECKPOINT_FILE).exists()  # removed once the bundle is written
    assert (out / "weights.safetensors").is_file()


def test_resume_refuses_missing_or_foreign_checkpoints(
    tmp_path: Path, tiny_data: ConceptDataset
) -> None:
    out = tmp_path / "run"
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train_tiny("joint", out, tiny_data, resume=True)
    with pytest.raises(_Interrupted):
        train_tiny("joint", out, tiny_data, log=_crash_at(1))  # type: ignore[arg-type]
    with pytest.raises(_Interrupted):  # first epoch checkpointed only after its log line
        train_tiny("joint", out, tiny_data, log=_crash_at(2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="other settings"):
        train_tiny("joint", out, tiny_data, seed=1, resume=True)


def _ddp_worker(rank: int, world_size: int, port: int, out: str, data: ConceptDataset) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    result = train_tiny("joint", Path(out) / "bundle", data)
    torch.save(
        {"state": result.model.state_dict(), "wrote_bundle": result.bundle_dir is not None},
        Path(out) / f"rank{rank}.pt",
    )


def test_ddp_with_two_gloo_processes_ends_with_identical_weights(
    tmp_path: Path, tiny_data: ConceptDataset
) -> None:
    mp.spawn(_ddp_worker, args=(2, free_port(), str(tmp_path), tiny_data), nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert rank0["wrote_bundle"] and not rank1["wrote_bundle"]
    assert (tmp_path / "bundle" / "weights.safetensors").is_file()
    parameters = dict(create_model(replace(TINY, variant="joint")).named_parameters())
    for name in parameters:
        assert torch.equal(rank0["state"][name], rank1["state"][name]), name
    torch.manual_seed(0)  # the initial weights of the run (seed 0)
    initial = dict(create_model(replace(TINY, variant="joint")).named_parameters())
    assert not torch.equal(rank0["state"]["task_head.weight"], initial["task_head.weight"].detach())


def test_cli_reports_bad_options_and_missing_checkpoints(tmp_path: Path) -> None:
    runner = CliRunner()
    cli = build_cli()
    result = runner.invoke(cli, ["train", "--variant", "hybrid", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "independent, sequential, joint, cem" in result.output
    result = runner.invoke(cli, ["train", "--preset", "huge", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown preset" in result.output
    result = runner.invoke(
        cli,
        [
            "train",
            "--preset",
            "quick",
            "--n-train",
            "16",
            "--resume",
            "--out",
            str(tmp_path / "x"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 2 and "no checkpoint" in result.output
    result = runner.invoke(
        cli, ["evaluate", str(tmp_path / "nothing"), "--out", str(tmp_path / "e")]
    )
    assert result.exit_code == 2 and "does not exist" in result.output
