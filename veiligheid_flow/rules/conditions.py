"""The small condition language of the rule tables: comparisons, membership, all/any/not."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in"]
OPS: tuple[Op, ...] = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in")


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Compare(_Node):
    """`{fact: task.statutory, eq: true}` — exactly one operator."""

    fact: str
    eq: Any = None
    ne: Any = None
    lt: Any = None
    le: Any = None
    gt: Any = None
    ge: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_op(cls, data: Any) -> Any:
        if isinstance(data, dict):
            # `in_` is the field's own name: counted, so it cannot sneak in as a second operator.
            ops = [op for op in (*OPS, "in_") if op in data]
            if len(ops) != 1:
                raise ValueError(f"geef precies één vergelijking ({', '.join(OPS)}) bij 'fact'")
            value = data[ops[0]]
            if value is None or (isinstance(value, list) and None in value):
                raise ValueError(
                    f"'{ops[0]}' vergelijkt met een lege waarde (null): dat is geweigerd, want "
                    "een lege waarde past bij geen enkele vergelijking en zet de regel stil uit; "
                    "vraag met een ja/nee-feit (zoals council_item.linked) of iets bekend is"
                )
        return data

    @cached_property
    def op(self) -> Op:
        return next(
            op
            for op in OPS
            if op in self.model_fields_set or (op == "in" and "in_" in self.model_fields_set)
        )

    @cached_property
    def value(self) -> Any:
        return getattr(self, "in_" if self.op == "in" else self.op)


class All(_Node):
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Node):
    any: list[Condition] = Field(min_length=1)


class Not(_Node):
    not_: Condition = Field(alias="not")


def _kind(data: Any) -> str | None:
    if isinstance(data, BaseModel):
        return {Compare: "[compare]", All: "[all]", AnyOf: "[any]", Not: "[not]"}[type(data)]
    if isinstance(data, dict):
        for key, tag in (
            ("fact", "[compare]"),
            ("all", "[all]"),
            ("any", "[any]"),
            ("not", "[not]"),
        ):
            if key in data:
                return tag
    return None  # pydantic reports: none of fact/all/any/not


Condition = Annotated[
    Annotated[Compare, Tag("[compare]")]
    | Annotated[All, Tag("[all]")]
    | Annotated[AnyOf, Tag("[any]")]
    | Annotated[Not, Tag("[not]")],
    Discriminator(
        _kind,
        custom_error_type="condition",
        custom_error_message="een voorwaarde heeft 'fact', 'all', 'any' of 'not'",
    ),
]


Predicate = Callable[[Mapping[str, Any]], bool]


def compile_condition(cond: Condition) -> Predicate:
    """The condition as a function of the facts, built once instead of walking the tree for
    every task; each comparison means what `compare` says."""
    if isinstance(cond, All):
        parts = [compile_condition(c) for c in cond.all]
        return lambda facts: all(part(facts) for part in parts)
    if isinstance(cond, AnyOf):
        parts = [compile_condition(c) for c in cond.any]
        return lambda facts: any(part(facts) for part in parts)
    if isinstance(cond, Not):
        inner = compile_condition(cond.not_)
        return lambda facts: not inner(facts)
    op, fact, value = cond.op, cond.fact, cond.value
    return lambda facts: compare(op, facts[fact], value)


def compare(op: Op, left: Any, right: Any) -> bool:
    """`left` (a fact's value) against `right` (a rule's constant, never null: `Compare`
    refuses it)."""
    if op == "in":
        return left in right
    if op == "not_in":
        return left not in right
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if left is None:
        return False  # an unknown value satisfies no ordering
    if op == "lt":
        return left < right
    if op == "le":
        return left <= right
    if op == "gt":
        return left > right
    return left >= right


def partial(cond: Condition, known: Mapping[str, Any]) -> bool | None:
    """The condition with only the `known` facts: True or False if that settles it, else None
    (three-valued: it depends on facts not given)."""
    if isinstance(cond, Not):
        inner = partial(cond.not_, known)
        return None if inner is None else not inner
    if isinstance(cond, All | AnyOf):
        parts = [partial(c, known) for c in (cond.all if isinstance(cond, All) else cond.any)]
        decisive = isinstance(cond, AnyOf)  # any: one True settles it; all: one False does
        if decisive in parts:
            return decisive
        return None if None in parts else not decisive
    if cond.fact not in known:
        return None
    return compare(cond.op, known[cond.fact], cond.value)


def facts_of(cond: Condition) -> list[str]:
    """Fact names a condition reads, in order of appearance."""
    return [comp.fact for comp in compares(cond)]


def compares(cond: Condition) -> list[Compare]:
    """The comparisons of a condition, in order of appearance."""
    if isinstance(cond, All):
        return [x for c in cond.all for x in compares(c)]
    if isinstance(cond, AnyOf):
        return [x for c in cond.any for x in compares(c)]
    if isinstance(cond, Not):
        return compares(cond.not_)
    return [cond]


for _model in (All, AnyOf, Not):
    _model.model_rebuild()
