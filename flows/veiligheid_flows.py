"""Prefect 3 flows: thin wrappers over the same functions the CLI and APScheduler use.

No I/O at import: every flow bootstraps the app inside its body. Composing (`run_job`) is
idempotent (outbox key + JobRun slot), so that task may retry; sending is not, so the dispatch
task never retries. Neither task is cached (`NO_CACHE`): both have side effects.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from veiligheid_flow.app.jobs import JOBS_BY_NAME, dispatch_outbox, record_failure, run_job
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.clock import parse_now


def _now(now: str | None) -> datetime:
    return parse_now(now, system_now=datetime.now(UTC))


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def compose_job(app: App, job_name: str, now: datetime) -> int:
    """Idempotent: run_job writes each outbox key and each JobRun slot once."""
    return run_job(app, JOBS_BY_NAME[job_name], now=now).enqueued


@task(cache_policy=NO_CACHE, retries=0)
def dispatch_task(app: App, now: datetime) -> dict[str, int]:
    """Send pending outbox rows. Never retried by Prefect: a retry could resend a message."""
    report = dispatch_outbox(app, now=now)
    return {
        "sent": len(report.sent),
        "retried": len(report.retried),
        "failed": len(report.failed),
        "recovered": len(report.recovered),
    }


def _job_flow(job_name: str, now: str | None) -> dict[str, int]:
    moment = _now(now)
    app = bootstrap()
    try:
        try:
            enqueued = compose_job(app, job_name, moment)
        except Exception as exc:
            # Recorded for `veiligheid status` and the admin alerts; the outbox is still
            # dispatched, and the flow run fails so Prefect shows it.
            record_failure(app, JOBS_BY_NAME[job_name], moment, exc)
            dispatch_task(app, moment)
            raise
        return {"enqueued": enqueued, **dispatch_task(app, moment)}
    finally:
        app.close()


@flow(name="veiligheid-reminders")
def reminders_flow(now: str | None = None) -> dict[str, int]:
    """Reminders to responsible people, then dispatch the outbox."""
    return _job_flow("reminders", now)


@flow(name="veiligheid-overdue")
def overdue_flow(now: str | None = None) -> dict[str, int]:
    """Overdue tasks and escalations, then dispatch the outbox."""
    return _job_flow("overdue", now)


@flow(name="veiligheid-council-alerts")
def council_alerts_flow(now: str | None = None) -> dict[str, int]:
    """Council agenda (termijnagenda) alerts, then dispatch the outbox."""
    return _job_flow("council_alerts", now)


@flow(name="veiligheid-weekly-digest")
def weekly_digest_flow(now: str | None = None) -> dict[str, int]:
    """Weekly digest per portfolio holder, then dispatch the outbox."""
    return _job_flow("weekly_digest", now)


@flow(name="veiligheid-retention")
def retention_flow(now: str | None = None) -> dict[str, int]:
    """Retention: blank old mail bodies, pseudonymise people who left; then the outbox."""
    return _job_flow("retention", now)


@flow(name="veiligheid-outbox-dispatch")
def outbox_dispatch_flow(now: str | None = None) -> dict[str, int]:
    """Send whatever is pending in the outbox (retries with back-off happen here)."""
    moment = _now(now)
    app = bootstrap()
    try:
        return dispatch_task(app, moment)
    finally:
        app.close()


@flow(name="veiligheid-crisis-response")
def crisis_response_flow(crisis_id: str, now: str | None = None) -> dict[str, int | str]:
    """React to a crisis event by dispatching the outbox.

    The crisis notices are already queued in the outbox by the crisis commands
    (`app.commands.declare_crisis` / `end_crisis`, in the same transaction as the decision);
    this flow only dispatches the outbox so they go out promptly. `crisis_id` is the event's
    resource id (e.g. "veiligheid.crisis.42") and is only reported back.
    """
    moment = _now(now)
    app = bootstrap()
    try:
        return {"crisis_id": crisis_id, **dispatch_task(app, moment)}
    finally:
        app.close()
