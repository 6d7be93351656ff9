"""Benchmark: a region of municipalities on SQLite and PostgreSQL, each operation against its
limit (the plainest hand-written SQL computing the same result, same process, same data).

    .venv/bin/python bench/region.py                                   # 10k, 100k, 1m × both
    .venv/bin/python bench/region.py --sizes 10k --backends sqlite     # a quick look
    .venv/bin/python bench/region.py --sizes 1m --profile sweep,declare,end

Sizes are municipalities (bench/region_gen.py: ~2,930 task occurrences each over 2023–2024):
10k = 4, 100k = 34, 1m = 342, plus one more that is loaded as an operation. Every (size,
backend) runs in a fresh child process, on a fresh database (a SQLite file in a temporary folder,
or a PostgreSQL schema that is dropped afterwards), in this order:

1. region build   every programme through `commands.load`, one transaction each (load at
                  2023-01-02 09:00);
2. load           one more programme (`commands.load`) — limit: its rows with executemany;
3. reload         the same file again, unchanged — limit: read the file, compare with the rows;
4. sweep          the daily jobs of `jobs.JOBS` (reminders, overdue + escalations, council
                  alerts) via `jobs.run_job` at Monday 2023-01-16 08:05 — limit: the
                  (recipient, task) pairs due, by SQL over precomputed due dates. It is the
                  overdue job's first run, so (the first-run rule) it sends each person one
                  `summary` (late work and work due within 10 working days) instead of overdue
                  notices and escalations: checked as (recipient, late, soon) from the subject;
5. digests        the `weekly_digest` job at 08:10 — limit: one GROUP BY per holder and theme;
6. declare        a crisis (themes T01 and T02 in as many municipalities as make ~10% of all
                  tasks) at 10:00 — limit: the plain UPDATE of the paused rows;
7. end            that crisis on Thursday 16:00 — limit: UPDATE unpausing them with the due
                  dates moved (a precomputed mapping) by the working days they lay still, only
                  for work due from the crisis's first day up to
                  `crisis_shift.displaced_within_working_days` after its last; the rest keeps
                  its date;
8. dispatch       10,000 outbox messages to aiosmtpd on loopback (bench/smtp_sink.py, its own
                  process) with `mail.dispatch.dispatch` — limit: raw smtplib over one
                  connection, then one UPDATE marking them sent; its Message-IDs lie under the
                  domain of MAIL_FROM, taken from the sender, not from the stored rows.

The limit runs first; anything it wrote is undone (not timed; on PostgreSQL followed by VACUUM
ANALYZE of the table) before ours runs on the same data. Every operation's result is checked
against the limit's (the same tasks paused, the same recipient/task pairs, the same digest
numbers, the same Message-IDs received once each) — the "check" column. Times are wall clock
(the limit includes its commit). Peak memory is the child's peak RSS during the operation (the
high-water mark is reset before it, /proc/self/clear_refs). Results go to bench/REGION.md and
bench/REGION.json.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import inspect
import json
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import (  # bench/ is on sys.path when run as a script
    BACKENDS,
    ROOT,
    code_fingerprint,
    fresh_app,
    machine_info,
)

from veiligheid_flow.authority import SYSTEM  # loads act as the system, as `start` does

SIZES = {"10k": 4, "100k": 34, "1m": 342}
LOAD_AT = "2023-01-02T09:00"
RELOAD_AT = "2023-01-02T09:10"
SWEEP_AT = "2023-01-16T08:05"
DIGEST_AT = "2023-01-16T08:10"
DECLARE_AT = "2023-01-16T10:00"
END_AT = "2023-01-19T16:00"
DISPATCH_AT = "2023-01-19T16:05"
CRISIS_THEMES = ["T01", "T02"]
CRISIS_SHARE = 0.10
DIGEST_WEEKS = 6
OPS = ("build", "load", "reload", "sweep", "digests", "declare", "end", "dispatch")
LABELS = {
    "build": "region build (every programme, `commands.load`)",
    "load": "load one more programme",
    "reload": "reload it unchanged",
    "sweep": "daily sweep (reminders, overdue, escalations, council)",
    "digests": "weekly digests",
    "declare": "declare crisis",
    "end": "end crisis",
    "dispatch": "dispatch emails (SMTP, loopback)",
}


# --- measuring -------------------------------------------------------------------------------


def _status_mib(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    gc.collect()
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)
    except OSError:
        pass


def measure(func: Callable[[], Any], profile: bool = False) -> tuple[float, Any, float, str]:
    """(seconds, result, peak RSS MiB during the call, profile text)."""
    _reset_peak()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - start
    text = ""
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(35)
        out2 = io.StringIO()
        pstats.Stats(profiler, stream=out2).sort_stats("tottime").print_stats(15)
        text = (
            _trim_profile(out.getvalue())
            + "\n--- by own time ---\n"
            + _trim_profile(out2.getvalue())
        )
    return seconds, result, _status_mib("VmHWM"), text


def _trim_profile(text: str) -> str:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(line.replace(str(ROOT) + "/", "") for line in lines[start:] if line.strip())


def emit(**values: Any) -> None:
    print(json.dumps(values, default=str), flush=True)


def _now(text: str):  # type: ignore[no-untyped-def]
    from veiligheid_flow.clock import parse_now

    return parse_now(text)


def _vacuum(app: Any, table: str) -> None:
    """PostgreSQL: clear the dead rows an undo left behind (not timed)."""
    if app.engine.dialect.name != "postgresql":
        return
    with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM ANALYZE {table}")


def _compare(name: str, ours: Any, limit: Any) -> str:
    if ours == limit:
        return "ok"
    if isinstance(ours, dict) and isinstance(limit, dict):
        keys = sorted(set(ours) | set(limit), key=str)
        diffs = [k for k in keys if ours.get(k) != limit.get(k)]
        sample = diffs[:3]
        detail = "; ".join(
            f"{k}: ours {_short(ours.get(k))} limit {_short(limit.get(k))}" for k in sample
        )
        return f"DIFFERENT {name}: {len(diffs)} of {len(keys)} differ ({detail})"
    if isinstance(ours, set) and isinstance(limit, set):
        return (
            f"DIFFERENT {name}: {len(ours - limit)} only ours, {len(limit - ours)} only limit "
            f"(e.g. {_short(sorted(ours - limit, key=str)[:2])} / "
            f"{_short(sorted(limit - ours, key=str)[:2])})"
        )
    return f"DIFFERENT {name}: ours {_short(ours)} limit {_short(limit)}"


def _short(value: Any) -> str:
    if isinstance(value, set):
        return f"{len(value)} items"
    text = repr(value)
    return text if len(text) < 120 else text[:117] + "..."


# --- the worker: one size on one backend -----------------------------------------------------


class Worker:
    def __init__(self, size: str, backend: str, messages: int, profile: set[str]) -> None:
        self.size, self.backend, self.messages, self.profile = size, backend, messages, profile
        from region_limits import thresholds

        self.limits = thresholds(ROOT / "rules")

    def run(self) -> None:
        from region_gen import DAYS_OFF, municipalities, write

        from veiligheid_flow.workdays import WorkCalendar

        self.cal = WorkCalendar(DAYS_OFF)
        count = SIZES[self.size]
        with tempfile.TemporaryDirectory(prefix="vf-region-") as tmp:
            region = municipalities(count + 1)
            files = [write(m, Path(tmp)) for m in region]
            self.region, self.files = region, files
            emit(step="baseline", rss_mib=_status_mib("VmRSS"), municipalities=count)
            with fresh_app(self.backend) as app:
                self.app = app
                for op in OPS:
                    try:
                        getattr(self, f"op_{op}")()
                    except Exception as exc:  # noqa: BLE001 - report and go on with the next
                        import traceback

                        emit(
                            op=op,
                            error=f"{type(exc).__name__}: {exc}",
                            trace=traceback.format_exc()[-3000:],
                        )
                        if op == "build":
                            return
                self.totals()

    def _report(
        self, op: str, ours: tuple, limit: tuple | None, rows: Any, check: str, **extra: Any
    ) -> None:
        values: dict[str, Any] = {
            "op": op,
            "ours_s": ours[0],
            "peak_mib": ours[2],
            "rows": rows,
            "check": check,
            **extra,
        }
        if limit is not None:
            values |= {"limit_s": limit[0], "limit_peak_mib": limit[2]}
        if ours[3]:
            values["profile"] = ours[3]
        emit(**values)

    # 1 -----------------------------------------------------------------------------------------
    def op_build(self) -> None:
        from veiligheid_flow.app import commands

        now = _now(LOAD_AT)
        times: list[float] = []
        _reset_peak()
        started = time.perf_counter()
        tasks = 0
        for n, path in enumerate(self.files[:-1], 1):
            t0 = time.perf_counter()
            result = commands.load(self.app, path, now=now, by=SYSTEM)
            times.append(time.perf_counter() - t0)
            tasks += result.counts.get("task.created", 0)
            if n % max(1, len(self.files) // 10) == 0 or n == len(self.files) - 1:
                emit(
                    step="build progress",
                    programmes=n,
                    tasks=tasks,
                    seconds=time.perf_counter() - started,
                    last_s=times[-1],
                    rss_mib=_status_mib("VmRSS"),
                )
        total = time.perf_counter() - started
        k = min(5, len(times))
        self._report(
            "build",
            (total, None, _status_mib("VmHWM"), ""),
            None,
            tasks,
            "ok" if tasks else "no tasks",
            programmes=len(times),
            first_s=sum(times[:k]) / k,
            last_s=sum(times[-k:]) / k,
            max_s=max(times),
        )

    # 2 -----------------------------------------------------------------------------------------
    def op_load(self) -> None:
        from region_limits import plain_load, remove_programme, stored_tasks

        from veiligheid_flow.app import commands
        from veiligheid_flow.db import Base
        from veiligheid_flow.programme.service import municipality_code

        path, code = self.files[-1], self.region[-1].programme_code
        now = _now(LOAD_AT)
        tables = Base.metadata.tables

        def plain() -> list:
            with self.app.engine.begin() as conn:
                return plain_load(
                    conn,
                    tables,
                    path,
                    now=now,
                    cal=self.cal,
                    limits=self.limits,
                    code_of=municipality_code,
                )

        limit = measure(plain)
        with self.app.engine.begin() as conn:
            remove_programme(conn, tables, code)
        _vacuum(self.app, "task")
        ours = measure(
            lambda: commands.load(self.app, path, now=now, by=SYSTEM), "load" in self.profile
        )
        with self.app.engine.connect() as conn:
            stored = stored_tasks(conn, code)
        check = _compare("tasks", set(stored), set(limit[1]))
        if check == "ok" and len(stored) != len(limit[1]):
            check = f"DIFFERENT task count: ours {len(stored)} limit {len(limit[1])}"
        self._report("load", ours, limit, len(stored), check)

    # 3 -----------------------------------------------------------------------------------------
    def op_reload(self) -> None:
        from region_limits import plain_reload

        from veiligheid_flow.app import commands

        path = self.files[-1]

        def plain() -> int:
            with self.app.engine.connect() as conn:
                return plain_reload(conn, path, self.cal)

        limit = measure(plain)
        ours = measure(
            lambda: commands.load(self.app, path, now=_now(RELOAD_AT), by=SYSTEM),
            "reload" in self.profile,
        )
        changed = ours[1].changed
        check = (
            "ok"
            if (limit[1] == 0 and not changed)
            else (f"DIFFERENT: limit found {limit[1]} differences, ours changed={changed}")
        )
        self._report("reload", ours, limit, 0 if not changed else -1, check)

    # 4 -----------------------------------------------------------------------------------------
    def op_sweep(self) -> None:
        from region_limits import fresh_start, outbox_pairs, plain_sweep, sweep_days
        from sqlalchemy import text

        from veiligheid_flow.app.jobs import JOBS, run_job
        from veiligheid_flow.clock import local_date

        now = _now(SWEEP_AT)
        today = local_date(now)
        daily = [job for job in JOBS if not job.weekly]

        def plain() -> dict:
            with self.app.engine.connect() as conn:
                first = conn.execute(text("SELECT min(due_date) FROM task")).scalar()
                from region_limits import _as_date

                days = sweep_days(
                    self.cal,
                    today - timedelta(days=1),
                    today,
                    local_date(_now(RELOAD_AT)),
                    self.limits,
                    _as_date(first),
                )
                fresh = fresh_start(conn, self.cal, today)
                return plain_sweep(conn, days, fresh=fresh, cal=self.cal, today=today)

        limit = measure(plain)
        book = self.app.rulebook()

        def sweep() -> dict[str, int]:
            return {job.name: run_job(self.app, job, now=now, book=book).enqueued for job in daily}

        ours = measure(sweep, "sweep" in self.profile)
        with self.app.engine.connect() as conn:
            found = outbox_pairs(conn, now, tuple(limit[1]))
        check = _compare("pairs", found, limit[1])
        pairs = {k: len(v) for k, v in limit[1].items()}
        self._report(
            "sweep", ours, limit, sum(ours[1].values()), check, messages=ours[1], pairs=pairs
        )

    # 5 -----------------------------------------------------------------------------------------
    def op_digests(self) -> None:
        from region_limits import digest_counts, plain_digest

        from veiligheid_flow.app.jobs import JOBS_BY_NAME, run_job
        from veiligheid_flow.clock import local_date

        now = _now(DIGEST_AT)
        today = local_date(now)

        def plain() -> dict:
            with self.app.engine.connect() as conn:
                return plain_digest(conn, today, today + timedelta(weeks=DIGEST_WEEKS))

        limit = measure(plain)
        ours = measure(
            lambda: run_job(self.app, JOBS_BY_NAME["weekly_digest"], now=now),
            "digests" in self.profile,
        )
        with self.app.engine.connect() as conn:
            found = digest_counts(conn, now)
        check = _compare("progress lines", found, limit[1])
        holders = len({email for email, _ in limit[1]})
        if check == "ok" and ours[1].enqueued != holders:
            check = f"DIFFERENT: {ours[1].enqueued} digests for {holders} holders"
        self._report("digests", ours, limit, ours[1].enqueued, check, lines=len(limit[1]))

    # 6 -----------------------------------------------------------------------------------------
    def _crisis_scope(self) -> tuple[list[str], list[str] | None]:
        """Municipalities (in code order) whose T01/T02 work makes ~10% of all tasks."""
        from sqlalchemy import text

        from veiligheid_flow.app import commands

        if "municipalities" not in inspect.signature(commands.declare_crisis).parameters:
            return ["T01"], None  # a core without municipality scope: one theme everywhere
        with self.app.engine.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM task")).scalar_one()
            rows = conn.execute(
                text(
                    "SELECT p.municipality_code, count(*) FROM task t "
                    "JOIN theme th ON th.id = t.theme_id "
                    "JOIN programme p ON p.id = th.programme_id "
                    "WHERE th.code IN ('T01', 'T02') AND t.statutory = :f "
                    "AND t.status IN ('open', 'in_progress') "
                    "GROUP BY p.municipality_code ORDER BY p.municipality_code"
                ),
                {"f": False},
            ).all()
        codes, paused = [], 0
        for code, n in rows:
            if paused >= CRISIS_SHARE * total:
                break
            codes.append(code)
            paused += n
        return CRISIS_THEMES, codes

    def op_declare(self) -> None:
        from region_limits import paused_ids, plain_pause, scope_ids, unpause

        from veiligheid_flow.app import commands

        themes, codes = self._crisis_scope()
        with self.app.engine.connect() as conn:
            all_codes = codes or [
                c
                for (c,) in conn.exec_driver_sql("SELECT DISTINCT municipality_code FROM programme")
            ]
            ids = scope_ids(conn, themes, all_codes)

        def plain() -> int:
            with self.app.engine.begin() as conn:
                return plain_pause(conn, themes, all_codes)

        limit = measure(plain)
        with self.app.engine.begin() as conn:
            unpause(conn)
        _vacuum(self.app, "task")
        from region_gen import REGION_CRISIS

        by = REGION_CRISIS  # crisis delegate in every municipality (region_gen)
        extra = {} if codes is None else {"municipalities": codes}
        ours = measure(
            lambda: commands.declare_crisis(
                self.app,
                "Benchmarkcrisis",
                grip=2,
                by=by,
                now=_now(DECLARE_AT),
                themes=themes,
                staff=[],
                expected_days=None,
                **extra,
            ),
            "declare" in self.profile,
        )
        self.crisis = (ours[1].subject_id, by, themes, all_codes, ids)
        with self.app.engine.connect() as conn:
            found = paused_ids(conn)
        check = _compare("paused tasks", found, ids)
        if check == "ok" and limit[1] != len(ids):
            check = f"DIFFERENT: the UPDATE paused {limit[1]} rows, scope has {len(ids)}"
        self._report(
            "declare", ours, limit, len(ids), check, municipalities=len(all_codes), themes=themes
        )

    # 7 -----------------------------------------------------------------------------------------
    def op_end(self) -> None:
        from region_limits import plain_resume, repause, scope_rows, shift_map

        from veiligheid_flow.app import commands
        from veiligheid_flow.clock import local_date

        crisis_id, by, themes, codes, ids = self.crisis
        start, end = local_date(_now(DECLARE_AT)), local_date(_now(END_AT))

        def plain() -> tuple[int, dict]:
            with self.app.engine.begin() as conn:
                shift = shift_map(conn, self.cal, start, end, self.limits.displaced_within)
                return plain_resume(conn, themes, codes, shift), shift

        limit = measure(plain)
        resumed, shift = limit[1]
        with self.app.engine.begin() as conn:
            repause(conn, themes, codes)
        _vacuum(self.app, "task")
        ours = measure(
            lambda: commands.end_crisis(self.app, crisis_id, by=by, now=_now(END_AT)),
            "end" in self.profile,
        )
        with self.app.engine.connect() as conn:
            found = scope_rows(conn, themes, codes)
        got = {i: (due, paused) for i, (_, due, paused) in found.items()}
        want = {i: (shift.get(planned), False) for i, (planned, _, _) in found.items()}
        check = _compare("due dates after the crisis", got, want)
        if check == "ok" and resumed != len(ids):
            check = f"DIFFERENT: the UPDATE resumed {resumed} rows, scope has {len(ids)}"
        self._report("end", ours, limit, len(ids), check)

    # 8 -----------------------------------------------------------------------------------------
    def op_dispatch(self) -> None:
        from region_limits import mark_sent, pending_rows, plain_send

        from veiligheid_flow.mail.dispatch import dispatch
        from veiligheid_flow.mail.models import OutboxMessage
        from veiligheid_flow.mail.transport import build_message, make_transport

        now = _now(DISPATCH_AT)
        composed = self._top_up(now)
        sink = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "smtp_sink.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sink.stdin is not None and sink.stdout is not None
        port = int(sink.stdout.readline())

        def ask(command: str) -> dict[str, Any]:
            sink.stdin.write(command + "\n")
            sink.stdin.flush()
            return json.loads(sink.stdout.readline())

        try:
            settings = self.app.settings.model_copy(
                update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_timeout": 30.0}
            )
            with self.app.engine.connect() as conn:
                batch = {"rows": pending_rows(conn, self.messages)}
            ids = [r.id for r in batch["rows"]]
            count = len(ids)

            def plain() -> int:
                sent = plain_send(
                    batch["rows"], port, settings.mail_from, build_message, OutboxMessage
                )
                with self.app.engine.begin() as conn:
                    mark_sent(conn, ids, now)
                return sent

            ask("reset")
            limit = measure(plain)
            limit_stats = ask("stats")
            batch.clear()  # not held while ours runs (its peak RSS is its own)
            with self.app.engine.begin() as conn:
                mark_sent(conn, ids, now, status="pending")
            _vacuum(self.app, "outbox_message")
            ask("reset")
            ours = measure(
                lambda: dispatch(
                    self.app.sessions,
                    make_transport(settings),
                    now=now,
                    worker="bench",
                    limit=self.messages,
                ),
                "dispatch" in self.profile,
            )
            stats = ask("stats")
        finally:
            sink.stdin.close()
            sink.wait(30)
        report = ours[1]
        problems = []
        if len(report.sent) != count or report.failed or report.retried:
            problems.append(f"sent {len(report.sent)} of {count}, failed {len(report.failed)}")
        if stats["messages"] != count or stats["max_copies"] != 1:
            problems.append(f"server got {stats['messages']} (max copies {stats['max_copies']})")
        if stats["ids_digest"] != limit_stats["ids_digest"]:
            problems.append("different Message-IDs than the limit")
        check = "ok" if not problems else "DIFFERENT: " + "; ".join(problems)
        self._report(
            "dispatch",
            ours,
            limit,
            len(report.sent),
            check,
            rate=len(report.sent) / ours[0],
            limit_rate=count / limit[0],
            connections=stats["connections"],
            composed=composed,
        )

    def _top_up(self, now: Any) -> int:
        """Copy composed messages (new keys) until `messages` are pending; returns how many
        were composed by the operations before."""
        from sqlalchemy import func, insert, select

        from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus

        table = OutboxMessage.__table__
        with self.app.engine.begin() as conn:
            pending = conn.execute(
                select(func.count()).select_from(table).where(table.c.status == "pending")
            ).scalar_one()
            sources = [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]
            missing = self.messages - pending
            if missing > 0 and sources:
                copies = []
                for n in range(missing):
                    row = dict(sources[n % len(sources)])
                    row.pop("id")
                    row.update(
                        key=f"{row['key']}:copy{n}",
                        status=OutboxStatus.PENDING,
                        attempts=0,
                        claimed_at=None,
                        claimed_by=None,
                        sent_at=None,
                        last_error=None,
                        created_at=now,
                        next_attempt_at=now,
                    )
                    copies.append(row)
                for i in range(0, len(copies), 2000):
                    conn.execute(insert(table), copies[i : i + 2000])
        return pending

    def totals(self) -> None:
        from sqlalchemy import text

        with self.app.engine.connect() as conn:
            counts = {
                table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in (
                    "programme",
                    "portfolio_holder",
                    "task",
                    "audit_entry",
                    "outbox_message",
                )
            }
        emit(step="totals", **counts, peak_process_mib=_peak_process_mib())


def _peak_process_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the parent: run the children, tabulate -------------------------------------------------


def run_child(size: str, backend: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    cmd = [sys.executable, __file__, "--worker", size, backend, "--messages", str(args.messages)]
    if args.profile:
        cmd += ["--profile", ",".join(args.profile)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + args.timeout
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            proc.kill()
            out.append({"step": f"TIMEOUT after {args.timeout:.0f} s"})
            break
        if not sel.select(timeout=min(left, 5)):
            continue
        line = proc.stdout.readline()
        if not line:
            break
        item = json.loads(line)
        out.append(item)
        shown = {k: v for k, v in item.items() if k not in ("profile", "trace")}
        print(f"  [{size} {backend}] {shown}", file=sys.stderr, flush=True)
    proc.wait()
    if proc.returncode not in (0, -9):
        out.append({"step": f"worker exited with {proc.returncode}"})
    return out


def _t(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 100:
        return f"{seconds:.2f} s"
    return f"{seconds:.0f} s"


def rows_of(results: dict[str, list[dict[str, Any]]]) -> list[list[str]]:
    table = []
    for key, items in results.items():
        size, backend = key.split("/")
        for item in items:
            op = item.get("op")
            if op is None:
                continue
            if "error" in item:
                table.append(
                    [size, backend, LABELS[op], "error", "", "", "", "", item["error"][:80]]
                )
                continue
            ours, limit = item["ours_s"], item.get("limit_s")
            ratio = f"{ours / limit:.1f}×" if limit else "–"
            rows = item["rows"]
            if op == "dispatch":
                rows = f"{rows:,} ({item['rate']:.0f} msg/s; limit {item['limit_rate']:.0f})"
            elif op == "build":
                rows = (
                    f"{rows:,} tasks, {item['programmes']} programmes "
                    f"({_t(item['first_s'])} → {_t(item['last_s'])} each)"
                )
            elif op == "sweep":
                pairs = dict(item["pairs"])
                summaries = pairs.pop("summary", 0)
                rows = f"{rows:,} messages ({sum(pairs.values()):,} recipient-task pairs"
                rows += f", {summaries:,} summaries)" if summaries else ")"
            else:
                rows = f"{rows:,}"
            table.append(
                [
                    size,
                    backend,
                    LABELS[op],
                    _t(ours),
                    _t(limit),
                    ratio,
                    f"{item['peak_mib']:.0f} MiB",
                    rows,
                    item["check"],
                ]
            )
    return table


HEADER = [
    "size",
    "backend",
    "operation",
    "ours",
    "limit",
    "ours ÷ limit",
    "peak RSS",
    "rows touched",
    "check",
]


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def summary(results: dict[str, list[dict[str, Any]]]) -> str:
    """One row per operation, one column per size and backend: ours (ours ÷ limit)."""
    keys = sorted(
        results, key=lambda k: (k.split("/")[1] != "sqlite", list(SIZES).index(k.split("/")[0]))
    )
    cells: dict[str, dict[str, str]] = {op: {} for op in OPS}
    peaks: dict[str, str] = {}
    for key, items in results.items():
        worst = 0.0
        for item in items:
            op = item.get("op")
            if op is None:
                continue
            if "error" in item:
                cells[op][key] = "error"
                continue
            limit = item.get("limit_s")
            text = _t(item["ours_s"])
            if op == "dispatch":
                text = f"{item['rate']:.0f} msg/s (limit {item['limit_rate']:.0f})"
            elif limit:
                text += f" ({item['ours_s'] / limit:.1f}×)"
            if item.get("check", "ok") != "ok":
                text += " ≠"
            cells[op][key] = text
            worst = max(worst, item["peak_mib"])
        peaks[key] = f"{worst:.0f} MiB" if worst else "–"
    header = ["operation"] + [k.replace("/", " ").replace("postgresql", "PG") for k in keys]
    rows = [[LABELS[op]] + [cells[op].get(k, "–") for k in keys] for op in OPS]
    rows.append(["peak RSS (worst operation)"] + [peaks.get(k, "–") for k in keys])
    return markdown(header, rows)


def targets(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The issue's targets, met or missed, read off the results."""
    ops: dict[tuple[str, str, str], dict[str, Any]] = {}
    for key, items in results.items():
        size, backend = key.split("/")
        for item in items:
            if item.get("op") and "error" not in item:
                ops[(size, backend, item["op"])] = item
    lines = []

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("met" if ok else "**missed**")

    for backend in BACKENDS:
        sweep = ops.get(("1m", backend, "sweep"))
        if sweep:
            ratio = sweep["ours_s"] / sweep["limit_s"]
            ok = ratio <= 3 and (backend != "sqlite" or sweep["ours_s"] < 2)
            lines.append(
                f"- daily sweep at 1m on {backend}: {_t(sweep['ours_s'])}, "
                f"{ratio:.1f}× the limit — {verdict(ok)}"
            )
        for op in ("declare", "end"):
            item = ops.get(("1m", backend, op))
            if item:
                ratio = item["ours_s"] / item["limit_s"]
                lines.append(
                    f"- {LABELS[op]} at 1m on {backend} ({item['rows']:,} tasks): "
                    f"{_t(item['ours_s'])}, {ratio:.1f}× the limit — {verdict(ratio <= 3)}"
                )
        rates = [
            item["rate"] for (s, b, op), item in ops.items() if op == "dispatch" and b == backend
        ]
        if rates:
            lines.append(
                f"- dispatch on {backend}: {min(rates):.0f}–{max(rates):.0f} msg/s "
                f"(target ≥ 500) — {verdict(min(rates) >= 500)}"
            )
        peaks = [
            (item["peak_mib"], op) for (s, b, op), item in ops.items() if s == "1m" and b == backend
        ]
        if peaks:
            worst = max(peaks)
            lines.append(
                f"- peak RSS at 1m on {backend}: {worst[0]:.0f} MiB ({LABELS[worst[1]]}) "
                f"— {verdict(worst[0] < 1024)}"
            )
        stored = {
            key.split("/")[0]: item["task"]
            for key, items in results.items()
            for item in items
            if item.get("step") == "totals" and key.endswith("/" + backend)
        }
        growth = []
        for op in ("load", "reload", "sweep", "digests", "declare", "end"):
            small, big = ops.get(("10k", backend, op)), ops.get(("1m", backend, op))
            if small and big and small["ours_s"] > 0:
                rows = f", rows ×{big['rows'] / small['rows']:.0f}" if small["rows"] else ""
                growth.append(f"{op} ×{big['ours_s'] / small['ours_s']:.1f}{rows}")
        if growth and "10k" in stored and "1m" in stored:
            lines.append(
                f"- growth of our time from 10k to 1m on {backend} (tasks stored "
                f"×{stored['1m'] / stored['10k']:.0f}): " + "; ".join(growth)
            )
    checks = [
        f"{k} {item['op']}: {item['check']}"
        for k, items in results.items()
        for item in items
        if item.get("op") and item.get("check", "ok") != "ok"
    ]
    lines.append("- results equal to the limit's: " + ("all" if not checks else "; ".join(checks)))
    return lines


def write_report(
    path: Path,
    info: dict[str, str],
    results: dict[str, list[dict[str, Any]]],
    argv: list[str],
    wall: float,
) -> None:
    table = markdown(HEADER, rows_of(results))
    machine = (
        f"{info['cpus']} CPUs ({info['cpu']}), {info['memory']} RAM, {info['platform']}; "
        f"Python {info['python']}, SQLAlchemy {info['sqlalchemy']}, SQLite {info['sqlite']}, "
        f"PostgreSQL {info['postgresql']} (same machine, TCP on 127.0.0.1)"
    )
    other = []
    for key, items in results.items():
        for item in items:
            step = item.get("step", "")
            if step in ("totals",) or step.startswith(("TIMEOUT", "worker exited")):
                other.append(f"- {key}: " + ", ".join(f"{k} {v}" for k, v in item.items()))
            if item.get("error"):
                other.append(f"- {key} {item['op']}: error `{item['error']}`")
    profiles = [
        f"### {key} {item['op']}\n\n```\n{item['profile']}\n```"
        for key, items in results.items()
        for item in items
        if item.get("profile")
    ]
    text = "\n\n".join(
        part
        for part in [
            "# Region benchmark",
            f"`{' '.join(['.venv/bin/python', 'bench/region.py', *argv])}` — code "
            f"{info['code']}; load average at the start {info['load average at start']}; "
            f"wall time {wall / 60:.0f} min.",
            f"Machine: {machine}.",
            "What each row measures, and its limit: see the docstring of bench/region.py. "
            "Sizes: 10k = 4 + 1 municipalities, 100k = 34 + 1, 1m = 342 + 1 (~2,930 tasks each). "
            "Times are wall clock in one process; peak RSS is that process's high-water mark "
            "during the operation (PostgreSQL's own memory is not included).",
            table,
            "## Summary: ours (ours ÷ limit); ≠ marks a result that differs from the limit's\n\n"
            + summary(results),
            "## Targets\n\n" + "\n".join(targets(results)),
            ("## Other\n\n" + "\n".join(other)) if other else "",
            (
                "## Profiles (these runs' times include cProfile overhead)\n\n"
                + "\n\n".join(profiles)
            )
            if profiles
            else "",
        ]
        if part
    )
    path.write_text(text + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description="region benchmark")
    parser.add_argument("--worker", nargs=2, metavar=("SIZE", "BACKEND"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="10k,100k,1m")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--messages", type=int, default=10_000, help="emails to dispatch")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="per child, seconds")
    parser.add_argument(
        "--profile",
        type=lambda s: [x for x in s.split(",") if x],
        default=[],
        help=f"cProfile these operations ({','.join(OPS[1:])})",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "REGION.md")
    args = parser.parse_args()
    if args.worker:
        Worker(args.worker[0], args.worker[1], args.messages, set(args.profile)).run()
        return
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for size in sizes:
        if size not in SIZES:
            parser.error(f"unknown size {size} (known: {', '.join(SIZES)})")
    info = machine_info()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), file=sys.stderr)
    started = time.perf_counter()
    results: dict[str, list[dict[str, Any]]] = {}
    out_json = args.out.with_suffix(".json")
    for size in sizes:
        for backend in backends:
            results[f"{size}/{backend}"] = run_child(size, backend, args)
            wall = time.perf_counter() - started
            write_report(args.out, info, results, sys.argv[1:], wall)
            out_json.write_text(
                json.dumps({"machine": info, "results": results}, indent=1, default=str),
                encoding="utf-8",
            )
    print(markdown(HEADER, rows_of(results)))
    print(summary(results))
    print("\n".join(targets(results)))
    if code_fingerprint() != info["code"]:
        print(f"WARNING: the code changed during the run ({info['code']} → {code_fingerprint()})")


if __name__ == "__main__":
    main()
