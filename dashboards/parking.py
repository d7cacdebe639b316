"""Parking: for the traffic planners.

From the raw bay sensors: measurement ``occupied`` (1 occupied, 0 free), one point per change of state and per
daily heartbeat, tags ``site`` (the lot) and ``dev_eui`` (the bay).
"""

from __future__ import annotations

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from dashboards.common import WHERE_PLACE, InfluxQL, add_panels, big_number, board, table_panel, time_series, to_dict

UID = "stadtpuls-parking"
TITLE = "Parking"

# the last known state of every bay in the time range
_LAST_STATE = f'SELECT last("value") AS "occupied" FROM "occupied" WHERE $timeFilter AND {WHERE_PLACE}'


def build() -> dict[str, object]:
    """The Parking dashboard as Grafana's JSON model."""
    dashboard = board(
        UID, TITLE, "Bays and lots: what is occupied now and how it changed. For traffic planners.",
        measurement="occupied", time_from="now-7d",
    )
    return to_dict(add_panels(dashboard, [*_now(), *_over_time(), *_processed_panels()]))


def _now() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        big_number(
            "Bays occupied", "Bays whose last reported state in the time range is occupied.",
            unit="short",
            query=InfluxQL(f'SELECT sum("occupied") FROM ({_LAST_STATE} GROUP BY "dev_eui")'),
        ),
        big_number(
            "Bays free", "Bays whose last reported state in the time range is free. Bays not heard from within "
            "their heartbeat window still count with their last state here.",
            unit="short",
            query=InfluxQL(f'SELECT count("occupied") - sum("occupied") FROM ({_LAST_STATE} GROUP BY "dev_eui")'),
        ),
        big_number(
            "Share occupied", "Occupied bays as a share of all bays heard in the time range (last known state).",
            unit="percentunit", decimals=0,
            thresholds=[(None, "green"), (0.85, "orange"), (0.95, "red")],
            query=InfluxQL(f'SELECT mean("occupied") FROM ({_LAST_STATE} GROUP BY "dev_eui")'),
        ),
        big_number(
            "Status reports", "State changes and heartbeats the bay sensors sent in the time range.",
            unit="short",
            query=InfluxQL(f'SELECT count("value") FROM "occupied" WHERE $timeFilter AND {WHERE_PLACE}'),
        ),
        table_panel(
            "Availability per lot", "Per lot (site): bays heard in the time range, how many of them are "
            "occupied by their last reported state, and the share occupied.",
            unit="short", width=10, units={"share": "percentunit"}, sort_by="share", descending=True, hide_time=True,
            queries=[InfluxQL(
                'SELECT count("occupied") AS "bays", sum("occupied") AS "occupied", mean("occupied") AS "share" '
                f'FROM ({_LAST_STATE} GROUP BY "dev_eui", "site") GROUP BY "site"', table=True)],
        ),
        table_panel(
            "Bays by last state", "Every bay with its last reported state and when it was reported.",
            unit="bool_yes_no", width=14, sort_by="Time",
            queries=[InfluxQL(f'{_LAST_STATE} GROUP BY "site", "dev_eui"', table=True)],
        ),
    ]


def _over_time() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        time_series(
            "Arrivals per lot", "Reports of a bay turning occupied per interval and lot: cars arriving. The daily "
            "heartbeat of a bay that is occupied counts as well (one report per bay and day).",
            unit="short", width=12, bars=True,
            queries=[InfluxQL(
                f'SELECT count("value") FROM "occupied" WHERE $timeFilter AND "value" = 1 AND {WHERE_PLACE} '
                'GROUP BY time($__interval), "site" fill(0)', alias="$tag_site")],
        ),
        time_series(
            "Departures per lot", "Reports of a bay turning free per interval and lot: cars leaving (and the "
            "daily heartbeat of a free bay).",
            unit="short", width=12, bars=True,
            queries=[InfluxQL(
                f'SELECT count("value") FROM "occupied" WHERE $timeFilter AND "value" = 0 AND {WHERE_PLACE} '
                'GROUP BY time($__interval), "site" fill(0)', alias="$tag_site")],
        ),
    ]


def _processed_panels() -> list[cogbuilder.Builder[model.Panel]]:
    """Panels on processed data; none yet.

    Still to come here, once processing writes them: time-weighted occupancy per lot over time (InfluxQL cannot
    sum the bays' states carried forward: a subquery with fill(previous) is not aggregated by InfluxDB 1.x), live
    availability with unknown bays (not heard within the heartbeat window), a map of the lots coloured by
    occupancy, the hour × weekday occupancy heatmap, and long-stay bays.
    """
    return []
