"""Issue 12, point 2: sign-in by a one-time link in mail: single use, 15 minutes, the same
answer for unknown addresses, rate-limited; sign-out; the link page changes nothing."""

from __future__ import annotations

from tests.web.conftest import COORDINATOR, Live, csrf_of, sign_in


def test_sign_in_by_the_mailed_link_then_sign_out(live: Live) -> None:
    with live.client() as client:
        assert client.get("/").headers["location"].startswith("/aanmelden")
        sign_in(live, client, COORDINATOR)
        home = client.get("/")
        assert home.status_code == 200 and "Mijn werk" in home.text and "Anna de Vries" in home.text
        out = client.post("/afmelden", data={"csrf": csrf_of(home.text)})
        assert out.status_code == 303
        assert client.get("/").status_code == 303


def test_a_link_works_once(live: Live) -> None:
    with live.client() as client:
        sign_in(live, client, COORDINATOR)
        link = live.sign_in_link(COORDINATOR)
    with live.client() as other:
        page = other.get(link)
        assert page.status_code == 410 and "al gebruikt" in page.text
        assert other.get("/").status_code == 303


def test_a_link_expires_after_fifteen_minutes(live: Live) -> None:
    with live.client() as client:
        form = client.get("/aanmelden")
        client.post("/aanmelden", data={"csrf": csrf_of(form.text), "email": COORDINATOR})
        link = live.sign_in_link(COORDINATOR)
        live.move("2023-10-02T09:16")
        page = client.get(link)
        assert page.status_code == 410 and "verlopen" in page.text


def test_unknown_addresses_get_the_same_answer_and_no_mail(live: Live) -> None:
    with live.client() as client:
        form = client.get("/aanmelden")
        known = client.post("/aanmelden", data={"csrf": csrf_of(form.text), "email": COORDINATOR})
        unknown = client.post(
            "/aanmelden", data={"csrf": csrf_of(form.text), "email": "nobody@example.nl"}
        )
    strip = lambda html: html.replace(COORDINATOR, "").replace("nobody@example.nl", "")  # noqa: E731
    assert known.status_code == unknown.status_code == 200
    assert strip(known.text).split("<main")[1] == strip(unknown.text).split("<main")[1]
    assert live.mails_to("nobody@example.nl") == []


def test_opening_the_link_signs_nobody_in(live: Live) -> None:
    with live.client() as client:
        form = client.get("/aanmelden")
        client.post("/aanmelden", data={"csrf": csrf_of(form.text), "email": COORDINATOR})
        link = live.sign_in_link(COORDINATOR)
        for _ in range(3):  # a mail scanner opening it
            assert client.get(link).status_code == 200
        assert client.get("/").status_code == 303
        confirm = client.get(link)
        assert client.post(link, data={"csrf": csrf_of(confirm.text)}).status_code == 303
        assert client.get("/").status_code == 200


def test_requests_are_rate_limited_per_address(live: Live) -> None:
    with live.client() as client:
        form = client.get("/aanmelden")
        for _ in range(8):
            client.post("/aanmelden", data={"csrf": csrf_of(form.text), "email": COORDINATOR})
    mails = [m for m in live.mails_to(COORDINATOR) if "aanmeldlink" in str(m["Subject"])]
    assert len(mails) == 5  # PER_ADDRESS in one hour
