"""Rows that operations keep: failed job runs and the problems administrators were told about."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from veiligheid_flow.db import Base, UTCDateTime


class JobFailure(Base):
    """One failed attempt of a job at a slot; the job's other work and the dispatch went on."""

    __tablename__ = "job_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(60), index=True)
    slot: Mapped[str | None] = mapped_column(String(10))  # the local date it tried to cover
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    error: Mapped[str] = mapped_column(Text)  # one Dutch line


class AdminAlert(Base):
    """A problem (a failed or uncertain message, a stalled outbox, a failed job) that the
    administrators were alerted to once, and the outbox key of that alert."""

    __tablename__ = "admin_alert"

    problem: Mapped[str] = mapped_column(String(200), primary_key=True)
    message_key: Mapped[str] = mapped_column(String(400))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
