"""``qtlens synth``: write a synthetic data set as WFDB records plus a ground-truth table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from models.ecg.synth import ShortcutConfig

#: WFDB storage: 16-bit samples at 1000 ADC units per mV (1 µV resolution, ±32.7 mV range).
ADC_GAIN_PER_MV = 1000.0
GROUND_TRUTH_FILE = "ground_truth.csv"


def record_name(index: int) -> str:
    """The WFDB record name of synthetic record ``index`` (``synth_00042``)."""
    return f"synth_{index:05d}"


def write_synthetic_set(
    n: int,
    out_dir: Path,
    *,
    seed: int,
    fs_hz: float,
    duration_s: float,
    shortcut: ShortcutConfig | None,
    clean: bool,
    label_model: str,
    show_progress: bool = True,
) -> Path:
    """Generate ``n`` records with :func:`models.data.synthetic.iter_batches` and write them.

    ``shortcut`` is the shortcut artefact's configuration, or ``None`` for none.

    Each record becomes ``<name>.hea``/``<name>.dat`` (format 16, units mV, gain
    :data:`ADC_GAIN_PER_MV`, ``Age:``/``Sex:`` header comments); ``ground_truth.csv`` holds one
    row per record: name, every concept (registry order), both risk probabilities and labels,
    age, sex, phenotype and whether the shortcut spike is present.

    Returns:
        The path of the ground-truth table.
    """
    import pandas as pd
    import wfdb
    from tqdm import tqdm

    from models.data.synthetic import iter_batches
    from models.ecg.record import STANDARD_LEADS

    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    index = 0
    with tqdm(total=n, desc="synthetic ECGs", unit="record", disable=not show_progress) as bar:
        for batch in iter_batches(
            n,
            seed,
            fs_hz=fs_hz,
            duration_s=duration_s,
            shortcut=shortcut,
            noise="clean" if clean else "default",
            label_model=label_model,  # type: ignore[arg-type]
        ):
            for row in range(len(batch)):
                name = record_name(index)
                sex = "female" if batch.female[row] else "male"
                wfdb.wrsamp(
                    name,
                    fs=batch.fs_hz,
                    units=["mV"] * len(STANDARD_LEADS),
                    sig_name=list(STANDARD_LEADS),
                    p_signal=batch.signals[row].T.astype("float64"),
                    fmt=["16"] * len(STANDARD_LEADS),
                    adc_gain=[ADC_GAIN_PER_MV] * len(STANDARD_LEADS),
                    baseline=[0] * len(STANDARD_LEADS),
                    comments=[
                        f"Age: {int(batch.age_years[row])}",
                        f"Sex: {sex.capitalize()}",
                        "Source: QTLens synthetic generator",
                    ],
                    write_dir=str(out_dir),
                )
                entry: dict[str, object] = {"record": name}
                entry.update(zip(batch.concept_names, batch.concepts[row].tolist()))
                for task_index, task in enumerate(batch.task_names):
                    entry[f"{task}_probability"] = float(batch.probabilities[row, task_index])
                    entry[f"{task}_label"] = int(batch.labels[row, task_index])
                entry.update(
                    age_years=int(batch.age_years[row]),
                    sex=sex,
                    phenotype=str(batch.phenotype[row]),
                    shortcut=int(batch.shortcut_present[row]),
                )
                rows.append(entry)
                index += 1
                bar.update(1)
    table = out_dir / GROUND_TRUTH_FILE
    pd.DataFrame(rows).to_csv(table, index=False, float_format="%.7g")  # float32 precision
    return table


def register(cli: typer.Typer) -> None:
    """Add ``qtlens synth`` to the CLI."""

    @cli.command("synth")
    def synth(
        n: Annotated[int, typer.Option("--n", min=1, max=1_000_000, help="Number of records.")],
        out: Annotated[Path, typer.Option("--out", help="Output folder (created if missing).")],
        shortcut: Annotated[
            bool, typer.Option("--shortcut", help="Add the label-correlated pacing-like spike.")
        ] = False,
        shortcut_agreement: Annotated[
            float,
            typer.Option(
                "--shortcut-agreement",
                min=0.0,
                max=1.0,
                help="P(spike | lqts label 1) = agreement, P(spike | label 0) = 1 − agreement.",
            ),
        ] = 0.9,
        seed: Annotated[int, typer.Option("--seed", min=0, help="Data-set seed.")] = 0,
        fs: Annotated[float, typer.Option("--fs", help="Sampling rate in Hz (50–10000).")] = 500.0,
        duration: Annotated[float, typer.Option("--duration", help="Record length in s.")] = 10.0,
        clean: Annotated[bool, typer.Option("--clean", help="No noise.")] = False,
        label_model: Annotated[
            str, typer.Option("--label-model", help="'full' causal model or 'qtc_only'.")
        ] = "full",
    ) -> None:
        """Generate synthetic 12-lead ECGs (WFDB) with exact concepts, fiducials and risk labels."""
        from models.data.synthetic import validate_settings
        from models.ecg.synth import ShortcutConfig

        if out.exists() and not out.is_dir():
            raise typer.BadParameter(f"{out} exists and is not a folder", param_hint="--out")
        if (out / GROUND_TRUTH_FILE).exists():
            raise typer.BadParameter(
                f"{out} already holds a synthetic set; choose an empty folder", param_hint="--out"
            )
        try:
            validate_settings(fs_hz=fs, duration_s=duration, label_model=label_model)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
        try:
            table = write_synthetic_set(
                n,
                out,
                seed=seed,
                fs_hz=fs,
                duration_s=duration,
                shortcut=ShortcutConfig(agreement=shortcut_agreement) if shortcut else None,
                clean=clean,
                label_model=label_model,
            )
        except ValueError as error:  # a drawn record these settings cannot make (too short…)
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"wrote {n} records and {table}")
