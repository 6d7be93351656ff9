"""Benchmark: validate + load a programme, re-load, evaluate the rules, list tasks.

    .venv/bin/python bench/load_and_rules.py                       # example + 50k tasks
    .venv/bin/python bench/load_and_rules.py --only scale --activities 1000 --skip reload cli
    .venv/bin/python bench/load_and_rules.py --backends sqlite --repeat 3

Part 1 (example): config/programma-huizen-2023-2024.yaml (211 tasks) into a fresh SQLite file
and a fresh PostgreSQL schema, several times: migrations, validate, first load (validate + load
+ evaluate, one transaction, = `veiligheid load`), re-load without changes, and
`rules_service.evaluate` over all open tasks (inside a transaction that is rolled back, so
every repeat sees the same state) at the load moment (no changes) and a week later.

Part 2 (scale): a synthetic programme (bench/gen_programme.py: N activities × weekly RRULE
over two years ≈ N × 104 tasks). Each (backend, N) runs in its own child process so that
its peak RSS (ru_maxrss) is its own; the child reports each step as it finishes, so a step
that runs past --timeout still leaves the earlier numbers. Steps: parse + validate, load
(rows), evaluate (first decisions), commit, re-load without changes, `commands.refresh` at
the load moment (no changes) and a week later (changes), listing (list_tasks + task_dict +
json, as `tasks --json` does) and the real CLI `veiligheid tasks --json` as a subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (  # bench/ is on sys.path when run as a script
    BACKENDS,
    EXAMPLE,
    ROOT,
    code_fingerprint,
    current_rss_mib,
    fresh_app,
    fresh_database,
    machine_info,
    peak_rss_mib,
    print_table,
    read_rule_tables,
    rulebook,
    settings_for,
    summary,
    timed,
)

from veiligheid_flow.authority import SYSTEM  # loads act as the system, as `start` does

NOW_TEXT = "2023-09-29T09:00"
LATER_TEXT = "2023-10-06T09:00"


def _now(text: str):  # type: ignore[no-untyped-def]
    from veiligheid_flow.clock import parse_now

    return parse_now(text)


def evaluate_rolled_back(app: Any, now: Any) -> tuple[float, int, int]:
    """Time rules_service.evaluate over all open tasks; roll back so nothing is kept."""
    from veiligheid_flow.rules import service as rules_service

    book = rulebook(app)
    session = app.sessions()
    try:
        session.begin()
        seconds, report = timed(lambda: rules_service.evaluate(session=session, now=now, book=book))
        return seconds, report.evaluated, len(report.changes)
    finally:
        session.rollback()
        session.close()


# --- part 1: the example --------------------------------------------------------------------


def bench_example(backends: list[str], repeat: int) -> list[list[str]]:
    from veiligheid_flow.app import commands
    from veiligheid_flow.bootstrap import bootstrap
    from veiligheid_flow.programme.loader import read_programme
    from veiligheid_flow.tasks.models import Task

    now, later = _now(NOW_TEXT), _now(LATER_TEXT)
    rows = []
    for backend in backends:
        samples: dict[str, list[float]] = {}
        facts: dict[str, int] = {}

        def add(name: str, seconds: float, samples: dict[str, list[float]] = samples) -> None:
            samples.setdefault(name, []).append(seconds)

        for _ in range(repeat):
            with fresh_database(backend) as (url, workdir):
                t, app = timed(
                    lambda url=url, workdir=workdir: bootstrap(settings_for(url, workdir))
                )
                add("migrations (empty DB → head)", t)
                try:
                    t, book = timed(lambda app=app: read_rule_tables(app))
                    add("read rule tables (rules/*.yaml)", t)
                    add(
                        "validate (parse + pydantic + checks)",
                        timed(
                            lambda book=book: read_programme(
                                EXAMPLE, known_case_types=set(book.cases)
                            )
                        )[0],
                    )
                    t, result = timed(
                        lambda app=app: commands.load(app, EXAMPLE, now=now, by=SYSTEM)
                    )
                    add("first load (validate + load + evaluate, 1 tx)", t)
                    facts["decisions changed by first load"] = result.decisions_changed
                    t, result = timed(
                        lambda app=app: commands.load(app, EXAMPLE, now=now, by=SYSTEM)
                    )
                    assert not result.changed, "re-load changed something"
                    add("re-load, no changes", t)
                    t, evaluated, changed = evaluate_rolled_back(app, now)
                    add("rules_service.evaluate, same moment", t)
                    facts["open tasks evaluated"] = evaluated
                    facts["changes (same moment)"] = changed
                    t, evaluated, changed = evaluate_rolled_back(app, later)
                    add("rules_service.evaluate, a week later", t)
                    facts["changes (a week later)"] = changed
                    with app.sessions() as session:
                        facts["tasks"] = session.query(Task).count()
                finally:
                    app.close()
        for name, values in samples.items():
            rows.append([backend, name, summary(values)])
        rows += [[backend, name, str(value)] for name, value in facts.items()]
    return rows


# --- part 2: scale (child process per backend and size) ---------------------------------------


def _emit(step: str, **values: Any) -> None:
    print(json.dumps({"step": step, **values}), flush=True)


def _first_load(app: Any, loaded: Any, book: Any, now: Any) -> None:
    """What commands.load does after validation, one step at a time: rows, rules, commit."""
    from veiligheid_flow.programme.service import load_programme
    from veiligheid_flow.rules import service as rules_service

    session = app.sessions()
    try:
        session.begin()
        t, report = timed(lambda: load_programme(loaded, session=session, now=now, actor=SYSTEM))
        _emit(
            "load rows (load_programme)",
            seconds=t,
            peak_mib=peak_rss_mib(),
            tasks=report.counts["task.created"],
        )
        t, evaluation = timed(lambda: rules_service.evaluate(session=session, now=now, book=book))
        _emit(
            "evaluate (first decisions)",
            seconds=t,
            peak_mib=peak_rss_mib(),
            changes=len(evaluation.changes),
        )
        t, _ = timed(session.commit)
        _emit("commit", seconds=t)
    finally:
        session.close()


def run_cli(cmd: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """Run a CLI command; (wall seconds, items in its JSON output, its peak RSS in MiB).

    The peak is the child's own VmHWM, polled from /proc: ru_maxrss of a child would include
    this (large) process's memory, which a forked child carries until exec.
    """
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=tempfile.gettempdir(), stdout=out)
        peak_kib = 0
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kib = max(peak_kib, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd)
        out.seek(0)
        return seconds, len(json.loads(out.read())), peak_kib / 1024


def scale_worker(backend: str, yaml_path: Path, skip: set[str]) -> None:
    """Runs in a child process; prints one JSON line per finished step."""
    from sqlalchemy import func, select

    from veiligheid_flow.app import commands
    from veiligheid_flow.audit.models import AuditEntry
    from veiligheid_flow.entrypoints.cli.support import print_json  # noqa: F401 - same import cost as CLI
    from veiligheid_flow.programme.loader import read_programme
    from veiligheid_flow.tasks import service as task_service
    from veiligheid_flow.tasks.models import Task, TaskStatus
    from veiligheid_flow.tasks.views import task_dict

    now, later = _now(NOW_TEXT), _now(LATER_TEXT)
    _emit("baseline", rss_mib=current_rss_mib())
    with fresh_app(backend) as app:
        book = rulebook(app)
        t, loaded = timed(lambda: read_programme(yaml_path, known_case_types=set(book.cases)))
        _emit("parse + validate", seconds=t, peak_mib=peak_rss_mib())
        load_start = time.perf_counter()
        _first_load(app, loaded, book, now)
        del loaded
        _emit("first load total", seconds=time.perf_counter() - load_start, peak_mib=peak_rss_mib())

        if "reload" not in skip:
            t, result = timed(lambda: commands.load(app, yaml_path, now=now, by=SYSTEM))
            assert not result.changed
            _emit("re-load, no changes", seconds=t, peak_mib=peak_rss_mib())

        t, changed = timed(lambda: commands.refresh(app, now=now))
        _emit("refresh, same moment", seconds=t, changes=changed, peak_mib=peak_rss_mib())
        t, changed = timed(lambda: commands.refresh(app, now=later))
        _emit("refresh, a week later", seconds=t, changes=changed, peak_mib=peak_rss_mib())

        def listing() -> tuple[int, int]:
            with app.sessions() as s:
                tasks = task_service.list_tasks(session=s)
                data = [task_dict(t, rank) for rank, t in enumerate(tasks, 1)]
                text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
                return len(data), len(text)

        t, (count, size) = timed(listing)
        _emit(
            "list + task_dict + json (in-process)",
            seconds=t,
            tasks=count,
            mib=size / 2**20,
            peak_mib=peak_rss_mib(),
        )

        with app.sessions() as s:
            total = s.scalar(select(func.count()).select_from(Task))
            open_ = s.scalar(
                select(func.count())
                .select_from(Task)
                .where(Task.status.in_([TaskStatus.OPEN, TaskStatus.IN_PROGRESS]))
            )
            audit = s.scalar(select(func.count()).select_from(AuditEntry))
        _emit("counts", tasks=total, open=open_, audit_rows=audit, peak_mib=peak_rss_mib())
        if "cli" in skip:
            return
        env = {
            **os.environ,
            "VEILIGHEID_DATABASE_URL": app.settings.database_url,
            "VEILIGHEID_MAIL_DIR": str(app.settings.mail_dir),
            "VEILIGHEID_RULES": str(app.settings.rules),
        }
        cli = [str(ROOT / ".venv" / "bin" / "veiligheid"), "tasks", "--json", "--now", LATER_TEXT]
        seconds, count, child_peak = run_cli(cli, env)
        _emit(
            "CLI `veiligheid tasks --json` (wall)",
            seconds=seconds,
            tasks=count,
            cli_peak_mib=child_peak,
        )


def run_scale(
    backend: str, activities: int, timeout: float, skip: list[str]
) -> list[dict[str, Any]]:
    from gen_programme import write

    with tempfile.TemporaryDirectory(prefix="vf-bench-yaml-") as tmp:
        path = write(activities, Path(tmp) / f"bench-{activities}.yaml")
        cmd = [sys.executable, __file__, "--worker", backend, str(path), "--skip", *skip]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        steps: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        import selectors

        sel = selectors.DefaultSelector()
        assert proc.stdout is not None
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                steps.append({"step": f"TIMEOUT after {timeout:.0f} s"})
                break
            if not sel.select(timeout=min(left, 5)):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            steps.append(json.loads(line))
            print(f"  {backend} {activities}: {steps[-1]}", file=sys.stderr, flush=True)
        proc.wait()
        if proc.returncode not in (0, -9):
            steps.append({"step": f"worker exited with {proc.returncode}"})
        return steps


def _fmt(step: dict[str, Any]) -> str:
    parts = []
    if "seconds" in step:
        parts.append(f"{step['seconds']:.2f} s")
    for key in ("tasks", "open", "changes", "audit_rows"):
        if key in step:
            parts.append(f"{key}={step[key]}")
    if "mib" in step:
        parts.append(f"json {step['mib']:.0f} MiB")
    if "peak_mib" in step:
        parts.append(f"peak RSS {step['peak_mib']:.0f} MiB")
    if "cli_peak_mib" in step:
        parts.append(f"CLI peak RSS {step['cli_peak_mib']:.0f} MiB")
    if "rss_mib" in step:
        parts.append(f"RSS {step['rss_mib']:.0f} MiB")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description="load/rules benchmark")
    parser.add_argument("--worker", nargs=2, metavar=("BACKEND", "YAML"), help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=("example", "scale"))
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--repeat", type=int, default=5, help="repeats of the example part")
    parser.add_argument(
        "--activities",
        nargs="+",
        type=int,
        default=[500],
        help="scale sizes (activities; ~104 weekly tasks each)",
    )
    parser.add_argument("--timeout", type=float, default=300, help="per scale run, seconds")
    parser.add_argument(
        "--skip",
        nargs="*",
        choices=("reload", "cli"),
        default=[],
        help="scale steps to leave out (to keep a large run under the timeout)",
    )
    args = parser.parse_args()
    if args.worker:
        scale_worker(args.worker[0], Path(args.worker[1]), set(args.skip))
        return

    info = machine_info()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    started = time.perf_counter()
    if args.only in (None, "example"):
        rows = bench_example(args.backends, args.repeat)
        print_table(
            f"Example programme ({EXAMPLE.name}), median (min–max) of {args.repeat}",
            ["backend", "step", "time"],
            rows,
        )
    if args.only in (None, "scale"):
        for activities in args.activities:
            rows = []
            for backend in args.backends:
                t0 = time.perf_counter()
                steps = run_scale(backend, activities, args.timeout, args.skip)
                rows += [[backend, s["step"], _fmt(s)] for s in steps]
                rows.append([backend, "wall time of this run", f"{time.perf_counter() - t0:.0f} s"])
            print_table(
                f"Scale: {activities} activities × weekly over 2023–2024",
                ["backend", "step", "result"],
                rows,
            )
    if code_fingerprint() != info["code"]:
        print(
            f"\nWARNING: the project's code changed during this run ({info['code']} → "
            f"{code_fingerprint()}); the numbers mix versions, run again."
        )
    print(
        f"\ntotal wall time {time.perf_counter() - started:.0f} s, load average at the end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
