"""Several runners at once on one database never do a job slot twice nor send a mail twice.

Every runner here is a separate `App` (its own engine and connections, as a separate process
would have) or a separate OS process, against the test's database; mail goes to a real SMTP
server (aiosmtpd) on loopback that counts every message by Message-ID and outbox key.

What a correct outcome is, is not written down here: it is what one runner alone produces on an
identical fresh database (`reference`, computed once per backend and scenario). The racing
runners must end with exactly that: the same outbox keys, every one delivered exactly once, the
same covered slot per job, and each due slot reported as covered by exactly one runner.

Scenarios (see SCENARIOS): `first_run`, no job has a covered slot yet, so there is no JobRun
row to lock: only the keys (JobRun, outbox) and the evaluation mark's lock keep the runners
apart, and a loser's transaction must fail whole; `catch_up`, every job covered a slot a week
earlier, so the runners meet at the JobRun row lock (SELECT ... FOR UPDATE) and all but one find
the slot covered.

SQLite takes the write lock at BEGIN (BEGIN IMMEDIATE), so there every transaction runs alone and
the runners interleave only between transactions; the tests run there too (that interleaving
must be just as safe). Only what needs PostgreSQL's lock view (pg_stat_activity) is PostgreSQL
only: holding separate processes at a table lock so they start at the same instant, and proving
that a survivor really waited on a lock before its rival was killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, create_engine, event, select, text

from tests.conftest import EXAMPLE, PG_SERVER, ROOT, at
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import JOBS, JOBS_BY_NAME, JobResult, run_due, run_job
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.db import Base, make_engine, upgrade
from veiligheid_flow.entrypoints.scheduler import DISPATCH, build_scheduler, direct_runner
from veiligheid_flow.mail.dispatch import STALE_AFTER, retry
from veiligheid_flow.mail.models import JobRun, OutboxMessage, OutboxStatus
from veiligheid_flow.models import import_all
from veiligheid_flow.settings import Settings

VEILIGHEID = Path(sys.executable).with_name("veiligheid")
LOAD_AT = "2023-09-22T09:00"
TIMEOUT = 60.0  # generous: every wait in this file ends long before this on a sane machine
RUNNER_THREADS = 4
RUNNER_PROCESSES = 2


@dataclass(frozen=True)
class Scenario:
    before: tuple[str, ...]  # moments one runner alone runs first (set-up, not raced)
    race: str  # the moment the runners race for


SCENARIOS = {
    # Nothing covered yet; at this moment all four jobs have mail (reminders, overdue, council
    # alerts and the week's digest).
    "first_run": Scenario((), "2023-12-22T08:05"),
    # Covered a week before: the race catches up six days of lead days in one go.
    "catch_up": Scenario(("2023-09-22T09:05",), "2023-09-28T08:05"),
}
# The serve-like runners: Thursday (the first run, no JobRun rows yet; the week's digest
# included) to Monday (the next digest), over a weekend; all four jobs have mail.
DAYS = tuple((at("2023-09-28T08:05") + timedelta(days=n)).isoformat() for n in range(5))


# --- the SMTP server ------------------------------------------------------------------------------


class MailServer:
    """aiosmtpd on loopback; keeps every accepted message. `hold_next()` makes the next DATA
    wait for ever without an answer (the client is stuck mid-send until it dies)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()
        self._hold = False
        self.holding = threading.Event()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def hold_next(self) -> None:
        with self.lock:
            self._hold = True

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        with self.lock:
            hold, self._hold = self._hold, False
        if hold:
            self.holding.set()
            await asyncio.Event().wait()  # aiosmtpd cancels this when the client goes away
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(msg["Message-ID"] for _, msg in self.received)

    def keys(self) -> Counter[str]:
        with self.lock:
            return Counter(msg["X-Veiligheid-Key"] for _, msg in self.received)


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def runner_settings(
    settings: Settings, smtp: MailServer, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The test's settings with SMTP to `smtp`; exported too, for runner processes."""
    monkeypatch.setenv("VEILIGHEID_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("VEILIGHEID_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("VEILIGHEID_SMTP_TIMEOUT", "30")
    return Settings()


# --- helpers --------------------------------------------------------------------------------------


def _tagged(url: str, tag: str) -> str:
    """The URL with a PostgreSQL application_name, so a runner's sessions can be found in
    pg_stat_activity; SQLite URLs are returned as they are."""
    return f"{url}&application_name={tag}" if url.startswith("postgresql") else url


def _runner(settings: Settings, tag: str) -> App:
    """A runner: its own App, engine and connections; warmed up so a start is a real start."""
    app = bootstrap(
        settings.model_copy(update={"database_url": _tagged(settings.database_url, tag)}),
        migrate=False,
    )
    with app.engine.connect():
        pass
    app.rulebook()
    return app


def _rows(app: App) -> list[OutboxMessage]:
    with app.sessions() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
    return rows


def _job_runs(app: App) -> dict[str, str]:
    with app.sessions() as session:
        return {r.job: r.last_slot for r in session.scalars(select(JobRun))}


def _sent_audit(app: App) -> Counter[str]:
    with app.sessions() as session:
        return Counter(
            session.scalars(
                select(AuditEntry.object_id).where(AuditEntry.action == "email.sent")
            )
        )


def _run_setup(app: App, moments: tuple[str, ...]) -> None:
    for moment in moments:
        run_due(app, now=at(moment))


def _waiting_on_lock(admin: Engine, tag: str) -> int:
    """How many sessions named `tag` wait for a lock (row, tuple, transaction or table)."""
    with admin.connect() as conn:
        return conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = :tag AND wait_event_type = 'Lock'"
            ),
            {"tag": tag},
        )


def _until(condition: Callable[[], bool], what: str, alive: Callable[[], None] | None = None):
    """Wait for an observable condition (not for time to pass); fail after TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


# --- the reference: one runner alone on an identical fresh database -------------------------------


@dataclass(frozen=True)
class Outcome:
    keys: frozenset[str]
    job_runs: dict[str, str]
    last: dict[str, tuple[date | None, int]]  # per job, the slot and count of the last moment

    def new_at_last(self) -> int:
        return sum(n for _, n in self.last.values())


_REFERENCES: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Outcome] = {}


@pytest.fixture(scope="module")
def reference_pg() -> Iterator[Callable[[], str]]:
    """A second PostgreSQL schema, made empty on each call (a fresh database)."""
    schema = f"vf_ref_{uuid.uuid4().hex[:12]}"
    url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    created = False

    def fresh() -> str:
        nonlocal created
        if not created:
            with admin.connect() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            created = True
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
            return url
        import_all()
        engine = make_engine(url)
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return url

    yield fresh
    if created:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def reference(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[tuple[str, ...], tuple[str, ...]], Outcome]:
    def compute(before: tuple[str, ...], moments: tuple[str, ...]) -> Outcome:
        key = (backend, before, moments)
        if key in _REFERENCES:
            return _REFERENCES[key]
        folder = tmp_path_factory.mktemp("reference")
        if backend == "sqlite":
            shutil.copy(request.getfixturevalue("sqlite_template"), folder / "ref.db")
            url = f"sqlite:///{folder / 'ref.db'}"
        else:
            url = request.getfixturevalue("reference_pg")()
        server = MailServer()
        server.start()
        app = bootstrap(
            Settings(
                database_url=url, mail_dir=folder / "mail", rules=ROOT / "rules",
                programme=EXAMPLE, smtp_host="127.0.0.1", smtp_port=server.port,
                smtp_user=None, smtp_password=None, smtp_timeout=30.0,
            ),
            migrate=False,
        )
        try:
            commands.load(app, EXAMPLE, now=at(LOAD_AT), by=SYSTEM)
            _run_setup(app, before)
            last: dict[str, tuple[date | None, int]] = {}
            for moment in moments:
                results, _ = run_due(app, now=at(moment))
                last = {r.job: (r.slot, r.enqueued) for r in results}
            rows = _rows(app)
            assert {r.status for r in rows} == {OutboxStatus.SENT}
            assert server.message_ids() == Counter({r.message_id: 1 for r in rows})
            outcome = Outcome(frozenset(r.key for r in rows), _job_runs(app), last)
        finally:
            app.close()
            server.stop()
        _REFERENCES[key] = outcome
        return outcome

    return compute


def assert_exactly_once(app: App, smtp: MailServer, expected: Outcome) -> list[OutboxMessage]:
    """The database and the SMTP server hold what one runner alone would have produced, every
    message delivered exactly once."""
    rows = _rows(app)
    assert Counter(r.status for r in rows) == {OutboxStatus.SENT: len(rows)}
    keys = Counter(r.key for r in rows)
    assert max(keys.values()) == 1
    assert set(keys) == expected.keys  # nothing lost, nothing extra
    assert smtp.keys() == keys  # every outbox key reached the server exactly once
    assert smtp.message_ids() == Counter({r.message_id: 1 for r in rows})
    assert _sent_audit(app) == Counter({str(r.id): 1 for r in rows})  # sent once, by one runner
    assert _job_runs(app) == expected.job_runs
    return rows


def assert_each_slot_once(per_runner: list[list[JobResult]], expected: Outcome) -> None:
    """Every due slot reported covered by exactly one runner, with the messages one runner
    alone would have queued; the other runners did not run it."""
    for job in JOBS:
        slot, count = expected.last[job.name]
        covered = [r for results in per_runner for r in results if r.job == job.name and r.slot]
        if slot is None:
            assert covered == []
        else:
            assert [(r.slot, r.enqueued) for r in covered] == [(slot, count)], job.name


# --- runners started at the same moment: threads --------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_runner_threads_at_the_same_moment(app, runner_settings, smtp, reference, scenario):
    case = SCENARIOS[scenario]
    expected = reference(case.before, (case.race,))
    assert expected.new_at_last() >= 10 and sum(bool(s) for s, _ in expected.last.values()) >= 3

    commands.load(app, EXAMPLE, now=at(LOAD_AT), by=SYSTEM)
    runners = [_runner(runner_settings, f"vf_thread_{i}") for i in range(RUNNER_THREADS)]
    try:
        _run_setup(runners[0], case.before)
        barrier = threading.Barrier(RUNNER_THREADS, timeout=TIMEOUT)
        results: list[list[JobResult]] = [[] for _ in runners]
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                barrier.wait()
                results[i], _ = run_due(runners[i], now=at(case.race))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        started = time.perf_counter()
        threads = [threading.Thread(target=work, args=(i,)) for i in range(RUNNER_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        elapsed = time.perf_counter() - started
        assert not any(t.is_alive() for t in threads), "a runner hangs"
        assert errors == []
        assert_each_slot_once(results, expected)
        rows = assert_exactly_once(app, smtp, expected)
        again, _ = run_due(runners[1], now=at(case.race) + timedelta(hours=1))
        assert all(r.slot is None for r in again) and len(_rows(app)) == len(rows)
    finally:
        for runner in runners:
            runner.close()
    print(f"\n[threads/{scenario}] runners={RUNNER_THREADS} messages={len(rows)} "
          f"new={expected.new_at_last()} race={elapsed:.2f}s")


# --- runners started at the same moment: `veiligheid run` processes -------------------------------

RUN_LINE = re.compile(r"^(\w+): (\d+) bericht\(en\) voor (\d{4}-\d\d-\d\d)$", re.M)


def test_run_processes_at_the_same_moment(app, runner_settings, smtp, reference, backend, tmp_path):
    """`veiligheid run --now` in several processes at once, on the first run (no JobRun row to
    lock yet; the catch-up lock path is the threads' test). On PostgreSQL
    the test holds an exclusive lock on job_run until every process waits for it, then lets go:
    they start the race at the same instant. SQLite has no such lock view (and would make them
    queue anyway); there they start as they come."""
    scenario = "first_run"
    case = SCENARIOS[scenario]
    expected = reference(case.before, (case.race,))
    commands.load(app, EXAMPLE, now=at(LOAD_AT), by=SYSTEM)
    setup = _runner(runner_settings, "vf_setup")
    try:
        _run_setup(setup, case.before)
    finally:
        setup.close()

    tag = f"vf_run_{uuid.uuid4().hex[:8]}"
    env = os.environ.copy()
    env["VEILIGHEID_DATABASE_URL"] = _tagged(runner_settings.database_url, tag)
    gate = app.engine.connect() if backend == "postgresql" else None
    children: list[subprocess.Popen[str]] = []
    logs = []
    started = time.perf_counter()
    try:
        if gate is not None:
            gate.begin()
            gate.execute(text("LOCK TABLE job_run IN ACCESS EXCLUSIVE MODE"))
        for i in range(RUNNER_PROCESSES):
            logs += [(tmp_path / f"run{i}.out").open("w"), (tmp_path / f"run{i}.err").open("w")]
            children.append(
                subprocess.Popen(
                    [str(VEILIGHEID), "run", "--now", case.race],
                    env=env, cwd=tmp_path, text=True, stdout=logs[-2], stderr=logs[-1],
                )
            )

        def none_ended() -> None:
            for i, child in enumerate(children):
                if child.poll() is not None:
                    pytest.fail(f"runner {i} ended early: {(tmp_path / f'run{i}.err').read_text()}")

        if gate is not None:
            _until(lambda: _waiting_on_lock(app.engine, tag) == RUNNER_PROCESSES,
                   "every runner to wait at the gate", none_ended)
            gate.commit()  # the gate opens: all runners go at once
        for child in children:
            child.wait(TIMEOUT)
    finally:
        if gate is not None:
            gate.close()
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(10)
        for log in logs:
            log.close()
    elapsed = time.perf_counter() - started

    outputs = [(tmp_path / f"run{i}.out").read_text() for i in range(RUNNER_PROCESSES)]
    errors = [(tmp_path / f"run{i}.err").read_text() for i in range(RUNNER_PROCESSES)]
    assert [c.returncode for c in children] == [0] * RUNNER_PROCESSES, errors
    assert all("Traceback" not in e for e in errors), errors
    covered = Counter()
    for out in outputs:
        for job, count, slot in RUN_LINE.findall(out):
            covered[job, date.fromisoformat(slot), int(count)] += 1
    assert covered == Counter(
        {(job, slot, n): 1 for job, (slot, n) in expected.last.items() if slot}
    ), outputs
    sent = sum(int(m) for out in outputs for m in re.findall(r"outbox: (\d+) verstuurd", out))
    assert sent == expected.new_at_last()
    rows = assert_exactly_once(app, smtp, expected)
    print(f"\n[processes/{scenario}] runners={RUNNER_PROCESSES} messages={len(rows)} "
          f"new={sent} wall={elapsed:.2f}s")


# --- serve-like runners (APScheduler) racing over simulated days ----------------------------------


class SimulatedClock:
    def __init__(self) -> None:
        self._now = at(DAYS[0])
        self._lock = threading.Lock()

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def __call__(self) -> datetime:
        with self._lock:
            return self._now


def test_two_serve_schedulers_race_over_days(app, runner_settings, smtp, reference):
    """Two `serve` schedulers (build_scheduler + direct_runner, as `veiligheid serve` builds
    them), each its own App, on one database. Each simulated day at 08:05 every job of both
    schedulers is fired at once (APScheduler runs them in its thread pool: the four jobs and the
    dispatcher of one runner race each other as well as the other runner's); the next day starts
    when all have run and none is running."""
    expected = reference((), DAYS)
    commands.load(app, EXAMPLE, now=at(LOAD_AT), by=SYSTEM)
    clock = SimulatedClock()
    names = [job.name for job in JOBS] + [DISPATCH]
    done: dict[datetime, set[tuple[str, str]]] = defaultdict(set)
    state = {"active": 0, "peak": 0}
    errors: list[str] = []
    changed = threading.Condition()

    def tracked(tag: str, inner: Callable[[str, datetime], str]) -> Callable[[str, datetime], str]:
        def run(name: str, now: datetime) -> str:
            with changed:
                state["active"] += 1
                state["peak"] = max(state["peak"], state["active"])
            try:
                return inner(name, now)
            except BaseException as exc:
                errors.append(f"{tag}/{name} at {now}: {exc!r}")
                raise
            finally:
                with changed:
                    state["active"] -= 1
                    done[now].add((tag, name))
                    changed.notify_all()

        return run

    runners = {tag: _runner(runner_settings, f"vf_serve_{tag}") for tag in ("a", "b")}
    schedulers = [
        build_scheduler(runner, tracked(tag, direct_runner(runner)), clock, lambda _line: None)
        for tag, runner in runners.items()
    ]
    started = time.perf_counter()
    try:
        for scheduler in schedulers:
            scheduler.start()
        for day in DAYS:
            moment = at(day)
            clock.set(moment)
            fire = datetime.now(schedulers[0].timezone)
            for scheduler in schedulers:
                for job in scheduler.get_jobs():
                    scheduler.modify_job(job.id, next_run_time=fire)
            wanted = {(tag, name) for tag in runners for name in names}
            with changed:
                finished = changed.wait_for(
                    lambda m=moment, w=wanted: w <= done[m] and state["active"] == 0, TIMEOUT
                )
            assert finished, f"{day}: ran {sorted(done[moment])}"
    finally:
        for scheduler in schedulers:
            if scheduler.running:
                scheduler.shutdown(wait=True)
        for runner in runners.values():
            runner.close()
    elapsed = time.perf_counter() - started

    assert errors == []
    assert state["peak"] >= 2  # the runs really overlapped
    rows = assert_exactly_once(app, smtp, expected)
    assert {r.kind for r in rows} >= {"reminder", "digest"}
    print(f"\n[serve x2] days={len(DAYS)} messages={len(rows)} "
          f"peak_parallel_runs={state['peak']} wall={elapsed:.2f}s")


# --- a runner killed or failing mid-way while another continues -----------------------------------

# The doomed runner: an ordinary run_due, except that right after it has queued its first
# messages (inside the job's transaction: the slot is not yet committed and it holds the locks)
# it says so and waits for a line on stdin. The test then kills it, or sends a line and the
# runner fails with an exception.
DOOMED = """
import sys
from veiligheid_flow.bootstrap import bootstrap
from veiligheid_flow.clock import parse_now
from veiligheid_flow.app.jobs import run_due
from veiligheid_flow.mail import compose

now = parse_now(sys.argv[1])
enqueue = compose.enqueue

def enqueue_then_stop(session, drafts, *, now, domain=None):
    added = enqueue(session, drafts, now=now, domain=domain)
    if added:
        print("holding", added, flush=True)
        sys.stdin.readline()
        # Not an Exception: run_due goes on after a failed job (ops), this must stop it.
        raise KeyboardInterrupt("runner fails mid-way")
    return added

compose.enqueue = enqueue_then_stop
run_due(bootstrap(migrate=False), now=now)
"""

# A runner that is killed while its SMTP server has not yet answered a message.
PLAIN = """
import sys
from veiligheid_flow.bootstrap import bootstrap
from veiligheid_flow.clock import parse_now
from veiligheid_flow.app.jobs import run_due

run_due(bootstrap(migrate=False), now=parse_now(sys.argv[1]))
"""


def _read_line(stream, what: str) -> str:  # noqa: ANN001
    """One line from a child's stdout, waiting at most TIMEOUT for it."""
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(TIMEOUT)
    if not box or not box[0]:
        pytest.fail(f"no {what} from the runner")
    return box[0]


def _start_survivor(
    runner: App, now: datetime
) -> tuple[threading.Thread, list[list[JobResult]], list[BaseException], threading.Event]:
    """The other runner, in a thread: run_due at `now`. The event is set when it takes a
    connection for its first transaction (right before its BEGIN)."""
    began = threading.Event()
    event.listen(runner.engine.pool, "checkout", lambda *_args: began.set())
    results: list[list[JobResult]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(run_due(runner, now=now)[0])
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    return thread, results, errors, began


@pytest.mark.parametrize(
    ("scenario", "how"),
    [("first_run", "killed"), ("catch_up", "fails")],
)
def test_runner_dies_holding_the_slot_the_other_takes_over(
    app, runner_settings, smtp, reference, backend, tmp_path, scenario, how
):
    """The doomed runner stops inside a job's transaction, after queuing messages, while the
    other runner is already waiting for that job (on PostgreSQL: proved via pg_stat_activity;
    on SQLite it waits for the database's write lock). SIGKILL, or an exception: its
    transaction is rolled back whole and the other runner does the job and sends the mail."""
    case = SCENARIOS[scenario]
    expected = reference(case.before, (case.race,))
    commands.load(app, EXAMPLE, now=at(LOAD_AT), by=SYSTEM)
    tag = f"vf_survivor_{uuid.uuid4().hex[:8]}"
    survivor = _runner(runner_settings, tag)
    _run_setup(survivor, case.before)
    child = subprocess.Popen(
        [sys.executable, "-c", DOOMED, case.race],
        env=os.environ.copy(), cwd=tmp_path, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        held = _read_line(child.stdout, "'holding'")
        assert held.startswith("holding")
        thread, results, errors, began = _start_survivor(survivor, at(case.race))
        assert began.wait(TIMEOUT)
        if backend == "postgresql":
            _until(lambda: _waiting_on_lock(app.engine, tag) == 1, "the survivor to wait")
        assert thread.is_alive()  # it cannot get past the doomed runner's transaction
        if how == "killed":
            child.kill()
            assert child.wait(TIMEOUT) == -signal.SIGKILL
        else:
            child.stdin.write("fail now\n")
            child.stdin.flush()
            assert child.wait(TIMEOUT) != 0
            assert "KeyboardInterrupt: runner fails mid-way" in child.stderr.read()
        thread.join(TIMEOUT)
        assert not thread.is_alive() and errors == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        for stream in (child.stdin, child.stdout, child.stderr):
            stream.close()
        survivor.close()

    # Jobs with nothing to send before the doomed one were committed by the doomed runner;
    # everything with mail is the survivor's, exactly as one runner alone would have done it.
    [survivor_results] = results
    by_survivor = {r.job: (r.slot, r.enqueued) for r in survivor_results if r.slot}
    assert sum(n for _, n in by_survivor.values()) == expected.new_at_last()
    for job, (slot, n) in expected.last.items():
        if n:
            assert by_survivor[job] == (slot, n)
    rows = assert_exactly_once(app, smtp, expected)
    print(f"\n[{how}/{scenario}] held='{held.strip()}' messages={len(rows)} "
          f"survivor_covered={sorted(by_survivor)}")


def test_runner_killed_mid_send_other_sends_the_rest(
    app, runner_settings, smtp, reference, tmp_path
):
    """The doomed runner composes everything and is killed while the SMTP server has not
    answered its first message. The other runner, meanwhile, finds every slot covered and sends
    all the rest (not the one in flight). A later run marks the in-flight one uncertain (SMTP
    cannot prove delivery) and does not resend it by itself; the documented check (its fixed
    Message-ID is not in the server's log) and `outbox retry` send it once."""
    case = SCENARIOS["catch_up"]
    expected = reference(case.before, (case.race,))
    commands.load(app, EXAMPLE, now=at(LOAD_AT), by=SYSTEM)
    survivor = _runner(runner_settings, "vf_survivor")
    try:
        _run_setup(survivor, case.before)
        before_race = len(_rows(app))
        smtp.hold_next()
        # It must still be waiting for the answer when it is killed, however slow the machine.
        env = {**os.environ, "VEILIGHEID_SMTP_TIMEOUT": "600"}
        err = (tmp_path / "doomed.err").open("w")
        child = subprocess.Popen(
            [sys.executable, "-c", PLAIN, case.race],
            env=env, cwd=tmp_path, text=True, stdout=subprocess.DEVNULL, stderr=err,
        )
        try:
            assert smtp.holding.wait(TIMEOUT), (tmp_path / "doomed.err").read_text()
            thread, results, errors, _ = _start_survivor(survivor, at(case.race))
            thread.join(TIMEOUT)
            assert not thread.is_alive() and errors == []
            assert all(r.slot is None for r in results[0])  # the doomed runner covered them
            in_flight = [r for r in _rows(app) if r.status == OutboxStatus.SENDING]
            assert len(in_flight) == 1
            assert len(smtp.message_ids()) == len(_rows(app)) - 1
        finally:
            child.kill()
            child.wait(TIMEOUT)
            err.close()
        [stuck] = in_flight
        assert stuck.message_id not in smtp.message_ids()  # the kill cancelled it on the server

        later = at(case.race) + STALE_AFTER + timedelta(minutes=1)
        _, report = run_due(survivor, now=later)
        assert report.recovered == {stuck.id: "uncertain"} and report.sent == []
        _, report = run_due(survivor, now=later + timedelta(hours=2))
        assert report.sent == [] and report.recovered == {}  # never resent by itself
        assert stuck.message_id not in smtp.message_ids()  # the person's check of the mail log
        with survivor.unit_of_work() as session:
            retry(session, stuck.id, now=later + timedelta(hours=3))
        _, report = run_due(survivor, now=later + timedelta(hours=3))
        assert report.sent == [stuck.id]
    finally:
        survivor.close()
    rows = assert_exactly_once(app, smtp, expected)
    print(f"\n[killed mid-send] messages={len(rows)} before_race={before_race} "
          f"in_flight_retried={stuck.id}")


# --- the first evaluations after `db upgrade` to 0004 (a race found here, now fixed) -------------


def test_jobs_racing_for_the_first_evaluation_mark_are_all_covered(
    app, runner_settings, reference, backend
):
    """Two jobs start at the same moment in two runners (as the Prefect deployments at 08:00,
    or serve's thread pool) on a database whose evaluation mark row is missing. Before the fix
    both found no mark, both evaluated and inserted it; the second commit failed with an
    IntegrityError on the mark's key, which run_job swallowed as if another runner had covered
    *its* slot, so that job silently skipped the day. Now the migration creates the row and
    evaluate inserts a missing one with ON CONFLICT DO NOTHING before locking it: the second
    runner waits and goes on. Expected: both jobs covered in this run.

    The barrier makes both transactions that read the mark as missing wait for each other
    before either goes on (the old race, every time); a runner that reads it present passes
    straight on, and the barrier gives up after a timeout, so the test cannot hang.
    SQLite takes the write lock at BEGIN: there the second runner always sees the first one's
    mark, so the race cannot happen."""
    if backend != "postgresql":
        pytest.skip("SQLite serialises whole transactions (BEGIN IMMEDIATE): no such race")
    case = SCENARIOS["catch_up"]
    expected = reference(case.before, (case.race,))
    commands.load(app, EXAMPLE, now=at(LOAD_AT), by=SYSTEM)
    jobs = ("reminders", "overdue")
    assert all(expected.last[name][1] > 0 for name in jobs)
    runners = [_runner(runner_settings, f"vf_mark_{name}") for name in jobs]
    try:
        _run_setup(runners[0], case.before)
        with app.engine.begin() as conn:
            conn.execute(text("DELETE FROM evaluation_mark"))  # as just after the migration
        meet = threading.Barrier(len(runners), timeout=20)

        def after_mark_read(_conn, cursor, statement, *_args) -> None:  # noqa: ANN001
            # Only a runner that found no mark waits for the other: that is the race. A runner
            # that found it (as with the fix, after waiting its turn) goes on at once.
            mark_read = "FROM evaluation_mark" in statement and "FOR UPDATE" in statement
            if mark_read and cursor.rowcount == 0:
                with contextlib.suppress(threading.BrokenBarrierError):
                    meet.wait()

        for runner in runners:
            event.listen(runner.engine, "after_cursor_execute", after_mark_read)
        results: dict[str, JobResult] = {}
        errors: list[BaseException] = []

        def work(runner: App, name: str) -> None:
            try:
                results[name] = run_job(runner, JOBS_BY_NAME[name], now=at(case.race))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=(runner, name))
            for runner, name in zip(runners, jobs, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        if any(t.is_alive() for t in threads) or errors:
            pytest.fail(f"runner hangs or failed: {errors}")  # not the expected failure
    finally:
        for runner in runners:
            runner.close()
    covered = {name: (results[name].slot, results[name].enqueued) for name in jobs}
    assert covered == {name: expected.last[name] for name in jobs}
    assert {k: v for k, v in _job_runs(app).items() if k in jobs} == {
        name: expected.job_runs[name] for name in jobs
    }
