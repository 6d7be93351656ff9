"""The dispatcher: claims pending outbox rows one at a time and sends them.

A message is claimed (pending → sending) in a committed transaction before it is sent, and
marked sent (or failed, or back to pending) in the next one, which also claims the message after
it: one commit per message, and never more than one row per dispatcher in `sending`. Two
dispatchers never claim the same row (the claim is one conditional UPDATE; on PostgreSQL the row
is picked with SKIP LOCKED). A dispatcher that dies between the send and that commit leaves one
row in `sending`; on the next run it becomes `sent` when the transport can prove delivery (.eml
exists), otherwise `uncertain` — never resent without a person deciding
(`veiligheid outbox retry ID`).

The per-message bookkeeping is plain SQL on one connection held for the batch (the claim is an
UPDATE … RETURNING, the audit row a single INSERT), so it costs about as much as the SMTP
exchange, not several times more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from veiligheid_flow.audit import service as audit
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.db import unit_of_work
from veiligheid_flow.errors import DomainError, NotFound
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.mail.transport import PermanentError, TransientError, Transport

STALE_AFTER = timedelta(minutes=10)
BACKOFF = [timedelta(minutes=m) for m in (1, 5, 15, 60, 240)]

_OUTBOX = OutboxMessage.__table__
_AUDIT = AuditEntry.__table__


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


def _claim(conn: Connection, now: datetime, worker: str, after: int) -> OutboxMessage | None:
    """Claim the first due pending row with an id above `after`: one UPDATE … RETURNING.

    `after` is the last id this run claimed (rows below it were sent, failed or are waiting for
    their back-off), so the pick is an index range, not a scan over everything sent before."""
    pick = _OUTBOX.alias("pick")
    first = (
        select(pick.c.id)
        .where(
            pick.c.status == OutboxStatus.PENDING,
            pick.c.next_attempt_at <= now,
            pick.c.id > after,
        )
        .order_by(pick.c.id)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        first = first.with_for_update(skip_locked=True)
    row = conn.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id == first.scalar_subquery(), _OUTBOX.c.status == OutboxStatus.PENDING)
        .values(
            status=OutboxStatus.SENDING,
            claimed_at=now,
            claimed_by=worker,
            attempts=_OUTBOX.c.attempts + 1,
        )
        .returning(*_OUTBOX.c)
    ).first()
    return None if row is None else OutboxMessage(**row._mapping)


@dataclass
class _Outcome:
    row: OutboxMessage
    status: OutboxStatus
    error: str | None = None


def _settle(conn: Connection, done: _Outcome, now: datetime, worker: str) -> bool:
    """Store the outcome of a send (in the transaction that claims the next message)."""
    row = done.row
    values: dict[str, Any] = {"status": done.status, "last_error": done.error}
    if done.status == OutboxStatus.SENT:
        values["sent_at"] = now
    elif done.status == OutboxStatus.PENDING:
        values["next_attempt_at"] = now + BACKOFF[min(row.attempts, len(BACKOFF)) - 1]
    stored = conn.execute(
        update(_OUTBOX)
        .where(
            _OUTBOX.c.id == row.id,
            _OUTBOX.c.status == OutboxStatus.SENDING,
            _OUTBOX.c.claimed_by == worker,
        )
        .values(**values)
    ).rowcount
    if stored != 1:  # someone (outbox confirm/retry, a recovery) took it over: leave it to them
        return False
    if done.status == OutboxStatus.SENT:
        conn.execute(
            insert(_AUDIT).values(
                at=now,
                actor=worker,
                action="email.sent",
                object_type="email",
                object_id=str(row.id),
                after=_audit_after(row, OutboxStatus.SENT),
            )
        )
    return True


def _record(done: _Outcome, report: DispatchReport) -> None:
    {
        OutboxStatus.SENT: report.sent,
        OutboxStatus.PENDING: report.retried,
        OutboxStatus.FAILED: report.failed,
    }[done.status].append(done.row.id)


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
    with sessions() as session:
        engine = session.get_bind()
    done: _Outcome | None = None
    after, wrapped, stop = 0, False, False
    try:
        with engine.connect() as conn:
            while True:
                handled = len(report.sent) + len(report.failed) + (done is not None)
                more = not stop and (limit is None or handled < limit)
                settled = False
                with conn.begin():
                    if done is not None:
                        settled = _settle(conn, done, now, worker)
                    row = _claim(conn, now, worker, after) if more else None
                    if row is None and more and after and not wrapped:
                        # Rows below the cursor that became due meanwhile (a concurrent
                        # dispatcher rolled back, a late commit): one pass from the start.
                        row, wrapped = _claim(conn, now, worker, 0), True
                if done is not None and settled:
                    _record(done, report)
                done = None
                if row is None:
                    break
                after = row.id
                try:
                    transport.send(row)
                    done = _Outcome(row, OutboxStatus.SENT)
                except TransientError as exc:
                    given_up = row.attempts >= max_attempts
                    status = OutboxStatus.FAILED if given_up else OutboxStatus.PENDING
                    done = _Outcome(row, status, f"tijdelijk: {exc}")
                    # The server is unwell: stop this batch, retry later with back-off.
                    stop = not given_up
                except PermanentError as exc:
                    done = _Outcome(row, OutboxStatus.FAILED, f"blijvend: {exc}")
    finally:
        transport.close()
    return report


def _audit_after(row: OutboxMessage, status: OutboxStatus) -> dict[str, Any]:
    return {
        "key": row.key,
        "to": row.recipient,
        "cc": row.cc,
        "subject": row.subject,
        "status": status.value,
    }


def _audit(session: Session, row: OutboxMessage, action: str, actor: str, now: datetime) -> None:
    audit.record(
        session=session,
        at=now,
        actor=actor,
        action=action,
        object_type="email",
        object_id=row.id,
        after=_audit_after(row, row.status),
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
