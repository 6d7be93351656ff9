"""The condition language, loaded as the rule files write it and evaluated. Pure, no database.

Each test names the wrong rule (mutant) it is there to catch."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from veiligheid_flow.rules.conditions import (
    OPS,
    All,
    AnyOf,
    Compare,
    Condition,
    Not,
    compare,
    compares,
    compile_condition,
    facts_of,
    partial,
)

CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)


def load(data: dict[str, Any]) -> Condition:
    """A condition as a rule file's `when:` gives it (a dict from YAML)."""
    return CONDITION.validate_python(data)


def holds(data: dict[str, Any], **facts: Any) -> bool:
    return compile_condition(load(data))(facts)


# --- every operator, at its boundary ----------------------------------------------------------
# A wrong operator (lt→le, ne→eq, in→not_in, a branch that matches the wrong name) flips one of
# these rows.

BOUNDARIES = [
    # op, constant, fact value, expected
    ("eq", 5, 5, True),
    ("eq", 5, 4, False),
    ("ne", 5, 5, False),
    ("ne", 5, 4, True),
    ("ne", "deliver", "monitor", True),
    ("lt", 5, 4, True),
    ("lt", 5, 5, False),
    ("lt", 5, 6, False),
    ("le", 5, 5, True),
    ("le", 5, 6, False),
    ("gt", 5, 6, True),
    ("gt", 5, 5, False),
    ("gt", 5, 4, False),
    ("ge", 5, 5, True),
    ("ge", 5, 4, False),
    ("in", ["deliver", "monitor"], "monitor", True),
    ("in", ["deliver"], "monitor", False),
    ("not_in", ["deliver"], "monitor", True),
    ("not_in", ["deliver", "monitor"], "monitor", False),
]


@pytest.mark.parametrize(("op", "constant", "value", "expected"), BOUNDARIES)
def test_each_operator_loads_from_a_rule_file_and_decides_at_its_boundary(
    op: str, constant: Any, value: Any, expected: bool
) -> None:
    cond = load({"fact": "x", op: constant})
    assert isinstance(cond, Compare)
    assert (cond.op, cond.value) == (op, constant)  # `in` is read from its alias
    assert compile_condition(cond)({"x": value}) is expected
    assert compare(op, value, constant) is expected  # type: ignore[arg-type]
    assert partial(cond, {"x": value}) is expected


def test_none_against_every_ordering_is_false_and_not_of_it_is_true() -> None:
    # Kills: None satisfying an ordering, or the None check dropped (None < 15 raises).
    for op in ("lt", "le", "gt", "ge"):
        assert holds({"fact": "x", op: 15}, x=None) is False, op
        assert holds({"not": {"fact": "x", op: 15}}, x=None) is True, op
        assert compare(op, None, 15) is False  # type: ignore[arg-type]
    # eq/ne/in keep their plain meaning for None
    assert holds({"fact": "x", "eq": 3}, x=None) is False
    assert holds({"fact": "x", "ne": 3}, x=None) is True
    assert holds({"fact": "x", "not_in": [3]}, x=None) is True


# --- all / any / not ---------------------------------------------------------------------------


def test_not_loads_and_negates() -> None:
    # Kills: `not` unrecognised as a node, `not` dropped in compile, the inner condition lost.
    cond = load({"not": {"fact": "x", "eq": True}})
    assert isinstance(cond, Not)
    assert holds({"not": {"fact": "x", "eq": True}}, x=True) is False
    assert holds({"not": {"fact": "x", "eq": True}}, x=False) is True


def test_all_and_any_combine_as_their_names_say() -> None:
    both = {"all": [{"fact": "a", "eq": 1}, {"fact": "b", "eq": 1}]}
    either = {"any": [{"fact": "a", "eq": 1}, {"fact": "b", "eq": 1}]}
    table = {(1, 1): (True, True), (1, 0): (False, True), (0, 1): (False, True)}
    table[(0, 0)] = (False, False)
    for (a, b), (want_all, want_any) in table.items():
        assert holds(both, a=a, b=b) is want_all
        assert holds(either, a=a, b=b) is want_any


def test_conditions_built_in_python_nest_like_loaded_ones() -> None:
    # The engine tests build rules from model instances: each node kind must be recognised as
    # itself (kills a wrong tag for All, AnyOf or Not in the discriminator).
    inner = Compare(fact="a", eq=1)
    tree = All(all=[AnyOf(any=[inner, Not(not_=inner)]), Not(not_=Compare(fact="b", lt=2))])
    again = All.model_validate({"all": [tree, AnyOf(any=[Not(not_=inner)])]})
    check = compile_condition(again)
    assert check({"a": 1, "b": 2}) is False  # any(not a==1) fails
    assert check({"a": 0, "b": 2}) is True
    assert check({"a": 0, "b": 1}) is False  # not b<2 fails
    assert [c.fact for c in compares(again)] == ["a", "a", "b", "a"]
    assert facts_of(Not(not_=Compare(fact="b", lt=2))) == ["b"]


# --- what is refused at load -------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"fact": "x", "eq": 1, "ne": 2},
        {"fact": "x", "lt": 1, "gt": 9},
        {"fact": "x", "in": [1], "in_": [2]},  # the field's own name is an operator too
        {"fact": "x"},
    ],
)
def test_a_comparison_needs_exactly_one_operator(data: dict[str, Any]) -> None:
    # Kills: a comparison with two operators loading silently (one of them then ignored).
    with pytest.raises(ValidationError, match="precies één vergelijking"):
        load(data)


@pytest.mark.parametrize(
    "data", [{"fact": "x", "eq": None}, {"fact": "x", "le": None}, {"fact": "x", "in": [1, None]}]
)
def test_a_null_constant_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="lege waarde"):
        load(data)


def test_a_node_without_fact_all_any_or_not_is_refused_in_dutch() -> None:
    with pytest.raises(ValidationError, match="'fact', 'all', 'any' of 'not'"):
        load({"none": []})
    with pytest.raises(ValidationError):
        load({"all": []})  # an empty all would hold for everything


def test_every_operator_has_its_field() -> None:
    assert set(OPS) == {"eq", "ne", "lt", "le", "gt", "ge", "in", "not_in"}


# --- partial(): three-valued, checked against every completion ---------------------------------
# Each fact appears once in a generated condition, so "settled" has an exact meaning: every
# value the unknown facts can take gives the same answer.

# Constants lie strictly inside the values a fact can take, so no comparison is constant.
CONSTANTS = (1, 2)
DOMAIN = (0, 1, 2, 3)
FACTS = ("a", "b", "c", "d")


@st.composite
def conditions(draw: st.DrawFn, names: list[str] | None = None) -> dict[str, Any]:
    names = list(FACTS) if names is None else names
    if len(names) == 1 or draw(st.booleans()):
        op = draw(st.sampled_from(OPS))
        constant: Any = draw(st.sampled_from(CONSTANTS))
        if op in ("in", "not_in"):
            constant = draw(st.lists(st.sampled_from(CONSTANTS), min_size=1, max_size=2))
        return {"fact": names[0], op: constant}
    kind = draw(st.sampled_from(("all", "any", "not")))
    if kind == "not":
        return {"not": draw(conditions(names))}
    cut = draw(st.integers(1, len(names) - 1))
    return {kind: [draw(conditions(names[:cut])), draw(conditions(names[cut:]))]}


def settled(cond: Condition, known: dict[str, Any]) -> bool | None:
    """The independent answer: the value every completion of the unknown facts agrees on."""
    unknown = [f for f in FACTS if f not in known]
    check = compile_condition(cond)
    answers = {
        check({**known, **dict(zip(unknown, values, strict=True))})
        for values in product(DOMAIN, repeat=len(unknown))
    }
    return answers.pop() if len(answers) == 1 else None


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    data=conditions(),
    known=st.dictionaries(st.sampled_from(FACTS), st.sampled_from(DOMAIN), max_size=len(FACTS)),
)
def test_partial_settles_exactly_what_every_completion_agrees_on(
    data: dict[str, Any], known: dict[str, Any]
) -> None:
    # Kills: all/any swapped, `not` lost or applied to None, unknown treated as settled, a
    # decisive part ignored.
    cond = load(data)
    assert partial(cond, known) == settled(cond, known)


def test_partial_with_the_statutory_fact_only() -> None:
    # How tables.py uses it: does a rule match statutory work whatever the other facts are?
    statutory = {"task.statutory": True}
    assert partial(load({"fact": "task.statutory", "eq": True}), statutory) is True
    assert partial(load({"fact": "crisis.in_scope", "eq": True}), statutory) is None
    mixed = {"all": [{"fact": "task.statutory", "eq": False}, {"fact": "crisis.in_scope", "eq": 1}]}
    assert partial(load(mixed), statutory) is False
    assert partial(load({"not": mixed}), statutory) is True
    assert partial(load({"not": {"fact": "crisis.in_scope", "eq": True}}), statutory) is None
