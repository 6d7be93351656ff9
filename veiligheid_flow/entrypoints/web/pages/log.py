"""Het logboek, for coordinators: the audit trail of the municipalities they coordinate,
newest first, 50 a page, filtered by person and by a period of local dates."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from veiligheid_flow.app import queries, queries_admin
from veiligheid_flow.app.queries import LogFilter
from veiligheid_flow.app.views import Actor, AuditView
from veiligheid_flow.entrypoints.web.deps import page, signed_in, web
from veiligheid_flow.errors import DomainError, NotFound, Refused

router = APIRouter()
PER_PAGE = 50


class BadInput(ValueError):
    """A filter that cannot be read: one Dutch line for the page."""


def _day(text: str | None, name: str) -> date | None:
    if not text or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"‘{name}’ is geen geldige datum: kies een dag (jjjj-mm-dd).") from None


def _page(text: str | None) -> int:
    if not text:
        return 1
    if not text.strip().isdigit() or int(text) < 1:
        raise BadInput("Het paginanummer moet een heel getal vanaf 1 zijn.")
    return int(text)


def change(entry: AuditView) -> str:
    """'veld: vóór → na' per changed field, as the CLI shows it."""
    before, after = entry.before or {}, entry.after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return "; ".join(f"{k}: {before.get(k, '')} → {after.get(k, '')}" for k in keys)


@router.get("/logboek")
def audit_log(
    request: Request,
    actor: Annotated[Actor, Depends(signed_in)],
    persoon: str | None = None,
    van: str | None = None,
    tot: str | None = None,
    pagina: str | None = None,
) -> Response:
    w = web(request)
    reader = queries_admin.as_coordinator(actor)
    people = queries.people(w.app, now=w.now(), actor=reader)
    chosen = {k: (v or "").strip() for k, v in (("persoon", persoon), ("van", van), ("tot", tot))}
    context: dict[str, Any] = {"people": people, "chosen": chosen, "log": None, "problem": None}
    try:
        start, end, number = _day(van, "van"), _day(tot, "tot en met"), _page(pagina)
        if start and end and end < start:
            raise BadInput("De datum ‘tot en met’ ligt vóór ‘van’.")
        filters = LogFilter(
            person=chosen["persoon"] or None, start=start, end=end, limit=PER_PAGE, page=number
        )
        context["log"] = queries.audit_log(w.app, now=w.now(), filters=filters, actor=reader)
    except (NotFound, Refused):
        raise
    except (BadInput, DomainError) as exc:
        text = str(exc)
        context["problem"] = text[:1].upper() + text[1:]
    if context["log"] is not None:
        log = context["log"]
        query = {k: v for k, v in chosen.items() if v}

        def link(number: int) -> str | None:
            return (
                f"/logboek?{urlencode({**query, 'pagina': number})}"
                if 1 <= number <= log.pages
                else None
            )

        context |= {"newer": link(min(log.page - 1, log.pages)), "older": link(log.page + 1)}
        context["entries"] = list(reversed(log.items))  # newest first
    return page(
        request,
        "log.html",
        actor,
        status=400 if context["problem"] else 200,
        label=queries_admin.action_label,
        change=change,
        active="logboek",
        title="Logboek",
        **context,
    )
