"""Rapporten: the evaluation of the reader's programme as a page (its charts as images of
their own: matplotlib's SVG carries style attributes, which the page's CSP blocks inline), the
report as PDF or HTML, and the exports of tasks, termijnagenda and evaluation as CSV or XLSX.

Coordinators and portfolio holders see everything here, for the municipalities where they
have that role; everyone signed in may download the tasks they see (/rapporten/taken.*)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from veiligheid_flow.app import evaluation as evaluation_query
from veiligheid_flow.app import exports, queries_board, web_reports
from veiligheid_flow.app.views import Actor
from veiligheid_flow.clock import local_date
from veiligheid_flow.entrypoints.web.deps import page, signed_in, web
from veiligheid_flow.errors import NotFound

router = APIRouter()
TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
}


def reporter(actor: Annotated[Actor, Depends(signed_in)]) -> Actor:
    """The signed-in coordinator or portfolio holder, limited to those municipalities;
    anyone else is refused (403)."""
    return web_reports.as_reporter(actor)


Reporter = Annotated[Actor, Depends(reporter)]
SignedIn = Annotated[Actor, Depends(signed_in)]


def _kind(kind: str, allowed: tuple[str, ...]) -> str:
    if kind not in allowed:
        raise NotFound(f"bestandstype .{kind} is er hier niet (wel: .{', .'.join(allowed)})")
    return kind


def _download(data: bytes, kind: str, name: str) -> Response:
    return Response(
        data,
        media_type=TYPES[kind],
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{kind}"',
            "Cache-Control": "no-store",
        },
    )


def _stamp(request: Request) -> str:
    return local_date(web(request).now()).isoformat()


@router.get("/rapporten")
def reports(request: Request, actor: Reporter) -> Response:
    return page(
        request,
        "reports.html",
        actor,
        programmes=web_reports.programmes(web(request).app, actor=actor),
        active="rapporten",
        title="Rapporten",
    )


@router.get("/rapporten/evaluatie")
def evaluation_page(request: Request, actor: Reporter, programma: str | None = None) -> Response:
    w = web(request)
    choices = web_reports.programmes(w.app, actor=actor)
    if not programma and len(choices) > 1:  # the reader chooses first
        return page(
            request,
            "reports_choose.html",
            actor,
            programmes=choices,
            active="rapporten",
            title="Evaluatie: kies een programma",
        )
    result = evaluation_query.evaluation(w.app, now=w.now(), programme=programma, actor=actor)
    return page(
        request,
        "reports_evaluation.html",
        actor,
        e=result,
        query=f"?programma={result.programme}" if programma else "",
        charts=web_reports.CHARTS,
        euros=queries_board.euros,
        active="rapporten",
        title=f"Evaluatie {result.programme_name}",
    )


@router.get("/rapporten/evaluatie/grafiek/{name}.svg")
def evaluation_chart(
    request: Request, name: str, actor: Reporter, programma: str | None = None
) -> Response:
    w = web(request)
    svg = web_reports.evaluation_chart(w.app, name, now=w.now(), programme=programma, actor=actor)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get("/rapporten/evaluatie.{kind}")
def evaluation_file(
    request: Request, kind: str, actor: Reporter, programma: str | None = None
) -> Response:
    w = web(request)
    _kind(kind, ("pdf", "html", "csv", "xlsx"))
    if kind in ("pdf", "html"):
        data, code = web_reports.evaluation_report(
            w.app, f".{kind}", now=w.now(), programme=programma, actor=actor
        )
    else:
        data, code = web_reports.evaluation_table_bytes(
            w.app, f".{kind}", now=w.now(), programme=programma, actor=actor
        )
    return _download(data, kind, f"evaluatie-{code}-{_stamp(request)}")


@router.get("/rapporten/taken.{kind}")
def tasks_file(request: Request, kind: str, actor: SignedIn) -> Response:
    """The open tasks the reader sees, in the order of work (as `veiligheid tasks`)."""
    w = web(request)
    export = exports.tasks_export(w.app, now=w.now(), actor=actor)
    data = web_reports.table_bytes(export, f".{_kind(kind, ('csv', 'xlsx'))}")
    return _download(data, kind, f"taken-{_stamp(request)}")


@router.get("/rapporten/termijnagenda.{kind}")
def council_file(request: Request, kind: str, actor: Reporter) -> Response:
    w = web(request)
    export = exports.council_export(w.app, now=w.now(), actor=actor)
    data = web_reports.table_bytes(export, f".{_kind(kind, ('csv', 'xlsx'))}")
    return _download(data, kind, f"termijnagenda-{_stamp(request)}")
