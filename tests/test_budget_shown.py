"""Issue 13, point 2: realised amounts are shown next to the planned budget in the digest and
on the portfolio board, as of `now` (a booking after it does not count)."""

from __future__ import annotations

from decimal import Decimal

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import budget, commands, queries, queries_board
from veiligheid_flow.app.access import known
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App

MAYOR, COORDINATOR = "m.verbeek@example.nl", "a.devries@example.nl"


def test_a_booking_shows_in_the_digest_and_on_the_board(app: App) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-09-01T09:00"))
    board = queries_board.board(app, now=at("2023-10-02T09:00"), actor=known(app, MAYOR))
    mine = board.themes[0].name
    planned = [b for b in board.budget if b.theme == mine]
    assert planned and board.realised == ()  # nothing realised in the example file
    budget.book(
        app, mine, 2023, "12.345,00", description="Inhuur", by=COORDINATOR,
        now=at("2023-10-02T10:00"),
    )  # fmt: skip
    before = queries_board.board(app, now=at("2023-10-02T09:30"), actor=known(app, MAYOR))
    after = queries_board.board(app, now=at("2023-10-02T11:00"), actor=known(app, MAYOR))
    assert dict(before.realised).get(mine, Decimal(0)) == 0
    assert dict(after.realised)[mine] == Decimal("12345.00")
    digest = queries.digest_preview(app, now=at("2023-10-02T11:00"), holder=MAYOR)
    text = " ".join(digest.text.split())
    assert f"{mine} 2023: gepland €" in text and "gerealiseerd € 12.345" in text
    earlier = queries.digest_preview(app, now=at("2023-10-02T09:30"), holder=MAYOR)
    assert "gerealiseerd € 12.345" not in earlier.text
