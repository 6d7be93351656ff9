"""Benchmark: the web app's "Mijn werk" and "Portefeuille" pages (and one task page) over a
region of municipalities on SQLite, server time per page next to the raw SQL that reads the
same rows.

    .venv/bin/python bench/web_pages.py                      # 342 municipalities (~1M tasks)
    .venv/bin/python bench/web_pages.py --municipalities 4   # a quick look (~12k tasks)
    .venv/bin/python bench/web_pages.py --db /tmp/region.db  # keep the region for a rerun

The region (bench/region_gen.py) is loaded at 2023-01-02 09:00 and the daily jobs run at
Monday 2023-01-16 08:05, as the scheduler would; the pages are then read at 09:00 by an
adviser (OOV1 of the first municipality: coordinator, ~1/5 of its work) and by its mayor.
Each page is requested `--repeat` times over loopback HTTP from uvicorn in this process with
a signed session cookie; the time is the server's (the X-Server-Time header the bench adds
around the app, in ms), the limit the plain SQL of the same rows. Results: bench/WEB.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from _common import ROOT, settings_for

sys.path.insert(0, str(ROOT / "bench"))

LOAD_AT, SWEEP_AT, READ_AT = "2023-01-02T09:00", "2023-01-16T08:05", "2023-01-16T09:00"


def _now(text: str):  # type: ignore[no-untyped-def]
    from veiligheid_flow.clock import parse_now

    return parse_now(text)


def build(app, count: int, folder: Path) -> int:  # type: ignore[no-untyped-def]
    from region_gen import municipalities, write

    from veiligheid_flow.app import commands
    from veiligheid_flow.app.jobs import JOBS, run_job
    from veiligheid_flow.authority import SYSTEM

    tasks = 0
    for n, m in enumerate(municipalities(count), 1):
        result = commands.load(app, write(m, folder), now=_now(LOAD_AT), by=SYSTEM)
        tasks += result.counts.get("task.created", 0)
        if n % max(1, count // 10) == 0:
            print(f"  {n}/{count} programma's, {tasks:,} taken", flush=True)
    for job in JOBS:
        if not job.weekly:
            run_job(app, job, now=_now(SWEEP_AT))
    return tasks


def cookie(secret: str, email: str) -> str:
    """Starlette's session cookie for `email`, signed as SessionMiddleware signs it."""
    from itsdangerous import TimestampSigner

    data = base64.b64encode(json.dumps({"user": email}).encode())
    return TimestampSigner(secret).sign(data).decode()


class Timing:
    """ASGI wrapper: the server's time per request, in the X-Server-Time header (ms)."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        started = time.perf_counter()

        async def timed(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                ms = f"{(time.perf_counter() - started) * 1000:.1f}".encode()
                message["headers"] = [*message.get("headers", []), (b"x-server-time", ms)]
            await send(message)

        await self.app(scope, receive, timed)


def serve(app, clock):  # type: ignore[no-untyped-def]
    import socket

    import uvicorn

    from veiligheid_flow.entrypoints.web.server import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            Timing(create_app(app, clock)), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def measure(url: str, path: str, session: str, repeat: int) -> tuple[list[float], int, int]:
    import httpx

    samples, size, status = [], 0, 0
    with httpx.Client(base_url=url, cookies={"veiligheid_sessie": session}, timeout=120) as c:
        for _ in range(repeat + 1):  # the first warms the caches; not counted
            answer = c.get(path)
            status, size = answer.status_code, len(answer.content)
            samples.append(float(answer.headers["x-server-time"]))
    return samples[1:], size, status


def raw_my_work(engine, email: str, today: date) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    sql = text(
        "SELECT t.id, t.title, t.due_date, t.status, t.paused, th.name, o.name "
        "FROM task t JOIN theme th ON th.id = t.theme_id JOIN person o ON o.id = t.owner_id "
        "JOIN person r ON r.id = t.responsible_id "
        "WHERE r.email = :email AND t.status IN ('open', 'in_progress') AND t.due_date < :until "
        "ORDER BY t.tier, t.due_date, t.id"
    )
    return _timed(engine, sql, email=email, until=today + timedelta(days=29))


def raw_board(engine, email: str, today: date) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    sql = text(
        "SELECT t.theme_id, count(*), "
        "sum(CASE WHEN t.status = 'done' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN t.status IN ('open','in_progress') AND NOT t.paused "
        "AND t.due_date < :today THEN 1 ELSE 0 END), "
        "sum(CASE WHEN t.paused THEN 1 ELSE 0 END) "
        "FROM task t JOIN theme_holder th ON th.theme_id = t.theme_id "
        "JOIN portfolio_holder h ON h.id = th.holder_id "
        "WHERE h.email = :email AND t.status != 'cancelled' GROUP BY t.theme_id"
    )
    return _timed(engine, sql, email=email, today=today)


def _timed(engine, sql, **params) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    samples, rows = [], 0
    for _ in range(6):
        started = time.perf_counter()
        with engine.connect() as conn:
            rows = len(conn.execute(sql, params).all())
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[1:]), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--municipalities", type=int, default=342)
    parser.add_argument("--db", type=Path, help="SQLite file to build (or reuse if it exists)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "WEB.md")
    args = parser.parse_args()

    from region_gen import municipalities

    from veiligheid_flow.bootstrap import bootstrap
    from veiligheid_flow.entrypoints.web.clock import WebClock

    with tempfile.TemporaryDirectory(prefix="vf-web-") as tmp:
        workdir = Path(tmp)
        db = args.db or workdir / "region.db"
        fresh = not db.exists()
        app = bootstrap(settings_for(f"sqlite:///{db}", workdir, web_url="http://bench"))
        started = time.perf_counter()
        tasks = build(app, args.municipalities, workdir) if fresh else None
        built = time.perf_counter() - started
        first = municipalities(args.municipalities)[0]
        adviser, mayor = first.person_email("OOV1"), first.holder_email("BM")
        server, url = serve(app, WebClock(_now(READ_AT)))
        secret = app.secret_key()
        today = _now(READ_AT).date()
        from veiligheid_flow.app import queries_web
        from veiligheid_flow.app.access import known

        work = queries_web.my_work(app, now=_now(READ_AT), actor=known(app, adviser))
        task_id = (work.overdue + work.due_today + work.this_week + work.later)[0].id
        rows = []
        for label, path, who, limit in (
            ("Mijn werk (adviseur)", "/", adviser, raw_my_work),
            ("Portefeuille (burgemeester)", "/portefeuille", mayor, raw_board),
            ("Taak", f"/taak/{task_id}", adviser, None),
        ):
            samples, size, status = measure(url, path, cookie(secret, who), args.repeat)
            raw = limit(app.engine, who, today) if limit else None
            rows.append(
                (
                    label,
                    path,
                    status,
                    statistics.median(samples),
                    sorted(samples)[int(len(samples) * 0.95) - 1],
                    size,
                    raw,
                )
            )
            print(f"  {label}: {status}, mediaan {rows[-1][3]:.0f} ms", flush=True)
        server.should_exit = True
        total = app.engine.connect().exec_driver_sql("SELECT count(*) FROM task").scalar()
        app.close()
    lines = [
        "# Web pages at region size (SQLite)",
        "",
        f"{args.municipalities} municipalities, {total:,} tasks"
        + (f" (built in {built:.0f} s)" if fresh else " (reused database)")
        + f"; read at {READ_AT} after the daily jobs of {SWEEP_AT}; {args.repeat} requests"
        " each over loopback HTTP; server time from the X-Server-Time header. Target: < 300 ms.",
        "",
        "| page | path | status | median | p95 | bytes | raw SQL of the same rows |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, path, status, median, p95, size, raw in rows:
        limit = f"{raw[0]:.1f} ms ({raw[1]:,} rows)" if raw else "–"
        lines.append(
            f"| {label} | `{path}` | {status} | {median:.0f} ms | {p95:.0f} ms "
            f"| {size:,} | {limit} |"
        )
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    _ = tasks


if __name__ == "__main__":
    main()
