"""Issue 12, point 6: another municipality's task answers 404; a POST without a CSRF token is
refused and changes nothing; user text renders escaped; security headers and cookie flags;
every change made in the web app is audited with the signed-in person."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml

from tests.conftest import EXAMPLE, at
from tests.test_region import laren_programme
from tests.web.conftest import COORDINATOR, STAFF, Live, csrf_of, free_port, sign_in
from veiligheid_flow.app import commands, queries
from veiligheid_flow.app.access import known
from veiligheid_flow.app.queries import LogFilter, TaskQuery
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import bootstrap
from veiligheid_flow.entrypoints.web.server import create_app


def _open_task_of(live: Live, email: str) -> int:
    actor = known(live.app, email)
    mine = [
        t
        for t in queries.tasks(live.app, now=live.now, actor=actor)
        if t.responsible == email and t.status == "open"
    ]
    return mine[0].id


def test_another_municipalitys_task_is_not_found(live: Live, tmp_path: Path) -> None:
    commands.load(live.app, laren_programme(tmp_path), by=SYSTEM, now=live.now)
    laren = {
        t.id for t in queries.tasks(live.app, now=live.now, filters=TaskQuery(municipality="laren"))
    }
    ours = {t.id for t in queries.tasks(live.app, now=live.now, actor=known(live.app, COORDINATOR))}
    foreign = sorted(laren - ours)
    assert foreign
    with live.client() as client:
        sign_in(live, client, COORDINATOR)
        answer = client.get(f"/taak/{foreign[0]}")
        assert answer.status_code == 404 and "Laren" not in answer.text
        form = client.get(f"/taak/{sorted(ours)[0]}")
        refused = client.post(
            f"/taak/{foreign[0]}/gereed", data={"csrf": csrf_of(form.text), "note": "x"}
        )
        assert refused.status_code == 404
    detail = queries.task_detail(live.app, now=live.now, task_id=foreign[0])
    assert detail.status == "open"


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(live: Live) -> None:
    task_id = _open_task_of(live, STAFF)
    with live.client() as client:
        sign_in(live, client, STAFF)
        for data, headers in (
            ({}, {}),
            ({"csrf": "verkeerd"}, {}),
            ({}, {"X-CSRF-Token": "verkeerd"}),
        ):
            answer = client.post(f"/taak/{task_id}/gereed", data=data, headers=headers)
            assert answer.status_code == 403 and "Formulier verlopen" in answer.text
    assert queries.task_detail(live.app, now=live.now, task_id=task_id).status == "open"


def test_a_change_through_the_web_is_audited_with_the_signed_in_person(live: Live) -> None:
    task_id = _open_task_of(live, STAFF)
    with live.client() as client:
        sign_in(live, client, STAFF)
        page = client.get(f"/taak/{task_id}")
        done = client.post(
            f"/taak/{task_id}/gereed", data={"csrf": csrf_of(page.text), "note": "klaar via web"}
        )
        assert done.status_code == 303
        assert "De taak is gereed" in client.get(done.headers["location"]).text
    detail = queries.task_detail(live.app, now=live.now, task_id=task_id)
    assert detail.status == "done" and detail.note == "klaar via web"
    log = queries.audit_log(
        live.app, now=live.now, filters=LogFilter(task=task_id), actor=known(live.app, COORDINATOR)
    )
    entries = [e for e in log.items if e.action.startswith("task.") and e.actor.email == STAFF]
    assert entries, [(e.action, e.actor.email) for e in log.items]


def test_user_text_is_escaped(live: Live, tmp_path: Path) -> None:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    planned = [a for t in doc["themes"] for a in t["activities"] if "case" not in a]
    planned[0]["title"] = '<script>alert("x")</script> & <b>vet</b>'
    hostile = tmp_path / "programma.yaml"
    hostile.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    commands.load(live.app, hostile, by=SYSTEM, now=at("2023-10-02T09:05"))
    found = [
        t
        for t in queries.tasks(live.app, now=live.now, actor=known(live.app, COORDINATOR))
        if t.title.startswith("<script>")
    ]
    assert found
    with live.client() as client:
        sign_in(live, client, COORDINATOR)
        for path in ("/", f"/taak/{found[0].id}"):
            html = client.get(path).text
            assert "<script>alert" not in html and "<b>vet</b>" not in html, path
        assert (
            "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;vet&lt;/b&gt;" in html
        )


def test_security_headers_and_cookie_flags(live: Live) -> None:
    with live.client() as client:
        form = client.get("/aanmelden")
        cookie = form.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert "secure" not in cookie  # served over http here; https sets Secure (below)
        sign_in(live, client, COORDINATOR)
        for answer in (client.get("/"), client.get("/aanmelden"), client.get("/bestaat-niet")):
            csp = answer.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert "frame-ancestors 'none'" in csp
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["referrer-policy"] == "same-origin"
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["cache-control"] == "no-store"
        assert client.get("/bestaat-niet").status_code == 404
        static = client.get("/static/htmx.min.js")
        assert static.status_code == 200 and static.headers.get("cache-control") != "no-store"
        html = client.get("/").text
        assert "<script>" not in html and '<script src="/static/htmx.min.js"' in html
        assert ' style="' not in html and "onclick" not in html


def test_the_cookie_is_secure_behind_https(live: Live) -> None:
    """Behind https (WEB_URL https://…, TLS ended at the proxy) the cookie is Secure and
    HSTS is sent; the server itself is reached over loopback http here."""
    https = bootstrap(
        live.app.settings.model_copy(update={"web_url": "https://veiligheid.huizen.nl"})
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(https, live.clock), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        answer = httpx.get(f"http://127.0.0.1:{port}/aanmelden")
        assert "secure" in answer.headers["set-cookie"].lower()
        assert answer.headers["strict-transport-security"].startswith("max-age=")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        https.close()
