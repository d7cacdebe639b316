"""Parking: for the traffic planners.

From the raw bay sensors: measurement ``occupied`` (1 occupied, 0 free), one point per change of state and per
daily heartbeat, tags ``site`` (the lot) and ``dev_eui`` (the bay).
"""

from __future__ import annotations

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from dashboards.common import (
    TIMEZONE,
    WHERE_PLACE,
    InfluxQL,
    add_panels,
    big_number,
    board,
    hour_by_weekday,
    marker_map,
    table_panel,
    time_series,
    to_dict,
)

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
    return to_dict(add_panels(dashboard, [*_processed_panels(), *_now(), *_over_time()]))


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
    """Panels on what processing writes: live availability (with the lots' positions), time-weighted
    occupancy, long stays.
    """
    return [*_availability(), *_occupancy()]


# the latest live availability of every lot in the time range (processing writes it each pass)
_AVAILABILITY = (
    'SELECT last("free") AS "free", last("occupied") AS "occupied", last("unknown") AS "unknown", '
    f'last("capacity") AS "capacity" FROM "lot_availability" WHERE $timeFilter AND {WHERE_PLACE} GROUP BY "site"'
)


def _availability() -> list[cogbuilder.Builder[model.Panel]]:
    now = [
        ("free", "Free bays now", "Bays free by their last report, all chosen lots, from processing's live "
         "availability.", [(None, "red"), (1, "orange"), (10, "green")]),
        ("occupied", "Occupied bays now", "Bays occupied by their last report, all chosen lots.", []),
        ("unknown", "Unknown bays now", "Bays not heard from for 1.5 of their model's heartbeat intervals: "
         "their state is unknown and they count neither as free nor as occupied.",
         [(None, "green"), (1, "orange")]),
        ("capacity", "Capacity", "Bays of the chosen lots (free + occupied + unknown).", []),
    ]
    panels: list[cogbuilder.Builder[model.Panel]] = [
        big_number(title, description, unit="short", thresholds=thresholds,
                   query=InfluxQL(f'SELECT sum("{field}") FROM ({_AVAILABILITY})'))
        for field, title, description, thresholds in now
    ]
    panels.append(marker_map(
        "Map of lots by occupancy", "Every lot at its position, coloured by the share of its known bays that "
        "are occupied now: green below 70 %, orange from 70 %, red from 90 %. The details show free, occupied, "
        "unknown bays and capacity. Positions: the site's in the registry, else the centre of its bays.",
        unit="percentunit", value="share occupied", label="site", width=10, decimals=0,
        colours=[(None, "green"), (0.7, "orange"), (0.9, "red")],
        query=InfluxQL(
            'SELECT "latitude", "longitude", "share occupied", "free", "occupied", "unknown", "capacity" FROM ('
            'SELECT last("lat") AS "latitude", last("lon") AS "longitude", last("free") AS "free", '
            'last("occupied") AS "occupied", last("unknown") AS "unknown", last("capacity") AS "capacity", '
            'last("occupied") / (last("free") + last("occupied")) AS "share occupied" FROM "lot_availability" '
            f'WHERE $timeFilter AND {WHERE_PLACE} GROUP BY "site") GROUP BY "site"', table=True),
    ))
    panels.append(table_panel(
        "Lots by occupancy now", "Every lot with its live availability and the share of its known bays that "
        "are occupied, the cell coloured green below 70 %, orange from 70 %, red from 90 %.",
        unit="short", width=14, hide_time=True, sort_by="share occupied", descending=True,
        units={"share occupied": "percentunit"}, coloured="share occupied",
        colours=[(None, "green"), (0.7, "orange"), (0.9, "red")],
        queries=[InfluxQL(
            'SELECT "free", "occupied", "unknown", "capacity", "occupied" / ("free" + "occupied") AS '
            f'"share occupied" FROM ({_AVAILABILITY}) GROUP BY "site"', table=True)],
    ))
    return panels


def _occupancy() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        time_series(
            "Occupancy per lot", "Time-weighted occupancy of each lot: the share of the time its bays were "
            "occupied, of the time their state was known, mean of the 15-minute values in each interval.",
            unit="percentunit", width=24, decimals=0,
            queries=[InfluxQL(
                f'SELECT mean("occupancy") FROM "r15m"."lot_occupancy" WHERE $timeFilter AND {WHERE_PLACE} '
                'GROUP BY time($__interval), "site" fill(none)', alias="$tag_site")],
        ),
        hour_by_weekday(
            "Occupancy by hour and weekday", "Mean time-weighted occupancy of the chosen lots per local hour "
            "and weekday over the time range (hours down, weekdays across): when the lots fill up.",
            unit="percentunit", value="occupancy", width=14,
            colours=[(None, "green"), (0.7, "orange"), (0.9, "red")],
            query=InfluxQL(
                f'SELECT mean("occupancy") AS "occupancy" FROM "r1h"."lot_occupancy" WHERE $timeFilter AND '
                f"{WHERE_PLACE} GROUP BY time(1h) fill(none) tz('{TIMEZONE}')", table=True),
        ),
        table_panel(
            "Long-stay bays", "Bays by the hours in the time range they were occupied all hour long "
            "(time-weighted occupancy of the hour at least 95 %): the most are long-term parkers.",
            unit="h", width=10, height=10, sort_by="hours occupied", descending=True, hide_time=True,
            coloured="hours occupied", colours=[(None, "transparent"), (12, "orange"), (24, "red")],
            queries=[InfluxQL(
                'SELECT count("occupancy") AS "hours occupied" FROM "r1h"."occupancy" WHERE $timeFilter AND '
                f'"occupancy" >= 0.95 AND {WHERE_PLACE} GROUP BY "site", "dev_eui"', table=True)],
        ),
    ]
