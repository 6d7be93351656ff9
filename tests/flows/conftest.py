"""Prefect's test harness, for the flow tests only (not autouse for the whole suite)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

prefect_settings = pytest.importorskip("prefect.settings")


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[float]:
    """Start the harness once per session; yields its start-up time in seconds."""
    storage = tmp_path_factory.mktemp("prefect-results")
    with pytest.MonkeyPatch.context() as mp:
        # Quiet the harness's server subprocess (telemetry writes raced its SQLite file).
        mp.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        mp.setenv("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
        yield from _harness(storage)


def _harness(storage) -> Iterator[float]:
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_RESULTS_LOCAL_STORAGE_PATH,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings(
        {
            PREFECT_RESULTS_LOCAL_STORAGE_PATH: str(storage),
            PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
        }
    ):
        started = time.perf_counter()
        with prefect_test_harness():
            yield time.perf_counter() - started


@pytest.fixture(autouse=True)
def _prefect(prefect_harness: float) -> None:
    """Every test under tests/flows runs against the harness."""

