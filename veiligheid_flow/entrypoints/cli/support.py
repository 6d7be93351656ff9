"""Shared CLI plumbing: the --now option, the app, error handling, output helpers."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from veiligheid_flow.app import queries
from veiligheid_flow.app.errors import infrastructure_problem
from veiligheid_flow.app.views import (
    STATUS_LABELS,
    OutboxStatus,
    TaskStatus,
    parse_outbox_status,
    parse_status,
)
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.clock import YEARS, parse_date, parse_now
from veiligheid_flow.entrypoints.cli import dutch as cli_dutch
from veiligheid_flow.errors import DomainError
from veiligheid_flow.problems import InputInvalid

cli_dutch.install()  # before any app runs: Click's and Typer's own texts in Dutch
console = Console()
err_console = Console(stderr=True)

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Tijdstip, bv. 2023-10-02T08:00 of '02-10-2023 08:00' (zonder zone: "
        "Europe/Amsterdam).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Uitvoer als JSON.")]
ReaderOption = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Toon alleen wat deze persoon mag zien: de gemeenten waar die werkt (e-mail, id "
        "of naam). Zonder --by bent u de beheerder aan de shell en ziet u alle gemeenten.",
    ),
]


def _status(text: str) -> TaskStatus:
    try:
        return parse_status(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


StatusOption = Annotated[
    list[TaskStatus] | None,
    typer.Option(
        "--status",
        parser=_status,
        metavar="STATUS",
        help="Status: open, 'in behandeling', gereed of vervallen (herhaalbaar).",
    ),
]
MunicipalityOption = Annotated[
    str | None,
    typer.Option(
        "--municipality",
        "-g",
        help="Alleen deze gemeente (code, bv. huizen; zie de programma's die geladen zijn).",
    ),
]


def _outbox_status(text: str) -> OutboxStatus:
    try:
        return parse_outbox_status(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


OutboxStatusOption = Annotated[
    OutboxStatus | None,
    typer.Option(
        "--status",
        parser=_outbox_status,
        metavar="STATUS",
        help="Alleen deze status: wacht, 'wordt verstuurd', verstuurd, mislukt of onzeker "
        "(of pending, sending, sent, failed, uncertain).",
    ),
]


def now_from(value: str | None) -> datetime:
    try:
        return parse_now(value, system_now=datetime.now(UTC))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--now") from None


def parse_day(value: str, flag: str) -> date:
    """A JJJJ-MM-DD or DD-MM-JJJJ option value, or a clear error naming the option."""
    try:
        day = parse_date(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=flag) from None
    if day.year not in YEARS:
        raise typer.BadParameter(f"'{value}' ligt buiten {YEARS[0]}–{YEARS[-1]}", param_hint=flag)
    return day


def in_range(value: int, allowed: range, flag: str) -> int:
    """An integer option within `allowed`, or a clear error naming the option."""
    if value not in allowed:
        raise typer.BadParameter(f"{value} ligt buiten {allowed[0]}–{allowed[-1]}", param_hint=flag)
    return value


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
            _fail(str(exc))
        except ValidationError as exc:  # settings from the environment
            _fail(settings_problem(exc))
        except OSError as exc:
            _fail(file_problem(exc))
        except Exception as exc:
            message = infrastructure_problem(exc)  # the database locked, down or refused
            if message is None:
                raise
            _fail(message)

    return wrapper  # type: ignore[return-value]


def _fail(message: str) -> NoReturn:
    err_console.print(f"[red]Fout:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(1)


def settings_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:  # a check of several settings together names them itself
        return f"instellingen ongeldig: {message}"
    name = "VEILIGHEID_" + "_".join(str(part) for part in first["loc"]).upper()
    return f"instelling {name} is ongeldig: {message}"


def file_problem(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def write_output(path: Path, text: str) -> None:
    """Write a file the user asked for, or say in one line why it cannot be written."""
    if not path.parent.is_dir():
        raise DomainError(f"map {path.parent} bestaat niet: maak haar eerst of kies een andere")
    path.write_text(text, encoding="utf-8")


@contextmanager
def app_context(migrate: bool = True) -> Iterator[App]:
    app = bootstrap(migrate=migrate)
    try:
        yield app
    finally:
        app.close()


def report(as_json: bool, text: str, data: dict[str, Any]) -> None:
    """What a write command did: one Dutch line, or (`--json`) the same as a JSON object."""
    if as_json:
        print_json(data)
    else:
        console.print(text, highlight=False)


def task_report(task: Any, text: str, action: str) -> dict[str, Any]:
    """The JSON a `task …` command reports: the task's state after the change."""
    status = TaskStatus(task.status)
    return {
        "action": action,
        "id": task.id,
        "status": status.value,
        "status_label": STATUS_LABELS[status],
        "handed_over": task.handed_over,
        "note": task.note,
        "message": text,
    }


def reader(app: App, by: str | None, municipality: str | None = None) -> Any:
    """The Actor `--by` names on a read command, or None: the operator, who sees all."""
    return queries.actor(app, by, municipality) if by else None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
