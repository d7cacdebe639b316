"""The broker configuration of the server stack (deploy/mosquitto/), run by a real Mosquitto: no anonymous access,
the accounts' topic rights as the ACL says, and the compose health check's reading of a refused connection.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from devtools.localstack import accepts_tcp, find_binary, free_port
from ingest.service import UPLINK_TOPICS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = {"stadtpuls": "ingest-pw", "network-server": "ns-pw", "simulator": "sim-pw"}
UPLINK = "v3/town@ttn/devices/bay-1/up"


def start_broker(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """Mosquitto with deploy/mosquitto/mosquitto.conf and acl, paths and port moved into ``folder``."""
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text(encoding="utf-8")
    conf = conf.replace("/mosquitto/config/", f"{folder}/").replace("/mosquitto/data/", f"{folder}/")
    conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1")
    conf = f"user {pwd.getpwuid(os.geteuid()).pw_name}\n" + conf  # as root, Mosquitto would switch users
    (folder / "mosquitto.conf").write_text(conf, encoding="utf-8")
    (folder / "acl").write_text((ROOT / "deploy/mosquitto/acl").read_text(encoding="utf-8"), encoding="utf-8")
    passwd = folder / "passwd"
    if not passwd.exists():
        passwd.touch(mode=0o600)
        for user, password in ACCOUNTS.items():
            subprocess.run([find_binary("mosquitto_passwd", package="mosquitto"), "-b", str(passwd), user, password],
                           check=True, capture_output=True)
    with (folder / "log").open("a") as log:
        command = [find_binary("mosquitto", package="mosquitto"), "-c", str(folder / "mosquitto.conf")]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while not accepts_tcp(port):
        assert process.poll() is None, (folder / "log").read_text()
        assert time.monotonic() < deadline, (folder / "log").read_text()
        time.sleep(0.05)
    return process


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Mosquitto with the deploy configuration on a free port."""
    port = free_port()
    process = start_broker(tmp_path_factory.mktemp("broker"), port)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _client(port: int, user: str | None, received: list[str] | None = None) -> tuple[paho.Client, int]:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:6]}")
    if user is not None:
        client.username_pw_set(user, ACCOUNTS[user])
    outcome: list[int] = []
    connected = threading.Event()

    def on_connect(_c: paho.Client, _u: object, _f: object, reason: paho.ReasonCode, _p: object) -> None:
        outcome.append(reason.value)
        connected.set()

    client.on_connect = on_connect
    if received is not None:
        client.on_message = lambda _c, _u, message: received.append(message.topic)
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert connected.wait(5)
    return client, outcome[0]


def test_anonymous_clients_are_refused_and_the_health_check_reads_that_as_up(broker: int) -> None:
    client, code = _client(broker, None)
    client.loop_stop()
    assert code != 0
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    check = compose["services"]["mosquitto"]["healthcheck"]["test"][1].replace("-p 1883", f"-p {broker}")
    mosquitto_sub = find_binary("mosquitto_sub", package="mosquitto-clients")
    check = check.replace("mosquitto_sub ", shlex.quote(mosquitto_sub) + " ", 1)
    assert subprocess.run(["sh", "-c", check], timeout=10).returncode == 0
    stopped = check.replace(f"-p {broker}", f"-p {free_port()}")
    assert subprocess.run(["sh", "-c", stopped], timeout=10).returncode != 0


def test_accounts_have_the_rights_the_acl_gives(broker: int) -> None:
    received: list[str] = []
    ingest, code = _client(broker, "stadtpuls", received)
    assert code == 0
    subscribed = threading.Event()
    ingest.on_subscribe = lambda *_: subscribed.set()
    ingest.subscribe([(topic, 1) for topic in UPLINK_TOPICS] + [("#", 1)])
    assert subscribed.wait(5)
    shared_received: list[str] = []
    shared, _ = _client(broker, "stadtpuls", shared_received)  # several ingest workers: one shared subscription
    shared_subscribed = threading.Event()
    shared.on_subscribe = lambda *_: shared_subscribed.set()
    shared.subscribe([(f"$share/stadtpuls-ingest/{topic}", 1) for topic in UPLINK_TOPICS])
    assert shared_subscribed.wait(5)
    simulator, _ = _client(broker, "simulator")
    network_server, _ = _client(broker, "network-server")
    simulator.publish(UPLINK, b"sim", qos=1).wait_for_publish(5)
    network_server.publish("application/1/device/0101010101010101/event/up", b"ns", qos=1).wait_for_publish(5)
    network_server.publish("v3/town@ttn/devices/bay-1/join", b"join", qos=1).wait_for_publish(5)
    simulator.publish("v3/town@ttn/devices/bay-1/down/push", b"not allowed", qos=1).wait_for_publish(5)
    ingest.publish(UPLINK, b"ingest may not publish", qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 3
    while (len(received) < 2 or len(shared_received) < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # give anything the ACL should have stopped the time to arrive
    for client in (ingest, shared, simulator, network_server):
        client.loop_stop()
        client.disconnect()
    # ingest reads the uplinks only, whoever publishes them, and nothing else even when it subscribes to "#"
    assert sorted(received) == sorted([UPLINK, "application/1/device/0101010101010101/event/up"])
    assert sorted(shared_received) == sorted(received)


def _session(port: int, received: list[int]) -> paho.Client:
    """Ingest's persistent session (clean session off, QoS 1) on the uplink topics."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="stadtpuls-ingest", clean_session=False)
    client.username_pw_set("stadtpuls", ACCOUNTS["stadtpuls"])
    subscribed = threading.Event()
    client.on_connect = lambda c, *_: c.subscribe([(topic, 1) for topic in UPLINK_TOPICS])
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda *_: received.append(1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert subscribed.wait(10)
    return client


def test_a_broker_crash_loses_at_most_the_autosave_count_of_queued_uplinks(tmp_path: Path) -> None:
    """A SIGKILL while ingest is away: what the broker acknowledged survives but for the last autosave window."""
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text(encoding="utf-8")
    assert re.search(r"^autosave_on_changes true$", conf, re.M), "snapshots must follow the queue, not the clock"
    window = int(re.findall(r"^autosave_interval (\d+)$", conf, re.M)[-1])  # changes between two snapshots
    sent = window + 2000
    port = free_port()
    process = start_broker(tmp_path, port)
    try:
        away = _session(port, [])
        away.disconnect()
        away.loop_stop()
        network_server = paho.Client(CallbackAPIVersion.VERSION2, client_id="ns")
        network_server.username_pw_set("network-server", ACCOUNTS["network-server"])
        network_server.max_inflight_messages_set(200)
        network_server.max_queued_messages_set(0)
        acked = threading.Semaphore(0)
        network_server.on_publish = lambda *_: acked.release()
        network_server.connect("127.0.0.1", port)
        network_server.loop_start()
        for i in range(sent):
            network_server.publish("application/1/device/0101010101010101/event/up", b"%d" % i, qos=1)
        for _ in range(sent):  # every uplink acknowledged to the network server
            assert acked.acquire(timeout=60)
        network_server.loop_stop()
        process.kill()  # the broker crashes
        process.wait(timeout=10)
        process = start_broker(tmp_path, port)
        received: list[int] = []
        back = _session(port, received)
        seen, quiet = -1, time.monotonic()
        while time.monotonic() - quiet < 3:
            if len(received) != seen:
                seen, quiet = len(received), time.monotonic()
            time.sleep(0.1)
        back.disconnect()
        back.loop_stop()
    finally:
        process.terminate()
        process.wait(timeout=10)
    lost = sent - len(received)
    assert 0 <= lost <= window, f"{lost} of {sent} acknowledged uplinks lost"
