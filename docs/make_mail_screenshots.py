"""Screenshots of every kind of message at 390 and 800 px (run from the repository root:
.venv/bin/python docs/make_mail_screenshots.py).

The messages are those of tests/test_mail_in_browser.py's `sample_messages`: two months of the
example programme in a throw-away SQLite database, with an absence and a crisis. Each kind's
longest HTML is written to docs/mail/<kind>.html and shot with Debian's Chromium (Playwright)
at phone and desktop width to docs/mail/<kind>-<width>.png.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_mail_in_browser import CHROMIUM, KINDS, WIDTHS, sample_messages  # noqa: E402
from veiligheid_flow.bootstrap import bootstrap  # noqa: E402
from veiligheid_flow.settings import Settings  # noqa: E402


def main() -> None:
    work = Path(tempfile.mkdtemp())
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{work / 'voorbeeld.db'}",
        mail_dir=work / "mail",
        rules=ROOT / "rules",
        programme=ROOT / "config" / "programma-huizen-2023-2024.yaml",
        # as a municipality runs it: every task links to the web app, "Gereed melden" too
        web_url="https://veiligheid.huizen.nl",
        web_secret="screenshots-" + "x" * 40,
        mail_from="veiligheid@huizen.nl",
    )
    app = bootstrap(settings)
    try:
        messages = sample_messages(app)
    finally:
        app.close()
    out = ROOT / "docs" / "mail"
    out.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for kind in sorted(KINDS):
            html = messages[kind].html_body
            (out / f"{kind}.html").write_text(html, encoding="utf-8")
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.set_content(html, wait_until="load")
                page.screenshot(path=str(out / f"{kind}-{width}.png"), full_page=True)
                page.close()
            print(f"{kind}: {messages[kind].subject}")
        browser.close()


if __name__ == "__main__":
    main()
