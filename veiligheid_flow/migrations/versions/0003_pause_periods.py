"""pause periods: a task's pause by a crisis has its own start and end

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_pause_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("crisis_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["crisis_id"], ["crisis.id"], name=op.f("fk_task_pause_period_crisis_id_crisis")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_task_pause_period_task_id_task")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_pause_period")),
    )
    with op.batch_alter_table("task_pause_period") as batch_op:
        batch_op.create_index(batch_op.f("ix_task_pause_period_task_id"), ["task_id"])
        batch_op.create_index(batch_op.f("ix_task_pause_period_crisis_id"), ["crisis_id"])
    # Old rows knew only the crisis: the period was the crisis itself (dates taken in UTC).
    as_date = "date({})" if op.get_bind().dialect.name == "sqlite" else "CAST({} AS DATE)"
    op.execute(
        "INSERT INTO task_pause_period (task_id, crisis_id, since, until) "
        f"SELECT p.task_id, p.crisis_id, {as_date.format('c.declared_at')}, "
        f"{as_date.format('c.ended_at')} "
        "FROM task_pause p JOIN crisis c ON c.id = p.crisis_id"
    )
    op.drop_table("task_pause")  # its index goes with it


def downgrade() -> None:
    op.create_table(
        "task_pause",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("crisis_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["crisis_id"], ["crisis.id"], name="fk_task_pause_crisis_id_crisis"
        ),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name="fk_task_pause_task_id_task"),
        sa.PrimaryKeyConstraint("task_id", "crisis_id", name="pk_task_pause"),
    )
    op.create_index("ix_task_pause_crisis_id", "task_pause", ["crisis_id"])
    op.execute(
        "INSERT INTO task_pause (task_id, crisis_id) "
        "SELECT DISTINCT task_id, crisis_id FROM task_pause_period"
    )
    op.drop_table("task_pause_period")
