"""The dispatcher: claims pending outbox rows one at a time and sends them.

A message is claimed (pending → sending) in a committed transaction before it is delivered, and
its outcome (sent, failed, or back to pending) is stored in the next one, which also claims the
message after it: one commit per message, and never more than one row per dispatcher in
`sending`. Two dispatchers never claim the same row (the claim is one UPDATE of a row that is
still pending; on PostgreSQL the row is locked with SKIP LOCKED). A dispatcher that dies
between the delivery and that commit leaves one row in `sending`; on the next run it becomes
`sent` when the transport can prove delivery (.eml exists), otherwise `uncertain` — never resent
without a person deciding (`veiligheid outbox retry ID`). A message whose SMTP answer was lost
after its data went out is `uncertain` at once. One message's fault (a bad address, anything
unexpected while building or sending it) fails that message only, never the batch.

The bookkeeping is plain SQL on one connection held for the batch: statements built once, the
claim an UPDATE … RETURNING by primary key, the audit row one INSERT; on PostgreSQL the three
are one statement (one round trip per message). The SMTP connection is reused for the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, case, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from veiligheid_flow.audit import service as audit
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.db import UTCDateTime, unit_of_work
from veiligheid_flow.errors import DomainError, NotFound
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.mail.transport import (
    PermanentError,
    TransientError,
    Transport,
    UncertainError,
)

STALE_AFTER = timedelta(minutes=10)
BACKOFF = [timedelta(minutes=m) for m in (1, 5, 15, 60, 240)]
WINDOW = 100  # candidate rows read per query; each is then claimed by its id
SECRET_KIND = "sign_in"  # messages whose body is a secret: blanked once sent

_OUTBOX = OutboxMessage.__table__
_AUDIT = AuditEntry.__table__


@dataclass
class DispatchReport:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    uncertain: list[int] = field(default_factory=list)  # the server's answer was lost
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


# PostgreSQL: store an outcome (and audit a sent message) and claim the next candidate in one
# statement. Data-modifying CTEs run to completion whether or not the final SELECT reads them.
_SINGLE_STEP = """
WITH settled AS (
    UPDATE outbox_message
    SET status = :status,
        last_error = :error,
        sent_at = CASE WHEN :sent THEN :now ELSE sent_at END,
        next_attempt_at = COALESCE(:next_at, next_attempt_at)
    WHERE id = :done AND status = 'sending' AND claimed_by = :worker
    RETURNING id, key, recipient, cc, subject, status
), audited AS (
    INSERT INTO audit_entry (at, actor, action, object_type, object_id, after)
    SELECT :now, :worker, 'email.sent', 'email', CAST(id AS VARCHAR),
           json_build_object('key', key, 'to', recipient, 'cc', cc, 'subject', subject,
                             'status', status)
    FROM settled WHERE status = 'sent'
    RETURNING id
), claimed AS (
    UPDATE outbox_message
    SET status = 'sending', claimed_at = :now, claimed_by = :worker, attempts = attempts + 1
    WHERE id = (
        SELECT id FROM outbox_message
        WHERE id = :candidate AND status = 'pending' AND next_attempt_at <= :now
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, attempts
)
SELECT (SELECT count(*) FROM settled) AS settled,
       (SELECT count(*) FROM audited) AS audited,
       (SELECT id FROM claimed) AS claimed_id,
       (SELECT attempts FROM claimed) AS attempts
"""


@dataclass
class _Outcome:
    row: OutboxMessage
    status: OutboxStatus
    error: str | None = None


class _Queue:
    """The outbox as this dispatcher run sees it: statements built once, and a window of
    candidate rows.

    Candidates are read a window at a time, in id order, from above the last one seen (one
    range query per WINDOW messages). Each is then claimed by its primary key alone (on
    PostgreSQL with FOR UPDATE SKIP LOCKED: a row another dispatcher holds is skipped, not
    waited for), so the plan of the per-message statements cannot depend on table statistics —
    picking "the first pending row" in one statement used an index scan on `status` plus a sort
    on PostgreSQL, which made every claim cost O(pending)."""

    def __init__(self, conn: Connection, now: datetime, worker: str) -> None:
        t = _OUTBOX
        self.now = now
        self.after, self.wrapped = 0, False
        self.window: list[OutboxMessage] = []
        self.find = (
            select(t)
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
        self.claim_one = (
            update(t)
            .where(t.c.id == one.scalar_subquery())
            .values(
                status=OutboxStatus.SENDING,
                claimed_at=now,
                claimed_by=worker,
                attempts=t.c.attempts + 1,
            )
            .returning(t.c.id, t.c.attempts, t.c.claimed_at, t.c.claimed_by)
        )
        mine = (t.c.status == OutboxStatus.SENDING, t.c.claimed_by == worker)
        self.settle_sent = (
            update(t)
            .where(t.c.id == bindparam("row_id"), *mine)
            .values(
                status=OutboxStatus.SENT,
                sent_at=now,
                last_error=None,
                # A sign-in link is a secret: once sent, the outbox keeps no copy of it.
                text_body=case((t.c.kind == SECRET_KIND, ""), else_=t.c.text_body),
                html_body=case((t.c.kind == SECRET_KIND, ""), else_=t.c.html_body),
            )
        )
        self.settle_failed = (
            update(t)
            .where(t.c.id == bindparam("row_id"), *mine)
            .values(status=OutboxStatus.FAILED, last_error=bindparam("error"))
        )
        self.settle_uncertain = (
            update(t)
            .where(t.c.id == bindparam("row_id"), *mine)
            .values(status=OutboxStatus.UNCERTAIN, last_error=bindparam("error"))
        )
        self.settle_later = (
            update(t)
            .where(t.c.id == bindparam("row_id"), *mine)
            .values(
                status=OutboxStatus.PENDING,
                last_error=bindparam("error"),
                next_attempt_at=bindparam("next_at"),
            )
        )
        self.audit = insert(_AUDIT).values(
            at=now, actor=worker, action="email.sent", object_type="email"
        )
        self.worker = worker
        self.single = None
        if conn.dialect.name == "postgresql":
            self.single = text(_SINGLE_STEP).bindparams(
                bindparam("now", now, type_=UTCDateTime()),
                bindparam("next_at", type_=UTCDateTime()),
                bindparam("worker", worker),
            )

    def peek(self, conn: Connection) -> OutboxMessage | None:
        """The candidate the next claim will try first (read, not claimed)."""
        if not self.window:
            self.window = [
                OutboxMessage(**r._mapping) for r in conn.execute(self.find, {"after": self.after})
            ]
            if not self.window and self.after and not self.wrapped:
                # Rows below the cursor that became due meanwhile (a late commit, a row a
                # concurrent dispatcher gave back): one more pass from the start.
                self.after, self.wrapped = 0, True
                return self.peek(conn)
            if self.window:
                self.after = self.window[-1].id
        return self.window[0] if self.window else None

    def claim(self, conn: Connection) -> OutboxMessage | None:
        """Claim the next due pending row (lowest id first), or None when there is none."""
        while (row := self.peek(conn)) is not None:
            self.window.pop(0)
            claimed = conn.execute(self.claim_one, {"candidate": row.id}).first()
            if claimed is not None:
                for key, value in claimed._mapping.items():
                    setattr(row, key, value)
                row.status = OutboxStatus.SENDING
                return row
        return None

    def step(
        self, conn: Connection, done: _Outcome | None, claim: bool
    ) -> tuple[bool, OutboxMessage | None]:
        """Store `done` and claim the next row (if `claim`) in one transaction; read ahead.
        Returns whether `done` was stored and the claimed row."""
        if self.single is not None:
            return self._single_step(conn, done, claim)
        with conn.begin():
            settled = self.settle(conn, done) if done is not None else False
            row = self.claim(conn) if claim else None
            if row is not None:
                self.peek(conn)  # refill the window here, not outside a transaction
        return settled, row

    def _single_step(
        self, conn: Connection, done: _Outcome | None, claim: bool
    ) -> tuple[bool, OutboxMessage | None]:
        """PostgreSQL: the outcome, its audit row and the next claim in one statement (data-
        modifying CTEs, atomic on its own on an autocommit connection): one round trip per
        message instead of five (BEGIN, three statements, COMMIT)."""
        assert self.single is not None
        candidate = self.peek(conn) if claim else None
        status = done.status if done is not None else None
        found = conn.execute(
            self.single,
            {
                "done": done.row.id if done is not None else None,
                "status": status.value if status is not None else None,
                "sent": status == OutboxStatus.SENT,
                "error": done.error if done is not None else None,
                "next_at": self._next_at(done) if status == OutboxStatus.PENDING else None,
                "candidate": candidate.id if candidate is not None else None,
            },
        ).one()
        row = None
        if candidate is not None:
            self.window.pop(0)
            if found.claimed_id is not None:
                candidate.attempts, candidate.claimed_at = found.attempts, self.now
                candidate.claimed_by, candidate.status = self.worker, OutboxStatus.SENDING
                row = candidate
            else:  # another dispatcher has it: claim the next one on its own
                row = self.claim(conn)
            if row is not None:
                self.peek(conn)
        return done is not None and found.settled == 1, row

    def _next_at(self, done: _Outcome) -> datetime:
        return self.now + BACKOFF[min(done.row.attempts, len(BACKOFF)) - 1]

    def settle(self, conn: Connection, done: _Outcome) -> bool:
        """Store the outcome of a delivery. False if the row was no longer ours."""
        row = done.row
        if done.status == OutboxStatus.SENT:
            stored = conn.execute(self.settle_sent, {"row_id": row.id}).rowcount
            if stored == 1:
                after = _audit_after(row, OutboxStatus.SENT)
                conn.execute(self.audit, {"object_id": str(row.id), "after": after})
        elif done.status in (OutboxStatus.FAILED, OutboxStatus.UNCERTAIN):
            statement = (
                self.settle_failed if done.status == OutboxStatus.FAILED else self.settle_uncertain
            )
            stored = conn.execute(statement, {"row_id": row.id, "error": done.error}).rowcount
        else:
            stored = conn.execute(
                self.settle_later,
                {"row_id": row.id, "error": done.error, "next_at": self._next_at(done)},
            ).rowcount
        # Not 1: someone (outbox confirm/retry, a recovery) took the row over; leave it be.
        return stored == 1


def _deliver(transport: Transport, row: OutboxMessage, max_attempts: int) -> tuple[_Outcome, bool]:
    """Send and classify; the bool says whether to stop the batch (the server is unwell)."""
    try:
        transport.send(row)
        return _Outcome(row, OutboxStatus.SENT), False
    except TransientError as exc:
        given_up = row.attempts >= max_attempts
        status = OutboxStatus.FAILED if given_up else OutboxStatus.PENDING
        return _Outcome(row, status, f"tijdelijk: {exc}"), not given_up
    except PermanentError as exc:
        return _Outcome(row, OutboxStatus.FAILED, f"blijvend: {exc}"), False
    except UncertainError as exc:
        error = (
            f"onzeker: {exc}; zoek {row.message_id} in de maillog: aangekomen → "
            f"`veiligheid outbox confirm {row.id} --message-id '{row.message_id}'`, niet "
            f"aangekomen → `veiligheid outbox retry "
            f"{row.id}`"
        )
        return _Outcome(row, OutboxStatus.UNCERTAIN, error), True
    except Exception as exc:  # noqa: BLE001 - one message's fault must not stop the batch
        # The transports raise UncertainError for anything after the point of no return, so
        # this message did not go out.
        reason = f"onverwachte fout bij dit bericht: {type(exc).__name__}: {exc}"
        return _Outcome(row, OutboxStatus.FAILED, f"blijvend: {reason}"), False


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
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # Every statement of the loop is a transaction of its own (see _single_step).
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            queue = _Queue(conn, now, worker)
            _loop(conn, queue, transport, report, max_attempts, limit)
    finally:
        transport.close()
    return report


def _record(done: _Outcome, report: DispatchReport) -> None:
    {
        OutboxStatus.SENT: report.sent,
        OutboxStatus.PENDING: report.retried,
        OutboxStatus.FAILED: report.failed,
        OutboxStatus.UNCERTAIN: report.uncertain,
    }[done.status].append(done.row.id)


def _step(
    conn: Connection,
    queue: _Queue,
    done: _Outcome | None,
    report: DispatchReport,
    claim: bool,
) -> OutboxMessage | None:
    """Store the last outcome and claim the next row, in one transaction."""
    settled, row = queue.step(conn, done, claim)
    if done is not None and settled:
        _record(done, report)
    return row


def _room(report: DispatchReport, limit: int | None, in_hand: int) -> bool:
    settled = len(report.sent) + len(report.failed) + len(report.uncertain)
    return limit is None or settled + in_hand < limit


def _loop(
    conn: Connection,
    queue: _Queue,
    transport: Transport,
    report: DispatchReport,
    max_attempts: int,
    limit: int | None,
) -> None:
    done: _Outcome | None = None
    stop = False
    while True:
        more = not stop and _room(report, limit, done is not None)
        row = _step(conn, queue, done, report, more)
        if row is None:
            return
        done, stop = _deliver(transport, row, max_attempts)


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
