"""Compose messages from the stored decisions. Pure reads; `enqueue` writes them to the outbox.

The public face of the message kinds: one module per kind (reminder, overdue, summary, council,
council_risk, crisis, digest; sign_in is called directly), the shared part in `context`.
"""

from veiligheid_flow.mail.context import NOTICE_LINES, SITE, Context, Draft, enqueue
from veiligheid_flow.mail.council import council_alerts
from veiligheid_flow.mail.council_risk import council_risk_alerts
from veiligheid_flow.mail.crisis import crisis_notices
from veiligheid_flow.mail.digest import DIGEST_WEEKS, SEVERITY, digest, digests
from veiligheid_flow.mail.overdue import overdue
from veiligheid_flow.mail.reminder import reminders
from veiligheid_flow.mail.summary import SUMMARY_AHEAD_WORKING_DAYS, start_summaries

__all__ = [
    "Context",
    "DIGEST_WEEKS",
    "Draft",
    "NOTICE_LINES",
    "SEVERITY",
    "SITE",
    "SUMMARY_AHEAD_WORKING_DAYS",
    "council_alerts",
    "council_risk_alerts",
    "crisis_notices",
    "digest",
    "digests",
    "enqueue",
    "overdue",
    "reminders",
    "start_summaries",
]
