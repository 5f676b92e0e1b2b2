"""No identifying value of the sample files reaches the database, the logs or the exports.

Every XML sample and several WFDB records with free-text headers go through the whole path
(upload → predict → override → export); then every text column of every table, every log
record and every export format is searched for the values listed in
``tests/io/identifying_values.py``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db.migrate import upgrade
from app.main import create_app
from tests.api.conftest import login, make_settings, seed_users
from tests.io import builders
from tests.io.identifying_values import identifying_values, is_numeric

#: Identifying values written into the EDF and DICOM files the test builds (no public samples).
GENERATED_VALUES = ("Doe^Jane", "Doe_Jane", "Jane", "MRN-4711-XQ", "SN-88172-ZT", "Tech^Oskar",
                    "Tech_Oskar", "19610714", "1961-07-14")

#: QTLens' own random strings: record and series ids (``ECG-…``, ``SER-…``: 8 base32 characters
#: from :mod:`secrets`) and the users' argon2id password hashes (base64 salt and digest). They
#: cannot carry an upload's content, but a short identifying value such as the initials "JMK" or
#: "VWJ" turns up inside one by chance (CI failed once each way: an id, then a password hash), so
#: they are blanked before the search.
OWN_RANDOM_STRINGS = re.compile(
    r"\b(?:ECG|SER)-[A-Z2-7]{8}\b"
    r"|\$argon2id\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+")


def without_own_ids(text: str) -> str:
    """``text`` with QTLens' own random ids and password hashes blanked."""
    return OWN_RANDOM_STRINGS.sub("<id>", text)


def test_only_qtlens_own_random_strings_are_blanked() -> None:
    assert without_own_ids("record ECG-AJMKQ2P3, series SER-KAB23XYZ") == (
        "record <id>, series <id>")
    assert "JMK" in without_own_ids("initials JMK, ECG-JMK, ECG-AJMKQ2P3X")
    argon2 = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdFZXSnNhbHQ$ZGlnZXN0VldKZGlnZXN0"
    assert without_own_ids(f"hash {argon2} VWJ") == "hash <id> VWJ"


#: Uploads (files relative to the data folder) covering every format with identifying fields.
UPLOADS: tuple[tuple[str, ...], ...] = (
    ("formats/muse/synthetic_muse.xml",),
    ("formats/muse/guangxi_teaching_sinus_rhythm.xml",),
    ("formats/aecg/subject1_0.xml",),
    ("formats/sierra/129DYPRG.XML",),
    ("formats/sierra/3191723_ZZDEMOPTONLY_1-04_orig.xml",),
    ("ludb/data/1.hea", "ludb/data/1.dat"),
    ("challenge2021/E07504.hea", "challenge2021/E07504.mat"),
    ("wfdb_samples/s0010_re.hea", "wfdb_samples/s0010_re.dat", "wfdb_samples/s0010_re.xyz"),
    ("ptbxl/records500/00000/00001_hr.hea", "ptbxl/records500/00000/00001_hr.dat"),
)


def _database_text(database_url: str) -> str:
    """Every non-binary value of every table, as one string."""
    engine = sa.create_engine(database_url)
    parts: list[str] = []
    with engine.connect() as connection:
        metadata = sa.MetaData()
        metadata.reflect(bind=engine)
        for table in metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                parts.extend(str(v) for v in row if not isinstance(v, (bytes, memoryview)))
    engine.dispose()
    return "\n".join(parts)


def test_identifying_values_never_reach_database_logs_or_exports(
        data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    database_url = f"sqlite:///{tmp_path / 'deid.sqlite3'}"
    upgrade(database_url)
    seed_users(database_url)
    uploaded: list[str] = []
    exports: list[str] = []
    signal_mv, fs_hz = builders.synthetic_ecg()
    generated = [
        builders.edf_file(signal_mv, fs_hz),
        builders.UploadedFile("ecg.dcm", builders.dicom_bytes(builders.dicom_dataset(signal_mv, fs_hz))),
    ]
    with TestClient(create_app(make_settings(database_url))) as client:
        login(client, "clinician1")
        bodies = [[(f, Path(f).name, (data_dir / f).read_bytes()) for f in files]
                  for files in UPLOADS]
        bodies += [[(None, g.name, g.data)] for g in generated]
        for files in bodies:
            body = [("files", (name, data, "application/octet-stream")) for _, name, data in files]
            response = client.post("/api/v1/records", files=body)
            assert response.status_code == 201, (files, response.text)
            record = response.json()
            assert record["removed_fields"], files  # each of these files carries something
            prediction = client.post(f"/api/v1/records/{record['id']}/predictions")
            assert prediction.status_code == 201, (files, prediction.text)
            edit = client.post(f"/api/v1/predictions/{prediction.json()['id']}/interventions",
                               json={"concept": "qt", "value": 470})
            assert edit.status_code == 201, edit.text
            uploaded.extend(key for key, _, _ in files if key)
        login(client, "researcher1")
        for kind in ("interventions", "predictions"):
            for export_format in ("csv", "jsonl", "parquet"):
                response = client.get(f"/api/v1/exports/{kind}",
                                      params={"format": export_format})
                assert response.status_code == 200
                exports.append(response.content.decode("latin-1"))

    values = identifying_values(data_dir)
    searched = {v for f in uploaded for v in values.get(f, ()) if not is_numeric(v)}
    searched |= set(GENERATED_VALUES)
    assert len(searched) > 40  # the check below is not vacuous
    places = {
        "database": without_own_ids(_database_text(database_url)),
        "logs": without_own_ids("\n".join(r.getMessage() for r in caplog.records)),
        "exports": without_own_ids("\n".join(exports)),
    }
    leaks = sorted((where, v) for where, text in places.items() for v in searched if v in text)
    assert leaks == [], [_surroundings(places[where], v) for where, v in leaks]


def _surroundings(text: str, value: str, width: int = 60) -> str:
    """``value``'s first occurrence in ``text`` with ``width`` characters either side."""
    at = text.index(value)
    return text[max(0, at - width):at + len(value) + width]
