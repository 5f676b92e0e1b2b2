"""Compose a bundle: a concept network with task heads learned elsewhere.

:func:`compose_bundle` copies a bundle's network files and puts, per task, either a
:class:`~models.heads.logistic.LogisticTaskHead` (written to ``heads/<task>.json``) or the
network's own head back in force. A logistic head may bring a change head along (its entry's
``change_head``, file ``heads/<task>.change.json``): the head the app reads instead for an ECG
whose series has a baseline ECG. The card's ``task_heads`` section records each head, what data
it was learned from, its evaluation summary, and the network head it replaces (whose metrics are
the ones in the card's ``metrics``); ``SHA256SUMS`` covers the head files like every other file,
so the bundle checksum — the model version of every prediction — changes with the heads.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from models.bundle import (
    BUNDLE_FILES,
    CARD_FILE,
    CHANGE_HEAD,
    FILE_HEADS,
    HEADS_DIR,
    LOGISTIC_HEAD,
    NETWORK_HEAD,
    POINTS_HEAD,
    code_version,
    read_json,
    task_heads,
    verify_bundle,
    write_checksums,
    write_json,
)
from models.heads.logistic import LogisticTaskHead
from models.heads.points import PointsTaskHead, schwartz_head
from models.nets.registry import get_variant
from models.tasks import task_names

#: What a ``--head TASK=network`` asks for: the network's own head back in force.
NETWORK_CHOICE = "network"
#: Published point systems a ``--head TASK=<name>`` can put in force.
POINTS_CHOICES = {"schwartz": schwartz_head}


def _network_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """The network head behind a card entry (the entry itself when it is the network's)."""
    network = entry if entry["kind"] == NETWORK_HEAD else entry["replaces"]
    return {k: v for k, v in network.items() if k != "note"}


def _head_summary(head: LogisticTaskHead | PointsTaskHead, file: str) -> dict[str, Any]:
    """What the card says of a head file: kind, inputs, evaluation summary, limitations."""
    if isinstance(head, PointsTaskHead):
        own: dict[str, Any] = {
            "kind": POINTS_HEAD,
            "name": head.name,
            "features": sorted({item.concept for item in head.items}),
            "reference": head.details.get("reference", ""),
            "short_reference": head.details.get("short_reference", ""),
            "bands": head.bands.to_dict(),
            "max_points": head.max_points,
            "items": [item.label for item in head.items],
        }
    else:
        own = {
            "kind": LOGISTIC_HEAD,
            "features": [f.name for f in head.features],
            "evaluation": head.details.get("evaluation", {}),
            "probability_meaning": head.details.get("probability_meaning", ""),
        }
    return {
        **own,
        "file": file,
        "learned_from": head.learned_from,
        "limitations": head.details.get("limitations", []),
    }


def _head_entry(
    task: str,
    head: LogisticTaskHead | PointsTaskHead,
    network: dict[str, Any],
    change_head: LogisticTaskHead | None,
) -> dict[str, Any]:
    """The card entry of a composed head (and of the change head it brings, if any)."""
    entry = {
        **_head_summary(head, f"{HEADS_DIR}/{task}.json"),
        "replaces": {
            **network,
            "note": f"the card's metrics and evaluation/ report on {task} describe this "
            "replaced network head",
        },
    }
    if change_head is not None:
        if change_head.task != task or not change_head.reads_change:
            raise ValueError(f"the change head given for {task} is not a {task} change head")
        entry[CHANGE_HEAD] = _head_summary(change_head, f"{HEADS_DIR}/{task}.change.json")
    return entry


def compose_bundle(
    base: Path,
    heads: Mapping[str, LogisticTaskHead | PointsTaskHead | str],
    out: Path,
    command: str = "",
    change_heads: Mapping[str, LogisticTaskHead] | None = None,
) -> str:
    """Write ``out``: the network of ``base`` with ``heads`` in force; returns its checksum.

    Args:
        base: a concept bundle (verified before use); may equal ``out`` (composed in place).
        heads: task → a head (logistic or points), or ``"network"`` to put the network's own
            head back.
        change_heads: task → the change head that task's (given) logistic head brings along.
        out: the composed bundle's directory (created).
        command: the command line that composed it, recorded in the card.

    Raises:
        BundleError, BundleIntegrityError: ``base`` is not an intact bundle.
        ValueError: an unknown task, a head for another task, or a black-box base.
    """
    verify_bundle(base)
    change_heads = dict(change_heads or {})
    orphans = set(change_heads) - {t for t, h in heads.items() if isinstance(h, LogisticTaskHead)}
    if orphans:
        raise ValueError(f"a change head needs a head on one ECG beside it: {sorted(orphans)}")
    card = read_json(base / CARD_FILE)
    if get_variant(str(card.get("variant"))).architecture == "blackbox":
        raise ValueError(f"{base} is a black box: it has no concepts for a task head to read")
    sections = task_heads(card)
    for task, head in heads.items():
        if task not in task_names():
            raise ValueError(f"unknown task {task!r}; use one of {', '.join(task_names())}")
        network = _network_entry(sections[task])
        if head == NETWORK_CHOICE:
            sections[task] = network
        elif isinstance(head, LogisticTaskHead | PointsTaskHead):
            if head.task != task:
                raise ValueError(f"the head given for {task} predicts {head.task}")
            sections[task] = _head_entry(task, head, network, change_heads.get(task))
        else:
            raise ValueError(f"{task}: give a task head or {NETWORK_CHOICE!r}, got {head!r}")
    card["task_heads"] = sections
    card["composition"] = {"command": command, "code_version": code_version()}
    out.mkdir(parents=True, exist_ok=True)
    in_place = out.resolve() == base.resolve()
    if not in_place:
        for name in BUNDLE_FILES:
            if name != CARD_FILE:
                shutil.copy2(base / name, out / name)
    write_json(out / CARD_FILE, card)
    with_files = [entry for entry in sections.values() if entry["kind"] in FILE_HEADS]
    kept = {entry["file"] for entry in with_files}
    kept |= {entry[CHANGE_HEAD]["file"] for entry in with_files if CHANGE_HEAD in entry}
    heads_dir = out / HEADS_DIR
    if heads_dir.is_dir():
        for stale in heads_dir.glob("*.json"):
            if f"{HEADS_DIR}/{stale.name}" not in kept:
                stale.unlink()
    for task, entry in sections.items():
        if entry["kind"] not in FILE_HEADS:
            continue
        heads_dir.mkdir(exist_ok=True)
        files = [(heads.get(task), entry["file"])]
        if CHANGE_HEAD in entry:
            files.append((change_heads.get(task), entry[CHANGE_HEAD]["file"]))
        for head, file in files:
            if isinstance(head, LogisticTaskHead | PointsTaskHead):
                head.save(out / file)
            elif not in_place:
                shutil.copy2(base / file, out / file)
    if heads_dir.is_dir() and not any(heads_dir.iterdir()):
        heads_dir.rmdir()
    return write_checksums(out, [*BUNDLE_FILES, *sorted(kept)])
