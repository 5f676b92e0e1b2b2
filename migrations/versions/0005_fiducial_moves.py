"""Correctable fiducials: an intervention may carry the median-beat fiducial positions it moved.

``interventions.fiducials`` (JSON, nullable) holds, for a ``source = 'fiducial'`` event, the
positions before and after the move (ms from the median beat's R peak) and the concept values
they define. Every other event leaves it NULL; the audit chain hashes it only when set, so the
hashes of existing rows are unchanged.

Revision ID: 0005_fiducial_moves
Revises: 0004_series
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_fiducial_moves"
down_revision = "0004_series"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interventions") as batch:
        batch.add_column(sa.Column("fiducials", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interventions") as batch:
        batch.drop_column("fiducials")
