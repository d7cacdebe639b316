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
    hour_by_weekday,
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
        .description("Each location's share of the people walking in over the time range (processed counts; "
                     "hours in a counter's gap count for none).")
        .datasource(DATASOURCE)
        .unit("short")
        .span(6)
        .height(8)
        .with_target(InfluxQL(
            f'SELECT sum("count") FROM "r1h"."footfall_site" WHERE $timeFilter AND "direction" = \'in\' AND '
            f'{WHERE_PLACE} GROUP BY "site"', alias="$tag_site"))
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
            "Direction split", "People per hour walking in and walking out, all chosen locations together "
            "(processed counts; a gap in a counter's readings is a gap, not zero).",
            unit="short", width=24,
            queries=[
                InfluxQL(f'SELECT sum("count") FROM "r1h"."footfall_site" WHERE $timeFilter AND "direction" = '
                         f"'{direction}' AND {WHERE_PLACE} GROUP BY time(1h) fill(none)", ref_id=ref, alias=direction)
                for ref, direction in (("A", "in"), ("B", "out"))
            ],
        ),
    ]


def _processed_panels() -> list[cogbuilder.Builder[model.Panel]]:
    """Panels on what processing writes: people per interval per counting line (``footfall``) and per site
    (``footfall_site``), spread evenly over the time between readings, resets handled, gaps left empty.
    """
    return [*_per_counter(), *_day_totals(), _weekday_profile()]


def _site_days(direction: str = "in") -> str:
    return (
        f'SELECT sum("count") FROM "r1d"."footfall_site" WHERE $timeFilter AND "direction" = \'{direction}\' '
        f'AND {WHERE_PLACE} GROUP BY time(1d) fill(none)'
    )


def _per_counter() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        time_series(
            "People per hour per counter", "People walking in per hour at each counter (location and device), "
            "from processing: increases spread over the time between readings, gaps left empty.",
            unit="short", width=24,
            queries=[InfluxQL(
                f'SELECT sum("count") FROM "r1h"."footfall" WHERE $timeFilter AND "direction" = \'in\' AND '
                f'{WHERE_PLACE} GROUP BY time(1h), "site", "dev_eui" fill(none)', alias="$tag_site $tag_dev_eui")],
        ),
    ]


def _day_totals() -> list[cogbuilder.Builder[model.Panel]]:
    shifts = [
        ("People per day", "People walking in per day (UTC days), all chosen locations: the sum of the sites' "
         "complete counters.", None),
        ("People per day, a week earlier", "The same, for the same days one week earlier (the panel's time is "
         "shifted by 7 days): compare each bar with the one at the same place in 'People per day'.", "7d"),
        ("People per day, a year earlier", "The same, for the same weekdays one year earlier (shifted by 52 "
         "weeks, so Mondays face Mondays).", "52w"),
    ]
    return [
        time_series(title, description, unit="short", width=8, bars=True, time_shift=shift,
                    queries=[InfluxQL(_site_days(), alias="people in")])
        for title, description, shift in shifts
    ]


def _weekday_profile() -> cogbuilder.Builder[model.Panel]:
    return hour_by_weekday(
        "Weekday profile", "Mean people walking in per local hour and weekday over the time range, all chosen "
        "locations (hours down, weekdays across): when the inner city is busy.",
        unit="short", value="people", width=24,
        colours=[(None, "blue"), (200, "green"), (600, "orange"), (1200, "red")],
        query=InfluxQL(
            'SELECT sum("count") AS "people" FROM "r1h"."footfall_site" WHERE $timeFilter AND "direction" = '
            f"'in' AND {WHERE_PLACE} GROUP BY time(1h) fill(none) tz('{TIMEZONE}')", table=True),
    )
