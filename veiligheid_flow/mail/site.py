"""Where the installation lives, as messages need it: the mail domain (Message-IDs and
calendar UIDs lie under it) and the web app's base URL (every task links to its page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Site:
    domain: str = "veiligheid-flow"
    web_url: str | None = None  # e.g. https://veiligheid.huizen.nl, without a trailing slash

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
