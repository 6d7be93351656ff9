"""A failed job, recorded in a transaction of its own: which job, the error in one line, when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from veiligheid_flow.db import unit_of_work
from veiligheid_flow.errors import DomainError
from veiligheid_flow.ops.models import JobFailure
from veiligheid_flow.problems import InputInvalid

MAX_LENGTH = 300


def one_line(exc: BaseException) -> str:
    """The error as one Dutch-labelled line: the database's own message, not the SQL."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        label, text = "databasefout", str(exc.orig)
    elif isinstance(exc, SQLAlchemyError):
        label, text = "databasefout", str(exc)
    elif isinstance(exc, InputInvalid):
        more = f" (en nog {len(exc.problems) - 1})" if len(exc.problems) > 1 else ""
        label, text = "invoerfout", f"{exc.problems[0] if exc.problems else ''}{more}"
    elif isinstance(exc, DomainError):
        label, text = "fout", str(exc)
    else:
        label, text = type(exc).__name__, str(exc)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if len(first) > MAX_LENGTH:
        first = first[: MAX_LENGTH - 1] + "…"
    return f"{label}: {first}" if first else label


def record(
    sessions: sessionmaker[Session],
    job: str,
    slot: str | None,
    now: datetime,
    exc: BaseException,
) -> str:
    """Store the failure and return its line. If the database itself is what failed, the line
    is still returned (the caller prints it); only storing it is skipped."""
    line = f"{job} mislukt voor {slot or 'onbekende dag'}: {one_line(exc)}"
    try:
        with unit_of_work(sessions) as session:
            session.add(JobFailure(job=job, slot=slot, at=now, error=line))
    except SQLAlchemyError:
        pass
    return line
