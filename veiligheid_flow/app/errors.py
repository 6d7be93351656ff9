"""What an entry point says when the environment fails (not the domain): one Dutch line.

The database driver's errors are SQLAlchemy's; they are named here, in the application layer,
so that no entry point imports SQLAlchemy."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from veiligheid_flow.settings import Settings


def infrastructure_problem(exc: BaseException) -> str | None:
    """One line for a failure of the database (locked, down, refused); None for anything else."""
    if isinstance(exc, OperationalError):
        return database_problem(exc)
    return None


def database_problem(exc: OperationalError) -> str:
    """One line for a database the environment made unusable: locked, down, refused."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    if "locked" in reason or "busy" in reason:
        return (
            "de database is bezet: een ander proces houdt haar vergrendeld; er is niets "
            "gewijzigd, probeer het zo opnieuw"
        )
    try:
        url = make_url(Settings().database_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - the message must come out whatever the settings are
        url = "(onbekend)"
    return f"de database {url} is niet bereikbaar: {reason}"
