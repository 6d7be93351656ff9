"""The outbox: every message is written here first, in the transaction of the decision behind it."""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from veiligheid_flow import limits
from veiligheid_flow.db import Base, UTCDateTime

DEFAULT_DOMAIN = "veiligheid-flow"  # Message-IDs of rows written before migration 0009


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a dispatcher
    SENT = "sent"
    FAILED = "failed"  # permanent failure or too many attempts
    UNCERTAIN = "uncertain"  # dispatcher died mid-send: check the mail log, then `outbox retry`


class OutboxMessage(Base):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    recipient: Mapped[str] = mapped_column(String(limits.EMAIL), index=True)
    cc: Mapped[list[Any]] = mapped_column(JSON, default=list)
    domain: Mapped[str | None] = mapped_column(String(limits.EMAIL))  # of the Message-ID
    # Address → the person's name, for To and Cc ("Anna de Vries" <a.devries@…>).
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    subject: Mapped[str] = mapped_column(String(limits.TEXT))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    ics: Mapped[str | None] = mapped_column(Text)
    # Codes of the municipalities whose work the message concerns, comma-separated.
    municipalities: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(
            OutboxStatus,
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=OutboxStatus.PENDING,
        index=True,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    @property
    def key_digest(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()

    @property
    def message_id(self) -> str:
        """Stable Message-ID derived from the outbox key, under the installation's mail domain
        (VEILIGHEID_MAIL_FROM's): a resend is recognisable, and no two installations share one."""
        return f"<{self.key_digest[:32]}@{self.domain or DEFAULT_DOMAIN}>"

    @property
    def file_name(self) -> str:
        """The key, readable, plus a digest of it: two keys never share a file."""
        safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in self.key)
        return f"{safe[:150]}-{self.key_digest[:12]}.eml"


class JobRun(Base):
    """The last send slot (local date) a scheduled job covered: a missed run catches up once."""

    __tablename__ = "job_run"

    job: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_slot: Mapped[str] = mapped_column(String(10))
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)
