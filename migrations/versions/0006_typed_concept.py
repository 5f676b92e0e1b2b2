"""What the clinician typed: an intervention stored as the primary concept it set keeps the
concept and value that were typed.

A typed QTc (or J-Tpeak_c, heart rate) is stored as the QT (J-Tpeak, RR) it back-solves;
``interventions.typed_concept`` and ``typed_value`` (nullable) keep the field and the number the
clinician typed, so the interventions export can tell "QTc (Bazett) 510 typed" from "QT 470
typed". Every other event leaves them NULL; the audit chain hashes them only when set, so the
hashes of existing rows are unchanged.

Revision ID: 0006_typed_concept
Revises: 0005_fiducial_moves
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_typed_concept"
down_revision = "0005_fiducial_moves"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interventions") as batch:
        batch.add_column(sa.Column("typed_concept", sa.String(64), nullable=True))
        batch.add_column(sa.Column("typed_value", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interventions") as batch:
        batch.drop_column("typed_value")
        batch.drop_column("typed_concept")
