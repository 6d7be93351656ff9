"""region: municipality codes, crisis scope by municipality, evaluation mark, sweep index

Revision ID: 0004
Revises: 0003
"""

import re
from datetime import UTC, datetime
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import veiligheid_flow.db

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _slug(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


def upgrade() -> None:
    with op.batch_alter_table("programme") as batch_op:
        batch_op.add_column(sa.Column("municipality_code", sa.String(80), nullable=True))
    bind = op.get_bind()
    for pid, name in bind.execute(sa.text("SELECT id, municipality FROM programme")).all():
        bind.execute(
            sa.text("UPDATE programme SET municipality_code = :code WHERE id = :id"),
            {"code": _slug(name), "id": pid},
        )
    with op.batch_alter_table("programme") as batch_op:
        batch_op.alter_column("municipality_code", existing_type=sa.String(80), nullable=False)
        batch_op.create_index(batch_op.f("ix_programme_municipality_code"), ["municipality_code"])
    with op.batch_alter_table("crisis") as batch_op:
        batch_op.add_column(sa.Column("municipalities", sa.JSON(), nullable=True))
    # Crises declared before: they covered every municipality in the database.
    codes = [
        r[0] for r in bind.execute(sa.text("SELECT DISTINCT municipality_code FROM programme"))
    ]
    crisis = sa.table("crisis", sa.column("municipalities", sa.JSON()))
    bind.execute(crisis.update().values(municipalities=sorted(codes)))
    with op.batch_alter_table("crisis") as batch_op:
        batch_op.alter_column("municipalities", existing_type=sa.JSON(), nullable=False)
    op.create_table(
        "evaluation_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", veiligheid_flow.db.UTCDateTime(), nullable=False),
        sa.Column("rules_digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_mark")),
    )
    # The one row exists from the start, so runners lock it rather than race to insert it;
    # its empty digest makes the first evaluation a full one.
    mark = sa.table(
        "evaluation_mark",
        sa.column("id", sa.Integer()),
        sa.column("at", veiligheid_flow.db.UTCDateTime()),
        sa.column("rules_digest", sa.String()),
    )
    op.bulk_insert(mark, [{"id": 1, "at": datetime(1970, 1, 1, tzinfo=UTC), "rules_digest": ""}])
    op.create_index("ix_task_status_due_date", "task", ["status", "due_date"])
    op.create_index("ix_task_backup_id", "task", ["backup_id"])
    with op.batch_alter_table("task_pause_period") as batch_op:
        batch_op.add_column(sa.Column("rule_id", sa.String(60), nullable=True))
    op.create_index("ix_task_council_item_id", "task", ["council_item_id"])
    op.create_table(
        "theme_share",
        sa.Column("theme_id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["programme.id"], name=op.f("fk_theme_share_programme_id_programme")
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"], ["theme.id"], name=op.f("fk_theme_share_theme_id_theme")
        ),
        sa.PrimaryKeyConstraint("theme_id", "programme_id", name=op.f("pk_theme_share")),
    )
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.add_column(
            sa.Column("municipalities", sa.String(400), nullable=False, server_default="")
        )


def downgrade() -> None:
    op.drop_table("theme_share")
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.drop_column("municipalities")
    with op.batch_alter_table("task_pause_period") as batch_op:
        batch_op.drop_column("rule_id")
    op.drop_index("ix_task_council_item_id", table_name="task")
    op.drop_index("ix_task_backup_id", table_name="task")
    op.drop_index("ix_task_status_due_date", table_name="task")
    op.drop_table("evaluation_mark")
    with op.batch_alter_table("crisis") as batch_op:
        batch_op.drop_column("municipalities")
    with op.batch_alter_table("programme") as batch_op:
        batch_op.drop_index(batch_op.f("ix_programme_municipality_code"))
        batch_op.drop_column("municipality_code")
