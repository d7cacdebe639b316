"""Fleet health: for the technicians who keep the sensors on air.

From the radio record ingest stores with every uplink (measurement ``uplink``: fields ``rssi``, ``snr``,
``f_cnt``, ``gateways``; tags ``municipality``, ``site``, ``model``, ``dev_eui``), the devices' own battery
readings (``battery_voltage``), and the fleet summaries the processing service writes once a minute
(``fleet_alarms``, ``fleet_anomalies``, ``fleet_quarantine``, ``fleet_lag``: ``processing/fleet.py``).
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
    return to_dict(add_panels(dashboard, [*_processed_panels(), *_overview(), *_radio(), *_devices()]))


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


# the latest summary of every site and kind in the time range (processing writes one a minute)
def _open(measurement: str, kinds: str = "") -> str:
    kind = f'AND "kind" =~ /^({kinds})$/ ' if kinds else ""
    return (f'SELECT sum("open") FROM (SELECT last("open") AS "open" FROM "{measurement}" WHERE $timeFilter '
            f'{kind}AND {WHERE_PLACE} GROUP BY "municipality", "site", "kind")')


def _open_by_kind(measurement: str) -> str:
    return (f'SELECT sum("open") FROM (SELECT last("open") AS "open" FROM "{measurement}" WHERE $timeFilter AND '
            f'{WHERE_PLACE} GROUP BY time($__interval), "municipality", "site", "kind") WHERE $timeFilter '
            'GROUP BY time($__interval), "kind" fill(none)')


_ALARM_COLOURS = [(None, "green"), (1, "red")]


def _processed_panels() -> list[cogbuilder.Builder[model.Panel]]:
    """Panels on the fleet summaries the processing service writes (``processing/fleet.py``).

    Alarms, anomaly events and quarantined messages live in the registry database, which Grafana does not
    read; lag is a difference to the clock. Processing writes them as ``fleet_*`` points once a minute.
    """
    return [*_alarm_numbers(), *_summary_numbers(), *_summary_curves()]


def _alarm_numbers() -> list[cogbuilder.Builder[model.Panel]]:
    alarms = [
        ("Devices offline", "offline|never_seen", "Devices with an open offline alarm (silent for 3 of their "
         "model's report intervals) or never heard since their installation, by the latest fleet summary."),
        ("Low battery", "low_battery", "Devices with an open low-battery alarm: battery below 20 % or below "
         "their model's cut-off voltage. Plan a visit before they go offline."),
        ("Weak signal", "weak_signal", "Devices with an open weak-signal alarm: median RSSI below −120 dBm or "
         "SNR below −15 dB over 24 hours, too few gateways hear them reliably."),
        ("Open alarms", "", "Every open alarm of the chosen sites (offline, never seen, low battery, weak "
         "signal, repeated restarts, quarantine bursts), by the latest fleet summary."),
    ]
    return [
        big_number(title, description, unit="short", width=3, thresholds=_ALARM_COLOURS, reduce="lastNotNull",
                   query=InfluxQL(_open("fleet_alarms", kinds)))
        for title, kinds, description in alarms
    ]


def _summary_numbers() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        big_number(
            "Open anomalies", "Anomaly events still open (stuck values, gaps, spikes, drift, ...): the "
            "detectors saw the condition in the latest data. Details on the technician page.",
            unit="short", width=3, thresholds=[(None, "green"), (1, "orange")],
            query=InfluxQL(_open("fleet_anomalies")),
        ),
        big_number(
            "Quarantined per hour", "Messages ingest rejected and kept in quarantine, per hour on average over "
            "the time range (undecodable payloads, unknown devices, implausible values).",
            unit="short", width=3, decimals=1, reduce="mean", no_value="0",
            thresholds=[(None, "green"), (10, "orange"), (100, "red")],
            query=InfluxQL(
                f'SELECT sum("messages") FROM "fleet_quarantine" WHERE $timeFilter AND {WHERE_PLACE} '
                'GROUP BY time(1h) fill(0)'),
        ),
        big_number(
            "Ingest lag", "Age of the newest stored uplink of the chosen sites at the latest fleet summary: how "
            "far behind the clock the freshest data is. Grows for all sites at once when ingest or the broker "
            "stops.",
            unit="s", width=3, thresholds=[(None, "green"), (900, "orange"), (3600, "red")],
            query=InfluxQL(
                'SELECT min("ingest") FROM (SELECT last("ingest") AS "ingest" FROM "fleet_lag" WHERE $timeFilter '
                f'AND {WHERE_PLACE} GROUP BY "municipality", "site")'),
        ),
        big_number(
            "Processing lag", "How far the processed outputs (occupancy, footfall, EAQI) of the chosen sites "
            "trail the clock at the latest fleet summary, the site furthest behind. A pass every 30 s keeps it "
            "below a minute or two.",
            unit="s", width=3, thresholds=[(None, "green"), (300, "orange"), (1800, "red")],
            query=InfluxQL(
                'SELECT max("processing") FROM (SELECT last("processing") AS "processing" FROM "fleet_lag" '
                f'WHERE $timeFilter AND {WHERE_PLACE} GROUP BY "municipality", "site")'),
        ),
    ]


def _summary_curves() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        time_series(
            "Open alarms by kind", "Open alarms per kind over time, as the fleet summaries counted them each "
            "minute (the latest summary in each interval).",
            unit="short", decimals=0, queries=[InfluxQL(_open_by_kind("fleet_alarms"), alias="$tag_kind")],
        ),
        time_series(
            "Open anomalies by kind", "Open anomaly events per kind over time, as the fleet summaries counted "
            "them each minute.",
            unit="short", decimals=0, queries=[InfluxQL(_open_by_kind("fleet_anomalies"), alias="$tag_kind")],
        ),
        time_series(
            "Quarantined messages by stage", "Messages rejected per interval, by the stage that rejected them: "
            "envelope (not an uplink), device (unknown), codec (undecodable), normalise (implausible), time, "
            "size, internal.",
            unit="short", bars=True,
            queries=[InfluxQL(
                f'SELECT sum("messages") FROM "fleet_quarantine" WHERE $timeFilter AND {WHERE_PLACE} '
                'GROUP BY time($__interval), "stage" fill(0)', alias="$tag_stage")],
        ),
        time_series(
            "Ingest and processing lag", "Age of the freshest stored uplink of the chosen sites (ingest) and how "
            "far the site furthest behind trails in processing, per fleet summary.",
            unit="s",
            queries=[
                InfluxQL(f'SELECT min("ingest") FROM "fleet_lag" WHERE $timeFilter AND {WHERE_PLACE} '
                         'GROUP BY time($__interval) fill(none)', alias="ingest"),
                InfluxQL(f'SELECT max("processing") FROM "fleet_lag" WHERE $timeFilter AND {WHERE_PLACE} '
                         'GROUP BY time($__interval) fill(none)', ref_id="B", alias="processing"),
            ],
        ),
    ]
