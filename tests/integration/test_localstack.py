"""The local Mosquitto and InfluxDB servers of the suite and the demo, and the production broker config."""

from __future__ import annotations

import getpass
import queue
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from devtools.localstack import (
    InfluxServer,
    LocalServerError,
    MosquittoServer,
    accepts_tcp,
    create_database,
    find_binary,
    free_port,
    port_is_free,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_CONF = REPO / "deploy" / "mosquitto" / "mosquitto.conf"
WAIT = 10.0  # seconds; an upper bound for a message to arrive, not a speed claim


@contextmanager
def mqtt_client(
    port: int,
    *,
    client_id: str = "",
    clean_session: bool = True,
    username: str | None = None,
    password: str | None = None,
) -> Iterator[tuple[mqtt.Client, queue.Queue[mqtt.MQTTMessage]]]:
    """A connected paho client on 127.0.0.1:port whose received messages land in the queue."""
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
    if username is not None:
        client.username_pw_set(username, password)
    client.on_message = lambda _c, _u, message: received.put(message)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        yield client, received
    finally:
        client.disconnect()
        client.loop_stop()


def subscribe(client: mqtt.Client, topic: str, qos: int = 1) -> None:
    """Subscribe and wait for the broker's SUBACK."""
    granted: queue.Queue[list[ReasonCode]] = queue.Queue()
    client.on_subscribe = lambda _c, _u, _mid, codes, _p: granted.put(codes)
    client.subscribe(topic, qos=qos)
    codes = granted.get(timeout=WAIT)
    assert [code.value for code in codes] == [qos]


def connect_result(port: int, *, username: str | None = None, password: str | None = None) -> ReasonCode:
    """The broker's CONNACK reason for a client with these credentials."""
    answers: queue.Queue[ReasonCode] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    if username is not None:
        client.username_pw_set(username, password)
    client.on_connect = lambda _c, _u, _f, reason, _p: answers.put(reason)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return answers.get(timeout=WAIT)
    finally:
        client.disconnect()
        client.loop_stop()


def influx_query(url: str, db: str, q: str) -> list[Any]:
    """The ``values`` of the first series of a query's first result ([] when nothing matched)."""
    response = httpx.get(f"{url}/query", params={"db": db, "q": q}, timeout=WAIT)
    response.raise_for_status()
    result = response.json()["results"][0]
    assert "error" not in result, result
    series = result.get("series", [])
    return series[0]["values"] if series else []


def test_mqtt_round_trip(mosquitto: MosquittoServer) -> None:
    topic = f"test/{uuid.uuid4().hex}/up"
    with mqtt_client(mosquitto.port) as (subscriber, received), mqtt_client(mosquitto.port) as (publisher, _):
        subscribe(subscriber, topic)
        publisher.publish(topic, b"\x01\x67\x00\xe1", qos=1).wait_for_publish(timeout=WAIT)
        message = received.get(timeout=WAIT)
    assert mosquitto.url == f"mqtt://127.0.0.1:{mosquitto.port}"
    assert message.topic == topic
    assert message.payload == b"\x01\x67\x00\xe1"
    assert message.qos == 1


def test_mosquitto_config_lifts_the_stock_queue_limit(mosquitto: MosquittoServer) -> None:
    config = mosquitto.config_path.read_text()
    assert "max_queued_messages 1000000\n" in config
    assert "persistence true\n" in config
    assert f"listener {mosquitto.port} 127.0.0.1\n" in config


def test_influx_write_and_query(influxdb: InfluxServer, influx_db_name: str) -> None:
    line = "parking,device=p-17,street=Hauptstra\\ sse occupied=1,battery=3.61 1767225600000000000"
    response = httpx.post(f"{influxdb.url}/write", params={"db": influx_db_name}, content=line, timeout=WAIT)
    assert response.status_code == 204, response.text
    values = influx_query(
        influxdb.url, influx_db_name, 'SELECT "occupied", "battery", "street" FROM "parking"'
    )
    assert values == [["2026-01-01T00:00:00Z", 1, 3.61, "Hauptstra sse"]]


def test_influx_databases_are_separate_per_test(influxdb: InfluxServer, influx_db_name: str) -> None:
    other = f"other_{uuid.uuid4().hex[:8]}"
    create_database(influxdb.url, other)
    httpx.post(
        f"{influxdb.url}/write", params={"db": other}, content="m v=1 1", timeout=WAIT
    ).raise_for_status()
    assert influx_query(influxdb.url, influx_db_name, 'SELECT * FROM "m"') == []
    assert influx_query(influxdb.url, other, 'SELECT "v" FROM "m"') == [["1970-01-01T00:00:00.000000001Z", 1]]


def test_influx_restart_keeps_data_and_port(fresh_influxdb: InfluxServer) -> None:
    url = fresh_influxdb.url
    create_database(url, "kept")
    httpx.post(f"{url}/write", params={"db": "kept"}, content="m v=2 5", timeout=WAIT).raise_for_status()
    first_pid = fresh_influxdb.pid
    fresh_influxdb.stop()
    assert not fresh_influxdb.running
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/ping", timeout=1.0)
    fresh_influxdb.start()
    assert fresh_influxdb.url == url
    assert fresh_influxdb.pid != first_pid
    assert influx_query(url, "kept", 'SELECT "v" FROM "m"') == [["1970-01-01T00:00:00.000000005Z", 2]]


def test_mosquitto_restart_keeps_persistent_session(fresh_mosquitto: MosquittoServer) -> None:
    port, topic, client_id = fresh_mosquitto.port, "town/parking/up", f"ingest-{uuid.uuid4().hex[:8]}"
    with mqtt_client(port, client_id=client_id, clean_session=False) as (subscriber, _):
        subscribe(subscriber, topic)
    with mqtt_client(port) as (publisher, _):
        publisher.publish(topic, b"queued while away", qos=1).wait_for_publish(timeout=WAIT)
    fresh_mosquitto.restart()
    assert fresh_mosquitto.port == port
    with mqtt_client(port, client_id=client_id, clean_session=False) as (_, received):
        message = received.get(timeout=WAIT)
    assert message.payload == b"queued while away"


def test_start_failure_names_binary_and_log(tmp_path: Path) -> None:
    broken = MosquittoServer(tmp_path, extra_config="no_such_option 1")
    with pytest.raises(
        LocalServerError, match=r"mosquitto exited with code \d+ while starting; log .*mosquitto\.log"
    ):
        broken.start()
    assert not broken.running
    assert "no_such_option" in broken.log_path.read_text()


def test_start_refuses_a_port_in_use(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb: InfluxServer
) -> None:
    with pytest.raises(LocalServerError, match=rf"port {mosquitto.port} on 127.0.0.1 is already in use"):
        MosquittoServer(tmp_path, port=mosquitto.port).start()
    with pytest.raises(LocalServerError, match=rf"port {influxdb.http_port} on 127.0.0.1 is already in use"):
        InfluxServer(tmp_path, http_port=influxdb.http_port).start()


def test_missing_binary_names_the_package() -> None:
    with pytest.raises(LocalServerError, match="install the Debian package 'nothing-here'"):
        find_binary("stadtpuls-no-such-server", package="nothing-here")


def test_free_port_is_free(mosquitto: MosquittoServer) -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    assert port_is_free(port)
    assert not accepts_tcp(port)
    assert not port_is_free(mosquitto.port)


def _adapt_production_conf(tmp_path: Path, port: int, passwd: Path) -> Path:
    """The production config with this machine's port and paths, run as the current user."""
    text = PRODUCTION_CONF.read_text()
    replacements = {
        r"^listener 1883$": f"listener {port} 127.0.0.1",
        r"^persistence_location .*$": f"persistence_location {tmp_path}/",
        r"^password_file .*$": f"password_file {passwd}",
        r"^acl_file .*$": f"acl_file {REPO / 'deploy' / 'mosquitto' / 'acl'}",
        r"^log_dest stdout$": f"log_dest file {tmp_path / 'mosquitto.log'}",
    }
    for pattern, replacement in replacements.items():
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        assert count == 1, f"{pattern} not found exactly once in {PRODUCTION_CONF}"
    conf = tmp_path / "production.conf"
    conf.write_text(f"{text}\nuser {getpass.getuser()}\n")
    return conf


def wait_listening(process: subprocess.Popen[bytes], port: int) -> bool:
    """Whether the process listens on the port before it exits or WAIT seconds pass."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and process.poll() is None:
        if accepts_tcp(port):
            return True
        time.sleep(0.05)
    return False


def test_production_mosquitto_conf_is_accepted(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    subprocess.run(
        [
            find_binary("mosquitto_passwd", package="mosquitto"),
            "-c",
            "-b",
            str(passwd),
            "stadtpuls",
            "s3cret",
        ],
        check=True,
        capture_output=True,
    )
    passwd.chmod(0o600)
    port = free_port()
    conf = _adapt_production_conf(tmp_path, port, passwd)
    log = (tmp_path / "stdout.log").open("wb")
    broker = subprocess.Popen(
        [find_binary("mosquitto", package="mosquitto"), "-c", str(conf)], stdout=log, stderr=log
    )
    try:
        assert wait_listening(broker, port), (tmp_path / "stdout.log").read_text()
        assert connect_result(port, username="stadtpuls", password="s3cret") == "Success"
        assert connect_result(port) == "Not authorized"
    finally:
        broker.terminate()
        broker.wait(timeout=WAIT)
        log.close()


def test_compose_file_uses_this_broker_config_and_names_every_setting() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"mosquitto", "influxdb", "postgres", "grafana", "ingest", "api"} <= set(services)
    assert (
        "./deploy/mosquitto/mosquitto.conf:/mosquitto/config/mosquitto.conf:ro"
        in services["mosquitto"]["volumes"]
    )
    for name in ("ingest", "api"):
        env = services[name]["environment"]
        assert {
            "STADTPULS_MQTT_URL",
            "STADTPULS_INFLUX_URL",
            "STADTPULS_INFLUX_DB",
            "STADTPULS_DATABASE_URL",
        } <= set(env)
        assert env["STADTPULS_INFLUX_DB"] == services["influxdb"]["environment"]["INFLUXDB_DB"]
    assert services["api"]["command"] == ["api", "--host", "0.0.0.0", "--port", "8000"]
