"""Shared helpers for the benchmarks in bench/: fresh databases, timing, memory, machine info.

Not a test module and not part of the package. Every benchmark creates its own throw-away
database (a SQLite file in a temporary folder, or a fresh PostgreSQL schema that is dropped
afterwards) and never touches var/ or the settings in .env.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `python bench/x.py` finds the editable package and bench/

EXAMPLE = ROOT / "config" / "programma-huizen-2023-2024.yaml"
PG_SERVER = os.environ.get(
    "VEILIGHEID_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


def settings_for(url: str, workdir: Path, **extra: Any):  # type: ignore[no-untyped-def]
    from veiligheid_flow.settings import Settings

    return Settings(
        _env_file=None,  # ignore a developer's .env
        database_url=url,
        rules=ROOT / "rules",
        programme=EXAMPLE,
        mail_dir=workdir / "mail",
        **extra,
    )


@contextmanager
def fresh_database(backend: str) -> Iterator[tuple[str, Path]]:
    """Yield (url, workdir) for an empty database; remove it afterwards."""
    with tempfile.TemporaryDirectory(prefix="vf-bench-") as tmp:
        workdir = Path(tmp)
        if backend == "sqlite":
            yield f"sqlite:///{workdir / 'bench.db'}", workdir
            return
        from sqlalchemy import create_engine, text

        schema = f"vf_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            yield f"{PG_SERVER}?options=-csearch_path%3D{schema}", workdir
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


@contextmanager
def fresh_app(backend: str, **extra: Any) -> Iterator[Any]:
    """A bootstrapped App (migrations applied) on a fresh database."""
    from veiligheid_flow.bootstrap import bootstrap

    with fresh_database(backend) as (url, workdir):
        app = bootstrap(settings_for(url, workdir, **extra))
        try:
            yield app
        finally:
            app.close()


def rulebook(app: Any) -> Any:
    """The app's rule tables (App.rulebook() in newer versions, usecases.rulebook before)."""
    if hasattr(app, "rulebook"):
        return app.rulebook()
    from veiligheid_flow import usecases

    return usecases.rulebook(app)


def read_rule_tables(app: Any) -> Any:
    """Read rules/*.yaml from disk (uncached)."""
    from veiligheid_flow.rules.tables import load_rulebook

    return load_rulebook(app.settings.rules)


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def summary(samples: list[float]) -> str:
    """'median (min–max, n=N)' in seconds or milliseconds, whichever reads better."""
    med = statistics.median(samples)
    scale, unit = (1000.0, "ms") if med < 1 else (1.0, "s")
    if len(samples) == 1:
        return f"{med * scale:.1f} {unit}"
    return (
        f"{med * scale:.1f} {unit} ({min(samples) * scale:.1f}–{max(samples) * scale:.1f}, "
        f"n={len(samples)})"
    )


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def code_fingerprint() -> str:
    """sha256 over the package, rule tables and templates, and the newest file time: the code
    that was measured (the project changes; numbers belong to one version)."""
    import hashlib
    from datetime import UTC, datetime

    files = sorted(
        p
        for pattern in ("veiligheid_flow/**/*.py", "veiligheid_flow/templates/*", "rules/*")
        for p in ROOT.glob(pattern)
        if p.is_file()
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    newest = max(p.stat().st_mtime for p in files)
    stamp = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{digest.hexdigest()[:12]} (newest file {stamp})"


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            mem = f"{int(info.readline().split()[1]) / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    import sqlalchemy

    info = {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": __import__("sqlite3").sqlite_version,
        "platform": platform.platform(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "code": code_fingerprint(),
    }
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_SERVER)
        with engine.connect() as conn:
            info["postgresql"] = conn.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - informational only
        info["postgresql"] = f"unavailable ({type(exc).__name__})"
    return info


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
