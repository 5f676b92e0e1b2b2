"""``qtlens measure``, ``qtlens validate-delineation`` and ``qtlens measure-repeatability``: the
measurement pipeline from the shell."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from models.commands.doubts import Doubts

_DATA_SUFFIXES = {".dat", ".mat"}


class DatasetChoice(str, Enum):
    """Datasets with cardiologists' fiducial marks."""

    ludb = "ludb"
    qtdb = "qtdb"


class RepeatabilityDataset(str, Enum):
    """Datasets of 10 s 12-lead records (``models.ecg.repeatability``)."""

    ptbxl = "ptbxl"
    ludb = "ludb"
    challenge = "challenge"


class RoleChoice(str, Enum):
    """Fine-tuning roles of the development records (``models.data.splits.record_role``)."""

    train = "train"
    tune = "tune"
    check = "check"


class PartChoice(str, Enum):
    """Parts of the development split (``models.ecg.validate.record_part``)."""

    both = "both"
    tuning = "tuning"
    check = "check"


def record_paths(files: list[Path]) -> list[Path]:
    """One path per record: a WFDB data file is dropped when its header is also given."""
    headers = {path.with_suffix("") for path in files if path.suffix.lower() == ".hea"}
    return [path for path in files if not (path.suffix.lower() in _DATA_SUFFIXES and path.with_suffix("") in headers)]


def _format_value(value: float, decimals: int, binary: bool) -> str:
    if binary:
        return "yes" if value >= 0.5 else "no"
    return f"{value:.{decimals}f}"


def _print_measurements(path: Path, measurements: object, ecg: object) -> None:
    from models.concepts import get_concept
    from models.ecg.measure import Measurements
    from models.ecg.notes import measurement_notes
    from models.ecg.record import Ecg

    assert isinstance(measurements, Measurements) and isinstance(ecg, Ecg)
    typer.echo(
        f"{path.name}: {ecg.n_leads} leads ({', '.join(ecg.lead_names)}), {ecg.fs_hz:g} Hz, "
        f"{ecg.duration_s:.1f} s"
    )
    for lead, quality in measurements.lead_quality.items():
        if quality.status != "ok":
            typer.echo(f"  lead {lead}: {quality.reason}")
    doubts = Doubts()
    for name, entry in measurements.concepts.items():
        concept = get_concept(name)
        if entry.value is None:
            typer.echo(f"  {concept.label:<22} unavailable — {entry.reason}")
            continue
        value = _format_value(entry.value, concept.decimals, concept.is_binary)
        flag = entry.flag.level.value + (f" ({entry.flag.note})" if entry.flag.note else "")
        flag += doubts.star(entry.low_confidence)
        shown_range = concept.normal_range_text(ecg.sex)
        typer.echo(f"  {concept.label:<22} {value:>8} {concept.unit:<5} normal {shown_range:<14} {flag}")
    for line in doubts.lines("low confidence"):
        typer.echo(line)
    for note in measurement_notes(measurements.summary_dict()):
        typer.echo(f"  {note.text}")


def _print_part(part: str, values: dict[str, object]) -> None:
    from models.ecg.validation_report import availability_text

    scores: dict[str, dict[str, dict[str, dict[str, object]]]] = values["scores"]  # type: ignore[assignment]
    typer.echo(f"\n=== {part} part ({len(values['records'])} records) ===")  # type: ignore[arg-type]
    for scope, by_method in scores.items():
        typer.echo(f"\n{scope}: error mean ± SD ms (sensitivity / PPV)")
        fiducials = list(next(iter(by_method.values())))
        typer.echo(f"  {'method':<22}" + "".join(f"{f:>24}" for f in fiducials))
        for method, by_fiducial in by_method.items():
            cells = []
            for fiducial in fiducials:
                v = by_fiducial[fiducial]
                cells.append(
                    "—".rjust(24)
                    if v["sd_ms"] is None
                    else f"{v['mean_ms']:+6.1f} ± {v['sd_ms']:4.1f} ({v['sensitivity']:.2f}/{v['ppv']:.2f})".rjust(24)
                )
            typer.echo(f"  {method:<22}" + "".join(cells))
    lead_qt: dict[str, dict[str, dict[str, object]]] = values["lead_qt"]  # type: ignore[assignment]
    for title, by_method in [("global QT", values["qt"]), *((f"lead {lead} QT", v) for lead, v in lead_qt.items())]:
        typer.echo(f"\n{title} (method − marks), Bland–Altman:")
        for method, stats in by_method.items():  # type: ignore[union-attr]
            if stats["n"]:
                typer.echo(
                    f"  {method:<22} {stats['mean_diff_ms']:+6.1f} ± {stats['sd_diff_ms']:.1f} ms "
                    f"(limits {stats['loa_low_ms']:.0f} … {stats['loa_high_ms']:.0f}, n {stats['n']})"
                )
    typer.echo(f"\nQT available on {availability_text(values)}")


def _print_scores(report: dict[str, object]) -> None:
    typer.echo(f"{report['openecg']}; {report['best_rule']}")
    for part, values in report["parts"].items():  # type: ignore[attr-defined]
        _print_part(part, values)


def register(cli: typer.Typer) -> None:
    """Add ``measure``, ``validate-delineation`` and ``measure-repeatability`` to the CLI."""

    @cli.command("measure")
    def measure_command(
        files: Annotated[list[Path], typer.Argument(help="ECG files: one per record (a WFDB record by its .hea).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the full measurement as JSON.")] = False,
    ) -> None:
        """Measure every concept (value, unit, normal range, flag, or why it is unavailable)."""
        import json

        from models.ecg.errors import EcgInputError
        from models.ecg.io import DATASET_LIMITS, read_paths
        from models.ecg.measure import measure

        for path in record_paths(files):
            try:
                ecg = read_paths([path], DATASET_LIMITS).ecg
            except EcgInputError as error:
                raise typer.BadParameter(f"{path}: {error.message}", param_hint="FILES") from None
            measurements = measure(ecg)
            if as_json:
                typer.echo(json.dumps({"file": path.name, **measurements.to_dict()}))
            else:
                _print_measurements(path, measurements, ecg)

    @cli.command("validate-delineation")
    def validate_command(
        dataset: Annotated[DatasetChoice, typer.Option("--dataset", help="ludb or qtdb.")],
        data_dir: Annotated[
            Path, typer.Option("--data-dir", help="Folder holding ludb/ and qtdb/ (or the dataset folder itself).")
        ],
        out: Annotated[Path, typer.Option("--out", help="Where the JSON and HTML reports go.")] = Path("reports"),
        methods: Annotated[
            str, typer.Option("--methods", help="Anchors: NeuroKit2 methods (dwt, prominence, peak, cwt) and openecg.")
        ] = "dwt,prominence,peak,cwt,openecg",
        workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 2,
        part: Annotated[
            PartChoice, typer.Option("--part", help="Records of the tuning part, the check part, or both.")
        ] = PartChoice.both,
    ) -> None:
        """Score QTLens, NeuroKit2 (run its own way) and openecg against cardiologists' marks, per split part (JSON + HTML)."""
        from models.data.base import DatasetRootError
        from models.ecg.anchors import NEUROKIT_METHODS, OPENECG, openecg_available
        from models.ecg.validate import Anchors, run_validation, write_report

        chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
        unknown = sorted(set(chosen) - {*NEUROKIT_METHODS, OPENECG})
        if unknown:
            raise typer.BadParameter(
                f"unknown method(s) {unknown}; choose from {', '.join((*NEUROKIT_METHODS, OPENECG))}", param_hint="--methods"
            )
        with_openecg = OPENECG in chosen and openecg_available()
        if OPENECG in chosen and not with_openecg:
            typer.echo("openecg is not installed (pip install openecg): it is left out of this report")
        anchors = Anchors(tuple(m for m in chosen if m != OPENECG), with_openecg)
        root = data_dir / dataset.value if (data_dir / dataset.value).is_dir() else data_dir
        try:
            report = run_validation(
                dataset.value, root, anchors=anchors, workers=workers, part=None if part is PartChoice.both else part.value
            )
        except DatasetRootError as error:
            raise typer.BadParameter(str(error), param_hint="--data-dir") from None
        json_path, html_path = write_report(report, out)
        _print_scores(report)
        typer.echo(f"\nwrote {json_path} and {html_path}")

    @cli.command("measure-repeatability")
    def repeatability_command(
        dataset: Annotated[
            RepeatabilityDataset, typer.Option("--dataset", help="ptbxl, ludb or challenge.")
        ],
        data_dir: Annotated[
            Path,
            typer.Option("--data-dir",
                         help="Folder holding the dataset folder (or the dataset folder itself)."),
        ],
        role: Annotated[
            RoleChoice, typer.Option("--role", help="Records of this fine-tuning role.")
        ] = RoleChoice.train,
        fs_hz: Annotated[
            float, typer.Option("--fs", min=50.0, max=2000.0, help="The second rate (Hz).")
        ] = 250.0,
        workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 2,
    ) -> None:
        """Measure each record as recorded and resampled to --fs; print how far concepts move."""
        from models.data.base import DatasetRootError
        from models.data.registry import default_root
        from models.ecg.repeatability import records_of_role, resampling_repeatability

        below = default_root(dataset.value, data_dir)
        root = below if below.is_dir() else data_dir
        try:
            record_ids = records_of_role(dataset.value, root, role.value)
            if not record_ids:
                raise typer.BadParameter(f"no {role.value} record of {dataset.value} under {root}",
                                         param_hint="--data-dir")
            table = resampling_repeatability(dataset.value, root, record_ids, fs_hz,
                                             workers=workers)
        except DatasetRootError as error:
            raise typer.BadParameter(str(error), param_hint="--data-dir") from None
        typer.echo(
            f"{dataset.value} {role.value} records, as recorded vs resampled to {fs_hz:g} Hz:")
        for concept, summary in table.items():
            typer.echo("  " + summary.line(concept))
