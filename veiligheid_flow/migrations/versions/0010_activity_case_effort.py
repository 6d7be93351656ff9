"""activity case effort: the programme file's hours per case of a `case:` activity

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activity") as batch_op:
        batch_op.add_column(sa.Column("case_effort_hours", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("activity") as batch_op:
        batch_op.drop_column("case_effort_hours")
