"""Fleet health: for the technicians who keep the sensors on air.

Everything here comes from the radio record ingest stores with every uplink (measurement ``uplink``: fields
``rssi``, ``snr``, ``f_cnt``, ``gateways``; tags ``municipality``, ``site``, ``model``, ``dev_eui``) and from
the devices' own battery readings (``battery_voltage``).
"""

from __future__ import annotations

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from dashboards.common import WHERE_PLACE, InfluxQL, add_panels, big_number, board, table_panel, time_series, to_dict

UID = "stadtpuls-fleet-health"
TITLE = "Fleet health"

_PER_DEVICE = f'FROM "uplink" WHERE $timeFilter AND {WHERE_PLACE} GROUP BY "dev_eui"'


def build() -> dict[str, object]:
    """The Fleet health dashboard as Grafana's JSON model."""
    dashboard = board(
        UID, TITLE,
        "Which sensors are heard, how well, and how much arrives: for the technicians.",
        measurement="uplink", time_from="now-24h",
    )
    return to_dict(add_panels(dashboard, [*_overview(), *_radio(), *_devices(), *_processed_panels()]))


def _overview() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        big_number(
            "Devices heard", "Devices with at least one stored uplink in the selected time range.",
            unit="short",
            query=InfluxQL(f'SELECT count("f_cnt") FROM (SELECT last("f_cnt") AS "f_cnt" {_PER_DEVICE})'),
        ),
        big_number(
            "Devices heard in the last hour",
            "Devices with a stored uplink in the last 60 minutes. Compare with 'Devices heard': the difference "
            "is the devices that went quiet (parking sensors without a change of state send one heartbeat a day).",
            unit="short",
            query=InfluxQL(
                'SELECT count("f_cnt") FROM (SELECT last("f_cnt") AS "f_cnt" FROM "uplink" '
                f'WHERE time > now() - 1h AND time <= now() AND {WHERE_PLACE} GROUP BY "dev_eui")'
            ),
        ),
        big_number(
            "Packet loss", "Share of uplinks that never arrived, over all devices in the time range: "
            "1 − received / expected, where a device's expected count is the span of its frame counter + 1. "
            "A device restarting (frame counter reset) inflates it.",
            unit="percentunit", decimals=1,
            thresholds=[(None, "green"), (0.05, "orange"), (0.15, "red")],
            query=InfluxQL(
                'SELECT 1 - sum("received") / sum("expected") FROM (SELECT count("f_cnt") AS "received", '
                f'spread("f_cnt") + 1 AS "expected" {_PER_DEVICE})'
            ),
        ),
        big_number(
            "Uplinks stored per minute",
            "Uplinks ingest stored in InfluxDB per minute, mean over the time range (gateway copies and "
            "retransmissions counted once): ingest's throughput as the data shows it; the curve shows it over time.",
            unit="cpm", decimals=1, graph=True, reduce="mean",
            query=InfluxQL(
                f'SELECT count("f_cnt") * 60000 / $__interval_ms FROM "uplink" WHERE $timeFilter AND {WHERE_PLACE} '
                'GROUP BY time($__interval) fill(0)'
            ),
        ),
    ]


def _radio() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        time_series(
            "Uplinks stored", "Uplinks stored per interval and site (gateway copies and retransmissions "
            "counted once). A site dropping to zero lost its sensors or its gateway.",
            unit="short", bars=True,
            queries=[InfluxQL(
                f'SELECT count("f_cnt") FROM "uplink" WHERE $timeFilter AND {WHERE_PLACE} '
                'GROUP BY time($__interval), "site" fill(0)', alias="$tag_site")],
        ),
        time_series(
            "Signal strength (RSSI)", "Mean received signal strength of the uplinks per site, at the best "
            "gateway. Below about −115 dBm reception becomes unreliable.",
            unit="dBm",
            queries=[InfluxQL(
                f'SELECT mean("rssi") FROM "uplink" WHERE $timeFilter AND {WHERE_PLACE} '
                'GROUP BY time($__interval), "site" fill(null)', alias="$tag_site")],
        ),
        time_series(
            "Signal-to-noise ratio (SNR)", "Mean SNR of the uplinks per site. LoRa decodes below 0 dB down to "
            "about −20 dB at SF12; values near that limit mean the next obstacle cuts the device off.",
            unit="dB",
            queries=[InfluxQL(
                f'SELECT mean("snr") FROM "uplink" WHERE $timeFilter AND {WHERE_PLACE} '
                'GROUP BY time($__interval), "site" fill(null)', alias="$tag_site")],
        ),
        time_series(
            "Gateways per uplink", "Mean number of gateways that received each uplink, per site. One means "
            "no redundancy: losing that gateway silences the site.",
            unit="short", decimals=1,
            queries=[InfluxQL(
                f'SELECT mean("gateways") FROM "uplink" WHERE $timeFilter AND {WHERE_PLACE} '
                'GROUP BY time($__interval), "site" fill(null)', alias="$tag_site")],
        ),
    ]


def _devices() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        table_panel(
            "Devices by last uplink", "Every device heard in the time range with the time of its last uplink, "
            "oldest first: the silent ones are at the top. Signal values are those of that last uplink.",
            unit="dBm", width=24, sort_by="Time",
            units={"snr": "dB", "gateways": "short", "f_cnt": "none"},
            queries=[InfluxQL(
                'SELECT last("rssi") AS "rssi", last("snr") AS "snr", last("gateways") AS "gateways", '
                f'last("f_cnt") AS "f_cnt" FROM "uplink" WHERE $timeFilter AND {WHERE_PLACE} '
                'GROUP BY "dev_eui", "site", "model"', table=True)],
        ),
        table_panel(
            "Weak signal and packet loss per device", "Per device over the time range: mean RSSI and SNR, "
            "uplinks received and the share lost (from the frame counter's span), weakest signal first.",
            unit="dBm", sort_by="rssi", hide_time=True,
            units={"snr": "dB", "received": "short", "loss": "percentunit"},
            queries=[InfluxQL(
                'SELECT mean("rssi") AS "rssi", mean("snr") AS "snr", count("f_cnt") AS "received", '
                '1 - count("f_cnt") / (spread("f_cnt") + 1) AS "loss" '
                f'FROM "uplink" WHERE $timeFilter AND {WHERE_PLACE} GROUP BY "dev_eui", "site", "model"', table=True)],
        ),
        table_panel(
            "Battery voltage", "Last battery voltage each device reported in the time range, lowest first. "
            "Lithium primary cells hold about 3.6 V and drop steeply at the end of their life.",
            unit="volt", sort_by="voltage",
            queries=[InfluxQL(
                f'SELECT last("value") AS "voltage" FROM "battery_voltage" WHERE $timeFilter AND {WHERE_PLACE} '
                'GROUP BY "dev_eui", "site", "model"', table=True)],
        ),
    ]


def _processed_panels() -> list[cogbuilder.Builder[model.Panel]]:
    """Panels on processed data: none on this board.

    Detected anomalies and open alarms live in the registry database, which Grafana does not read (it reads
    InfluxDB only); they are on the technician page and its API routes, not duplicated into InfluxDB. Ingest's
    lag and quarantine rate are Prometheus metrics, which need a Prometheus data source.
    """
    return []
