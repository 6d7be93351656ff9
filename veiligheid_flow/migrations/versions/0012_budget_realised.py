"""budget realised and the termijnagenda import: realised amounts per theme and year (file
lines and bookings), the programme's import column mapping, and who wrote a council item last

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from veiligheid_flow.db import UTCDateTime

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT, EMAIL = 300, 320


def upgrade() -> None:
    op.create_table(
        "budget_realised",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("theme_id", sa.Integer, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("description", sa.String(TEXT), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(EMAIL), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["theme_id"], ["theme.id"], name="fk_budget_realised_theme_id_theme"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_budget_realised"),
    )
    with op.batch_alter_table("budget_realised") as batch_op:
        batch_op.create_index("ix_budget_realised_theme_id", ["theme_id"])
    with op.batch_alter_table("programme") as batch_op:
        batch_op.add_column(sa.Column("council_import", sa.JSON(), nullable=True))
    with op.batch_alter_table("council_item") as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(20), nullable=False, server_default="programma")
        )
        batch_op.add_column(sa.Column("file_digest", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("council_item") as batch_op:
        batch_op.drop_column("file_digest")
        batch_op.drop_column("source")
    with op.batch_alter_table("programme") as batch_op:
        batch_op.drop_column("council_import")
    op.drop_table("budget_realised")
