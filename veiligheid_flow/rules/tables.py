"""Rule files (YAML) → a typed RuleBook. Unknown facts, actions or wrong types fail at load."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from veiligheid_flow.problems import InputInvalid, PathParts, PositionedYaml, Problem
from veiligheid_flow.rules.conditions import (
    All,
    Compare,
    Condition,
    Not,
    Predicate,
    compile_condition,
)
from veiligheid_flow.rules.facts import ACTIONS, DECISION_FACTS, FACTS, TABLE_ORDER

_PY_TYPES = {"bool": (bool,), "int": (int,), "float": (int, float), "str": (str,)}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    id: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{1,59}$")
    version: int = Field(ge=1)
    when: Condition
    then: dict[str, Any]
    reason: str = Field(min_length=5)

    @cached_property
    def applies(self) -> Predicate:
        """`when`, compiled once: does this rule apply to these facts?"""
        return compile_condition(self.when)


class TableFile(_Strict):
    kind: Literal["table"]
    table: Literal["priority", "pause", "responsibility", "flags"]
    version: int = Field(ge=1)
    description: str = ""
    default_tier: int | None = Field(default=None, ge=1, le=9)
    rules: list[Rule]


class CrisisShift(_Strict):
    enabled: bool = True
    rule_id: str = "CRISIS-VERSCHUIF-DEADLINE"
    version: int = 1
    reason: str = (
        "Na de crisis schuift de deadline op met het aantal werkdagen dat de taak stil lag."
    )


class Settings(_Strict):
    kind: Literal["settings"]
    version: int = Field(ge=1)
    crisis_shift: CrisisShift = CrisisShift()
    reminder_lead_working_days: list[int] = [10, 2, 0]
    council_alert_lead_working_days: list[int] = [15, 5]
    overdue_repeat_every_working_days: int = Field(default=5, ge=1)
    default_crisis_days: int = Field(default=10, ge=1, description="verwachte duur in werkdagen")


class Term(_Strict):
    days: int = 0
    weeks: int = 0
    months: int = 0


class CaseType(_Strict):
    title: str
    source: str = Field(min_length=3, description="wettelijke grondslag van de termijn")
    activity_hint: str | None = None
    term: Term
    extension: Term | None = None
    extension_note: str | None = None
    termijnenwet: bool = Field(
        description="Algemene termijnenwet: einde in weekend/feestdag schuift"
    )
    effort_hours: float = Field(default=8, ge=0)


class LegalTerms(_Strict):
    kind: Literal["legal_terms"]
    version: int = Field(ge=1)
    cases: dict[str, CaseType]


@dataclass
class RuleBook:
    tables: dict[str, list[Rule]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    default_tier: int = 4
    settings: Settings = field(default_factory=lambda: Settings(kind="settings", version=1))
    cases: dict[str, CaseType] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    digest: str = ""  # of the rule files' bytes: stored decisions are tied to it


def load_rulebook(folder: Path) -> RuleBook:
    """Read every *.yaml in `folder`; raise InputInvalid listing every problem."""
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise InputInvalid(
            [Problem(str(folder), 1, 1, "", "geen regelbestanden (*.yaml) gevonden")]
        )
    book, problems = RuleBook(), []
    for path in files:
        try:
            source = PositionedYaml.read(path)
        except InputInvalid as exc:
            problems += exc.problems
            continue
        problems += source.duplicate_key_problems()
        problems += _read_one(source, book)
    for table in TABLE_ORDER:
        if table not in book.tables:
            problems.append(Problem(str(folder), 1, 1, "", f"tabel '{table}' ontbreekt"))
    if problems:
        raise InputInvalid(problems)
    book.sources = [str(p) for p in files]
    hasher = hashlib.sha256()
    for path in files:
        hasher.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    book.digest = hasher.hexdigest()
    return book


def _read_one(source: PositionedYaml, book: RuleBook) -> list[Problem]:
    data = source.data if isinstance(source.data, dict) else {}
    model = {"table": TableFile, "settings": Settings, "legal_terms": LegalTerms}.get(
        data.get("kind")
    )
    if model is None:
        return [source.problem(("kind",), "'kind' moet table, settings of legal_terms zijn")]
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        return source.validation_problems(exc)
    if isinstance(parsed, Settings):
        book.settings = parsed
        return []
    if isinstance(parsed, LegalTerms):
        book.cases.update(parsed.cases)
        return []
    if parsed.table in book.tables:
        return [source.problem(("table",), f"tabel '{parsed.table}' staat in meer dan één bestand")]
    findings = [
        finding
        for i, rule in enumerate(parsed.rules)
        for finding in _check_rule(parsed.table, rule, ("rules", i))
    ]
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
    return []
