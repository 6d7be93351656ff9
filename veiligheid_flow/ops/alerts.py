"""Alerts to the administrators (ADMIN_EMAILS, functioneel beheer), through the outbox.

A problem is a failed or uncertain message, a stalled outbox (the oldest pending message older
than STATUS_MAIL_STUCK_MINUTES) or a job whose slot failed and is still not covered. Each has a
stable key; a problem is alerted once (the `admin_alert` row), in one message per administrator
listing every new problem, with an outbox key derived from those problems. Alerts are never
about alerts: an alert that cannot be delivered shows in `veiligheid status`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from veiligheid_flow.clock import local_date, local_datetime
from veiligheid_flow.db import unit_of_work
from veiligheid_flow.mail.compose import Draft, enqueue
from veiligheid_flow.mail.models import JobRun, OutboxMessage, OutboxStatus
from veiligheid_flow.mail.render import render
from veiligheid_flow.ops.models import AdminAlert, JobFailure
from veiligheid_flow.ops.queries import oldest_pending, open_failure
from veiligheid_flow.settings import Settings

KIND = "admin_alert"
LISTED = 50  # problems written out in one alert; the rest are counted


@dataclass(frozen=True)
class Problem:
    key: str  # stable: the same problem always has the same key
    kind: str  # failed, uncertain, stalled, job
    title: str
    reason: str
    action: str
    message_id: int | None = None
    recipient: str | None = None
    subject: str | None = None


def _when(moment: datetime) -> str:
    return f"{local_datetime(moment):%d-%m-%Y %H:%M}"


def problems(session: Session, settings: Settings, *, now: datetime) -> list[Problem]:
    """Every current problem, in a stable order (messages by id, then the stall, then jobs)."""
    found = []
    m = OutboxMessage
    bad = session.execute(  # columns only: a failed row's body is not needed here
        select(m.id, m.key, m.domain, m.status, m.attempts, m.recipient, m.subject, m.last_error)
        .where(
            OutboxMessage.status.in_([OutboxStatus.FAILED, OutboxStatus.UNCERTAIN]),
            OutboxMessage.kind != KIND,
        )
        .order_by(OutboxMessage.id)
    )
    for row in bad:
        status = OutboxStatus(row.status)
        if status == OutboxStatus.FAILED:
            title = f"Niet afgeleverd: mislukt na {row.attempts} poging(en)"
            action = (
                "Verhelp de oorzaak (bv. het adres in het programmabestand) en zet het opnieuw "
                f"klaar: veiligheid outbox retry {row.id}"
            )
        else:
            title = "Misschien afgeleverd (onzeker): verzenden werd onderbroken"
            message_id = OutboxMessage(key=row.key, domain=row.domain).message_id
            action = (
                f"Zoek Message-ID {message_id} in de maillog. Aangekomen: veiligheid outbox "
                f"confirm {row.id} --message-id '{message_id}'; niet aangekomen: veiligheid "
                f"outbox retry {row.id}"
            )
        found.append(
            Problem(
                f"{status.value}:{row.id}:{row.attempts}",
                status.value,
                title,
                row.last_error or "onbekend",
                action,
                row.id,
                row.recipient,
                row.subject,
            )
        )
    stall = oldest_pending(session, now, exclude_kind=KIND)
    if stall is not None and stall.minutes > settings.status_mail_stuck_minutes:
        found.append(
            Problem(
                f"stalled:{stall.id}",
                "stalled",
                f"De outbox staat stil: {stall.pending} bericht(en) wachten, het oudste sinds "
                f"{_when(stall.created_at)} ({stall.minutes} minuten)",
                stall.last_error or "nog geen poging tot verzenden",
                "Controleer de mailserver (SMTP-instellingen) en of de planner draait "
                "(veiligheid status); wachtende berichten gaan vanzelf zodra verzenden lukt.",
                stall.id,
                stall.recipient,
                stall.subject,
            )
        )
    for job in sorted(set(session.scalars(select(JobFailure.job)))):
        failure = open_failure(session, job)
        if failure is None or failure.at > now:
            continue
        if session.get(JobRun, job) is None and failure.at < now - timedelta(days=1):
            continue  # a part of the dispatch (no slot of its own): only a recent failure
        found.append(
            Problem(
                f"job:{job}:{failure.slot or local_date(failure.at)}",
                "job",
                f"Taak {job} is mislukt op {_when(failure.at)}",
                failure.error,
                "Verhelp de oorzaak; de volgende 'veiligheid run' (of de planner) haalt de taak "
                "daarna één keer in. Zie veiligheid status.",
            )
        )
    return found


def alert_admins(sessions: sessionmaker[Session], settings: Settings, *, now: datetime) -> int:
    """Enqueue one alert per administrator about the problems not alerted before. Returns how
    many messages were enqueued (0 when nothing is new, or another runner just did it)."""
    if not settings.admin_emails:
        return 0
    try:
        with unit_of_work(sessions) as session:
            current = problems(session, settings, now=now)
            if not current:
                return 0
            known = _alerted(session, [p.key for p in current])
            new = [p for p in current if p.key not in known]
            if not new:
                return 0
            digest = hashlib.sha256("\n".join(p.key for p in new).encode()).hexdigest()[:16]
            group = f"{KIND}:{digest}"
            admins = settings.admin_emails
            drafts = [_draft(f"{group}:{admin}", admin, new, now) for admin in admins]
            count = enqueue(session, drafts, now=now, domain=settings.mail_domain)
            session.add_all(AdminAlert(problem=p.key, message_key=group, at=now) for p in new)
            return count
    except IntegrityError:
        # Another dispatcher alerted the same problems at the same moment; its commit won.
        return 0


def _alerted(session: Session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 5000):  # within every backend's limit of parameters
        chunk = keys[start : start + 5000]
        found.update(
            session.scalars(select(AdminAlert.problem).where(AdminAlert.problem.in_(chunk)))
        )
    return found


def _subject(new: list[Problem]) -> str:
    counts = {kind: sum(p.kind == kind for p in new) for kind in ("failed", "uncertain", "job")}
    parts = []
    if counts["failed"]:
        parts.append(f"{counts['failed']} bericht(en) mislukt")
    if counts["uncertain"]:
        parts.append(f"{counts['uncertain']} bericht(en) onzeker")
    if any(p.kind == "stalled" for p in new):
        parts.append("outbox staat stil")
    if counts["job"]:
        parts.append(f"{counts['job']} taak/taken mislukt")
    return "Beheer veiligheid-flow: " + ", ".join(parts)


def _draft(key: str, admin: str, new: list[Problem], now: datetime) -> Draft:
    subject = _subject(new)
    text, html = render(
        KIND,
        name="beheerder",
        municipality="Functioneel beheer",
        heading="Actie nodig: berichten of taken",
        subject=subject,
        problems=new[:LISTED],
        more=max(0, len(new) - LISTED),
        at=_when(now),
    )
    return Draft(key, KIND, admin, subject, text, html)
