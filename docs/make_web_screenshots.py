"""Screenshots of the web app for the README: `.venv/bin/python docs/make_web_screenshots.py`.

The example programme on a fresh SQLite file, a week of work done and a crisis declared on
Monday 2 October 2023, served by uvicorn on loopback on that fixed clock; Debian's Chromium
(Playwright) takes "Mijn werk" on a 390 px phone and the portfolio board and the crisis page
on a desktop; docs/web/overview.png puts phone and board side by side."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "web"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ADVISER, MAYOR = "b.jansen@example.nl", "m.verbeek@example.nl"


def main() -> None:
    import uvicorn
    from itsdangerous import TimestampSigner
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from veiligheid_flow.app import commands
    from veiligheid_flow.authority import SYSTEM
    from veiligheid_flow.bootstrap import bootstrap
    from veiligheid_flow.clock import parse_now
    from veiligheid_flow.entrypoints.web.clock import WebClock
    from veiligheid_flow.entrypoints.web.server import create_app
    from veiligheid_flow.settings import Settings

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        app = bootstrap(Settings(
            _env_file=None, database_url=f"sqlite:///{tmp}/v.db", mail_dir=Path(tmp) / "mail",
            web_url=url, web_secret="screenshots-" + "x" * 40,
        ))
        now = parse_now("2023-10-02T11:00")
        commands.load(app, ROOT / "config" / "programma-huizen-2023-2024.yaml", by=SYSTEM,
                      now=parse_now("2023-10-02T08:00"))
        commands.declare_crisis(
            app, "Grote brand Oostermeent", grip=2, by="burgemeester",
            now=parse_now("2023-10-02T10:00"), themes=["VERKEERSVEILIGHEID"],
            staff=["OOV1", "AOV"], expected_days=10,
        )
        server = uvicorn.Server(uvicorn.Config(create_app(app, WebClock(now)), host="127.0.0.1",
                                               port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)

        def cookie(email: str) -> dict:
            data = base64.b64encode(json.dumps({"user": email}).encode())
            value = TimestampSigner(app.secret_key()).sign(data).decode()
            return {"name": "veiligheid_sessie", "value": value, "url": url}

        shots = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            for name, who, path, width in (
                ("mijn-werk-390", ADVISER, "/", 390),
                ("portefeuille-1100", MAYOR, "/portefeuille", 1100),
                ("crisis-1100", MAYOR, "/crisis", 1100),
            ):
                context = browser.new_context(viewport={"width": width, "height": 900})
                context.add_cookies([cookie(who)])
                page = context.new_page()
                page.goto(url + path)
                target = OUT / f"{name}.png"
                page.screenshot(path=str(target), full_page=False)
                shots.append(target)
                context.close()
            browser.close()
        server.should_exit = True
        app.close()
    phone, board = Image.open(shots[0]), Image.open(shots[1])
    overview = Image.new("RGB", (phone.width + board.width + 24, max(phone.height, board.height)),
                         "white")
    overview.paste(phone, (0, 0))
    overview.paste(board, (phone.width + 24, 0))
    overview.save(OUT / "overview.png", optimize=True)
    print("\n".join(str(p.relative_to(ROOT)) for p in [*shots, OUT / "overview.png"]))


if __name__ == "__main__":
    main()
