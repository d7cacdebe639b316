"""Settings from environment variables (``STADTPULS_*``), in sections, validated before anything connects.

Every setting is read here and nowhere else. Sections group what one part of the system needs:

| section | variables |
|---|---|
| :class:`MqttSettings` | ``STADTPULS_MQTT_URL``, ``_CLIENT_ID``, ``_QOS``, ``_SHARE_GROUP`` |
| :class:`InfluxSettings` | ``STADTPULS_INFLUX_URL``, ``_DB``, ``_USERNAME``, ``_PASSWORD`` |
| :class:`RegistrySettings` | ``STADTPULS_DATABASE_URL`` |
| :class:`IngestSettings` | ``STADTPULS_BATCH_SIZE``, ``_BATCH_INTERVAL``, ``_SPOOL_MAX_MB``, ``_METRICS_PORT``, |
| | ``_MAX_PAYLOAD_BYTES``, ``_FUTURE_WINDOW``, ``_JS_CODEC_WORKERS``, ``_JS_CODEC_BACKLOG``, |
| | ``_KEEP_RAW_PAYLOAD`` |
| :class:`QuarantineSettings` | ``STADTPULS_QUARANTINE_RETENTION_DAYS``, ``_MAX_ROWS``, ``_PENDING_MAX_MB`` |
| :class:`ApiSettings` | ``STADTPULS_API_RATE_LIMIT``, ``_CORS_ORIGINS``, ``_PUBLIC``, ``_MAX_POINTS`` ... |
| :class:`LogSettings` | ``STADTPULS_LOG_FORMAT`` |
| :class:`ReportSettings` | ``STADTPULS_REPORT_TOWN``, ``_LOGO``, ``_CALENDAR``, ``_OPENING``, ``_SMTP_*`` |
| :class:`Settings` | ``STADTPULS_DATA_DIR``, ``_DEFAULT_MUNICIPALITY``, ``_CATALOG``, ``_MAP_TILES``, sections |

:func:`load_settings` turns an invalid value into a :class:`~stadtpuls.errors.ConfigError` that names the
environment variable.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stadtpuls.errors import ConfigError

DEFAULT_DATA_DIR = Path("var")
PREFIX = "STADTPULS_"


class MqttTarget(BaseModel):
    """A parsed ``mqtt://`` / ``mqtts://`` URL."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None


class MqttSettings(BaseSettings):
    """The MQTT broker ingest subscribes to (``STADTPULS_MQTT_*``)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX + "MQTT_", extra="ignore")

    url: str = "mqtt://127.0.0.1:1883"
    client_id: str = "stadtpuls-ingest"
    qos: int = Field(default=1, ge=0, le=1)
    share_group: str = ""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parse_mqtt_url(value)
        return value

    @property
    def target(self) -> MqttTarget:
        """Host, port, TLS and credentials of :attr:`url`."""
        return parse_mqtt_url(self.url)


class InfluxSettings(BaseSettings):
    """The InfluxDB database behind the v1 HTTP API (``STADTPULS_INFLUX_*``).

    Build a client from it with :meth:`stadtpuls.influx.InfluxClient.from_settings`.
    """

    model_config = SettingsConfigDict(env_prefix=PREFIX + "INFLUX_", extra="ignore")

    url: str = "http://127.0.0.1:8086"
    db: str = "stadtpuls"
    username: str | None = None
    password: str | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be http(s)://host[:port], got {value!r}")
        return value.rstrip("/")


class RegistrySettings(BaseSettings):
    """The relational store of devices and quarantine (``STADTPULS_DATABASE_URL``)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    database_url: str = ""  # any SQLAlchemy URL; empty: a SQLite file in the data folder


class IngestSettings(BaseSettings):
    """How ingest batches, spools and reports (``STADTPULS_BATCH_*``, ``_SPOOL_MAX_MB``, ``_METRICS_PORT``)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    batch_size: int = Field(default=5000, ge=1, le=100_000)  # lines per InfluxDB write
    batch_interval: float = Field(default=0.2, gt=0, le=60.0)  # s before a partial batch is written
    batch_writes: int = Field(default=3, ge=1, le=4)  # batch writes in flight at most; beyond one only for a backlog
    spool_max_mb: int = Field(default=2048, ge=1)  # MiB cap of the on-disk spool, per process
    metrics_port: int = Field(default=0, ge=0, le=65535)  # Prometheus /metrics; 0 = off
    max_payload_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024**2)  # larger messages: quarantined
    future_window: float = Field(default=900.0, gt=0)  # s a server timestamp may lie ahead of arrival
    js_codec_workers: int = Field(default=1, ge=0, le=16)  # processes per JavaScript model; 0: on the event loop
    js_codec_backlog: int = Field(default=1000, ge=1, le=100_000)  # uplinks waiting per worker; more: quarantined
    keep_raw_payload: bool = False  # keep each uplink's payload (base64) in its radio record ("uplink")


class QuarantineSettings(BaseSettings):
    """How much quarantine keeps, and the local folder its records wait in (``STADTPULS_QUARANTINE_*``)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX + "QUARANTINE_", extra="ignore")

    retention_days: float = Field(default=30.0, ge=0)  # rows not seen for longer are deleted; 0 = keep forever
    max_rows: int = Field(default=1_000_000, ge=1)  # beyond it the rows seen longest ago are deleted
    pending_max_mb: int = Field(default=256, ge=1)  # MiB cap of the local folder while the database is away


class LogSettings(BaseSettings):
    """How the commands log (``STADTPULS_LOG_*``); read on its own, before anything else, by the CLI."""

    model_config = SettingsConfigDict(env_prefix=PREFIX + "LOG_", extra="ignore")

    format: Literal["text", "json"] = "text"  # json: one JSON object per line, for log collectors


class ApiSettings(BaseSettings):
    """The query API: rate limit, CORS, open data, response limits (``STADTPULS_API_*``)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX + "API_", extra="ignore")

    rate_limit: int = Field(default=600, ge=1, le=1_000_000)  # requests per minute and key (or address)
    rate_burst: int = Field(default=60, ge=1, le=1_000_000)  # requests a key may send at once
    cors_origins: str = ""  # comma-separated origins allowed by CORS; empty: no CORS headers at all
    public: bool = False  # serve the open-data routes without a key
    licence: str = "CC-BY-4.0"  # licence of the open data
    attribution: str = "Stadtpuls"  # attribution the open data asks for
    max_points: int = Field(default=10_000, ge=1, le=1_000_000)  # points per response (one page)
    max_range_days: int = Field(default=400, ge=1, le=36_600)  # days of one time-series request
    key_cache_seconds: float = Field(default=10.0, ge=0, le=3600)  # s a key lookup is reused
    cache_seconds: float = Field(default=2.0, ge=0, le=60)  # s latest values and device records are reused
    rollups: bool = False  # read every=1m/15m/1h/1d from the processing rollups

    @property
    def origins(self) -> list[str]:
        """The CORS origins of :attr:`cors_origins`, one per comma-separated entry."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


class ReportSettings(BaseSettings):
    """The printed reports: the town on the title, its logo and calendar, and where to mail them
    (``STADTPULS_REPORT_*``). Mail is sent only when ``smtp_host`` and ``smtp_to`` are set.
    """

    model_config = SettingsConfigDict(env_prefix=PREFIX + "REPORT_", extra="ignore")

    town: str = ""  # the name on the title page; empty: the municipality
    logo: Path | None = None  # PNG, JPEG or SVG shown on the title
    calendar: Path | None = None  # the report's own calendar file (stadtpuls/calendar.py); none: the town's
    opening: str = "10-20"  # local opening hours of the normal level, "from-to"
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_to: str = ""  # comma-separated addresses
    smtp_tls: str = Field(default="starttls", pattern="^(starttls|ssl|none)$")

    @field_validator("opening")
    @classmethod
    def _check_opening(cls, value: str) -> str:
        parse_opening(value)
        return value

    @property
    def opening_hours(self) -> tuple[int, int]:
        """:attr:`opening` as local hours [from, to)."""
        return parse_opening(self.opening)

    @property
    def recipients(self) -> list[str]:
        """The addresses of :attr:`smtp_to`."""
        return [a.strip() for a in self.smtp_to.split(",") if a.strip()]


def parse_opening(value: str) -> tuple[int, int]:
    """``"10-20"`` → ``(10, 20)``.

    Raises:
        ValueError: not two hours 0..24 in order.
    """
    try:
        start, end = (int(part) for part in value.split("-"))
    except ValueError:
        raise ValueError(f"must be hours 'from-to' such as 10-20, got {value!r}") from None
    if not 0 <= start < end <= 24:
        raise ValueError(f"must be hours 'from-to' with 0 <= from < to <= 24, got {value!r}")
    return start, end


class Settings(BaseSettings):
    """All settings of every Stadtpuls service, in sections."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    default_municipality: str = "Stadtpuls"
    catalog: Path | None = None  # a town's own device catalog, merged with the built-in one
    calendar: Path | None = None  # the town's holidays, markets and events (stadtpuls/calendar.py)
    timezone: str = "Europe/Berlin"  # the town's time zone: local days and hours of the week
    map_tiles: str = ""  # tile URL template of the technician page's map, e.g. https://tiles.example/{z}/{x}/{y}.png
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    influx: InfluxSettings = Field(default_factory=InfluxSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    quarantine: QuarantineSettings = Field(default_factory=QuarantineSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)


    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, ZoneInfoNotFoundError):
            raise ValueError(f"is not a time zone of the IANA database (Europe/Berlin, say): {value!r}") from None
        return value

    @property
    def registry_url(self) -> str:
        """The SQLAlchemy URL of the device registry; a SQLite file in the data folder by default."""
        if self.registry.database_url:
            return self.registry.database_url
        return f"sqlite:///{(self.data_dir / 'stadtpuls.sqlite3').resolve()}"


def parse_mqtt_url(url: str) -> MqttTarget:
    """Parse ``mqtt[s]://[user[:pass]@]host[:port]`` into its parts.

    Raises:
        ValueError: the scheme is not mqtt/mqtts or the host is missing.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"must start with mqtt:// or mqtts://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"has no host: {url!r}")
    tls = parts.scheme == "mqtts"
    return MqttTarget(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def load_log_settings() -> LogSettings:
    """Read the logging settings alone (the CLI sets up logging before any command reads the rest).

    Raises:
        ConfigError: an invalid value, named by its environment variable.
    """
    try:
        return LogSettings()
    except ValidationError as exc:
        raise ConfigError(settings_problem(exc)) from exc


def load_settings() -> Settings:
    """Read every setting from the environment.

    Raises:
        ConfigError: one line per invalid setting, named by its environment variable.
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(settings_problem(exc)) from exc


def settings_problem(exc: ValidationError) -> str:
    """One line per invalid setting of ``exc``, named by its environment variable."""
    prefix = _SECTION_PREFIXES.get(exc.title, PREFIX)
    lines = ["invalid settings:"]
    for error in exc.errors():
        name = prefix + "_".join(str(part) for part in error["loc"]).upper()
        lines.append(f"  {name}: {error['msg']}")
    return "\n".join(lines)


_SECTION_PREFIXES = {
    section.__name__: str(section.model_config.get("env_prefix", PREFIX))
    for section in (
        MqttSettings, InfluxSettings, RegistrySettings, IngestSettings, QuarantineSettings, ApiSettings,
        LogSettings, ReportSettings, Settings,
    )
}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment (see :func:`load_settings`)."""
    return load_settings()
