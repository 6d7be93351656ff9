"""column limits: an actor holds any address; the outbox's municipalities list is unbounded

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch_op:
        batch_op.alter_column("actor", type_=sa.String(320), existing_nullable=False)
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.alter_column(
            "municipalities", type_=sa.Text(), existing_nullable=False, existing_server_default=""
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.alter_column(
            "municipalities", type_=sa.String(400), existing_nullable=False,
            existing_server_default="",
        )
    with op.batch_alter_table("audit_entry") as batch_op:
        batch_op.alter_column("actor", type_=sa.String(200), existing_nullable=False)
