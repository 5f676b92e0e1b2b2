"""PhysioNet/Computing in Cardiology Challenge 2021: 12-lead ECGs from seven sources, SNOMED labels.

Layout (PhysioNet ``challenge-2021/1.0.3/training/<source>/g<n>/``): one WFDB header ``NAME.hea``
per record with its signal in a MATLAB v4 file ``NAME.mat`` beside it; the header's comment lines
hold ``# Age:``, ``# Sex:`` and ``# Dx:`` (comma-separated SNOMED-CT codes). The loader searches
the root folder recursively, so the whole ``training/`` tree, one source folder or the sample
records all work.

What this loader makes of it:

* **labels** — ``lqts_risk`` = the ``# Dx`` line lists SNOMED-CT ``111975006`` (prolonged QT
  interval).
* **split** — the challenge publishes no split of its public training data, so records are split
  by :func:`models.data.base.hash_split` of the record name (SHA-256, 8 hex digits mod 10:
  0–7 train, 8 val, 9 test). It is deterministic and independent of which records are present.
  Note that the ``HR*`` records are PTB-XL ECGs: do not evaluate on them a model trained on
  PTB-XL (or the reverse).
* **age/sex** — from the header comments (``NaN``/``Unknown`` → unknown; ages capped at 90).

Reference:
    Reyna MA, Sadr N, Perez Alday EA, et al. Will two do? Varying dimensions in
    electrocardiography: the PhysioNet/Computing in Cardiology Challenge 2021. Computing in
    Cardiology 48 (2021).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import MappingProxyType

import pandas as pd

from models.data.base import (
    DatasetRootError,
    RecordDataset,
    hash_split,
    header_demographics,
    missing_files_error,
    require_entries,
)

#: SNOMED-CT code of "prolonged QT interval".
SNOMED_PROLONGED_QT = "111975006"


def header_comments(header_path: Path) -> dict[str, str]:
    """The ``# Key: value`` comment lines of a WFDB header, e.g. ``{"Age": "69", "Dx": "…"}``."""
    comments: dict[str, str] = {}
    for line in header_path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, separator, value = line.lstrip("#").partition(":")
        if line.startswith("#") and separator:
            comments[key.strip()] = value.strip()
    return comments


class Challenge2021(RecordDataset):
    """The PhysioNet Challenge 2021 training records found below a root folder.

    Args:
        root: a folder holding ``.hea``/``.mat`` pairs at any depth (e.g.
            ``…/challenge-2021/1.0.3/training``).

    Raises:
        DatasetRootError: when the folder holds no header, a header lacks its ``.mat`` file or
            its ``# Dx:`` line, or two records share a name.
    """

    name = "challenge"
    label_names = ("lqts_risk",)
    task_labels = MappingProxyType({"lqts_risk": "lqts_risk"})
    split_rule = "SHA-256 of the record name, first 8 hex digits mod 10: 0–7 train, 8 val, 9 test"

    def __init__(self, root: Path | str) -> None:
        folder = require_entries(self.name, root, ())
        super().__init__(folder, self._read_index(folder))

    @classmethod
    def _read_index(cls, root: Path) -> pd.DataFrame:
        headers = sorted(root.rglob("*.hea"))
        if not headers:
            raise DatasetRootError(f"{cls.name} root {root} lacks WFDB headers (*.hea)")
        missing_mat = [
            str(header.with_suffix(".mat").relative_to(root))
            for header in headers
            if not header.with_suffix(".mat").is_file()
        ]
        if missing_mat:
            raise missing_files_error(cls.name, root, "signal files", missing_mat)
        repeated = [name for name, count in Counter(h.stem for h in headers).items() if count > 1]
        if repeated:
            raise DatasetRootError(
                f"{cls.name} root {root} holds several records named {', '.join(repeated[:5])}"
            )

        comments = [header_comments(header) for header in headers]
        demographics = [header_demographics(header) for header in headers]
        without_dx = [
            str(header.relative_to(root))
            for header, found in zip(headers, comments)
            if "Dx" not in found
        ]
        if without_dx:
            raise missing_files_error(cls.name, root, "'# Dx:' lines in headers", without_dx)

        codes = [tuple(code.strip() for code in found["Dx"].split(",")) for found in comments]
        index = pd.DataFrame(
            {
                "record_id": [header.stem for header in headers],
                "split": [hash_split(header.stem) for header in headers],
                "age_years": pd.array([age for age, _ in demographics], dtype="Int64"),
                "sex": [sex for _, sex in demographics],
                "dx_codes": [",".join(listed) for listed in codes],
                "header": [str(header.relative_to(root)) for header in headers],
                "lqts_risk": pd.array(
                    [SNOMED_PROLONGED_QT in listed for listed in codes], dtype="int8"
                ),
            }
        )
        return index.set_index("record_id")

    def record_paths(self, record_id: str) -> tuple[Path, ...]:
        """The ``.hea``/``.mat`` pair of record ``record_id``."""
        header = self.root / self.index.at[record_id, "header"]
        return header, header.with_suffix(".mat")
