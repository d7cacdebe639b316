"""Air quality: for the environment office.

From the raw station readings: measurements ``pm2_5``, ``pm10`` and ``no2`` in µg/m³ (tag ``site`` = the
station), as hourly means, against the EU limit values (Directive 2008/50/EC) and the WHO 2021 guidelines.
The lines are drawn in the unit of the data; the averaging period each one is defined for is in the panel's
description.
"""

from __future__ import annotations

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from dashboards.common import (
    TIMEZONE,
    WHERE_PLACE,
    InfluxQL,
    Line,
    add_panels,
    board,
    table_panel,
    time_series,
    to_dict,
)

UID = "stadtpuls-air-quality"
TITLE = "Air quality"
UNIT = "conμgm3"  # Grafana's µg/m³

EU = "red"  # colour of EU limit values
WHO = "orange"  # colour of WHO guideline values


def build() -> dict[str, object]:
    """The air-quality dashboard as Grafana's JSON model."""
    dashboard = board(
        UID, TITLE, "PM2.5, PM10 and NO2 at the stations against EU limits and WHO guidelines.",
        measurement="pm2_5", time_from="now-7d",
    )
    return to_dict(add_panels(dashboard, [*_hourly(), *_daily(), *_processed_panels()]))


def _mean(measurement: str, every: str) -> str:
    tz = f" tz('{TIMEZONE}')" if every == "1d" else ""
    return (
        f'SELECT mean("value") FROM "{measurement}" WHERE $timeFilter AND {WHERE_PLACE} '
        f'GROUP BY time({every}), "site" fill(null){tz}'
    )


def _hourly() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        time_series(
            "PM2.5, hourly mean", "Hourly mean of PM2.5 per station. Red dashed: EU annual limit value 25 µg/m³ "
            "(annual mean); orange dashed: WHO 24-hour guideline 15 µg/m³. Hourly values above a line are "
            "not yet an exceedance: the limit applies to the longer mean.",
            unit=UNIT, lines=[Line(25, EU, "EU annual limit"), Line(15, WHO, "WHO 24 h guideline")],
            queries=[InfluxQL(_mean("pm2_5", "1h"), alias="$tag_site")],
        ),
        time_series(
            "PM10, hourly mean", "Hourly mean of PM10 per station. Red dashed: EU daily limit value 50 µg/m³ "
            "(daily mean, at most 35 days a year above it); orange dashed: WHO 24-hour guideline 45 µg/m³.",
            unit=UNIT, lines=[Line(50, EU, "EU daily limit"), Line(45, WHO, "WHO 24 h guideline")],
            queries=[InfluxQL(_mean("pm10", "1h"), alias="$tag_site")],
        ),
        time_series(
            "NO2, hourly mean", "Hourly mean of nitrogen dioxide per station. Red dashed: EU hourly limit "
            "value 200 µg/m³ (at most 18 hours a year above it); orange dashed: WHO 24-hour guideline 25 µg/m³.",
            unit=UNIT, lines=[Line(200, EU, "EU hourly limit"), Line(25, WHO, "WHO 24 h guideline")],
            queries=[InfluxQL(_mean("no2", "1h"), alias="$tag_site")],
        ),
        table_panel(
            "Last hour per station", "Mean of the last 60 minutes per station and pollutant, in µg/m³.",
            unit=UNIT, hide_time=True, sort_by="NO2", descending=True,
            queries=[
                InfluxQL(f'SELECT mean("value") AS "{label}" FROM "{measurement}" '
                         f'WHERE time > now() - 1h AND time <= now() AND {WHERE_PLACE} GROUP BY "site"',
                         ref_id=ref_id, table=True)
                for ref_id, measurement, label in (("A", "pm2_5", "PM2.5"), ("B", "pm10", "PM10"), ("C", "no2", "NO2"))
            ],
        ),
    ]


def _daily() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        time_series(
            "PM10, daily mean", "Daily mean of PM10 per station (local days). Red dashed: EU daily limit value "
            "50 µg/m³; orange dashed: WHO 24-hour guideline 45 µg/m³. The mean of a day with few readings is "
            "shown all the same: the coverage rule (18 of 24 hours) is applied by processing.",
            unit=UNIT, width=12, bars=True,
            lines=[Line(50, EU, "EU daily limit"), Line(45, WHO, "WHO 24 h guideline")],
            queries=[InfluxQL(_mean("pm10", "1d"), alias="$tag_site")],
        ),
        time_series(
            "PM2.5, daily mean", "Daily mean of PM2.5 per station (local days). Orange dashed: WHO 24-hour "
            "guideline 15 µg/m³.",
            unit=UNIT, width=12, bars=True, lines=[Line(15, WHO, "WHO 24 h guideline")],
            queries=[InfluxQL(_mean("pm2_5", "1d"), alias="$tag_site")],
        ),
    ]


def _processed_panels() -> list[cogbuilder.Builder[model.Panel]]:
    """Panels on processed data; none yet.

    Still to come here, once processing writes them: the European Air Quality Index per station now and over
    time in the official band colours, and the EU limit exceedances this year (with the coverage rules).
    """
    return []
