"""Render the example digest of docs/ (run: .venv/bin/python docs/make_digest_example.py).

The example programme, loaded 2023-03-01; everything due before 15 September 2023 is done except
a few late tasks; a crisis on 2 October pauses VEERKRACHTIGE_WIJKEN; the burgemeester's digest
of Monday 9 October is written to docs/digest-example.html, then screenshot with Chromium.
"""

from __future__ import annotations

import subprocess
import tempfile
from datetime import date
from pathlib import Path

from sqlalchemy import select

from veiligheid_flow.app import commands
from veiligheid_flow.authority import resolve_holder
from veiligheid_flow.bootstrap import bootstrap
from veiligheid_flow.clock import parse_now
from veiligheid_flow.mail.compose import digest
from veiligheid_flow.settings import Settings
from veiligheid_flow.tasks.models import Task, TaskStatus

ROOT = Path(__file__).resolve().parent.parent
LATE = {"Nazorg ex-gedetineerden", "Snelheidsmetingen en terugkoppeling aan wijken"}


def main() -> None:
    work = Path(tempfile.mkdtemp())
    app = bootstrap(Settings(database_url=f"sqlite:///{work / 'demo.db'}", mail_dir=work))
    commands.load(app, ROOT / "config/programma-huizen-2023-2024.yaml",
                  now=parse_now("2023-03-01T09:00"), by="docs")
    with app.sessions() as session:
        done = [(t.id, t.owner.email) for t in session.scalars(select(Task))
                if t.planned_due < date(2023, 9, 15) and t.title not in LATE]
    for task_id, owner in done:
        commands.change_status(app, task_id, TaskStatus.DONE, by=owner,
                               now=parse_now("2023-09-15T16:00"), note="gereed")
    commands.declare_crisis(app, "Grote brand Oostermeent", grip=2, by="burgemeester",
                            now=parse_now("2023-10-02T10:00"), themes=["VEERKRACHTIGE_WIJKEN"],
                            staff=[], expected_days=10)
    now = parse_now("2023-10-09T08:05")
    commands.refresh(app, now=now)
    with app.sessions() as session:
        draft = digest(
            session, now=now, holder=resolve_holder(session, "burgemeester"), book=app.rulebook()
        )
    html = ROOT / "docs/digest-example.html"
    html.write_text(draft.html, encoding="utf-8")
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={work / 'chrome'}", "--hide-scrollbars",
         "--window-size=720,1960", f"--screenshot={ROOT / 'docs/digest-example.png'}",
         html.as_uri()],
        check=True, capture_output=True,
    )
    print(draft.subject)


if __name__ == "__main__":
    main()
