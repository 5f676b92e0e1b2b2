"""TCAV for N inputs × K concepts: plain captum against QTLens with its cache, in one run.

Run: ``python benchmarks/bench_tcav.py [--bundle models/weights/demo] [--inputs 50]
[--concepts 4] [--repeats 10] [--examples 300]``.

The same query — K concept sets of the registry-driven defaults plus the random control, each
with ``repeats`` CAVs per layer and as many random-pair CAVs, scored on N inputs — is run

1. with **plain captum**: ``captum.concept.TCAV.interpret`` on the same experimental sets in a
   fresh ``save_path`` (captum records each concept's activations itself and trains every CAV);
2. with **QTLens, cold**: :func:`models.explain.tcav.run_tcav` on an empty cache (one batched
   activation pass for all examples, then captum trains the CAVs);
3. with **QTLens, warm**: the same query again, activations and CAVs read from the cache (keyed
   by bundle checksum + example-data hash + classifier settings), only the inputs' gradients
   computed.

It prints each time and the ratios plain ÷ warm (goal ≥ 5×) and plain ÷ cold, and checks the
three give the same scores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from models.bundle import load_bundle
from models.explain.attributions import model_inputs
from models.explain.data import synthetic_data
from models.explain.tcav import (
    DEFAULT_CONCEPT_SETS,
    RANDOM,
    SeededLinearClassifier,
    TcavConfig,
    plan_tcav,
    run_tcav,
)

DEFAULT_BUNDLE = Path(__file__).resolve().parent.parent / "models" / "weights" / "demo"


def plain_captum(plan, inputs, target_index: int, seed: int) -> tuple[float, dict]:
    """Seconds and sign-count scores of captum's own TCAV on the plan's experimental sets."""
    from captum.concept import TCAV

    signal, mask, sex, age = inputs.tensors(plan.net.device)
    with tempfile.TemporaryDirectory(prefix="bench-tcav-") as scratch:
        started = time.perf_counter()
        tcav = TCAV(
            plan.net,
            plan.captum_layers,
            model_id="plain",
            classifier=SeededLinearClassifier(seed),
            save_path=scratch,
        )
        scores = tcav.interpret(
            signal,
            plan.experimental_sets(),
            target=target_index,
            additional_forward_args=(mask, sex, age),
        )
        return time.perf_counter() - started, scores


def main() -> None:
    """Run the three TCAV queries and print their times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    parser.add_argument("--inputs", type=int, default=50, help="N inputs scored")
    parser.add_argument("--concepts", type=int, default=4, help="K concept sets (+ random)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--examples", type=int, default=300, help="records to draw sets from")
    parser.add_argument("--target", default="lqts_risk")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    bundle = load_bundle(args.bundle, args.device)
    data = synthetic_data(
        args.examples,
        4242,
        fs_hz=bundle.spec.fs_hz,
        duration_s=bundle.spec.duration_s,
        shortcut=True,
    )
    examples, _ = model_inputs(data.ecgs, bundle.spec)
    inputs = examples.select(slice(0, args.inputs))
    chosen = [c for c in DEFAULT_CONCEPT_SETS if c.source != RANDOM][: args.concepts]
    sets = (*chosen, next(c for c in DEFAULT_CONCEPT_SETS if c.source == RANDOM))
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="bench-tcav-cache-") as cache:
        config = TcavConfig(repeats=args.repeats, cache_dir=Path(cache))
        plan = plan_tcav(bundle, examples, data.concepts, sets, config, data.flags)
        target_index = plan.net.target_index(args.target)
        plain_s, plain_scores = plain_captum(plan, inputs, target_index, config.seed)
        cold = run_tcav(
            bundle, examples, data.concepts, inputs, args.target, sets, config, flags=data.flags
        )
        warm = run_tcav(
            bundle, examples, data.concepts, inputs, args.target, sets, config, flags=data.flags
        )
    cavs = len(plan.experimental_sets()) * len(plan.layers)
    print(
        f"bundle {bundle.version}; {args.inputs} inputs × {len(plan.experiments)} concept sets "
        f"({', '.join(plan.experiments)}) × {args.repeats} repeats, layers "
        f"{', '.join(plan.layers)}: {cavs} CAVs; skipped: {cold.skipped or 'none'}"
    )
    print(f"plain captum         {plain_s:8.2f} s")
    cold_ratio, warm_ratio = plain_s / cold.seconds, plain_s / warm.seconds
    print(f"QTLens, empty cache  {cold.seconds:8.2f} s   plain ÷ cold = {cold_ratio:5.1f}×")
    print(f"QTLens, cached       {warm.seconds:8.2f} s   plain ÷ warm = {warm_ratio:5.1f}×", end="")
    print("   (goal ≥ 5×)")
    same = [r.scores for r in cold.results] == [r.scores for r in warm.results]
    key = next(iter(plan.experiments.values()))[0]
    plain_first = float(
        plain_scores[f"{key[0].id}-{key[1].id}"][plan.captum_layers[-1]]["sign_count"][0]
    )
    qtlens_first = cold.result(next(iter(plan.experiments)), plan.layers[-1]).scores[0]
    print(
        f"cold and warm scores identical: {same}; plain captum agrees: "
        f"{np.isclose(plain_first, qtlens_first)}"
    )


if __name__ == "__main__":
    main()
