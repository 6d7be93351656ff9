"""Under `make mutation` only: the fast unit tests first, the property tests last.

mutmut runs each mutant's tests with `-x`, in no useful order; a mutant a unit test kills then
costs a second instead of the property tests' twenty. A normal run keeps pytest's order."""

from __future__ import annotations

import os

import pytest

SLOW = "tests/test_rules_properties.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("MUTANT_UNDER_TEST"):
        items.sort(key=lambda item: (SLOW in item.nodeid, "tests/unit/" not in item.nodeid))
