"""`veiligheid termijnagenda importeer FILE`: the termijnagenda from the council system's
export (CSV or XLSX), checked row by row like the programme file, in one unit of work.

Which column is which field: the defaults of `programme/termijnagenda.py` (iBabs/NotuBiz
headers such as 'Onderwerp', 'Datum commissie'), then the programme file's
`council_import.columns`, then `--kolommen`. Only a coordinator of the programme's
municipality may import. Changed items re-evaluate the rules of their tasks, so the council
alerts and the `council_at_risk` signal follow the new dates at once; an import that changes
nothing writes nothing (not even decisions). With `dry_run` the same runs in a transaction
that is rolled back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from veiligheid_flow.audit import service as audit
from veiligheid_flow.authority import Actor, Role, require_role, resolve_actor
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date
from veiligheid_flow.errors import DomainError
from veiligheid_flow.programme import termijnagenda
from veiligheid_flow.programme.models import Programme
from veiligheid_flow.programme.sheet import read_sheet
from veiligheid_flow.rules import service as rules_service
from veiligheid_flow.tasks.models import Task


@dataclass(frozen=True)
class ImportResult:
    programme: str
    file: str
    rows: int
    created: tuple[str, ...]  # codes
    updated: tuple[str, ...]
    withdrawn: tuple[str, ...]  # imported before, missing now, commissie still to come
    unchanged: int
    decisions_changed: int  # task decisions changed at `now` (by the import and the date)
    dry_run: bool
    message: str  # one Dutch line

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.withdrawn)


def _programme(session: Session, who: Actor, code: str | None, now: datetime) -> Programme:
    """The programme named, or the one programme of the municipalities `who` coordinates
    (the one running at `now` when there are several)."""
    if code is not None:
        found = session.scalar(select(Programme).where(Programme.code == code))
        if found is None:
            known = ", ".join(session.scalars(select(Programme.code).order_by(Programme.code)))
            raise DomainError(f"onbekend programma '{code}' (bekend: {known or 'geen'})")
        return found
    places = [m for m in sorted(who.municipalities) if who.has(Role.COORDINATOR, m)]
    options = list(
        session.scalars(
            select(Programme)
            .where(Programme.municipality_code.in_(places or sorted(who.municipalities)))
            .order_by(Programme.start)
        )
    )
    today = local_date(now)
    running = [p for p in options if p.start <= today <= p.end]
    chosen = running if len(running) == 1 else options
    if len(chosen) == 1:
        return chosen[0]
    if not chosen:
        raise DomainError(f"{who.label} is van geen enkel programma coördinator")
    names = ", ".join(p.code for p in chosen)
    raise DomainError(f"kies het programma met --programme ({names})")


def import_agenda(
    app: App,
    path: Path,
    *,
    by: str | Actor,
    now: datetime,
    columns: str | None = None,
    programme: str | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Import the termijnagenda; nothing changes when any row is wrong (InputInvalid)."""
    try:
        flag = termijnagenda.parse_columns(columns) if columns else {}
    except ValueError as exc:
        raise DomainError(f"--kolommen: {exc}") from None
    sheet = read_sheet(path)
    digest = hashlib.sha256(repr(sheet.rows).encode()).hexdigest()
    book = app.rulebook()
    with app.unit_of_work(dry_run=dry_run) as session:
        who = resolve_actor(session, by)
        target = _programme(session, who, programme, now)
        require_role(
            who,
            Role.COORDINATOR,
            [target.municipality_code],
            f"de termijnagenda van programma {target.code} importeren",
        )
        mapping = termijnagenda.mapping((target.council_import or {}).get("columns"), flag)
        holders = termijnagenda.Holders.of(termijnagenda.holders_of(session, target))
        specs = termijnagenda.read_items(
            sheet, mapping, holders, termijnagenda.meetings_of(session, target)
        )
        done = termijnagenda.apply(
            session, target, specs, now=now, actor=who.label, source=path.name
        )
        changes = 0
        if done.changed:
            ids = session.scalars(select(Task.id).where(Task.council_item_id.in_(done.item_ids)))
            scope = rules_service.Scope(task_ids=frozenset(ids))
            changes = len(
                rules_service.evaluate(session=session, now=now, book=book, scope=scope).changes
            )
            audit.record(
                session=session,
                at=now,
                actor=who.label,
                action="council_item.import",
                object_type="programme",
                object_id=target.id,
                after={
                    "file": path.name,
                    "digest": digest,
                    "created": done.created,
                    "updated": done.updated,
                    "withdrawn": done.withdrawn,
                    "unchanged": done.unchanged,
                },
            )
        return ImportResult(
            programme=target.code,
            file=str(path),
            rows=len(specs),
            created=tuple(done.created),
            updated=tuple(done.updated),
            withdrawn=tuple(done.withdrawn),
            unchanged=done.unchanged,
            decisions_changed=changes,
            dry_run=dry_run,
            message=_message(target.code, path, done, dry_run),
        )


def _message(code: str, path: Path, done: termijnagenda.Applied, dry_run: bool) -> str:
    if not done.changed:
        return f"Geen wijzigingen: de termijnagenda van {code} is gelijk aan {path.name}."
    parts = [
        f"{len(done.created)} nieuw" + (f" ({', '.join(done.created)})" if done.created else ""),
        f"{len(done.updated)} gewijzigd"
        + (f" ({', '.join(done.updated)})" if done.updated else ""),
        f"{len(done.withdrawn)} vervallen"
        + (f" ({', '.join(done.withdrawn)})" if done.withdrawn else ""),
        f"{done.unchanged} ongewijzigd",
    ]
    verb = "Zou importeren (--dry-run, niets gewijzigd)" if dry_run else "Geïmporteerd"
    return f"{verb} in {code} uit {path.name}: {', '.join(parts)}."
