"""Rule files (YAML) → a typed RuleBook. Unknown facts, actions or wrong types fail at load."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from veiligheid_flow import limits
from veiligheid_flow.problems import InputInvalid, PathParts, PositionedYaml, Problem
from veiligheid_flow.rules.conditions import (
    All,
    Compare,
    Condition,
    Not,
    Predicate,
    compile_condition,
    facts_of,
    partial,
)
from veiligheid_flow.rules.facts import (
    ACTIONS,
    DECISION_FACTS,
    FACTS,
    NEVER_PAUSED,
    OVERDUE_FACT,
    TABLE_ORDER,
)

_PY_TYPES = {"bool": (bool,), "int": (int,), "float": (int, float), "str": (str,)}

# Bounds on every number in the rule files: a deadline never before its event, and nothing that
# makes a later `run` count working days for ever (rules/window.py walks to each constant).
MAX_RULE_FILES = 50
MAX_VERSION = 1_000_000
MAX_CONSTANT = 1_000  # |value| a rule compares a number fact with (working days: ~4 years)
MAX_LEAD_DAYS = 60  # reminder and council-alert lead times, overdue repeat, in working days
MAX_CRISIS_DAYS = 260  # expected crisis duration in working days (a year)
MAX_TERM = {"days": 730, "weeks": 104, "months": 24}
MAX_EFFORT_HOURS = 2000
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]
RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,59}$")]
Reason = Annotated[str, StringConstraints(min_length=5, max_length=500)]
LeadDays = Annotated[int, Field(ge=0, le=MAX_LEAD_DAYS)]


def _one_line(value: str) -> str:
    # Case titles become task titles, and those end up in email subjects.
    problem = limits.control_problem(value)
    if problem:
        raise ValueError(problem)
    return value


OneLine = Annotated[
    str, StringConstraints(min_length=1, max_length=limits.TEXT), AfterValidator(_one_line)
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    id: RuleId
    version: Version
    when: Condition
    then: dict[str, Any]
    reason: Reason

    @cached_property
    def applies(self) -> Predicate:
        """`when`, compiled once: does this rule apply to these facts?"""
        return compile_condition(self.when)


class TableFile(_Strict):
    kind: Literal["table"]
    table: Literal["priority", "pause", "responsibility", "flags"]
    version: Version
    description: str = Field(default="", max_length=2000)
    default_tier: int | None = Field(default=None, ge=1, le=9)
    rules: list[Rule] = Field(max_length=500)


class CrisisShift(_Strict):
    enabled: bool = True
    rule_id: RuleId = "CRISIS-VERSCHUIF-DEADLINE"
    version: Version = 1
    reason: Reason = (
        "Na de crisis schuift de deadline op met het aantal werkdagen dat de taak stil lag."
    )
    # Only work the crisis displaced moves: due from its first day up to this many working
    # days after its last (not long-overdue work, not work a year ahead).
    displaced_within_working_days: int = Field(default=10, ge=0, le=MAX_CRISIS_DAYS)


class PersonalLead(_Strict):
    """The range within which a person chooses their first reminder (Instellingen)."""

    min: LeadDays = 1
    max: LeadDays = 15

    @model_validator(mode="after")
    def _ordered(self) -> PersonalLead:
        if self.min > self.max:
            raise ValueError("min mag niet groter zijn dan max")
        return self


class Settings(_Strict):
    kind: Literal["settings"]
    version: Version
    crisis_shift: CrisisShift = CrisisShift()
    reminder_lead_working_days: list[LeadDays] = Field(default=[10, 2, 0], max_length=10)
    reminder_personal_lead_working_days: PersonalLead = PersonalLead()
    council_alert_lead_working_days: list[LeadDays] = Field(default=[15, 5], max_length=10)
    overdue_repeat_every_working_days: int = Field(default=5, ge=1, le=MAX_LEAD_DAYS)
    default_crisis_days: int = Field(
        default=10, ge=1, le=MAX_CRISIS_DAYS, description="verwachte duur in werkdagen"
    )


class Term(_Strict):
    """A legal term: never negative (a deadline before its event), never absurdly long."""

    days: int = Field(default=0, ge=0, le=MAX_TERM["days"])
    weeks: int = Field(default=0, ge=0, le=MAX_TERM["weeks"])
    months: int = Field(default=0, ge=0, le=MAX_TERM["months"])

    @model_validator(mode="after")
    def _not_empty(self) -> Term:
        if not (self.days or self.weeks or self.months):
            raise ValueError("een termijn is minstens 1 dag (days, weeks of months)")
        return self


class CaseType(_Strict):
    title: OneLine
    source: str = Field(
        min_length=3, max_length=500, description="wettelijke grondslag van de termijn"
    )
    activity_hint: OneLine | None = None
    term: Term
    extension: Term | None = None
    extension_note: str | None = Field(default=None, max_length=500)
    termijnenwet: bool = Field(
        description="Algemene termijnenwet: einde in weekend/feestdag schuift"
    )
    effort_hours: float = Field(default=8, ge=0, le=MAX_EFFORT_HOURS)


CaseKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")]


class EquatedDay(_Strict):
    """A day equated with a public holiday by decree (Algemene termijnenwet art. 3 lid 3)."""

    day: date
    source: str = Field(min_length=3, max_length=500, description="het besluit (Staatscourant)")


class LegalTerms(_Strict):
    kind: Literal["legal_terms"]
    version: Version
    cases: dict[CaseKey, CaseType] = Field(max_length=500)
    equated_days: list[EquatedDay] = Field(default_factory=list, max_length=500)


@dataclass
class RuleBook:
    tables: dict[str, list[Rule]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    default_tier: int = 4
    settings: Settings = field(default_factory=lambda: Settings(kind="settings", version=1))
    cases: dict[str, CaseType] = field(default_factory=dict)
    equated_days: dict[date, str] = field(default_factory=dict)  # day → decree (Atw art. 3)
    sources: list[str] = field(default_factory=list)
    digest: str = ""  # of the rule files' bytes: stored decisions are tied to it

    def escalation_rule_ids(self) -> frozenset[str]:
        """Responsibility rules that hand a task to the backup because it is late: what the
        mail calls an escalation, known by what the rule does, not by its id."""
        return frozenset(
            rule.id
            for rule in self.tables.get("responsibility", [])
            if rule.then.get("responsible") == "backup" and OVERDUE_FACT in facts_of(rule.when)
        )


def load_rulebook(folder: Path) -> RuleBook:
    """Read every *.yaml in `folder`; raise InputInvalid listing every problem."""
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise InputInvalid(
            [Problem(str(folder), 1, 1, "", "geen regelbestanden (*.yaml) gevonden")]
        )
    if len(files) > MAX_RULE_FILES:
        message = f"te veel regelbestanden ({len(files)}; hooguit {MAX_RULE_FILES})"
        raise InputInvalid([Problem(str(folder), 1, 1, "", message)])
    book, problems = RuleBook(), []
    origins: dict[str, str] = {}  # "settings", "table pause", "case huisverbod" → file
    for path in files:
        try:
            source = PositionedYaml.read(path)
        except InputInvalid as exc:
            problems += exc.problems
            continue
        problems += source.duplicate_key_problems()
        problems += _read_one(source, book, origins)
    if not problems:  # else a missing table may just be in a file that failed
        problems += [
            Problem(str(folder), 1, 1, "", f"tabel '{table}' ontbreekt")
            for table in TABLE_ORDER
            if table not in book.tables
        ]
    if problems:
        raise InputInvalid(problems)
    book.sources = [str(p) for p in files]
    hasher = hashlib.sha256()
    for path in files:
        hasher.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    book.digest = hasher.hexdigest()
    return book


def _claim(origins: dict[str, str], what: str, file: str) -> str | None:
    """Record that `file` declares `what`; the other file's name if one already did."""
    first = origins.setdefault(what, file)
    return None if first == file else Path(first).name


def _read_one(source: PositionedYaml, book: RuleBook, origins: dict[str, str]) -> list[Problem]:
    data = source.data if isinstance(source.data, dict) else {}
    kind = data.get("kind")
    models = {"table": TableFile, "settings": Settings, "legal_terms": LegalTerms}
    model = models.get(kind) if isinstance(kind, str) else None
    if model is None:
        return [source.problem(("kind",), "'kind' moet table, settings of legal_terms zijn")]
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        return source.validation_problems(exc)
    if isinstance(parsed, Settings):
        if other := _claim(origins, "settings", source.file):
            message = f"instellingen staan al in {other}: zet ze in één bestand (kind: settings)"
            return [source.problem(("kind",), message)]
        book.settings = parsed
        return []
    if isinstance(parsed, LegalTerms):
        problems = [
            source.problem(("cases", name), f"zaaktype '{name}' staat ook in {other}")
            for name in parsed.cases
            if (other := _claim(origins, f"case {name}", source.file))
        ]
        book.cases.update(parsed.cases)
        book.equated_days.update({d.day: d.source for d in parsed.equated_days})
        return problems
    if other := _claim(origins, f"table {parsed.table}", source.file):
        message = f"tabel '{parsed.table}' staat ook in {other}: elke tabel in één bestand"
        return [source.problem(("table",), message)]
    findings = [
        finding
        for i, rule in enumerate(parsed.rules)
        for finding in _check_rule(parsed.table, rule, ("rules", i))
    ]
    if parsed.table == "pause" and not findings:  # a sound table: its comparisons can run
        findings += _statutory_pause_findings(parsed.rules)
    ids = [r.id for r in parsed.rules]
    findings += [
        (("rules", i, "id"), f"regel-id '{r}' komt twee keer voor")
        for i, r in enumerate(ids)
        if ids.count(r) > 1
    ]
    book.tables[parsed.table] = list(parsed.rules)
    book.versions[parsed.table] = parsed.version
    if parsed.default_tier is not None:
        book.default_tier = parsed.default_tier
    return [source.problem(p, m) for p, m in findings]


def _check_rule(table: str, rule: Rule, path: PathParts) -> list[tuple[PathParts, str]]:
    findings = _check_condition(table, rule.when, (*path, "when"))
    allowed = ACTIONS[table]
    if len(rule.then) != 1:
        findings.append(((*path, "then"), f"geef precies één actie: {', '.join(allowed)}"))
    for action, value in rule.then.items():
        spec = allowed.get(action)
        if spec is None:
            findings.append(
                (
                    (*path, "then", action),
                    f"onbekende actie '{action}' in tabel '{table}' "
                    f"(toegestaan: {', '.join(allowed)})",
                )
            )
        elif spec is int and (type(value) is not int or not 1 <= value <= 9):
            findings.append(((*path, "then", action), "verwacht een getal van 1 tot en met 9"))
        elif spec is bool and type(value) is not bool:
            findings.append(((*path, "then", action), "verwacht true of false"))
        elif isinstance(spec, tuple) and value not in spec:
            findings.append(
                (
                    (*path, "then", action),
                    f"'{value}' is niet toegestaan (kies uit: {', '.join(spec)})",
                )
            )
    return findings


def _check_condition(table: str, cond: Condition, path: PathParts) -> list[tuple[PathParts, str]]:
    if isinstance(cond, Compare):
        return [((*path, "fact"), m) for m in _check_compare(table, cond)]
    if isinstance(cond, Not):
        return _check_condition(table, cond.not_, (*path, "not"))
    key, items = ("all", cond.all) if isinstance(cond, All) else ("any", cond.any)
    return [f for i, c in enumerate(items) for f in _check_condition(table, c, (*path, key, i))]


def _check_compare(table: str, comp: Compare) -> list[str]:
    if comp.fact not in FACTS:
        return [f"onbekend feit '{comp.fact}'"]
    if comp.fact.startswith("decision.") and comp.fact not in DECISION_FACTS[table]:
        return [f"feit '{comp.fact}' is in tabel '{table}' nog niet bekend"]
    kind, _ = FACTS[comp.fact]
    values = comp.value if comp.op in ("in", "not_in") else [comp.value]
    bad = [
        v
        for v in values
        if v is not None
        and not (isinstance(v, _PY_TYPES[kind]) and not (kind != "bool" and isinstance(v, bool)))
    ]
    if bad:
        return [f"feit '{comp.fact}' is van het type {kind}; {bad[0]!r} past daar niet bij"]
    if kind in ("bool", "str") and comp.op in ("lt", "le", "gt", "ge"):
        return [f"'{comp.op}' kan niet bij feit '{comp.fact}' van het type {kind}"]
    if kind in ("int", "float"):
        wild = [v for v in values if not abs(v) <= MAX_CONSTANT]  # NaN compares False too
        if wild:
            return [
                f"feit '{comp.fact}': {wild[0]!r} ligt niet tussen "
                f"-{MAX_CONSTANT} en {MAX_CONSTANT}"
            ]
    return []


STATUTORY_FACT = NEVER_PAUSED.fact  # the fact the engine's guard and the set-based SQL read


def _statutory_pause_findings(rules: list[Rule]) -> Iterator[tuple[PathParts, str]]:
    """Statutory work never pauses (facts.NEVER_PAUSED, which the engine also applies): refuse
    a pause rule that a statutory task can reach and match. The first rule that every
    statutory task matches decides for all of them; the rules after it are not reached."""
    statutory = {STATUTORY_FACT: True}
    for i, rule in enumerate(rules):
        matches = partial(rule.when, statutory)
        if rule.then.get("pause") is True and matches is not False:
            yield (
                ("rules", i, "then", "pause"),
                "deze regel kan een wettelijke taak stilleggen, en wettelijke taken lopen "
                f"altijd door: eis {{fact: {STATUTORY_FACT}, eq: false}} in de voorwaarde, of "
                f"zet er een regel {{fact: {STATUTORY_FACT}, eq: true}} met pause: false vóór",
            )
        if matches is True:
            return
