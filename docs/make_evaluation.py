"""The evaluation of the example programme as of 31 December 2024 (run from the repository
root: .venv/bin/python docs/make_evaluation.py).

The example file itself has nothing done, so the period is simulated as in
tests/test_evaluation.py (`simulate`): tasks reported done on time and late, three crises, an
absence, statutory cases, budget bookings and the jobs every Monday, in a throw-away SQLite
database. Writes docs/evaluatie-2024-12-31.pdf, docs/evaluatie-2024-12-31.html and the first
page as docs/evaluatie-pagina-1.png (pdftoppm, from poppler-utils).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_evaluation import simulate  # noqa: E402
from veiligheid_flow.app.exports_evaluation import write_evaluation  # noqa: E402
from veiligheid_flow.bootstrap import bootstrap  # noqa: E402
from veiligheid_flow.clock import parse_now  # noqa: E402
from veiligheid_flow.settings import Settings  # noqa: E402

NOW = "2024-12-31T23:00"


def main() -> None:
    work = Path(tempfile.mkdtemp())
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{work / 'voorbeeld.db'}",
        mail_dir=work / "mail",
        rules=ROOT / "rules",
        programme=ROOT / "config" / "programma-huizen-2023-2024.yaml",
    )
    app = bootstrap(settings)
    out = ROOT / "docs"
    try:
        started = time.perf_counter()
        simulate(app, date(2024, 12, 31))
        print(f"periode gesimuleerd in {time.perf_counter() - started:.0f} s")
        for suffix in ("pdf", "html"):
            started = time.perf_counter()
            result = write_evaluation(
                app, out / f"evaluatie-2024-12-31.{suffix}", now=parse_now(NOW)
            )
            print(f"evaluatie-2024-12-31.{suffix}: {time.perf_counter() - started:.1f} s")
    finally:
        app.close()
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "80",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(out / "evaluatie-2024-12-31.pdf"),
            str(out / "evaluatie-pagina-1"),
        ],
        check=True,
    )
    p = result.total.progress
    print(f"{p.planned} activiteiten, {p.done} gereed ({p.on_time} op tijd, {p.late} te laat)")


if __name__ == "__main__":
    main()
