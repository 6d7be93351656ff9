"""Server mode, natively: the docker-compose topology without Docker.

PostgreSQL (two throwaway databases: one for the Prefect server, one for the app), a real
`prefect server start` on a free loopback port, the `veiligheid` process work pool, every
deployment in prefect.yaml (`prefect deploy --all`), a `prefect worker start` subprocess and an
SMTP server (aiosmtpd) standing in for Mailpit. The CLI declares and then ends a crisis with
PREFECT_API_URL set; each event triggers the `crisis-response` deployment, the worker runs it,
and the crisis notices arrive by SMTP, each exactly once.

The server runs without its scheduler service (`--no-scheduler`), so the cron deployments get no
runs here: the only flow runs are the ones the crisis events trigger, whatever the wall clock.
Every subprocess runs in its own process group and is killed (with whatever it started) at the
end; the databases are dropped.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests.conftest import EXAMPLE, PG_SERVER, ROOT
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus

BIN = Path(sys.executable).parent
POOL = "veiligheid"  # prefect.yaml's work pool
DEPLOYMENT = "crisis-response"
TIMEOUT = 120.0  # seconds, for each wait; a healthy run needs a fraction of it
DECLARED_AT = "2023-10-02T10:00"
ENDED_AT = "2023-10-06T16:00"
THEME = "VEERKRACHTIGE_WIJKEN"


# --- small helpers ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    """The parent environment without any PREFECT_* / VEILIGHEID_* setting, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "VEILIGHEID_")) and k != "PYTHONPATH"
    }
    env.update(extra)
    return env


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (Linux /proc; empty elsewhere). Prefect starts each flow run
    in a session of its own, so killing the worker's process group alone can miss it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Service:
    """A long-running subprocess in its own process group, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log = logs / f"{name}.log"
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text_ = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return f"--- {self.name} (last {lines} lines) ---\n" + "\n".join(
            text_.splitlines()[-lines:]
        )

    def stop(self) -> None:
        descendants = _children(self.popen.pid)
        if self.alive():
            _signal_group(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                _signal_group(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
        for pid in descendants:  # flow-run processes in their own session
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _run(args: list[str], env: dict[str, str], timeout: float = 60) -> str:
    """A short command (CLI call); its output, or a failure that shows it."""
    done = subprocess.run(
        args,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(args)} -> {done.returncode}\n{output}"
    return output


def _wait(what: str, check: Callable[[], Any], services: list[Service]) -> Any:
    """Poll `check` until it returns something truthy; fail early if a service died."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            result = check()
        except RunFailed as exc:
            result, reason = None, str(exc)
        else:
            reason = None
        if result:
            return result
        dead = [s for s in services if not s.alive()]
        if dead and not reason:
            reason = f"{dead[0].name} exited"
        if not reason and time.monotonic() > deadline:
            reason = f"no result after {TIMEOUT:.0f} s"
        if reason:
            logs = "\n".join(s.tail() for s in services)
            pytest.fail(f"waiting for {what}: {reason}\n{logs}")
        time.sleep(0.25)


class RunFailed(Exception):
    """A flow run reached a final state other than COMPLETED."""


class Inbox:
    """The SMTP server's side: every accepted message, with its envelope recipients."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def messages(self) -> list[tuple[list[str], email.message.EmailMessage]]:
        with self.lock:
            return list(self.received)


class Timings:
    def __init__(self) -> None:
        self.start = self.mark = time.perf_counter()
        self.steps: list[tuple[str, float]] = []

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.steps.append((step, now - self.mark))
        self.mark = now

    def report(self) -> str:
        total = time.perf_counter() - self.start
        return "server topology timings: " + ", ".join(
            [f"{s} {d:.1f}s" for s, d in self.steps] + [f"total {total:.1f}s"]
        )


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def databases(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """Two new databases on the local PostgreSQL: (prefect asyncpg URL, app psycopg URL)."""
    if request.config.getoption("--db") == "sqlite":
        pytest.skip("server mode needs PostgreSQL (--db sqlite given)")
    base = make_url(PG_SERVER)
    names = [f"vf_topo_{uuid.uuid4().hex[:10]}_{part}" for part in ("prefect", "app")]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    created: list[str] = []
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
                created.append(name)
        prefect_url = base.set(drivername="postgresql+asyncpg", database=names[0])
        app_url = base.set(drivername="postgresql+psycopg", database=names[1])
        yield (
            prefect_url.render_as_string(hide_password=False),
            app_url.render_as_string(hide_password=False),
        )
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


# --- the test ---------------------------------------------------------------------------------


def _flow_runs(api_url: str) -> list[Any]:
    """The crisis-response deployment's flow runs, read with Prefect's own client."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    with SyncPrefectClient(api=api_url) as client:
        return client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[DEPLOYMENT]))
        )


def _health(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _outbox(app_url: str) -> list[OutboxMessage]:
    """The crisis notices in the app's outbox (detached rows)."""
    engine = create_engine(app_url)
    try:
        with Session(engine) as session:
            rows = list(
                session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.kind == "crisis")
                    .order_by(OutboxMessage.id)
                )
            )
            session.expunge_all()
            return rows
    finally:
        engine.dispose()


def test_crisis_events_run_the_deployment_on_a_worker_and_mail_arrives_once(
    databases: tuple[str, str],
    inbox: tuple[Inbox, int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefect_db, app_db = databases
    handler, smtp_port = inbox
    timings = Timings()
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    logs = tmp_path / "logs"
    logs.mkdir()

    server_env = _clean_env(
        PREFECT_HOME=str(tmp_path / "server-home"),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=prefect_db,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_SERVER_LOGGING_LEVEL="INFO",
    )
    client_env = _clean_env(
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(tmp_path / "client-home"),
        PWD=str(ROOT),  # prefect.yaml's pull step: set_working_directory "{{ $PWD }}"
    )
    app_env = {
        **client_env,
        "VEILIGHEID_DATABASE_URL": app_db,
        "VEILIGHEID_RULES": str(ROOT / "rules"),
        "VEILIGHEID_PROGRAMME": str(EXAMPLE),
        "VEILIGHEID_MAIL_DIR": str(tmp_path / "mail"),
        "VEILIGHEID_SMTP_HOST": "127.0.0.1",
        "VEILIGHEID_SMTP_PORT": str(smtp_port),
        "VEILIGHEID_SMTP_TIMEOUT": "10",
    }
    worker_env = {
        **app_env,
        "PREFECT_HOME": str(tmp_path / "worker-home"),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    prefect = str(BIN / "prefect")
    veiligheid = str(BIN / "veiligheid")
    services: list[Service] = []
    try:
        server = Service(
            "prefect-server",
            [
                prefect,
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-ui",
                "--no-scheduler",
            ],
            server_env,
            logs,
        )
        services.append(server)
        # Meanwhile: the app's database, migrated and loaded by the CLI.
        _run(
            [veiligheid, "load", str(EXAMPLE), "--by", "OOV1", "--now", "2023-09-29T09:00"],
            app_env,
            timeout=120,
        )
        timings("app load")
        _wait("the Prefect server's /api/health", lambda: _health(api_url), services)
        timings("server up")

        _run([prefect, "work-pool", "create", POOL, "--type", "process"], client_env)
        _run([prefect, "--no-prompt", "deploy", "--all"], client_env, timeout=120)
        timings("pool + deploy --all")
        worker = Service(
            "prefect-worker",
            [prefect, "worker", "start", "--pool", POOL, "--name", "topology-test"],
            worker_env,
            logs,
        )
        services.append(worker)

        # 1. Declare: the CLI commits, queues the notices and emits the event.
        output = _run(
            [
                veiligheid,
                "crisis",
                "declare",
                "Grote brand",
                "--grip",
                "2",
                "--by",
                "burgemeester",
                "--theme",
                THEME,
                "--now",
                DECLARED_AT,
            ],
            app_env,
        )
        assert "veiligheid.crisis.declared" in output, output
        crisis_id = int(re.search(r"Crisis (\d+) vastgelegd", output).group(1))
        timings("crisis declare")
        declared = _outbox(app_db)
        assert declared, "the crisis paused no one's work: no notices queued"
        assert {r.status for r in declared} == {OutboxStatus.PENDING}

        runs = _wait("a COMPLETED crisis-response run", lambda: _completed(api_url, 1), services)
        timings("declared run completed")
        assert runs[0].parameters["crisis_id"] == f"veiligheid.crisis.{crisis_id}"
        assert runs[0].work_pool_name == POOL
        _wait(
            "the declared notices by SMTP",
            lambda: len(handler.messages()) >= len(declared),
            services,
        )
        _assert_delivered_once(handler, _outbox(app_db), heading="Crisis: Grote brand")

        # 2. End: a second event, a second run; the first notices are not sent again.
        output = _run(
            [
                veiligheid,
                "crisis",
                "end",
                str(crisis_id),
                "--by",
                "burgemeester",
                "--now",
                ENDED_AT,
            ],
            app_env,
        )
        assert "veiligheid.crisis.ended" in output, output
        ended = [r for r in _outbox(app_db) if r.id not in {d.id for d in declared}]
        assert ended, "ending the crisis resumed no one's work: no notices queued"
        runs = _wait(
            "a second COMPLETED crisis-response run", lambda: _completed(api_url, 2), services
        )
        timings("ended run completed")
        assert len(runs) == 2, [(r.name, r.state_name) for r in runs]
        _wait(
            "the end notices by SMTP",
            lambda: len(handler.messages()) >= len(declared) + len(ended),
            services,
        )
        time.sleep(1)  # a late duplicate would arrive now
        rows = _outbox(app_db)
        _assert_delivered_once(handler, rows, heading=None)
        subjects = Counter(msg["Subject"].split(" — ")[0] for _, msg in handler.messages())
        assert subjects == {
            "Crisis: Grote brand": len(declared),
            "Crisis beëindigd: Grote brand": len(ended),
        }
        assert len(_flow_runs(api_url)) == 2  # no other run of it was triggered
        assert worker.alive() and server.alive()
    finally:
        for service in reversed(services):
            service.stop()
        timings("stop")
        with capsys.disabled():  # shown even under -q: the cost of this test
            print(f"\n{timings.report()}")


def _completed(api_url: str, count: int) -> list[Any] | None:
    runs = _flow_runs(api_url)
    failed = [r for r in runs if r.state and r.state.is_final() and not r.state.is_completed()]
    if failed:
        raise RunFailed(f"crisis-response run ended {failed[0].state_name}: {failed[0].state}")
    done = [r for r in runs if r.state and r.state.is_completed()]
    return done if len(done) >= count else None


def _assert_delivered_once(handler: Inbox, rows: list[Any], heading: str | None) -> None:
    """Every crisis notice in the outbox arrived once, to its recipient, with its subject."""
    received = handler.messages()
    ids = Counter(msg["Message-ID"] for _, msg in received)
    assert all(n == 1 for n in ids.values()), f"delivered more than once: {ids.most_common(3)}"
    by_id = {row.message_id: row for row in rows}
    assert set(ids) == set(by_id), (sorted(ids), sorted(by_id))
    for rcpt_tos, msg in received:
        row = by_id[msg["Message-ID"]]
        assert row.status == OutboxStatus.SENT
        assert sorted(rcpt_tos) == sorted([row.recipient, *row.cc])
        assert [a.addr_spec for a in msg["To"].addresses] == [row.recipient]
        assert msg["Subject"] == row.subject
        if heading:
            assert msg["Subject"].startswith(f"{heading} — ")
    recipients = Counter(row.recipient for row in rows)
    assert all(n <= 2 for n in recipients.values())  # at most a declare and an end notice
