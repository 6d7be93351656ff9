"""Tasks: one occurrence of an activity (or a statutory case), with owner, backup and state."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from veiligheid_flow import limits
from veiligheid_flow.db import Base, UTCDateTime
from veiligheid_flow.programme.models import Activity, CouncilItem, Person, Programme, Theme


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def closed(self) -> bool:
        return self in (TaskStatus.DONE, TaskStatus.CANCELLED)


class Task(Base):
    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("programme_id", "activity_id", "occurrence_key"),
        # The daily sweep reads open tasks by due date.
        Index("ix_task_status_due_date", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), index=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"), index=True)
    occurrence_key: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(limits.TEXT))
    statutory: Mapped[bool] = mapped_column(Boolean)
    legal_basis: Mapped[str | None] = mapped_column(String(limits.TEXT))
    owner_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    backup_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    planned_due: Mapped[date] = mapped_column(Date)
    effort_hours: Mapped[float] = mapped_column(Float)
    council_item_id: Mapped[int | None] = mapped_column(ForeignKey("council_item.id"), index=True)
    status: Mapped[TaskStatus] = mapped_column(
        Enum(
            TaskStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
        ),
        default=TaskStatus.OPEN,
        index=True,
    )
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_by: Mapped[str | None] = mapped_column(String(limits.EMAIL))
    note: Mapped[str | None] = mapped_column(Text)
    handed_over: Mapped[bool] = mapped_column(Boolean, default=False)
    # The rules engine's current decision (see veiligheid_flow.rules); derived, re-evaluated.
    due_date: Mapped[date] = mapped_column(Date, index=True)
    tier: Mapped[int] = mapped_column(Integer, default=9)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    responsible_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    decision: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    programme: Mapped[Programme] = relationship()
    activity: Mapped[Activity] = relationship()
    theme: Mapped[Theme] = relationship()
    owner: Mapped[Person] = relationship(foreign_keys=[owner_id])
    backup: Mapped[Person] = relationship(foreign_keys=[backup_id])
    responsible: Mapped[Person] = relationship(foreign_keys=[responsible_id])
    council_item: Mapped[CouncilItem | None] = relationship()

    @property
    def open(self) -> bool:
        return not TaskStatus(self.status).closed
