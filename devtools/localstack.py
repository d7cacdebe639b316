"""Real Mosquitto and InfluxDB servers as local child processes, for the test suite, bench/ and the demo.

Each server writes its configuration, data and log into a run folder and listens on 127.0.0.1 only, on free
ports, so it never touches a system broker or database. ``start()`` returns once the server accepts
connections; ``stop()`` sends SIGTERM, then SIGKILL. Both servers can share one run folder::

    with MosquittoServer(run_dir) as broker, InfluxServer(run_dir) as influx:
        create_database(influx.url, "stadtpuls")
        ...  # broker.url == "mqtt://127.0.0.1:<port>", influx.url == "http://127.0.0.1:<port>"

The broker's limits are set on purpose: the stock ``max_queued_messages 1000`` drops the messages of a
subscriber that falls behind, even at QoS 1.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar, Self

from stadtpuls.errors import UnavailableError
from stadtpuls.influx import InfluxClient, InfluxError, run_blocking

START_TIMEOUT = 30.0  # seconds
STOP_TIMEOUT = 10.0  # seconds
POLL_INTERVAL = 0.05  # seconds
LOCALHOST = "127.0.0.1"
SEARCH_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")


class LocalServerError(UnavailableError):
    """A local server could not be found, configured, started or asked something."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def find_binary(name: str, *, package: str) -> str:
    """The path of the executable ``name``, on PATH or in the usual system folders.

    Raises:
        LocalServerError: not installed; the message names the Debian package that provides it.
    """
    found = shutil.which(name)
    if found:
        return found
    for folder in SEARCH_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise LocalServerError(f"{name} not found: install the Debian package {package!r} (make deps does)")


def create_database(url: str, name: str, *, timeout: float = 10.0) -> None:
    """Create the InfluxDB database ``name`` (nothing happens if it exists).

    Raises:
        LocalServerError: the server is unreachable or refuses the statement.
    """
    _influx_call(InfluxClient.create_database, url, name, timeout=timeout)


def drop_database(url: str, name: str, *, timeout: float = 10.0) -> None:
    """Drop the InfluxDB database ``name`` with all its data (nothing happens if it does not exist).

    Raises:
        LocalServerError: the server is unreachable or refuses the statement.
    """
    _influx_call(InfluxClient.drop_database, url, name, timeout=timeout)


def _influx_call(action: Callable[[InfluxClient], Awaitable[object]], url: str, name: str, *, timeout: float) -> None:
    try:
        run_blocking(action, url, name, timeout=timeout)
    except InfluxError as exc:
        raise LocalServerError(f"InfluxDB at {url}: {exc}") from exc


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:port now (bound as servers bind, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOCALHOST, port))
        except OSError:
            return False
        return True


def accepts_tcp(port: int) -> bool:
    """Whether something on 127.0.0.1:port accepts a TCP connection."""
    try:
        with socket.create_connection((LOCALHOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class LocalServer:
    """A server binary run as a child process with its config, data and log in ``run_dir``.

    Subclasses name the binary and write the config; this class starts, watches and stops the process.
    """

    binary_name: ClassVar[str]
    package: ClassVar[str]

    def __init__(self, run_dir: Path | str, *, binary: str | None = None) -> None:
        self.run_dir = Path(run_dir).resolve()
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def config_path(self) -> Path:
        """The configuration file the server is started with."""
        return self.run_dir / f"{self.binary_name}.conf"

    @property
    def log_path(self) -> Path:
        """Where the server's own output goes."""
        return self.run_dir / f"{self.binary_name}.log"

    @property
    def running(self) -> bool:
        """Whether the server process was started and has not exited."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id, None before it is started."""
        return self._process.pid if self._process is not None else None

    def start(self) -> Self:
        """Write the config, launch the server and wait until it accepts connections.

        Raises:
            LocalServerError: the binary is missing, exits early, or is not ready within the timeout.
        """
        if self.running:
            return self
        binary = self._binary or find_binary(self.binary_name, package=self.package)
        busy = [port for port in self.ports() if not port_is_free(port)]
        if busy:
            raise LocalServerError(f"cannot start {binary}: port {busy[0]} on {LOCALHOST} is already in use")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.render_config(), encoding="utf-8")
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - the command is built from fixed arguments
            [binary, *self.arguments()],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.run_dir,
        )
        atexit.register(self.stop)
        self._wait_until_ready(binary)
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server: SIGTERM, then SIGKILL after ``timeout`` seconds. Does nothing if it is stopped."""
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            _terminate(process, timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def restart(self) -> Self:
        """Stop and start again on the same ports, with the same data."""
        self.stop()
        return self.start()

    def render_config(self) -> str:
        """The text of the config file."""
        raise NotImplementedError

    def ports(self) -> list[int]:
        """The TCP ports the server listens on."""
        raise NotImplementedError

    def arguments(self) -> list[str]:
        """The command-line arguments after the binary."""
        raise NotImplementedError

    def is_ready(self) -> bool:
        """Whether the running server accepts connections."""
        raise NotImplementedError

    def _wait_until_ready(self, binary: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            process = self._process
            if process is None or process.poll() is not None:
                code = process.returncode if process is not None else None
                self.stop()
                raise LocalServerError(
                    f"{binary} exited with code {code} while starting; log {self.log_path}:\n"
                    f"{_log_tail(self.log_path)}"
                )
            if self.is_ready():
                return
            time.sleep(POLL_INTERVAL)
        self.stop()
        raise LocalServerError(
            f"{binary} did not accept connections within {START_TIMEOUT:.0f} s; log {self.log_path}:\n"
            f"{_log_tail(self.log_path)}"
        )

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class MosquittoServer(LocalServer):
    """A Mosquitto 2 broker on ``127.0.0.1:port`` with anonymous access and deliberate queue limits.

    Args:
        run_dir: folder for ``mosquitto.conf``, ``mosquitto.log`` and the persistence file ``mosquitto.db``.
        port: TCP port; a free one is picked when None. It stays the same across restarts.
        max_queued_messages: per client, beyond the in-flight window; more are DROPPED by the broker.
        max_queued_bytes: per client, the cap that keeps a huge message limit from exhausting memory.
        max_inflight_messages: per client, QoS 1/2 messages sent but not yet acknowledged.
        extra_config: lines appended to the config (later options win).
        binary: path of the mosquitto executable; searched for when None.
    """

    binary_name = "mosquitto"
    package = "mosquitto"

    def __init__(
        self,
        run_dir: Path | str,
        port: int | None = None,
        *,
        max_queued_messages: int = 1_000_000,
        max_queued_bytes: int = 256 * 1024 * 1024,  # bytes
        max_inflight_messages: int = 200,
        extra_config: str = "",
        binary: str | None = None,
    ) -> None:
        super().__init__(run_dir, binary=binary)
        self.port = port or free_port()
        self.max_queued_messages = max_queued_messages
        self.max_queued_bytes = max_queued_bytes
        self.max_inflight_messages = max_inflight_messages
        self.extra_config = extra_config

    @property
    def url(self) -> str:
        """The broker's ``mqtt://`` address."""
        return f"mqtt://{LOCALHOST}:{self.port}"

    @property
    def host(self) -> str:
        """The host the broker listens on."""
        return LOCALHOST

    def render_config(self) -> str:
        """The broker's configuration file text."""
        user = pwd.getpwuid(os.geteuid()).pw_name  # as root, mosquitto would switch to user "mosquitto"
        return "\n".join(
            [
                f"user {user}",
                f"listener {self.port} {LOCALHOST}",
                "allow_anonymous true",
                "persistence true",
                f"persistence_location {self.run_dir}/",
                "persistence_file mosquitto.db",
                f"max_queued_messages {self.max_queued_messages}",
                f"max_queued_bytes {self.max_queued_bytes}",
                f"max_inflight_messages {self.max_inflight_messages}",
                "set_tcp_nodelay true",
                f"log_dest file {self.log_path}",
                "log_type error",
                "log_type warning",
                "log_type notice",
                "log_type information",
                "connection_messages true",
                "log_timestamp_format %Y-%m-%dT%H:%M:%S",
                self.extra_config,
                "",
            ]
        )

    def ports(self) -> list[int]:
        """The TCP ports the broker listens on."""
        return [self.port]

    def arguments(self) -> list[str]:
        """The broker's command-line arguments."""
        return ["-c", str(self.config_path)]

    def is_ready(self) -> bool:
        """Whether the broker accepts TCP connections."""
        return accepts_tcp(self.port)


class InfluxServer(LocalServer):
    """An InfluxDB 1.x server with its HTTP API on ``127.0.0.1:http_port`` and no authentication.

    Args:
        run_dir: folder for ``influxd.conf``, ``influxd.log`` and ``influxdb/`` (meta, data and WAL).
        http_port: HTTP API port; a free one is picked when None. The RPC (backup) port is always a free one.
            Both stay the same across restarts.
        binary: path of the influxd executable; searched for when None.
    """

    binary_name = "influxd"
    package = "influxdb"
    max_body_size = 256 * 1024 * 1024  # bytes per write request

    def __init__(
        self, run_dir: Path | str, http_port: int | None = None, *, binary: str | None = None
    ) -> None:
        super().__init__(run_dir, binary=binary)
        self.http_port = http_port or free_port()
        self.rpc_port = free_port()

    @property
    def url(self) -> str:
        """The HTTP API's address."""
        return f"http://{LOCALHOST}:{self.http_port}"

    def render_config(self) -> str:
        """The InfluxDB configuration file text."""
        storage = self.run_dir / "influxdb"
        return f"""\
reporting-disabled = true
reporting-enabled = false
bind-address = "{LOCALHOST}:{self.rpc_port}"

[meta]
  dir = "{storage / "meta"}"
  logging-enabled = false

[data]
  dir = "{storage / "data"}"
  wal-dir = "{storage / "wal"}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  bind-address = "{LOCALHOST}:{self.http_port}"
  log-enabled = false
  pprof-enabled = false
  max-body-size = {self.max_body_size}

[logging]
  level = "warn"
  suppress-logo = true

[continuous_queries]
  enabled = true
  log-enabled = false
"""

    def ports(self) -> list[int]:
        """The TCP ports InfluxDB listens on (HTTP, RPC)."""
        return [self.http_port, self.rpc_port]

    def arguments(self) -> list[str]:
        """InfluxDB's command-line arguments."""
        return ["run", "-config", str(self.config_path)]

    def is_ready(self) -> bool:
        """Whether InfluxDB answers a ping."""
        try:
            run_blocking(InfluxClient.ping, self.url, "", timeout=1.0)
        except InfluxError:
            return False
        return True
