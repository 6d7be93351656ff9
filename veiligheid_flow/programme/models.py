"""Programme reference data as rows: programme, people, holders, themes, activities, items."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from veiligheid_flow import limits
from veiligheid_flow.db import Base, UTCDateTime


class Programme(Base):
    __tablename__ = "programme"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(limits.KEY), unique=True)
    name: Mapped[str] = mapped_column(String(limits.TEXT))
    municipality: Mapped[str] = mapped_column(String(limits.TEXT))
    # The municipality as a short code (a slug of its name): what filters and crisis scopes use.
    municipality_code: Mapped[str] = mapped_column(String(limits.MUNICIPALITY_CODE), index=True)
    plan_name: Mapped[str] = mapped_column(String(limits.TEXT))
    plan_adopted_on: Mapped[date | None] = mapped_column(Date)
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    non_working_days: Mapped[list[Any]] = mapped_column(JSON, default=list)
    submission_working_days: Mapped[int] = mapped_column(Integer)
    source_file: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # {"coordinators": [person keys], "crisis_delegates": [person keys]} from the file's `roles`.
    roles: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    # The file's `council_import` (column mapping for `termijnagenda importeer`), or None.
    council_import: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    themes: Mapped[list[Theme]] = relationship(back_populates="programme", order_by="Theme.id")


class Person(Base):
    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("programme_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), index=True)
    key: Mapped[str] = mapped_column(String(limits.KEY))
    name: Mapped[str] = mapped_column(String(limits.TEXT))
    email: Mapped[str] = mapped_column(String(limits.EMAIL), index=True)
    role: Mapped[str] = mapped_column(String(limits.TEXT))
    hours_per_week: Mapped[float] = mapped_column(Float)
    # When the person was no longer in the programme file (None while they are in it).
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PortfolioHolder(Base):
    __tablename__ = "portfolio_holder"
    __table_args__ = (UniqueConstraint("programme_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), index=True)
    key: Mapped[str] = mapped_column(String(limits.KEY))
    name: Mapped[str] = mapped_column(String(limits.TEXT))
    title: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(limits.EMAIL))
    portfolio: Mapped[str | None] = mapped_column(String(limits.TEXT))


theme_holder = Table(
    "theme_holder",
    Base.metadata,
    Column("theme_id", ForeignKey("theme.id"), primary_key=True),
    Column("holder_id", ForeignKey("portfolio_holder.id"), primary_key=True),
)


theme_share = Table(
    "theme_share",
    Base.metadata,
    Column("theme_id", ForeignKey("theme.id"), primary_key=True),
    Column("programme_id", ForeignKey("programme.id"), primary_key=True),
)
"""A district theme (held by one programme) that another municipality's programme shares in."""


class Theme(Base):
    __tablename__ = "theme"
    __table_args__ = (UniqueConstraint("programme_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), index=True)
    code: Mapped[str] = mapped_column(String(limits.KEY))
    name: Mapped[str] = mapped_column(String(limits.TEXT))
    kind: Mapped[str] = mapped_column(String(20))
    council_priority: Mapped[bool] = mapped_column(Boolean)
    owner_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    backup_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    partners: Mapped[list[Any]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    programme: Mapped[Programme] = relationship(back_populates="themes")
    holders: Mapped[list[PortfolioHolder]] = relationship(
        secondary=theme_holder, order_by=PortfolioHolder.key
    )
    owner: Mapped[Person] = relationship(foreign_keys=[owner_id])
    backup: Mapped[Person] = relationship(foreign_keys=[backup_id])
    budget_lines: Mapped[list[BudgetLine]] = relationship(
        cascade="all, delete-orphan", order_by="BudgetLine.year"
    )


class BudgetLine(Base):
    __tablename__ = "budget_line"
    __table_args__ = (UniqueConstraint("theme_id", "year", "description"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    description: Mapped[str] = mapped_column(String(limits.TEXT))


REALISED_FROM_FILE, REALISED_BOOKED = "programma", "boeking"  # BudgetRealised.source


class BudgetRealised(Base):
    """Money spent on a theme in a year: a `realised:` line of the programme file (source
    "programma") or a booking with `veiligheid budget boek` (source "boeking"). Rows are
    never deleted, so the state at any past moment can be read back: a file line that leaves
    the file gets `removed_at`; a booking is corrected with a negative booking."""

    __tablename__ = "budget_realised"

    id: Mapped[int] = mapped_column(primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    description: Mapped[str] = mapped_column(String(limits.TEXT))
    source: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(limits.EMAIL))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CouncilMeeting(Base):
    __tablename__ = "council_meeting"
    __table_args__ = (UniqueConstraint("programme_id", "body", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), index=True)
    body: Mapped[str] = mapped_column(String(limits.TEXT))
    date: Mapped[date] = mapped_column(Date)


FROM_FILE, IMPORTED = "programma", "import"  # CouncilItem.source


class CouncilItem(Base):
    __tablename__ = "council_item"
    __table_args__ = (UniqueConstraint("programme_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), index=True)
    code: Mapped[str] = mapped_column(String(limits.KEY))
    subject: Mapped[str] = mapped_column(String(limits.TEXT))
    type: Mapped[str] = mapped_column(String(40))
    holder_id: Mapped[int] = mapped_column(ForeignKey("portfolio_holder.id"))
    committee: Mapped[str] = mapped_column(String(limits.TEXT))
    committee_date: Mapped[date] = mapped_column(Date)
    council_date: Mapped[date | None] = mapped_column(Date)
    submission_deadline: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Who wrote the item last: "programma" (the file) or "import" (`termijnagenda importeer`).
    source: Mapped[str] = mapped_column(String(20), default=FROM_FILE, server_default=FROM_FILE)
    # The item as the programme file last gave it (sha256), to tell a file edit from a reload.
    file_digest: Mapped[str | None] = mapped_column(String(64))

    holder: Mapped[PortfolioHolder] = relationship()
    programme: Mapped[Programme] = relationship()


class Activity(Base):
    __tablename__ = "activity"
    __table_args__ = (UniqueConstraint("programme_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), index=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("theme.id"), index=True)
    code: Mapped[str] = mapped_column(String(limits.KEY))
    title: Mapped[str] = mapped_column(String(limits.TEXT))
    kind: Mapped[str] = mapped_column(String(20))
    owner_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    backup_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    legal_basis: Mapped[str | None] = mapped_column(String(limits.TEXT))
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON)
    case_type: Mapped[str | None] = mapped_column(String(limits.KEY))
    effort_hours: Mapped[float] = mapped_column(Float)  # a case activity: the yearly total
    # Hours per case for a `case:` activity; None: the case type's hours in legal_terms.yaml.
    case_effort_hours: Mapped[float | None] = mapped_column(Float)
    partners: Mapped[list[Any]] = mapped_column(JSON, default=list)
    council_item_id: Mapped[int | None] = mapped_column(ForeignKey("council_item.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    theme: Mapped[Theme] = relationship()

    @property
    def statutory(self) -> bool:
        return self.legal_basis is not None
