"""pytest plugin for `make mutation` only (loaded by `pytest_add_cli_args` in [tool.mutmut]).

1. Every test starts with empty calendar caches. mutmut first runs the whole selection once in
   one process to learn which tests call which function, then runs a mutant against those tests
   only. A `WorkCalendar` remembers `working_days_between` answers and each year's days off, so a
   test that asks what an earlier test already asked never calls the counting code: it would not
   be chosen for the counting code's mutants, and they would survive (or hang in a slower test)
   although a test that checks the count exists. The same holds within a mutant's run.
2. The fast tests run first, the slow ones last: mutmut runs each mutant's tests with `-x`, so
   a mutant a unit test kills then costs a second instead of the property tests' twenty (or a
   timeout's minutes).
"""

from __future__ import annotations

import weakref
from typing import Any

import pytest

from veiligheid_flow.workdays import WorkCalendar

_CALENDARS: weakref.WeakSet[WorkCalendar] = weakref.WeakSet()
_init = WorkCalendar.__init__


def _registered_init(self: WorkCalendar, *args: Any, **kwargs: Any) -> None:
    _init(self, *args, **kwargs)
    _CALENDARS.add(self)


# Loaded before any test module: every calendar, the test files' module-level ones and
# legal.ATW_CALENDAR included, is registered (cheaper than searching the heap for each test).
WorkCalendar.__init__ = _registered_init  # type: ignore[method-assign]

# The fast tests first, the lower layers before the ones built on them: a wrong working-day
# count fails in test_workdays_legal at once, but makes window._first search forever (a
# timeout of minutes) in test_window. The slow tests last.
FIRST = (
    "tests/unit/test_workdays_legal.py",
    "tests/unit/test_conditions.py",
    "tests/unit/test_expand_rrule.py",
    "tests/unit/test_engine_decisions.py",
)
SLOW = ("test_a_new_day_changes_decisions_only_inside", "tests/test_rules_properties.py")


def _rank(item: pytest.Item) -> tuple[int, int]:
    path = item.nodeid.split("::")[0]
    for n, slow in enumerate(SLOW):
        if slow in item.nodeid:
            return 3, n
    if path in FIRST:
        return 0, FIRST.index(path)
    return (1 if path.startswith("tests/unit/") else 2), 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: pytest's order within each group


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for calendar in list(_CALENDARS):
        # (cleared, not replaced: a mutant that breaks a cache must stay broken)
        for cache in (calendar.__dict__.get("_between"), calendar.__dict__.get("_off_by_year")):
            if isinstance(cache, dict):
                cache.clear()
        calendar.__dict__.pop("_holidays", None)  # the holidays package loads years lazily too
