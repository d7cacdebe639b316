"""Inner-city footfall: for the inner-city management.

From the raw people counters: the cumulative counters ``people_in_total`` and ``people_out_total`` (one series
per counting line: tags ``dev_eui`` and ``channel``). People per hour are the hour-to-hour increases of a
counter (InfluxQL ``non_negative_difference``): a counter reset costs that one hour, and an hour without a
reading moves its people into the next hour with a reading.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import piechart
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from dashboards.common import (
    DATASOURCE,
    TIMEZONE,
    WHERE_PLACE,
    InfluxQL,
    add_panels,
    big_number,
    board,
    table_panel,
    time_series,
    to_dict,
)

UID = "stadtpuls-footfall"
TITLE = "Inner-city footfall"


def hourly(measurement: str, *, by: str = "") -> str:
    """People per hour and counting line from the cumulative counter ``measurement``, tagged also ``by``."""
    extra = f', "{by}"' if by else ""
    return (
        f'SELECT non_negative_difference(last("value")) AS "people" FROM "{measurement}" '
        f'WHERE $timeFilter AND {WHERE_PLACE} GROUP BY time(1h), "dev_eui", "channel"{extra} fill(none)'
    )


def build() -> dict[str, object]:
    """The footfall dashboard as Grafana's JSON model."""
    dashboard = board(
        UID, TITLE, "People counted in the pedestrian zone: per hour, per location, by direction.",
        measurement="people_in_total", time_from="now-7d",
    )
    return to_dict(add_panels(dashboard, [*_totals(), *_hours(), *_processed_panels()]))


def _totals() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        big_number(
            "People in", "People counted walking in (the counters' 'in' direction) in the time range, all "
            "chosen locations.", unit="short", width=6, height=8,
            query=InfluxQL(f'SELECT sum("people") FROM ({hourly("people_in_total")})'),
        ),
        big_number(
            "People out", "People counted walking out in the time range, all chosen locations.",
            unit="short", width=6, height=8,
            query=InfluxQL(f'SELECT sum("people") FROM ({hourly("people_out_total")})'),
        ),
        _share_per_location(),
        table_panel(
            "People per location", "People counted in, per location (site) over the time range.",
            unit="short", width=6, sort_by="people", descending=True, hide_time=True,
            queries=[InfluxQL(
                f'SELECT sum("people") AS "people" FROM ({hourly("people_in_total", by="site")}) GROUP BY "site"',
                table=True)],
        ),
    ]


def _share_per_location() -> piechart.Panel:
    return (
        piechart.Panel()
        .title("Share per location")
        .description("Each location's share of the people counted in over the time range.")
        .datasource(DATASOURCE)
        .unit("short")
        .span(6)
        .height(8)
        .with_target(InfluxQL(
            f'SELECT sum("people") FROM ({hourly("people_in_total", by="site")}) GROUP BY "site"',
            alias="$tag_site"))
        .reduce_options(_reduce_sum())
    )


def _reduce_sum() -> cogbuilder.Builder[common.ReduceDataOptions]:
    from grafana_foundation_sdk.builders import common as common_builders

    return common_builders.ReduceDataOptions().calcs(["sum"]).values(False)


def _hours() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        time_series(
            "People per hour per location", "People counted in per hour, per location (all its counting "
            "lines together). Hours without a reading are gaps, never zeros.",
            unit="short", width=24, bars=True,
            queries=[InfluxQL(
                f'SELECT sum("people") FROM ({hourly("people_in_total", by="site")}) '
                f'WHERE $timeFilter GROUP BY time(1h), "site" fill(none) tz(\'{TIMEZONE}\')', alias="$tag_site")],
        ),
        time_series(
            "Direction split", "People per hour walking in and walking out, all chosen locations together.",
            unit="short", width=24,
            queries=[
                InfluxQL(f'SELECT sum("people") FROM ({hourly("people_in_total")}) WHERE $timeFilter '
                         f'GROUP BY time(1h) fill(none) tz(\'{TIMEZONE}\')', ref_id="A", alias="in"),
                InfluxQL(f'SELECT sum("people") FROM ({hourly("people_out_total")}) WHERE $timeFilter '
                         f'GROUP BY time(1h) fill(none) tz(\'{TIMEZONE}\')', ref_id="B", alias="out"),
            ],
        ),
    ]


def _processed_panels() -> list[cogbuilder.Builder[model.Panel]]:
    """Panels on processed data; none yet.

    Still to come here, once processing writes people per interval: day totals beside the same weekday last
    week and last year, the hour × weekday profile, and counts with gaps marked as gaps.
    """
    return []
