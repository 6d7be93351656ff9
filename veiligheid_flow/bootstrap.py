"""The one place where settings, database and rules are wired together. No I/O at import."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from veiligheid_flow.db import make_engine, make_session_factory, unit_of_work, upgrade
from veiligheid_flow.errors import DomainError
from veiligheid_flow.mail.site import Site
from veiligheid_flow.rules.tables import RuleBook, load_rulebook
from veiligheid_flow.settings import Settings


@dataclass
class App:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    _rules: tuple[tuple[tuple[str, int], ...], RuleBook] | None = field(default=None, repr=False)

    def rulebook(self) -> RuleBook:
        """The rule tables, read again only when a rules file has changed (name or mtime)."""
        folder = self.settings.rules
        if not folder.is_dir():
            raise DomainError(f"map met regels {folder} bestaat niet (instelling VEILIGHEID_RULES)")
        files = tuple((str(p), p.stat().st_mtime_ns) for p in sorted(folder.glob("*.yaml")))
        if not files:
            raise DomainError(
                f"map met regels {folder} bevat geen regelbestanden (*.yaml); "
                "zet VEILIGHEID_RULES op de map met de regels"
            )
        if self._rules is None or self._rules[0] != files:
            self._rules = (files, load_rulebook(self.settings.rules))
        return self._rules[1]

    @contextmanager
    def unit_of_work(self, *, dry_run: bool = False) -> Iterator[Session]:
        """One transaction, committed on success; with `dry_run` always rolled back (what a
        command would do, with nothing stored)."""
        if not dry_run:
            with unit_of_work(self.sessions) as session:
                yield session
            return
        session = self.sessions()
        try:
            session.begin()
            yield session
        finally:
            session.rollback()
            session.close()

    @property
    def site(self) -> Site:
        """The mail domain and web address messages are written for; with a web address,
        the key that signs the links in mail."""
        web = self.settings.web_url
        return Site(
            domain=self.settings.mail_domain,
            web_url=web,
            link_key=self.secret_key() if web else None,
            link_hours=self.settings.action_link_hours,
        )

    def secret_key(self) -> str:
        """WEB_SECRET, or the key in WEB_SECRET_FILE (made once, readable by its owner only):
        the scheduler and the web app sign and check links with the same key."""
        if self.settings.web_secret is not None:
            return self.settings.web_secret.get_secret_value()
        path = self.settings.web_secret_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it meanwhile
                pass
            else:
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_urlsafe(48))
        key = path.read_text().strip()
        if len(key) < 32:
            raise DomainError(f"sleutel in {path} is te kort (minstens 32 tekens)")
        return key

    def upgrade(self) -> None:
        upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, migrate: bool = True) -> App:
    settings = settings or Settings()
    engine = make_engine(settings.database_url, busy_timeout=settings.sqlite_busy_timeout)
    app = App(settings=settings, engine=engine, sessions=make_session_factory(engine))
    if migrate:
        app.upgrade()
    return app
