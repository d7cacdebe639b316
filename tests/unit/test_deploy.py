"""The server deployment, checked without a Docker engine: docker-compose.yml against the Compose specification,
against the CLI and the settings it configures, and the files it mounts; the Dockerfile and its build context.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import jsonschema
import pytest
import yaml
from pydantic_settings import BaseSettings

from dashboards.common import TIMEZONE
from ingest.service import UPLINK_TOPICS
from stadtpuls.calendar import load_calendar
from stadtpuls.cli import main as cli_main
from stadtpuls.settings import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
OUR_IMAGE = "stadtpuls:"
# made on the server by deploy/mosquitto/passwd.sh, never committed
MADE_ON_THE_SERVER = {Path("deploy/mosquitto/passwd")}
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable syntax: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        if operator in (":-", ":?") and not value:
            value = None
        if value is not None:
            return value
        if operator in ("-", ":-"):
            return argument
        if operator in ("?", ":?"):
            raise AssertionError(f"${{{name}}} is required: {argument}")
        return ""

    return _VARIABLE.sub(replace, text).replace("$$", "$")


def _filled_env() -> dict[str, str]:
    """.env.example with every empty secret set, as an operator's .env would be."""
    return {name: value or f"secret-{name.lower()}" for name, value in _env_example().items()}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(_interpolate(COMPOSE.read_text(encoding="utf-8"), _filled_env()))
    return document


def _compose_schema() -> dict[str, Any]:
    # the Compose specification's schema as check-jsonschema vendors it (licence: Apache-2.0, in the package)
    resource = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return schema


def _ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if str(s.get("image", "")).startswith(OUR_IMAGE)}


# --- the file as a whole ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("stage", ["as written", "interpolated"])
def test_compose_file_is_valid_against_the_compose_specification(stage: str, raw: dict[str, Any],
                                                                  compose: dict[str, Any]) -> None:
    schema = _compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(raw if stage == "as written" else compose)]
    assert errors == []


def test_the_schema_rejects_a_broken_file(raw: dict[str, Any]) -> None:
    schema = _compose_schema()
    broken = json.loads(json.dumps(raw))
    broken["services"]["ingest"]["restart_policy"] = "always"  # no such key in a service
    assert not jsonschema.validators.validator_for(schema)(schema).is_valid(broken)


def test_the_stack_has_every_part(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "mosquitto", "influxdb", "postgres", "grafana", "ingest", "processing", "alarms", "api", "simulator",
        "influx-ingest-account", "influx-api-account", "influx-alarms-account"}
    assert compose["services"]["simulator"]["profiles"] == ["demo"]
    assert all("profiles" not in s for name, s in compose["services"].items() if name != "simulator")


def test_every_variable_comes_from_env_example_and_every_entry_is_used() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    used = {match.group(1) for match in _VARIABLE.finditer(text)}
    defined = _env_example()
    assert used - set(defined) == set(), "variables of docker-compose.yml missing from .env.example"
    passwd_script = (ROOT / "deploy/mosquitto/passwd.sh").read_text(encoding="utf-8")
    read_by_script = set(re.findall(r'\$\(value (\w+)\)', passwd_script))
    assert read_by_script <= set(defined)
    assert set(defined) - used - read_by_script == set(), "entries of .env.example that nothing reads"


def test_env_example_holds_no_secret() -> None:
    for name, value in _env_example().items():
        if "PASSWORD" in name:
            assert value == "", f"{name} must be empty in .env.example"


def test_required_secrets_fail_loudly_when_missing() -> None:
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD"):
        _interpolate(COMPOSE.read_text(encoding="utf-8"), {**_filled_env(), "POSTGRES_PASSWORD": ""})


# --- images --------------------------------------------------------------------------------------------------

def test_every_image_is_pinned_to_a_release(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = str(service["image"])
        if image.startswith(OUR_IMAGE):
            assert "build" in service, f"{name} uses the project's image but does not build it"
            continue
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} is not pinned to a release"
        assert re.fullmatch(r"\d+(\.\d+)+", tag), f"{name}: {image} is not pinned to a release"
        assert repository != "grafana/grafana-oss", "grafana/grafana-oss gets no updates from Grafana 12.4 on"


def test_influxdb_is_1_11_with_authentication(compose: dict[str, Any]) -> None:
    influx = compose["services"]["influxdb"]
    assert influx["image"].startswith("influxdb:1.11")
    assert influx["environment"]["INFLUXDB_HTTP_AUTH_ENABLED"] == "true"


def test_grafana_is_closed_to_anonymous_users(compose: dict[str, Any]) -> None:
    environment = compose["services"]["grafana"]["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert environment["GF_SECURITY_ADMIN_PASSWORD"] == "secret-grafana_admin_password"


def test_grafanas_default_time_zone_is_the_boards(compose: dict[str, Any]) -> None:
    """The hour × weekday panels label hours in the viewer's time zone: by default the one the boards use."""
    environment = compose["services"]["grafana"]["environment"]
    assert environment["GF_DATE_FORMATS_DEFAULT_TIMEZONE"] == TIMEZONE
    assert _env_example()["GRAFANA_TIMEZONE"] == TIMEZONE


# --- the CLI -------------------------------------------------------------------------------------------------

def _commands(compose: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(name, [str(a) for a in service["command"]]) for name, service in _ours(compose).items()]


def _command_params() -> list[Any]:
    document = yaml.safe_load(_interpolate(COMPOSE.read_text(encoding="utf-8"), _filled_env()))
    return [pytest.param(name, args, id=name) for name, args in _commands(document)]


@pytest.mark.parametrize(("service", "args"), _command_params())
def test_every_service_runs_a_command_the_cli_has(service: str, args: list[str]) -> None:
    ctx = click.Context(cli_main)
    command = cli_main.get_command(ctx, args[0])
    assert command is not None, (
        f"service {service!r} runs `stadtpuls {shlex.join(args)}`, but the CLI has no command {args[0]!r}")
    # parse (not run) the arguments: unknown options or bad values fail here as they would in the container
    sub = command.make_context(args[0], list(args[1:]), parent=ctx)
    rest = [*getattr(sub, "_protected_args", []), *sub.args]
    if isinstance(command, click.Group) and rest:
        assert command.get_command(sub, rest[0]) is not None, f"stadtpuls {args[0]} has no subcommand {rest[0]!r}"


# --- settings and ports ----------------------------------------------------------------------------------------

def _setting_names() -> set[str]:
    """Every STADTPULS_* variable the settings models read, from their env prefixes and fields."""
    names: set[str] = set()

    def walk(model: type[BaseSettings]) -> None:
        prefix = str(model.model_config.get("env_prefix", ""))
        for field_name, info in model.model_fields.items():
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
                walk(annotation)
            else:
                names.add((prefix + field_name).upper())

    walk(Settings)
    return names


def test_setting_names_are_read_from_the_models() -> None:
    names = _setting_names()
    assert {"STADTPULS_MQTT_URL", "STADTPULS_INFLUX_PASSWORD", "STADTPULS_DATABASE_URL", "STADTPULS_METRICS_PORT",
            "STADTPULS_DATA_DIR"} <= names
    assert all(name.startswith(PREFIX) for name in names)


def test_every_stadtpuls_variable_is_a_setting_with_a_valid_value(compose: dict[str, Any],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    known = _setting_names()
    for name, service in _ours(compose).items():
        environment = service["environment"]
        unknown = {key for key in environment if key.startswith(PREFIX)} - known
        assert unknown == set(), f"{name} sets variables no setting reads"
        for key in list(__import__("os").environ):
            if key.startswith(PREFIX):
                monkeypatch.delenv(key)
        for key, value in environment.items():
            monkeypatch.setenv(key, str(value))
        Settings()  # raises on an invalid value


def _published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    ports = []
    for entry in service.get("ports", []):
        host_ip, host, container = str(entry).rsplit(":", 2)
        ports.append((host_ip, int(host), int(container)))
    return ports


def test_only_the_needed_ports_are_published_on_a_chosen_address(raw: dict[str, Any],
                                                                  compose: dict[str, Any]) -> None:
    published = {name: _published(s) for name, s in compose["services"].items() if s.get("ports")}
    assert {name: [p[2] for p in ports] for name, ports in published.items()} == {
        "mosquitto": [1883], "grafana": [3000], "api": [8000]}
    for name, service in raw["services"].items():
        for entry in service.get("ports", []):
            assert re.match(r"\$\{\w+_BIND_ADDRESS:-127\.0\.0\.1\}:", str(entry)), (
                f"{name} publishes {entry} without a bind address from .env (default loopback)")


def test_urls_point_at_the_services_and_their_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    listener = re.search(r"^listener (\d+)$", (ROOT / "deploy/mosquitto/mosquitto.conf").read_text(), re.M)
    assert listener is not None
    container_ports = {"mosquitto": int(listener.group(1)), "influxdb": 8086, "postgres": 5432}
    for name, service in _ours(compose).items():
        for key in ("STADTPULS_MQTT_URL", "STADTPULS_INFLUX_URL", "STADTPULS_DATABASE_URL"):
            parts = urlsplit(service["environment"][key])
            assert parts.hostname in services, f"{name}: {key} names no service of the stack"
            assert parts.port == container_ports[parts.hostname], f"{name}: {key} has the wrong port"


def test_api_and_ingest_health_checks_ask_the_ports_they_listen_on(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    port = int(api["command"][api["command"].index("--port") + 1])
    assert [p[2] for p in _published(api)] == [port]
    assert f"127.0.0.1:{port}/health" in " ".join(api["healthcheck"]["test"])
    ingest = compose["services"]["ingest"]
    metrics = int(ingest["environment"]["STADTPULS_METRICS_PORT"])
    assert f"127.0.0.1:{metrics}/readyz" in " ".join(ingest["healthcheck"]["test"])


def test_every_server_has_a_health_check_and_its_dependants_wait_for_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("mosquitto", "influxdb", "postgres", "grafana", "ingest", "api"):
        assert services[name]["healthcheck"]["test"], name
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            if services[dependency].get("restart") == "no":  # a task that runs once: waited for until it ends well
                assert condition["condition"] == "service_completed_successfully", f"{name} → {dependency}"
                continue
            assert condition["condition"] == "service_healthy", f"{name} → {dependency}"
            assert "healthcheck" in services[dependency], f"{name} waits for {dependency}, which has no check"


# --- files -----------------------------------------------------------------------------------------------------

def _bind_sources(service: dict[str, Any]) -> list[tuple[Path, str]]:
    found = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume["type"] == "bind":
                found.append((Path(volume["source"]), volume["target"]))
        elif str(volume).startswith("./"):
            source, target = str(volume).split(":")[:2]
            found.append((Path(source), target))
    return found


def test_every_mounted_file_exists_or_is_made_on_the_server(compose: dict[str, Any]) -> None:
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    for name, service in compose["services"].items():
        for source, _ in _bind_sources(service):
            relative = Path(*source.parts)
            if relative in MADE_ON_THE_SERVER:
                assert str(relative) in gitignore, f"{relative} holds secrets: .gitignore must list it"
                assert (ROOT / "deploy/mosquitto/passwd.sh").is_file()
                continue
            assert (ROOT / relative).exists(), f"{name} mounts {relative}, which does not exist"


def test_detection_and_the_report_read_the_towns_calendar(compose: dict[str, Any]) -> None:
    for name in ("processing", "api"):
        service = compose["services"][name]
        target = service["environment"]["STADTPULS_CALENDAR"]
        [source] = [source for source, mounted in _bind_sources(service) if mounted == target]
        calendar = load_calendar(ROOT / source)
        assert calendar.state, f"{name} mounts {source} as the calendar, which names no state"
        assert calendar.school_holidays, f"{name}: {source} has no school holidays"


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            if isinstance(volume, str) and not volume.startswith("./"):
                assert volume.split(":")[0] in compose["volumes"], f"{name}: {volume}"


def test_grafana_finds_the_data_source_and_the_boards_where_they_are_mounted(compose: dict[str, Any]) -> None:
    mounts = dict((str(source), target) for source, target in _bind_sources(compose["services"]["grafana"]))
    assert mounts["deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/stadtpuls.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == mounts["deploy/grafana/dashboards"]
    boards = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
    assert len(boards) >= 4
    datasources = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/influxdb.yaml").read_text())
    source = datasources["datasources"][0]
    assert urlsplit(source["url"]).hostname == "influxdb"
    password_variable = source["secureJsonData"]["password"].strip("${}")
    assert password_variable in compose["services"]["grafana"]["environment"]
    influx = compose["services"]["influxdb"]["environment"]
    assert source["user"] == influx["INFLUXDB_READ_USER"]
    assert compose["services"]["grafana"]["environment"][password_variable] == influx["INFLUXDB_READ_USER_PASSWORD"]


def test_mosquitto_accounts_and_acl_fit_ingest_and_the_simulator(compose: dict[str, Any]) -> None:
    acl: dict[str, list[tuple[str, str]]] = {}
    user = ""
    for line in (ROOT / "deploy/mosquitto/acl").read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:1] == ["user"]:
            user = words[1]
            acl[user] = []
        elif words[:1] == ["topic"]:
            acl[user].append((words[1], words[2]))
    script = (ROOT / "deploy/mosquitto/passwd.sh").read_text(encoding="utf-8")
    for account in acl:
        assert f"/m/passwd {account} " in script, f"passwd.sh does not create the ACL's account {account}"
    ingest_user = urlsplit(compose["services"]["ingest"]["environment"]["STADTPULS_MQTT_URL"]).username
    assert set(acl[str(ingest_user)]) == {("read", topic) for topic in UPLINK_TOPICS}
    simulator_user = urlsplit(compose["services"]["simulator"]["environment"]["STADTPULS_MQTT_URL"]).username
    assert set(acl[str(simulator_user)]) == {("write", topic) for topic in UPLINK_TOPICS}
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text(encoding="utf-8")
    assert re.search(r"^allow_anonymous false$", conf, re.M)
    assert re.search(r"^acl_file /mosquitto/config/acl$", conf, re.M)
    assert re.search(r"^#listener 8883$", conf, re.M), "the TLS listener is documented in mosquitto.conf"


# --- the image -------------------------------------------------------------------------------------------------

def _stages() -> list[list[str]]:
    stages: list[list[str]] = []
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("FROM "):
            stages.append([])
        if stages and line.strip() and not line.startswith("#"):
            stages[-1].append(line)
    return stages


def test_the_image_is_built_in_stages_and_runs_unprivileged() -> None:
    stages = _stages()
    assert len(stages) >= 2
    final = stages[-1]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")
    assert not any(line.startswith(("COPY . ", "ADD . ")) for line in final)
    assert all("--from=" in line for line in final if line.startswith("COPY "))
    for stage in stages:
        image = stage[0].split()[1]
        assert ":" in image, image
        assert not image.endswith(":latest"), image


def test_the_build_context_lets_in_only_the_package_sources() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", ".dockerignore must exclude everything first"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    for secret_or_bulk in (".env", "deploy", "tests", "docs", "bench", ".git", "var", "run"):
        assert secret_or_bulk not in allowed
    packages = {"stadtpuls", "ingest", "processing", "api", "devices", "dashboards", "firmware_sim"}
    assert packages <= allowed
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for package in packages:
        assert f"COPY {package}/ {package}/" in dockerfile


# --- InfluxDB accounts -----------------------------------------------------------------------------------------

def test_ingest_writes_and_the_api_reads_with_accounts_of_their_own(compose: dict[str, Any]) -> None:
    """The services that face outside data (ingest) and the internet (the API), and the alarms check, hold no
    admin password: each has an account with one right on the database, made before it starts by a task with the
    admin account.
    """
    services = compose["services"]
    influx = services["influxdb"]["environment"]
    admin = influx["INFLUXDB_ADMIN_USER"], influx["INFLUXDB_ADMIN_PASSWORD"]
    for service, task, privilege in (("ingest", "influx-ingest-account", "write"),
                                     ("api", "influx-api-account", "read"),
                                     ("alarms", "influx-alarms-account", "read")):
        environment = services[service]["environment"]
        account = environment["STADTPULS_INFLUX_USERNAME"], environment["STADTPULS_INFLUX_PASSWORD"]
        assert account[0] == service
        assert account[0] != admin[0]
        assert account[1] != admin[1]
        assert services[service]["depends_on"][task] == {"condition": "service_completed_successfully"}
        args = services[task]["command"]
        assert args[:4] == ["influx", "grant", service, privilege]
        password_variable = args[args.index("--password-env") + 1]
        assert services[task]["environment"][password_variable] == account[1]
        assert services[task]["environment"]["STADTPULS_INFLUX_USERNAME"] == admin[0]
        assert services[task]["environment"]["STADTPULS_INFLUX_PASSWORD"] == admin[1]
    # processing creates retention policies: an admin's right in InfluxDB
    assert services["processing"]["environment"]["STADTPULS_INFLUX_USERNAME"] == admin[0]
