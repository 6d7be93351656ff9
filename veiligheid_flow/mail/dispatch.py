"""The dispatcher: claims pending outbox rows one at a time and sends them.

Each message is claimed (pending → sending) in its own committed transaction before it is sent,
and marked sent in another right after. Two dispatchers never claim the same row (the claim is a
conditional UPDATE; on PostgreSQL rows are picked with SKIP LOCKED). A dispatcher that dies
between the send and the second commit leaves one row in `sending`; on the next run it becomes
`sent` when the transport can prove delivery (.eml exists), otherwise `uncertain` — never resent
without a person deciding (`veiligheid outbox retry ID`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from veiligheid_flow.audit import service as audit
from veiligheid_flow.db import unit_of_work
from veiligheid_flow.errors import DomainError, NotFound
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.mail.transport import PermanentError, TransientError, Transport

STALE_AFTER = timedelta(minutes=10)
BACKOFF = [timedelta(minutes=m) for m in (1, 5, 15, 60, 240)]


@dataclass
class DispatchReport:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    recovered: dict[int, str] = field(default_factory=dict)


def recover_stale(
    sessions: sessionmaker[Session], transport: Transport, now: datetime, report: DispatchReport
) -> None:
    with unit_of_work(sessions) as session:
        stale = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.status == OutboxStatus.SENDING,
                OutboxMessage.claimed_at < now - STALE_AFTER,
            )
        )
        for row in stale:
            delivered = transport.already_delivered(row)
            if delivered is True:
                row.status, row.sent_at = OutboxStatus.SENT, now
            elif delivered is False:
                row.status = OutboxStatus.PENDING
            else:
                row.status = OutboxStatus.UNCERTAIN
                row.last_error = "dispatcher stopte tijdens verzenden; controleer de maillog"
            report.recovered[row.id] = row.status.value


def _claim(sessions: sessionmaker[Session], now: datetime, worker: str) -> OutboxMessage | None:
    with unit_of_work(sessions) as session:
        query = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.id)
            .limit(1)
        )
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row_id = session.scalar(query)
        if row_id is None:
            return None
        claimed = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.status == OutboxStatus.PENDING)
            .values(
                status=OutboxStatus.SENDING,
                claimed_at=now,
                claimed_by=worker,
                attempts=OutboxMessage.attempts + 1,
            )
        ).rowcount
        if claimed != 1:
            return _claim(sessions, now, worker)
        row = session.get(OutboxMessage, row_id)
        session.refresh(row)
        session.expunge(row)
        return row


def dispatch(
    sessions: sessionmaker[Session],
    transport: Transport,
    *,
    now: datetime,
    worker: str,
    max_attempts: int = 5,
    limit: int | None = None,
) -> DispatchReport:
    report = DispatchReport()
    recover_stale(sessions, transport, now, report)
    try:
        while limit is None or len(report.sent) + len(report.failed) < limit:
            row = _claim(sessions, now, worker)
            if row is None:
                break
            outcome, error = OutboxStatus.SENT, None
            try:
                transport.send(row)
            except TransientError as exc:
                outcome, error = OutboxStatus.PENDING, f"tijdelijk: {exc}"
                if row.attempts >= max_attempts:
                    outcome = OutboxStatus.FAILED
            except PermanentError as exc:
                outcome, error = OutboxStatus.FAILED, f"blijvend: {exc}"
            with unit_of_work(sessions) as session:
                stored = session.get(OutboxMessage, row.id)
                assert stored is not None
                stored.status, stored.last_error = outcome, error
                if outcome == OutboxStatus.SENT:
                    stored.sent_at = now
                    report.sent.append(row.id)
                    _audit(session, stored, "email.sent", worker, now)
                elif outcome == OutboxStatus.PENDING:
                    stored.next_attempt_at = now + BACKOFF[min(row.attempts, len(BACKOFF)) - 1]
                    report.retried.append(row.id)
                else:
                    report.failed.append(row.id)
            if outcome == OutboxStatus.PENDING:
                break  # the server is unwell: stop this batch, retry later with back-off
    finally:
        transport.close()
    return report


def _audit(session: Session, row: OutboxMessage, action: str, actor: str, now: datetime) -> None:
    audit.record(
        session=session,
        at=now,
        actor=actor,
        action=action,
        object_type="email",
        object_id=row.id,
        after={
            "key": row.key,
            "to": row.recipient,
            "cc": row.cc,
            "subject": row.subject,
            "status": row.status.value,
        },
    )


def _get(session: Session, message_id: int) -> OutboxMessage:
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise NotFound(f"bericht {message_id} bestaat niet")
    return row


def retry(session: Session, message_id: int, *, now: datetime, by: str = "beheer") -> OutboxMessage:
    """Queue a failed or uncertain message again (for uncertain: only when the mail log shows
    it never arrived)."""
    row = _get(session, message_id)
    if row.status not in (OutboxStatus.FAILED, OutboxStatus.UNCERTAIN):
        raise DomainError(
            f"bericht {message_id} is '{row.status.value}'; alleen mislukte of "
            "onzekere berichten kunnen opnieuw"
        )
    row.status, row.next_attempt_at, row.last_error = OutboxStatus.PENDING, now, None
    _audit(session, row, "email.retry", by, now)
    return row


def confirm_sent(
    session: Session, message_id: int, *, now: datetime, by: str = "beheer"
) -> OutboxMessage:
    """An uncertain message that the mail log shows as delivered: mark it sent, never resend."""
    row = _get(session, message_id)
    if row.status != OutboxStatus.UNCERTAIN:
        raise DomainError(
            f"bericht {message_id} is '{row.status.value}'; alleen onzekere berichten "
            "kunnen als verstuurd worden bevestigd"
        )
    row.status, row.sent_at, row.last_error = OutboxStatus.SENT, now, None
    _audit(session, row, "email.confirm", by, now)
    return row
