"""Issue 12, the portfolio board: a holder sees only the themes they hold, with counts that
agree with the task listing; staff get 403; a holder sets (and clears) a priority with a
reason, and the audit trail records it with their address; another holder's theme is refused."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.web.conftest import MAYOR, STAFF, Live, csrf_of, sign_in
from veiligheid_flow.app import commands, queries, queries_board
from veiligheid_flow.app.access import known
from veiligheid_flow.app.queries import LogFilter, TaskQuery
from veiligheid_flow.clock import local_date

ALDERMAN = "g.prins@example.nl"  # Gerard Prins, wethouder verkeer
OTHER_THEME = "ONDERMIJNING"  # held by the mayor alone


def _themes_held_by(live: Live, name: str) -> tuple[set[str], set[str]]:
    """(names of the themes `name` holds, names of the others), from the themes listing."""
    themes = queries.themes(live.app, now=live.now)
    mine = {t.name for t in themes if any(h.startswith(f"{name} (") for h in t.holders)}
    return mine, {t.name for t in themes} - mine


def test_an_alderman_sees_only_their_themes(live: Live) -> None:
    mine, others = _themes_held_by(live, "Gerard Prins")
    assert mine and others
    with live.client() as client:
        sign_in(live, client, ALDERMAN)
        board = client.get("/portefeuille")
    assert board.status_code == 200
    html = board.text.replace("&#39;", "'").replace("&amp;", "&")
    headings = set(re.findall(r"<h3>([^<]+)</h3>", html))
    assert headings == mine
    for name in others:
        assert name not in html, name
    assert "Aanpak fatbikes" in html  # his council item
    assert "Lokaal ondermijningsbeeld" not in html  # the mayor's


def test_the_mayor_sees_all_her_themes_and_staff_get_403(live: Live) -> None:
    mine, _ = _themes_held_by(live, "Marieke Verbeek")
    with live.client() as client:
        sign_in(live, client, MAYOR)
        html = client.get("/portefeuille").text.replace("&#39;", "'")
        assert set(re.findall(r"<h3>([^<]+)</h3>", html)) == mine
    with live.client() as client:
        sign_in(live, client, STAFF)
        assert client.get("/portefeuille").status_code == 403
        assert client.get("/portefeuille/taak/1/prioriteit").status_code == 403


def test_the_board_counts_agree_with_the_task_listing(live: Live) -> None:
    mayor = known(live.app, MAYOR)
    commands.declare_crisis(
        live.app, "Brand", grip=2, by=mayor, now=live.now, themes=[OTHER_THEME], staff=[],
        expected_days=5,
    )  # fmt: skip
    today = local_date(live.now)
    board = queries_board.board(live.app, now=live.now, actor=mayor)
    listing = queries.tasks(live.app, now=live.now, filters=TaskQuery(include_closed=True))
    codes = {t.name: t.code for t in queries.themes(live.app, now=live.now)}
    for theme in board.themes:
        tasks = [t for t in listing if t.theme == codes[theme.name] and t.status != "cancelled"]
        open_ = [t for t in tasks if t.status in ("open", "in_progress")]
        assert theme.total == len(tasks)
        assert theme.done == sum(t.status == "done" for t in tasks)
        # Paused work that was late before the crisis keeps its 'overdue' signal: late.
        kept = [t for t in open_ if t.paused and "overdue" in t.flags and t.due_date < today]
        assert theme.paused == sum(t.paused for t in open_) - len(kept)
        assert theme.late == sum(not t.paused and t.due_date < today for t in open_) + len(kept)
        assert theme.open == theme.total - theme.done - theme.late - theme.paused
        if theme.code == OTHER_THEME:
            assert kept, "the example has work late before the crisis on this theme"
            assert theme.pauses[0].count == theme.paused + len(kept)
    paused = next(t for t in board.themes if t.code == OTHER_THEME)
    assert paused.paused > 0
    assert board.paused_total == sum(t.paused for t in board.themes)
    assert board.late_total == sum(t.late for t in board.themes)
    assert [t.due_date for t in board.late] == sorted(t.due_date for t in board.late)


def _task_of(live: Live, theme: str) -> int:
    found = queries.tasks(live.app, now=live.now, filters=TaskQuery(theme=theme))
    return next(t.id for t in found if t.due_date > local_date(live.now) + timedelta(days=7))


def test_a_holder_sets_a_priority_with_a_reason_and_it_is_audited(live: Live) -> None:
    task_id = _task_of(live, "VERKEERSVEILIGHEID")
    before = queries.task_detail(live.app, now=live.now, task_id=task_id)
    tier = 1 if before.tier != 1 else 2
    reason = "De raad vraagt om voorrang voor de schoolroutes"
    with live.client() as client:
        sign_in(live, client, ALDERMAN)
        form = client.get(f"/portefeuille/taak/{task_id}/prioriteit")
        assert form.status_code == 200 and before.title in form.text
        csrf = csrf_of(form.text)
        empty = client.post(
            f"/portefeuille/taak/{task_id}/prioriteit", data={"csrf": csrf, "klasse": str(tier)}
        )
        assert empty.status_code == 400 and "Geef een reden" in empty.text
        done = client.post(
            f"/portefeuille/taak/{task_id}/prioriteit",
            data={"csrf": csrf, "klasse": str(tier), "reden": reason},
        )
        assert done.status_code == 303
        page = client.get(done.headers["location"])
        assert "De prioriteit is gezet." in page.text and reason in page.text
        board = client.get("/portefeuille").text
        assert reason in board  # listed under Prioriteiten
    assert queries.task_detail(live.app, now=live.now, task_id=task_id).tier == tier
    log = queries.audit_log(
        live.app, now=live.now, filters=LogFilter(task=task_id, action="priority")
    )
    [entry] = log.items
    assert entry.action == "priority.set" and entry.actor.email == ALDERMAN
    assert entry.reason == reason and entry.after == {"tier": tier}

    with live.client() as client:
        sign_in(live, client, ALDERMAN)
        form = client.get(f"/portefeuille/taak/{task_id}/prioriteit")
        cleared = client.post(
            f"/portefeuille/taak/{task_id}/prioriteit/weghalen", data={"csrf": csrf_of(form.text)}
        )
        assert cleared.status_code == 303
    log = queries.audit_log(
        live.app, now=live.now, filters=LogFilter(task=task_id, action="priority")
    )
    assert [(e.action, e.actor.email) for e in log.items] == [
        ("priority.set", ALDERMAN),
        ("priority.clear", ALDERMAN),
    ]
    assert queries.task_detail(live.app, now=live.now, task_id=task_id).tier == before.tier


def test_a_holder_may_not_set_the_priority_on_another_holders_theme(live: Live) -> None:
    task_id = _task_of(live, OTHER_THEME)
    with live.client() as client:
        sign_in(live, client, ALDERMAN)
        assert client.get(f"/portefeuille/taak/{task_id}/prioriteit").status_code == 403
        csrf = csrf_of(client.get("/portefeuille").text)
        refused = client.post(
            f"/portefeuille/taak/{task_id}/prioriteit",
            data={"csrf": csrf, "klasse": "1", "reden": "voorrang"},
        )
        assert refused.status_code == 403
    log = queries.audit_log(live.app, now=live.now, filters=LogFilter(task=task_id))
    assert not [e for e in log.items if e.action.startswith("priority")]
