"""Random hostile edits of the example programme and of the rule files: loading them either
works or raises the project's own error (one line per problem), never anything else, in bounded
time per example, and a refused load leaves the SQLite file exactly as it was (`iterdump`)."""

from __future__ import annotations

import copy
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLE, ROOT, at
from veiligheid_flow.app import commands
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.errors import DomainError
from veiligheid_flow.problems import InputInvalid
from veiligheid_flow.settings import Settings

RULES = ROOT / "rules"
LOADED_AT = at("2023-03-01T09:00")
LATER = at("2023-10-02T09:00")
MARK = "zzRAWzz"  # a placeholder scalar, replaced by raw YAML text after dumping

# Raw YAML scalars no Python value dumps to: impossible dates, year 0, absurd numbers.
RAW = (
    "2023-02-30",
    "2023-02-29",
    "0000-01-01",
    "9999-12-31",
    "0001-01-01",
    "9" * 5000,
    "-" + "9" * 30,
    "1e999999",
    "1.0e+999999",
    ".nan",
    "-.inf",
    "0x" + "f" * 40,
    "!!binary aGVsbG8=",
    "!vreemd tag",
    "'" + "x" * 20_000 + "'",
)
hostile_values = st.one_of(
    st.none(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 10**9, 10**18, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Zl", "L"]), max_size=20),
    st.sampled_from(["", " ", "x" * 5000, "a\nb", "\x00", "\u2028", "*", "&a", "<<"]),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.recursive(st.integers(0, 3), lambda inner: st.lists(inner, max_size=3), max_leaves=8),
    st.dictionaries(st.sampled_from(["fact", "eq", "all", "any", "not", "x"]), st.integers(0, 2)),
    st.integers(0, len(RAW) - 1).map(lambda i: f"{MARK}{i}"),
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(
        node, list
    ) else ()
    for key, child in children:
        yield from paths(child, (*prefix, key))


def get(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


@st.composite
def mutated(draw: st.DrawFn, original: Any) -> Any:
    """The document with one to three edits: delete, duplicate, replace by a hostile value or
    by another node of the document itself (which the dumper writes as an anchor and alias)."""
    data = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 3))):
        every = list(paths(data))[1:]
        if not every:
            break
        path = draw(st.sampled_from(every))
        parent, key = get(data, path[:-1]), path[-1]
        action = draw(st.sampled_from(["delete", "duplicate", "replace", "alias"]))
        if action == "delete":
            del parent[key]
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif action == "duplicate":
            parent[f"{key}_2"] = copy.deepcopy(parent[key])
        elif action == "alias":
            where = draw(st.sampled_from(every))
            target = get(data, where)
            if isinstance(target, dict | list) and path[: len(where)] != where:  # no cycle
                parent[key] = target
        else:
            parent[key] = draw(hostile_values)
    return data


def as_yaml(data: Any) -> str:
    try:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
    except (yaml.YAMLError, RecursionError):  # e.g. a list made to contain itself
        text = "x: [1]\n"
    for i in reversed(range(len(RAW))):  # MARK1 is a prefix of MARK10
        text = text.replace(f"{MARK}{i}", RAW[i])
    return text


def sqlite_dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


def check_refusal(exc: Exception) -> None:
    assert isinstance(exc, InputInvalid | DomainError)
    if isinstance(exc, InputInvalid):
        assert exc.problems
        assert all("\n" not in str(p) and p.line >= 1 for p in exc.problems)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, Path]]:
    folder = tmp_path_factory.mktemp("fuzz")
    db = folder / "veiligheid.db"
    app = bootstrap(
        Settings(
            database_url=f"sqlite:///{db}",
            rules=RULES,
            mail_dir=folder / "mail",
            programme=EXAMPLE,
        )
    )
    commands.load(app, EXAMPLE, now=LOADED_AT, by=SYSTEM)
    yield app, db
    app.close()


PROGRAMME = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
RULE_FILES = {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in RULES.glob("*.yaml")}
FUZZ = settings(
    max_examples=25,
    deadline=4000,  # ms per example: every refusal is bounded
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@FUZZ
@given(data=mutated(PROGRAMME))
def test_a_mutated_programme_loads_or_is_refused_without_changing_the_db(
    loaded: tuple[App, Path], data: Any
) -> None:
    app, db = loaded
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "programma.yaml"
        path.write_text(as_yaml(data), encoding="utf-8")
        before = sqlite_dump(db)
        try:
            commands.load(app, path, now=LOADED_AT, by=SYSTEM)
        except Exception as exc:  # noqa: BLE001 - the point: which exceptions come out
            check_refusal(exc)
            assert sqlite_dump(db) == before


@FUZZ
@given(name=st.sampled_from(sorted(RULE_FILES)), data=st.data())
def test_mutated_rules_load_or_are_refused_without_changing_the_db(
    loaded: tuple[App, Path], name: str, data: st.DataObject
) -> None:
    app, db = loaded
    edited = data.draw(mutated(RULE_FILES[name]))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for path in RULES.glob("*.yaml"):
            shutil.copy(path, folder / path.name)
        (folder / name).write_text(as_yaml(edited), encoding="utf-8")
        fuzzed = App(
            settings=app.settings.model_copy(update={"rules": folder}),
            engine=app.engine,
            sessions=app.sessions,
        )
        before = sqlite_dump(db)
        try:
            commands.load(fuzzed, EXAMPLE, now=LOADED_AT, by=SYSTEM)
        except Exception as exc:  # noqa: BLE001
            check_refusal(exc)
            assert sqlite_dump(db) == before
            return
        commands.refresh(fuzzed, now=LATER)  # accepted rules must also survive a later day
