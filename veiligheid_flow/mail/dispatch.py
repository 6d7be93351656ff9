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

from sqlalchemy import Connection, bindparam, insert, select, update
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


WINDOW = 100  # candidate ids read per query; each is then claimed on its own


class _Queue:
    """Statements built once per dispatcher run, and the window of candidate ids.

    Candidates are read a window at a time, in id order, from above the last one seen. Each is
    then claimed by its primary key alone (PostgreSQL: FOR UPDATE SKIP LOCKED, so a row another
    dispatcher holds is skipped, not waited for), so the plan cannot depend on table statistics:
    an index scan on `status` with a sort would make every claim cost O(pending)."""

    def __init__(self, conn: Connection, now: datetime, worker: str) -> None:
        t = _OUTBOX
        self.now, self.after, self.window, self.wrapped = now, 0, list[int](), False
        self.find = (
            select(t.c.id)
            .where(
                t.c.status == OutboxStatus.PENDING,
                t.c.next_attempt_at <= now,
                t.c.id > bindparam("after"),
            )
            .order_by(t.c.id)
            .limit(WINDOW)
        )
        pick = t.alias("pick")
        one = select(pick.c.id).where(
            pick.c.id == bindparam("candidate"),
            pick.c.status == OutboxStatus.PENDING,
            pick.c.next_attempt_at <= now,
        )
        if conn.dialect.name == "postgresql":
            one = one.with_for_update(skip_locked=True)
        self.claim = (
            update(t)
            .where(t.c.id == one.scalar_subquery())
            .values(
                status=OutboxStatus.SENDING,
                claimed_at=now,
                claimed_by=worker,
                attempts=t.c.attempts + 1,
            )
            .returning(*t.c)
        )
        self.settle = (
            update(t)
            .where(
                t.c.id == bindparam("row_id"),
                t.c.status == OutboxStatus.SENDING,
                t.c.claimed_by == worker,
            )
            .values(
                status=bindparam("new_status"),
                last_error=bindparam("error"),
                sent_at=bindparam("sent_at"),
                next_attempt_at=bindparam("next_at"),
            )
        )
        self.audit = insert(_AUDIT).values(
            at=now, actor=worker, action="email.sent", object_type="email"
        )

    def next(self, conn: Connection) -> OutboxMessage | None:
        """Claim the next due pending row (lowest id first), or None when there is none."""
        while True:
            while self.window:
                candidate = self.window.pop(0)
                self.after = candidate
                found = conn.execute(self.claim, {"candidate": candidate}).first()
                if found is not None:
                    return OutboxMessage(**found._mapping)
            self.window = list(conn.scalars(self.find, {"after": self.after}))
            if not self.window:
                if self.wrapped or self.after == 0:
                    return None
                # Rows below the cursor that became due meanwhile (a late commit, a concurrent
                # dispatcher that gave one back): one more pass from the start.
                self.after, self.wrapped = 0, True


@dataclass
class _Outcome:
    row: OutboxMessage
    status: OutboxStatus
    error: str | None = None


def _settle(conn: Connection, queue: _Queue, done: _Outcome) -> bool:
    """Store the outcome of a send (in the transaction that claims the next message)."""
    row, now = done.row, queue.now
    stored = conn.execute(
        queue.settle,
        {
            "row_id": row.id,
            "new_status": done.status,
            "error": done.error,
            "sent_at": now if done.status == OutboxStatus.SENT else None,
            "next_at": (
                now + BACKOFF[min(row.attempts, len(BACKOFF)) - 1]
                if done.status == OutboxStatus.PENDING
                else row.next_attempt_at
            ),
        },
    ).rowcount
    if stored != 1:  # someone (outbox confirm/retry, a recovery) took it over: leave it to them
        return False
    if done.status == OutboxStatus.SENT:
        conn.execute(
            queue.audit,
            {"object_id": str(row.id), "after": _audit_after(row, OutboxStatus.SENT)},
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
    stop = False
    try:
        with engine.connect() as conn:
            queue = _Queue(conn, now, worker)
            while True:
                handled = len(report.sent) + len(report.failed) + (done is not None)
                more = not stop and (limit is None or handled < limit)
                settled = False
                with conn.begin():
                    if done is not None:
                        settled = _settle(conn, queue, done)
                    row = queue.next(conn) if more else None
                if done is not None and settled:
                    _record(done, report)
                done = None
                if row is None:
                    break
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
