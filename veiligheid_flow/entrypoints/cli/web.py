"""`veiligheid web`: the web app (uvicorn), optionally with the scheduler in the same process
(`--planner`, what `make run` uses), on the real clock or a fixed `--now`."""

from __future__ import annotations

import socket
import threading
import warnings
from typing import Annotated

import typer

from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import run_due
from veiligheid_flow.app.views import SYSTEM
from veiligheid_flow.entrypoints.cli.support import NowOption, app_context, console, now_from
from veiligheid_flow.errors import DomainError


def web(
    now: NowOption = None,
    host: Annotated[str, typer.Option(help="Adres om op te luisteren.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Poort.", min=1, max=65535)] = 8000,
    planner: Annotated[
        bool, typer.Option("--planner", help="Draai ook de planner (mail) in dit proces.")
    ] = False,
) -> None:
    """Start de webapp; stop met Ctrl-C. Met --now staat de klok van app en planner vast."""
    # authlib 1.9 announces its move to httpx2 on import, nothing a user can act on; its
    # module turns its own warnings on when imported, so the filter comes after it.
    import authlib.deprecate  # noqa: F401
    import uvicorn

    warnings.filterwarnings("ignore", message="The httpx module is deprecated")

    from veiligheid_flow.entrypoints.scheduler import build_scheduler, direct_runner
    from veiligheid_flow.entrypoints.web.clock import WebClock
    from veiligheid_flow.entrypoints.web.server import create_app

    fixed = now_from(now) if now else None
    clock = WebClock(fixed)
    _check_free(host, port)
    with app_context() as ctx:
        url = ctx.settings.web_url or f"http://{host}:{port}"
        if not ctx.settings.web_url:  # links in mail (sign-in, tasks) point here
            ctx.settings = ctx.settings.model_copy(update={"web_url": url})
        scheduler = None
        if planner:
            commands.load(ctx, ctx.settings.programme, by=SYSTEM, now=clock.now())
            if fixed is not None:  # a fixed clock: what is due at that moment, once
                run_due(ctx, now=fixed)
            scheduler = build_scheduler(ctx, direct_runner(ctx), clock.now, console.print)
            scheduler.start()
            console.print("Planner draait.")
        console.print(f"Webapp: open {url} in je browser (stop met Ctrl-C).")
        if fixed is not None:
            console.print(f"Vaste klok: {now} (op elke pagina te zien).")
        config = uvicorn.Config(create_app(ctx, clock), host=host, port=port, log_level="warning")
        server = uvicorn.Server(config)
        try:
            server.run()
        finally:
            if scheduler is not None:
                threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}).start()


def _check_free(host: str, port: int) -> None:
    """One Dutch line instead of uvicorn's English error when the port is taken."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DomainError(
                f"poort {port} op {host} is niet beschikbaar ({exc.strerror or exc}); "
                "kies een andere met --port"
            ) from None


def register(app: typer.Typer) -> None:
    from veiligheid_flow.entrypoints.cli.support import friendly_errors

    app.command("web")(friendly_errors(web))
