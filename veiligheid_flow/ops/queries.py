"""Reads shared by `status` and the admin alerts (no import of jobs.py: it imports alerts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from veiligheid_flow.mail.models import JobRun, OutboxMessage, OutboxStatus
from veiligheid_flow.ops.models import JobFailure


@dataclass
class Failure:
    job: str
    slot: str | None
    at: datetime
    error: str


@dataclass
class OldestPending:
    id: int
    kind: str
    recipient: str
    subject: str
    created_at: datetime
    minutes: int
    last_error: str | None
    pending: int  # how many are pending in all


def oldest_pending(
    session: Session, now: datetime, *, exclude_kind: str | None = None
) -> OldestPending | None:
    query = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
    if exclude_kind:
        query = query.where(OutboxMessage.kind != exclude_kind)
    row = session.scalars(
        query.order_by(OutboxMessage.created_at, OutboxMessage.id).limit(1)
    ).first()
    if row is None:
        return None
    pending = session.scalar(query.with_only_columns(func.count()).order_by(None)) or 0
    minutes = max(0, int((now - row.created_at).total_seconds() // 60))
    return OldestPending(
        row.id,
        row.kind,
        row.recipient,
        row.subject,
        row.created_at,
        minutes,
        row.last_error,
        pending,
    )


def open_failure(session: Session, job: str) -> Failure | None:
    """The job's latest failure, if no run has covered that slot since."""
    last = session.scalars(
        select(JobFailure).where(JobFailure.job == job).order_by(JobFailure.id.desc()).limit(1)
    ).first()
    if last is None:
        return None
    run = session.get(JobRun, job)
    if run is not None:
        covered = run.last_slot >= last.slot if last.slot else run.ran_at >= last.at
        if covered:
            return None
    return Failure(last.job, last.slot, last.at, last.error)
