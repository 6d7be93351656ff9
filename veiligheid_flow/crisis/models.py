"""Crises, absences and portfolio-holder priority overrides: the events the rules react to."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from veiligheid_flow import limits
from veiligheid_flow.db import Base, UTCDateTime


class Crisis(Base):
    __tablename__ = "crisis"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(limits.TEXT))
    grip: Mapped[int] = mapped_column(Integer)
    declared_by: Mapped[str] = mapped_column(String(limits.EMAIL))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expected_end: Mapped[date] = mapped_column(Date)
    # Municipality codes the crisis covers (a regional crisis names several).
    municipalities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    themes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    staff: Mapped[list[Any]] = mapped_column(JSON, default=list)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(limits.EMAIL))


class TaskPause(Base):
    """A period in which a crisis paused a task (from `since` to `until`, both inclusive; open
    while `until` is empty). The due-date shift after a crisis is derived from these."""

    __tablename__ = "task_pause_period"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    crisis_id: Mapped[int] = mapped_column(ForeignKey("crisis.id"), index=True)
    since: Mapped[date] = mapped_column(Date)
    until: Mapped[date | None] = mapped_column(Date)
    rule_id: Mapped[str | None] = mapped_column(String(60))  # the pause rule that decided it


class Absence(Base):
    __tablename__ = "absence"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(limits.EMAIL), index=True)
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(limits.EMAIL))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class PriorityOverride(Base):
    __tablename__ = "priority_override"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    tier: Mapped[int] = mapped_column(Integer)
    by: Mapped[str] = mapped_column(String(limits.EMAIL))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
