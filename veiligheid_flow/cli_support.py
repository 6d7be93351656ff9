"""Shared CLI plumbing: the --now option, the app, error handling, output helpers."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.clock import parse_now
from veiligheid_flow.errors import DomainError
from veiligheid_flow.problems import InputInvalid

console = Console()
err_console = Console(stderr=True)

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now", help="Tijdstip (ISO, bv. 2023-10-02T08:00; zonder zone: Europe/Amsterdam)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Uitvoer als JSON.")]
MunicipalityOption = Annotated[
    str | None,
    typer.Option(
        "--municipality",
        "-g",
        help="Alleen deze gemeente (code, bv. huizen; zie de programma's die geladen zijn).",
    ),
]


def now_from(value: str | None) -> datetime:
    try:
        return parse_now(value, system_now=datetime.now(UTC))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--now") from None


def parse_day(value: str, flag: str) -> date:
    """A JJJJ-MM-DD option value, or a clear error naming the option."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is geen datum (JJJJ-MM-DD)", param_hint=flag) from None


def default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "onbekend"


F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn domain and input errors into a clear message and exit code 1 (no traceback)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputInvalid as exc:
            err_console.print(
                f"[red]{len(exc.problems)} fout(en) gevonden; er is niets gewijzigd:[/]"
            )
            for problem in exc.problems:
                err_console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except DomainError as exc:
            err_console.print(f"[red]Fout:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def app_context(migrate: bool = True) -> Iterator[App]:
    app = bootstrap(migrate=migrate)
    try:
        yield app
    finally:
        app.close()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
