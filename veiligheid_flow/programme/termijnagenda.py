"""The termijnagenda from the council system's export (iBabs, NotuBiz): rows → council items.

Every row becomes a `CouncilItemSpec` (the programme file's own model, so the same field
rules) and the rows together pass the file's own cross-checks (`checks.check`: codes once,
known portfolio holders, raad after commissie, aanleverdatum not after the commissie, a
meeting on that date when the programme has a meeting calendar). A bad cell is named by line
and column; one bad cell imports nothing.

Applying (`apply`): an item is matched by code within the programme. New codes are added,
changed ones updated, identical ones left alone (a second import of the same file changes
nothing). Who wrote an item last owns it (`CouncilItem.source`): a reload of the programme file
keeps what the import wrote until the file itself changes that item. An imported item that
is missing from a later import is withdrawn (inactive, audited) only when its commissie is
one the import covers and its commissie date is today or later: an export of the coming
months does not erase the past. Does not commit."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from difflib import get_close_matches
from typing import Any, get_args

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from veiligheid_flow.audit import service as audit
from veiligheid_flow.clock import local_date
from veiligheid_flow.problems import InputInvalid, PathParts, dutch_message
from veiligheid_flow.programme.checks import IndexedProgramme, check
from veiligheid_flow.programme.models import (
    IMPORTED,
    CouncilItem,
    CouncilMeeting,
    PortfolioHolder,
    Programme,
)
from veiligheid_flow.programme.schema import (
    CouncilItemSpec,
    CouncilMeetingSpec,
    import_field,
)
from veiligheid_flow.programme.service import council_item_values
from veiligheid_flow.programme.sheet import Sheet, SheetProblem, refuse
from veiligheid_flow.workdays import WorkCalendar

# Column names as iBabs and NotuBiz exports commonly have them; the programme file's
# `council_import.columns` and `--kolommen` override them field by field.
DEFAULT_COLUMNS: dict[str, str] = {
    "code": "Kenmerk",
    "subject": "Onderwerp",
    "type": "Soort",
    "holder": "Portefeuillehouder",
    "committee": "Commissie",
    "committee_date": "Datum commissie",
    "council_date": "Datum raad",
    "submission_deadline": "Aanleverdatum",
    "submission_working_days": "Aanleverwerkdagen",
}
REQUIRED = ("code", "subject", "type", "holder", "committee", "committee_date")
DATES = ("committee_date", "council_date", "submission_deadline")
HEADER_SEARCH = 10  # the header row is among the first rows (a title may stand above it)
ITEM_TYPES = get_args(CouncilItemSpec.model_fields["type"].annotation)
TYPE_ALIASES = {"rib": "raadsinformatiebrief", "rv": "raadsvoorstel"}

_DAY_FIRST = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")


def parse_columns(text: str) -> dict[str, str]:
    """'onderwerp=Titel,commissie=Commissie' → {"subject": "Titel", "committee": "Commissie"};
    ValueError in Dutch."""
    found: dict[str, str] = {}
    if len(text) > 4_000:
        raise ValueError("--kolommen is te lang")
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, header = part.partition("=")
        if not sep or not header.strip():
            raise ValueError(f"'{part}': schrijf veld=kolomnaam, bv. onderwerp=Titel")
        key = import_field(name)
        if key in found:
            raise ValueError(f"veld '{name.strip()}' staat er twee keer")
        found[key] = header.strip()
    return found


@dataclass(frozen=True)
class Columns:
    """Field → column name, and which fields the file or the flag named (those columns must
    be there; a default column of an optional field may be absent)."""

    names: dict[str, str]
    named: frozenset[str]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if n in REQUIRED or n in self.named)


def mapping(*layers: dict[str, str] | None) -> Columns:
    """The defaults, then each layer (the programme file's, the flag's) field by field."""
    result, named = dict(DEFAULT_COLUMNS), set()
    for layer in layers:
        for name, header in (layer or {}).items():
            result[import_field(name)] = header
            named.add(import_field(name))
    return Columns(result, frozenset(named))


def _norm(text: Any) -> str:
    return " ".join(str(text).split()).casefold() if text is not None else ""


@dataclass(frozen=True)
class Holders:
    """The programme's portfolio holders, as a cell may name them."""

    by_label: dict[str, set[str]]  # id, name, address or title → keys
    keys: tuple[str, ...]

    @classmethod
    def of(cls, rows: list[PortfolioHolder]) -> Holders:
        labels: dict[str, set[str]] = {}
        for h in rows:
            for label in (h.key, h.name, h.email, h.title):
                labels.setdefault(_norm(label), set()).add(h.key)
        return cls(labels, tuple(sorted(h.key for h in rows)))

    def resolve(self, text: str) -> str:
        keys = self.by_label.get(_norm(text), set())
        if len(keys) == 1:
            return next(iter(keys))
        if keys:
            raise ValueError(
                f"'{text}' noemt meer dan één portefeuillehouder: {', '.join(sorted(keys))}"
            )
        close = get_close_matches(_norm(text), list(self.by_label), n=2, cutoff=0.7)
        hint = f"; bedoelt u {' of '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"onbekende portefeuillehouder '{text}' (id, naam of titel; bekend: "
            f"{', '.join(self.keys)}){hint}"
        )


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if found := _DAY_FIRST.fullmatch(text):
            day, month, year = (int(g) for g in found.groups())
            return date(year, month, day)
        if found := _ISO.fullmatch(text):
            year, month, day = (int(g) for g in found.groups())
            return date(year, month, day)
    except ValueError:
        raise ValueError(f"'{text}' is geen bestaande datum") from None
    raise ValueError(f"'{text}' is geen datum (verwacht DD-MM-JJJJ)")


def _whole(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("geen geheel getal")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d{1,3}", text):
        return int(text)
    raise ValueError(f"'{text}' is geen geheel getal")


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an XLSX number used as a code (12345.0)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


@dataclass
class Parsed:
    specs: list[tuple[int, CouncilItemSpec]] = field(default_factory=list)  # (line, spec)
    problems: list[SheetProblem] = field(default_factory=list)


def read_items(
    sheet: Sheet,
    mapped: Columns,
    holders: Holders,
    meetings: list[tuple[str, date]],
) -> list[tuple[int, CouncilItemSpec]]:
    """Every row as a council item; InputInvalid with every bad cell (line and column)."""
    header_line, index = _header(sheet, mapped)
    where = {name: (sheet.column(i), mapped.names[name]) for name, i in index.items()}
    out = Parsed()

    def problem(line: int, name: str | None, message: str) -> None:
        column, header = where.get(name, ("", "")) if name else ("", "")
        out.problems.append(SheetProblem(sheet.file, line, column, header, message))

    for line, values in sheet.rows:
        if line <= header_line:
            continue
        raw = {name: values[i] if i < len(values) else None for name, i in index.items()}
        data: dict[str, Any] = {}
        failed: set[str] = set()
        for name, value in raw.items():
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            try:
                data[name] = _convert(name, value, holders)
            except ValueError as exc:
                problem(line, name, str(exc))
                failed.add(name)
        try:
            out.specs.append((line, CouncilItemSpec.model_validate(data)))
        except ValidationError as exc:
            for item in exc.errors():
                name = str(item["loc"][0]) if item["loc"] else None
                if name in failed:
                    continue  # already named above
                missing = item["type"] == "missing" and name in index
                problem(
                    line,
                    name,
                    "lege cel; dit veld is verplicht" if missing else dutch_message(item),
                )
    lines = [line for line, _ in out.specs]
    doc = IndexedProgramme(
        council_items=list(enumerate(spec for _, spec in out.specs)),
        meetings=[(i, CouncilMeetingSpec(body=b, date=d)) for i, (b, d) in enumerate(meetings)],
        holder_ids=set(holders.keys),
    )
    for path, message in check(doc, known_case_types=None):
        _, i, name = _finding(path)
        problem(lines[i], name, message)
    if out.problems:
        unique = sorted(set(out.problems), key=lambda p: (p.line, p.path))
        raise InputInvalid(unique)
    return out.specs


def _finding(path: PathParts) -> tuple[str, int, str | None]:
    name = str(path[2]) if len(path) > 2 else None
    return str(path[0]), int(path[1]), name


def _convert(name: str, value: Any, holders: Holders) -> Any:
    if name in DATES:
        return _day(value)
    if name == "submission_working_days":
        return _whole(value)
    text = " ".join(_text(value).split()) if name != "subject" else _text(value).strip()
    if name == "holder":
        return holders.resolve(text)
    if name == "type":
        lowered = text.lower()
        kind = TYPE_ALIASES.get(lowered, lowered)
        if kind not in ITEM_TYPES:
            raise ValueError(f"onbekende soort '{text}'; toegestaan: {', '.join(ITEM_TYPES)}")
        return kind
    return text


def _header(sheet: Sheet, mapped: Columns) -> tuple[int, dict[str, int]]:
    """The header row (among the first rows) and the column index of each mapped field."""
    wanted = {name: _norm(header) for name, header in mapped.names.items()}
    if not sheet.rows:
        raise refuse(sheet.file, 1, "het bestand is leeg")
    for line, values in sheet.rows[:HEADER_SEARCH]:
        names = [_norm(v) for v in values]
        if all(wanted[n] in names for n in mapped.required):
            index = {n: names.index(h) for n, h in wanted.items() if h in names}
            return line, index
    line, first = sheet.rows[0]
    found = [_norm(v) for v in first]
    missing = [mapped.names[n] for n in mapped.required if wanted[n] not in found]
    shown = ", ".join(str(v) for v in first if v not in (None, ""))[:300]
    raise refuse(
        sheet.file,
        line,
        f"geen kopregel met de kolom(men) {', '.join(repr(m) for m in missing)} in de eerste "
        f"{HEADER_SEARCH} regels (gevonden: {shown or 'niets'}); noem de kolommen van dit "
        "bestand met --kolommen 'veld=kolomnaam' of in council_import.columns van het programma",
    )


# --- applying --------------------------------------------------------------------------------


@dataclass
class Applied:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    unchanged: int = 0
    item_ids: set[int] = field(default_factory=set)  # items added or changed (for the rules)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.withdrawn)


def holders_of(session: Session, programme: Programme) -> list[PortfolioHolder]:
    return list(
        session.scalars(select(PortfolioHolder).where(PortfolioHolder.programme_id == programme.id))
    )


def meetings_of(session: Session, programme: Programme) -> list[tuple[str, date]]:
    return [
        (m.body, m.date)
        for m in session.scalars(
            select(CouncilMeeting)
            .where(CouncilMeeting.programme_id == programme.id)
            .order_by(CouncilMeeting.date, CouncilMeeting.id)
        )
    ]


def apply(
    session: Session,
    programme: Programme,
    specs: list[tuple[int, CouncilItemSpec]],
    *,
    now: datetime,
    actor: str,
    source: str,
) -> Applied:
    """Add, update and withdraw council items as the module docstring says; audited."""
    holders = {h.key: h for h in holders_of(session, programme)}
    calendar = WorkCalendar(date.fromisoformat(d) for d in programme.non_working_days)
    current = {
        row.code: row
        for row in session.scalars(
            select(CouncilItem).where(CouncilItem.programme_id == programme.id)
        )
    }
    reason = f"termijnagenda geïmporteerd uit {source}"
    done = Applied()

    def record(action: str, row: CouncilItem, before: Any, after: Any) -> None:
        audit.record(
            session=session,
            at=now,
            actor=actor,
            action=action,
            object_type="council_item",
            object_id=row.id,
            before=before,
            after=after,
            reason=reason,
        )

    for _, spec in specs:
        values = council_item_values(
            programme,
            spec,
            holders[spec.holder],
            calendar,
            programme.submission_working_days,
        )
        row = current.get(spec.code)
        if row is None:
            row = CouncilItem(**values, source=IMPORTED)
            session.add(row)
            session.flush()
            record("council_item.create", row, None, values | {"source": IMPORTED})
            done.created.append(spec.code)
            done.item_ids.add(row.id)
            continue
        before = {k: getattr(row, k) for k, v in values.items() if getattr(row, k) != v}
        if not before:
            done.unchanged += 1
            continue
        after = {k: values[k] for k in before}
        if row.source != IMPORTED:
            before["source"], after["source"] = row.source, IMPORTED
        for key, value in after.items():
            setattr(row, key, value)
        record("council_item.update", row, before, after)
        done.updated.append(spec.code)
        done.item_ids.add(row.id)
    seen = {spec.code for _, spec in specs}
    committees = {_norm(spec.committee) for _, spec in specs}
    today = local_date(now)
    for code, row in sorted(current.items()):
        if (
            code not in seen
            and row.source == IMPORTED
            and row.active
            and _norm(row.committee) in committees
            and row.committee_date >= today
        ):
            row.active = False
            record("council_item.update", row, {"active": True}, {"active": False})
            done.withdrawn.append(code)
            done.item_ids.add(row.id)
    session.flush()
    return done
