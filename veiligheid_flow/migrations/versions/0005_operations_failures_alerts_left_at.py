"""operations: failed job runs, admin alerts, when a person left the programme

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import veiligheid_flow.db

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(60), nullable=False),
        sa.Column("slot", sa.String(10), nullable=True),
        sa.Column("at", veiligheid_flow.db.UTCDateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_failure")),
    )
    with op.batch_alter_table("job_failure") as batch_op:
        batch_op.create_index(batch_op.f("ix_job_failure_job"), ["job"])
    op.create_table(
        "admin_alert",
        sa.Column("problem", sa.String(200), nullable=False),
        sa.Column("message_key", sa.String(400), nullable=False),
        sa.Column("at", veiligheid_flow.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("problem", name=op.f("pk_admin_alert")),
    )
    with op.batch_alter_table("person") as batch_op:
        batch_op.add_column(sa.Column("left_at", veiligheid_flow.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("person") as batch_op:
        batch_op.drop_column("left_at")
    op.drop_table("admin_alert")
    with op.batch_alter_table("job_failure") as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_failure_job"))
    op.drop_table("job_failure")
