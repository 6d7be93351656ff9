"""web access: sign-in links and their requests, used mail links, calendar feeds, preferences

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from veiligheid_flow.db import UTCDateTime

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMAIL, DIGEST = 320, 64


def upgrade() -> None:
    op.create_table(
        "sign_in_token",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(DIGEST), nullable=False, unique=True),
        sa.Column("email", sa.String(EMAIL), nullable=False, index=True),
        sa.Column("client", sa.String(DIGEST), nullable=False, index=True),
        sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "sign_in_request",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(EMAIL), nullable=False, index=True),
        sa.Column("client", sa.String(DIGEST), nullable=False, index=True),
        sa.Column("at", UTCDateTime(), nullable=False, index=True),
    )
    op.create_table(
        "used_link",
        sa.Column("digest", sa.String(DIGEST), primary_key=True),
        sa.Column("email", sa.String(EMAIL), nullable=False),
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "calendar_feed",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(DIGEST), nullable=False, unique=True),
        sa.Column("email", sa.String(EMAIL), nullable=False, index=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "preference",
        sa.Column("email", sa.String(EMAIL), primary_key=True),
        sa.Column("lead_days", sa.Integer, nullable=True),
        sa.Column("digest", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("preference", "calendar_feed", "used_link", "sign_in_request", "sign_in_token"):
        op.drop_table(table)
