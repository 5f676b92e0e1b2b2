"""The cart's own reading on each record: ``records.device_measurements`` (JSON, nullable).

MUSE, Philips Sierra and HL7 aECG files carry the electrocardiograph's intervals (QT, QTc, QRS,
PR, RR, heart rate, axes) and its statements ("Acute MI"…); the readers extract them
(:mod:`models.ecg.io.device`) and the record keeps them, de-identified, to show beside QTLens'
values and in the predictions export. Records of other formats, and older records, hold NULL.

Revision ID: 0003_device_measurements
Revises: 0002_keyed_audit_chain
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_device_measurements"
down_revision = "0002_keyed_audit_chain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("device_measurements", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.drop_column("device_measurements")
