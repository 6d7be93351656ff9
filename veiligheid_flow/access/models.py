"""Rows of the web access: only digests of secrets are stored, never the secrets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from veiligheid_flow import limits
from veiligheid_flow.db import Base, UTCDateTime

DIGEST = 64  # hex SHA-256


class SignInToken(Base):
    """A one-time sign-in link sent by mail: single use, valid for a quarter of an hour."""

    __tablename__ = "sign_in_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(DIGEST), unique=True)
    email: Mapped[str] = mapped_column(String(limits.EMAIL), index=True)
    client: Mapped[str] = mapped_column(String(DIGEST), index=True)  # digest of the IP
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignInRequest(Base):
    """Every request for a link, also for unknown addresses: what the rate limit counts."""

    __tablename__ = "sign_in_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(limits.EMAIL), index=True)
    client: Mapped[str] = mapped_column(String(DIGEST), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class UsedLink(Base):
    """A link from a message that acted on a task: its digest, so it works only once."""

    __tablename__ = "used_link"

    digest: Mapped[str] = mapped_column(String(DIGEST), primary_key=True)
    email: Mapped[str] = mapped_column(String(limits.EMAIL))
    task_id: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarFeed(Base):
    """A person's secret calendar subscription address (revocable)."""

    __tablename__ = "calendar_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(DIGEST), unique=True)
    email: Mapped[str] = mapped_column(String(limits.EMAIL), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Preference(Base):
    """What a person chose: reminder lead (working days; None = the rules' default) and
    whether they want the weekly digest."""

    __tablename__ = "preference"

    email: Mapped[str] = mapped_column(String(limits.EMAIL), primary_key=True)
    lead_days: Mapped[int | None] = mapped_column(Integer)
    digest: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
