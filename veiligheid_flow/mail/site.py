"""Where the installation lives, as messages need it: the mail domain (Message-IDs and
calendar UIDs lie under it) and the web app's base URL (every task links to its page)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from veiligheid_flow.access.secrets import TaskLink, digest, sign_task_link


@dataclass(frozen=True)
class Site:
    domain: str = "veiligheid-flow"
    web_url: str | None = None  # e.g. https://veiligheid.huizen.nl, without a trailing slash
    link_key: str | None = field(default=None, repr=False)  # signs "Gereed melden" links
    link_hours: int = 72

    def done_url(self, task_id: int, email: str, now: datetime) -> str | None:
        """A signed, single-use link for `email` to report task `task_id` done; opening it
        only shows a confirm page. The nonce makes each message's link its own."""
        if not (self.web_url and self.link_key):
            return None
        nonce = digest(f"{task_id}:{email}:{now.isoformat()}")[:16]
        link = TaskLink(task_id, email, now + timedelta(hours=self.link_hours), nonce)
        return f"{self.web_url}/gereed/{sign_task_link(self.link_key, link)}"

    def task_url(self, task_id: int) -> str | None:
        return f"{self.web_url}/taak/{task_id}" if self.web_url else None

    def page_url(self, path: str) -> str | None:
        return f"{self.web_url}{path}" if self.web_url else None


def calendar_uid(task: Any) -> str:
    """A task's calendar UID, the same in every attachment and in the personal feed, and
    unique across installations: the programme code (unique in one database), the activity
    and the occurrence; the caller adds `@` and the mail domain."""
    return f"{task.programme.code}.{task.activity.code}.{task.occurrence_key}"


def calendar_description(task: Any) -> str:
    """What a deadline in a calendar is: the task, its theme, and its legal basis if any."""
    text = f"{task.title} — thema {task.theme.name}, taak {task.id}"
    return text + (f"; wettelijke taak ({task.legal_basis})" if task.statutory else "")
