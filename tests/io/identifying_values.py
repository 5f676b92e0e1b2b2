"""The identifying values present in the public sample files, per file.

:func:`identifying_values` maps each sample file (path relative to ``QTLENS_DATA_DIR``) to the
identifying strings it contains — patient names and ids, birth dates, free-text comments, staff,
institutions, device serials, record names. None of them may appear in anything QTLens derives
from the file: the :class:`IngestResult` (tested here), and — for the lead to reuse — the
database rows, logs and exports.

Values are chosen so that a match is meaningful: placeholders that also occur in ordinary output
("None", "X", lone digits) are left out, and purely numeric values are flagged so callers can
skip them where numbers are printed (see :func:`is_numeric`).
"""

from __future__ import annotations

import re
from pathlib import Path

#: Identifying values of the XML samples in ``formats/``, read from the files by hand.
XML_SAMPLE_VALUES: dict[str, tuple[str, ...]] = {
    "formats/muse/synthetic_muse.xml": (
        "SYNTH0001",
        "Synthetic",
        "01-01-1980",
        "EXAMPLE HOSPITAL",
        "EXAMPLE ECG ROOM",
        "ROOM1",
        "08-17-2025",
    ),
    "formats/muse/guangxi_teaching_sinus_rhythm.xml": (
        "Anonymous",
        "01-01-1900",
        "Hospital Name",
        "ECG-Lab",
        "01-01-2024",
        "2255/3212",
        "2023-12-31",
        "14床",
        "开放性骨折",
        "Danger Code",
    ),
    "formats/aecg/subject1_0.xml": (
        "Clark",
        "subject1",
        "19530508",
        "JMK",
        "KAB",
        "John Smith, M.D.",
        "SC-342",
        "TECH-221",
        "INV-087",
        "TS-035",
        "River City Clinic for the Cardiac Challenged",
        "River City ECG Collection Service",
        "Subject felt dizzy 2 minutes prior to ECG collection",
        "20021122091000",
        "61d1a24f-b47e-41aa-ae95-f8ac302f4eeb",
    ),
    "formats/aecg/minimum_aecg.xml": (
        "SBJ-123",
        "20021122091000",
        "61d1a24f-b47e-41aa-ae95-f8ac302f4eeb",
    ),
    "formats/sierra/129DYPRG.XML": (
        "1112010721168bdc",
        "GE EMS",
        "GEILM",
        "2011-12-01",
        "HeartstartMRx",
        "03d494f2-94f2-13d4-857f-00095c028bdc",
    ),
    "formats/sierra/3191723_ZZDEMOPTONLY_1-04_orig.xml": (
        "ZZDEMOPTONLY",
        "ADULT",
        "1950-01-01",
        "EKG1715",
        "VWJ",
        "Heart Station #1",
        "120190145",
        "2010-01-19",
        "7eacbc80-0549-11df-4823-000738300029",
        "TEST PT",
    ),
}

#: The cart's interpretation statements of the samples are clinical text, not identifiers: they are
#: kept on purpose (README, "The cart's own reading"), after statements naming people or dates
#: are dropped, so they are not listed above. Examples: "Sinus rhythm (synthetic example)"
#: (synthetic_muse.xml), "窦性心律" (guangxi), "Inferior infarct, acute (LCx)" (129DYPRG.XML),
#: "PROBABLE LEFT VENTRICULAR HYPERTROPHY" (3191723_…_1-04_orig.xml).

#: Folders of WFDB records whose headers are covered.
WFDB_FOLDERS = (
    "ludb/data",
    "ptbxl/records100",
    "ptbxl/records500",
    "qtdb",
    "challenge2021",
    "wfdb_samples",
)

_KEPT_COMMENT = re.compile(r"#\s*<?\s*(?:age|sex|gender)\s*>?\s*:", re.IGNORECASE)
_MIN_COMMENT_CHARS = 6


def is_numeric(value: str) -> bool:
    """Whether a value is only digits and separators (then it may occur by chance in numbers)."""
    return re.fullmatch(r"[\d\s./:-]+", value) is not None


def wfdb_header_values(header: Path) -> tuple[str, ...]:
    """Identifying values of one WFDB header: its free-text comment lines and a record name
    that is not just digits. Age and sex lines are kept by QTLens, so they are not listed."""
    values: list[str] = []
    text = header.read_text(encoding="latin-1")
    record_name = text.split(maxsplit=1)[0] if text.strip() else ""
    if re.search(r"[A-Za-z_]", record_name):
        values.append(record_name)
    for line in text.splitlines():
        if line.startswith("#") and not _KEPT_COMMENT.match(line):
            comment = line.lstrip("#").strip()
            if len(comment) >= _MIN_COMMENT_CHARS:
                values.append(comment)
    return tuple(values)


def identifying_values(data_dir: Path) -> dict[str, tuple[str, ...]]:
    """Per sample file under ``data_dir`` (relative POSIX path), its identifying strings.

    Covers the XML samples and every WFDB header of the development set that is present.
    """
    values = {
        relative: strings
        for relative, strings in XML_SAMPLE_VALUES.items()
        if (data_dir / relative).is_file()
    }
    for folder in WFDB_FOLDERS:
        for header in sorted((data_dir / folder).rglob("*.hea")):
            strings = wfdb_header_values(header)
            if strings:
                values[header.relative_to(data_dir).as_posix()] = strings
    return values
