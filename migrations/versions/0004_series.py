"""Serial ECGs: a record may belong to one pseudonymous subject series, one record its baseline.

``records.series_id`` is QTLens' own pseudonymous id (``SER-…``, never taken from an upload);
``records.is_baseline`` marks the series' drug-free baseline ECG that change concepts
(:mod:`models.change`) are computed against. Both are nullable/false for existing records.

Revision ID: 0004_series
Revises: 0003_device_measurements
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_series"
down_revision = "0003_device_measurements"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("series_id", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("is_baseline", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_index("ix_records_series_id", ["series_id"])


def downgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.drop_index("ix_records_series_id")
        batch.drop_column("is_baseline")
        batch.drop_column("series_id")
