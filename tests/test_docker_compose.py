"""docker-compose.yml, the Dockerfile and prefect.yaml fit together (read as files: no Docker).

tests/test_server_topology.py runs the same topology natively; this holds the compose file to it:
the services and their images, ports, health checks and start order, and the environment each
service needs to find the others.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PREFECT_YAML = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
APP_SERVICES = ("app", "worker")  # built from the Dockerfile


def _env(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment") or {}
    if isinstance(env, list):  # the KEY=value form
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _words(value: str | list[str] | None) -> str:
    """A command or entrypoint as one string, whichever form the file uses."""
    if value is None:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def _port_map(service: str) -> dict[int, int]:
    """container port -> host port, from the short "[IP:]HOST:CONTAINER" syntax."""
    mapping = {}
    for entry in SERVICES[service].get("ports", []):
        parts = str(entry).split("/")[0].split(":")
        mapping[int(parts[-1])] = int(parts[-2] if len(parts) > 1 else parts[-1])
    return mapping


def _depends(service: str) -> dict[str, str]:
    depends = SERVICES[service].get("depends_on") or {}
    if isinstance(depends, list):
        return {name: "service_started" for name in depends}
    return {name: spec.get("condition", "service_started") for name, spec in depends.items()}


def _pool_names() -> set[str]:
    return {d["work_pool"]["name"] for d in PREFECT_YAML["deployments"]}


# --- services and images ----------------------------------------------------------------------


def test_the_five_services_exist():
    assert set(SERVICES) == {"db", "prefect", "worker", "mail", "app"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_images_are_pinned(service):
    image = SERVICES[service]["image"]
    name, _, tag = image.rpartition(":")
    assert name and "/" not in tag, f"{service}: {image} has no tag"
    assert tag != "latest" and "latest" not in tag, f"{service}: {image} is not pinned"


def test_prefect_image_is_the_version_prefect_yaml_names():
    version = PREFECT_YAML["prefect-version"]
    assert SERVICES["prefect"]["image"] == f"prefecthq/prefect:{version}-python3.11"
    assert SERVICES["db"]["image"] == "postgres:15"
    assert SERVICES["mail"]["image"].startswith("axllent/mailpit:v")


def test_app_and_worker_are_built_from_the_dockerfile():
    for service in APP_SERVICES:
        build = SERVICES[service]["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        assert (ROOT / context / dockerfile).is_file(), service
    assert SERVICES["app"]["image"] == SERVICES["worker"]["image"]  # one image, built once


# --- ports, health checks, start order --------------------------------------------------------


def test_ports():
    assert _port_map("prefect") == {4200: 4200}
    assert _port_map("mail")[8025] == 8025  # web inbox
    assert 1025 in _port_map("mail")  # SMTP
    assert "ports" not in SERVICES["db"]  # no clash with a PostgreSQL on the host


@pytest.mark.parametrize(
    ("service", "probe"),
    [
        ("db", "pg_isready"),
        ("prefect", "http://127.0.0.1:4200/api/health"),
        ("mail", "readyz"),
        ("worker", "/health"),
    ],
)
def test_health_checks(service, probe):
    check = SERVICES[service]["healthcheck"]
    assert probe in _words(check["test"])
    assert check.get("retries", 0) >= 3 and check.get("interval")


def test_db_is_healthy_only_when_it_listens_on_tcp():
    # The postgres image first runs its init scripts on a socket-only server: a socket check
    # would call it healthy before the `prefect` database exists.
    assert "-h 127.0.0.1" in _words(SERVICES["db"]["healthcheck"]["test"])


def test_start_order_waits_for_health():
    assert _depends("prefect") == {"db": "service_healthy"}
    worker = _depends("worker")
    assert {worker[s] for s in ("db", "prefect", "mail")} == {"service_healthy"}
    assert worker["app"] == "service_completed_successfully"  # migrated and loaded first
    app = _depends("app")
    assert app["db"] == app["prefect"] == "service_healthy"  # crisis events need the server
    assert SERVICES["app"].get("restart") == "no"  # a one-shot


# --- environment: every service finds the others ----------------------------------------------


def _db_env() -> dict[str, str]:
    return _env("db")


def _initdb_databases() -> set[str]:
    """Databases the init scripts mounted into the postgres image create."""
    names: set[str] = set()
    for volume in SERVICES["db"]["volumes"]:
        source, target = str(volume).split(":")[:2]
        if target == "/docker-entrypoint-initdb.d":
            for script in sorted((ROOT / source).glob("*.sql")):
                names |= set(
                    re.findall(r"CREATE DATABASE\s+\"?(\w+)", script.read_text(), flags=re.I)
                )
    return names


def test_prefect_server_uses_its_own_database_on_db():
    url = make_url(_env("prefect")["PREFECT_SERVER_DATABASE_CONNECTION_URL"])
    db = _db_env()
    assert url.drivername == "postgresql+asyncpg"
    assert (url.host, url.port or 5432) == ("db", 5432)
    assert (url.username, url.password) == (db["POSTGRES_USER"], db["POSTGRES_PASSWORD"])
    assert url.database in _initdb_databases()
    assert url.database != db["POSTGRES_DB"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_use_the_app_database_prefect_and_mailpit(service):
    env = _env(service)
    db = _db_env()
    url = make_url(env["VEILIGHEID_DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port or 5432) == ("db", 5432)
    assert (url.username, url.password) == (db["POSTGRES_USER"], db["POSTGRES_PASSWORD"])
    assert url.database == db["POSTGRES_DB"]

    api = urlsplit(env["PREFECT_API_URL"])
    assert (api.scheme, api.hostname, api.port, api.path) == ("http", "prefect", 4200, "/api")

    assert env["VEILIGHEID_SMTP_HOST"] == "mail"
    assert int(env["VEILIGHEID_SMTP_PORT"]) == 1025 and 1025 in _port_map("mail")
    assert "VEILIGHEID_SMTP_TLS" not in env and "VEILIGHEID_SMTP_STARTTLS" not in env


def test_prefect_ui_talks_to_the_published_api():
    assert _env("prefect")["PREFECT_UI_API_URL"] == "http://localhost:4200/api"
    assert "0.0.0.0" in _words(SERVICES["prefect"]["command"])  # reachable from other services


def test_compose_variables_are_escaped():
    """Compose replaces $NAME / ${NAME} from the host's environment: shell variables meant for
    the container must be written $$NAME."""
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8").replace("$$", "")
    assert "$" not in text


# --- what the worker and the app run ----------------------------------------------------------


def test_worker_creates_the_pool_deploys_everything_and_polls_it():
    script = (
        _words(SERVICES["worker"].get("entrypoint")) + " " + _words(SERVICES["worker"]["command"])
    )
    (pool,) = _pool_names()
    assert f"prefect work-pool create {pool} --type process" in script
    assert "prefect --no-prompt deploy --all" in script
    assert f"prefect worker start --pool {pool}" in script
    assert "export PWD=/app" in script  # prefect.yaml's pull step uses {{ $PWD }}
    assert re.search(r"WORKDIR\s+/app\b", DOCKERFILE)
    port = _env("worker")["PREFECT_WORKER_WEBSERVER_PORT"]
    assert f":{port}/health" in _words(SERVICES["worker"]["healthcheck"]["test"])


def test_app_migrates_then_loads_the_example_or_runs_any_command():
    app = SERVICES["app"]
    entrypoint = _words(app["entrypoint"])
    assert "veiligheid db upgrade" in entrypoint and 'exec veiligheid "$$@"' in entrypoint
    command = app["command"]
    assert command[0] == "load" and (ROOT / command[1]).is_file()


# --- the Dockerfile ---------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    rows = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            rows.append((keyword.upper(), rest.strip()))
    return rows


def test_dockerfile_installs_the_project_and_runs_as_a_user():
    rows = _instructions()
    assert rows[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(rest for keyword, rest in rows if keyword == "RUN")
    assert re.search(r"pip install (--\S+ )*\.(\s|$)", runs), runs
    users = [rest for keyword, rest in rows if keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    assert ("ENTRYPOINT", '["veiligheid"]') in rows
    # USER comes after the install: pip runs as root, the app does not.
    install = max(i for i, (kw, rest) in enumerate(rows) if kw == "RUN" and "pip install" in rest)
    assert rows.index(("USER", users[-1])) > install


def test_dockerfile_copies_what_the_image_needs():
    copied = set()
    for keyword, rest in _instructions():
        if keyword == "COPY":
            *sources, _target = shlex.split(rest)
            copied |= set(sources)
    needed = {"pyproject.toml", "README.md", "veiligheid_flow", "flows", "prefect.yaml"}
    needed |= {"rules", "config"}
    assert needed <= copied
    for source in copied:
        assert (ROOT / source).exists(), source
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert not copied & ignored


def test_dockerfile_points_the_settings_at_the_copied_files():
    env = dict(re.findall(r"(VEILIGHEID_\w+)=(\S+)", DOCKERFILE))
    for key in ("VEILIGHEID_RULES", "VEILIGHEID_PROGRAMME"):
        path = env[key]
        assert path.startswith("/app/")
        assert (ROOT / path.removeprefix("/app/")).exists(), key


# --- prefect.yaml ------------------------------------------------------------------------------


@functools.cache
def _load_entrypoint(entrypoint: str) -> Any:
    path, _, name = entrypoint.partition(":")
    spec = importlib.util.spec_from_file_location("_deployment_entrypoint", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def test_every_deployment_entrypoint_is_a_flow():
    from prefect import Flow

    names = [d["name"] for d in PREFECT_YAML["deployments"]]
    assert len(names) == len(set(names))
    for deployment in PREFECT_YAML["deployments"]:
        path = deployment["entrypoint"].partition(":")[0]
        assert (ROOT / path).is_file(), deployment["name"]
        assert isinstance(_load_entrypoint(deployment["entrypoint"]), Flow), deployment["name"]


def test_crisis_response_is_triggered_by_the_events_the_cli_emits():
    (deployment,) = [d for d in PREFECT_YAML["deployments"] if d["name"] == "crisis-response"]
    (trigger,) = deployment["triggers"]
    assert trigger["type"] == "event" and trigger.get("enabled", True)
    # veiligheid_flow/events.py: resource veiligheid.crisis.<id>, event veiligheid.crisis.<what>
    assert trigger["match"] == {"prefect.resource.id": "veiligheid.crisis.*"}
    assert set(trigger["expect"]) == {
        "veiligheid.crisis.declared",
        "veiligheid.crisis.updated",
        "veiligheid.crisis.ended",
    }
    flow = _load_entrypoint(deployment["entrypoint"])
    parameters = inspect.signature(flow.fn).parameters
    assert set(trigger["parameters"]) <= set(parameters)
    required = {n for n, p in parameters.items() if p.default is inspect.Parameter.empty}
    assert required <= set(trigger["parameters"])
