"""Issue 11, point 1: after the programme's end the CLI says so (and how to look at a moment
inside it), instead of greeting a newcomer with two hundred overdue tasks and no word why."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.conftest import EXAMPLE
from veiligheid_flow.entrypoints.cli.main import app as cli


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(cli, list(args))


def test_week_after_the_end_says_the_programme_ended(settings) -> None:
    assert run("load", str(EXAMPLE), "--by", "OOV1", "--now", "2023-03-01T09:00").exit_code == 0
    after = run("week", "--now", "2026-12-01T09:00")
    assert after.exit_code == 0, after.output
    text = " ".join(after.output.split())
    assert "programma UPV-2023-2024 (Huizen) is geëindigd op 31-12-2024" in text
    assert "Kijk met --now naar een moment erin, bv. --now 2024-" in text
    inside = run("week", "--now", "2023-10-02T09:00")
    assert "geëindigd" not in inside.output
