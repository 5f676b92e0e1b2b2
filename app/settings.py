"""All configuration of the QTLens service, read once from environment variables.

Every variable is prefixed ``QTLENS_`` (``DATABASE_URL`` is also accepted, as container platforms
set it). Nothing else in the application reads the environment.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.concepts import DEFAULT_QTC, QTC_FORMULAS, qtc_formula
from models.ecg.limits import SHORT_RECORD_S, IngestLimits

#: Repository / installation root (the folder holding app/, models/, frontend/).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Service configuration (see the README's configuration table for every variable)."""

    model_config = SettingsConfigDict(env_prefix="QTLENS_", extra="ignore", frozen=True)

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'qtlens.sqlite3'}",
        validation_alias=AliasChoices("QTLENS_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL: SQLite file by default, postgresql+psycopg://… for PostgreSQL.",
    )
    model_bundle: Path = Field(
        default=PROJECT_ROOT / "models" / "weights" / "demo",
        description="Folder of the model bundle loaded at start-up.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="Inference device: auto = CUDA when available, else CPU."
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT.parent / "shared" / "data",
        description="Public ECG datasets (read in place, never copied).",
    )
    secret_key: str = Field(
        default_factory=lambda: secrets.token_urlsafe(32),
        description="Key for CSRF tokens. Set it in production so restarts keep sessions valid.",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="HMAC key of the audit chains (at least 16 bytes); kept outside the database. "
        "Unset: read from audit_key_file.",
    )
    audit_key_file: Path = Field(
        default=PROJECT_ROOT / "var" / "audit_key",
        description="File holding the audit key (created, mode 0600, on first use).",
    )
    audit_checkpoint_file: Path = Field(
        default=PROJECT_ROOT / "var" / "audit-checkpoints.jsonl",
        description="Append-only file of signed chain-head checkpoints (outside the database).",
    )
    cookie_secure: bool = Field(
        default=False, description="Mark cookies Secure (set true behind HTTPS)."
    )
    session_hours: float = Field(default=12.0, gt=0, description="Login session lifetime in hours.")
    inference_workers: int = Field(
        default=2, ge=1, le=64,
        description="Worker processes that read uploads and analyse records (on a CPU each runs "
        "one prediction at a time on one core: the throughput scales with this up to the cores).",
    )
    worker_memory_mb: int = Field(
        default=3072, ge=512,
        description="Address-space cap (MB) of each worker process that reads, measures and "
        "(on a CPU) predicts (one per inference worker; the loaded model takes about 2.2 GB of "
        "address space, most of it reserved, not resident); an upload that needs more is refused "
        "with 413.",
    )
    worker_cpu_seconds: float = Field(
        default=60.0, gt=0,
        description="CPU-time limit (s) of reading or measuring one ECG in a worker process; "
        "beyond it the request is refused with 422.",
    )
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_channels: int = Field(default=16, ge=1, le=64)
    min_fs_hz: float = Field(default=50.0, gt=0)
    max_fs_hz: float = Field(default=2000.0, gt=0)
    max_duration_s: float = Field(default=600.0, gt=0)
    min_duration_s: float = Field(
        default=SHORT_RECORD_S, ge=0,
        description="Shortest accepted record (s): a shorter upload is refused with 422, as too "
        "short for a median beat, its intervals and a prediction.",
    )
    max_upload_files: int = Field(default=4, ge=1, le=16)
    keep_original_bytes: bool = Field(
        default=False,
        description="Store the uploaded file bytes (unencrypted!) besides the de-identified signal.",
    )
    login_rate_per_minute: int = Field(default=10, ge=1)
    upload_rate_per_minute: int = Field(default=30, ge=1)
    log_level: str = Field(default="INFO")
    primary_qtc: str = Field(
        default=DEFAULT_QTC,
        description="The QTc formula shown as the QTc on the record page and the worklist "
        f"(one of {', '.join(QTC_FORMULAS)}); the others stay one click away.",
    )

    @field_validator("primary_qtc")
    @classmethod
    def _known_qtc_formula(cls, name: str) -> str:
        """A QTc formula of the registry (clear message otherwise)."""
        return qtc_formula(name).name

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres_scheme(cls, url: str) -> str:
        """Accept ``postgres://`` and ``postgresql://`` and use the psycopg 3 driver."""
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url

    @property
    def ingest_limits(self) -> IngestLimits:
        """The reader limits these settings describe."""
        return IngestLimits(
            max_upload_bytes=self.max_upload_bytes,
            max_channels=self.max_channels,
            min_fs_hz=self.min_fs_hz,
            max_fs_hz=self.max_fs_hz,
            max_duration_s=self.max_duration_s,
            min_duration_s=self.min_duration_s,
            max_files=self.max_upload_files,
        )

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is an SQLite file."""
        return self.database_url.startswith("sqlite")
