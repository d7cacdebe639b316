"""Air quality: for the environment office.

From the raw station readings: measurements ``pm2_5``, ``pm10`` and ``no2`` in µg/m³ (tag ``site`` = the
station), as hourly means, against the EU limit values (Directive 2008/50/EC) and the WHO 2021 guidelines.
The lines are drawn in the unit of the data; the averaging period each one is defined for is in the panel's
description.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import statetimeline
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as model

from dashboards.common import (
    DATASOURCE,
    TIMEZONE,
    WHERE_PLACE,
    InfluxQL,
    Line,
    add_panels,
    big_number,
    board,
    table_panel,
    time_series,
    to_dict,
)
from processing.airquality import PmMean, load_bands

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
    return to_dict(add_panels(dashboard, [*_processed_panels(), *_hourly(), *_daily()]))


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


# The European Environment Agency's colours of the six EAQI bands, good … extremely poor.
BAND_COLOURS = ("#50f0e6", "#50ccaa", "#f0e641", "#ff5050", "#960032", "#7d2181")
_BANDS = load_bands()  # the default band table, the one `stadtpuls process` uses unless told otherwise
_EAQI_WHERE = (
    f'$timeFilter AND "bands" = \'{_BANDS.name}\' AND "pm_mean" = \'{PmMean.HOURLY.value}\' AND {WHERE_PLACE}'
)


def band_mappings() -> list[model.ValueMapping]:
    """Value mappings of the index 1-6 to its band's name and colour (band names from the band table)."""
    return [model.ValueMap({str(index): model.ValueMappingResult(text=label, color=colour, index=index - 1)})
            for index, (label, colour) in enumerate(zip(_BANDS.labels, BAND_COLOURS, strict=True), start=1)]


def band_thresholds() -> list[tuple[float | None, str]]:
    """Thresholds colouring the index in its band's colour."""
    return [(None if index == 1 else float(index), colour) for index, colour in enumerate(BAND_COLOURS, start=1)]


def _bands_text() -> str:
    bounds = "; ".join(f"{name} {', '.join(f'{b:g}' for b in row)}" for name, row in
                       zip(_BANDS.pollutants, _BANDS.bounds.tolist(), strict=True))
    return (f"European Air Quality Index ({_BANDS.name} bands, hourly PM): the worst band of any pollutant, "
            f"1 {_BANDS.labels[0]} … 6 {_BANDS.labels[-1]}. Upper bounds of bands 1-5 in µg/m³: {bounds}.")


def _processed_panels() -> list[cogbuilder.Builder[model.Panel]]:
    """Panels on what processing writes: the EAQI per station and hour (``eaqi``) and the EU limit checks per
    station and day (``air_limits``, with the coverage rules applied).
    """
    return [*_eaqi(), *_limits()]


def _eaqi() -> list[cogbuilder.Builder[model.Panel]]:
    now = big_number(
        "EAQI now", f"Each station's index of its latest complete hour. {_bands_text()}",
        unit="none", width=8, height=8, thresholds=band_thresholds(), mappings=band_mappings(),
        query=InfluxQL(f'SELECT last("index") FROM "r1h"."eaqi" WHERE {_EAQI_WHERE} GROUP BY "site"',
                       alias="$tag_site"),
    )
    timeline = (
        statetimeline.Panel()
        .title("EAQI per station")
        .description(f"Each station's index hour by hour, in the band colours. {_bands_text()} Hours "
                     "without enough readings are empty.")
        .datasource(DATASOURCE)
        .unit("none")
        .span(16)
        .height(8)
        .targets([InfluxQL(f'SELECT max("index") FROM "r1h"."eaqi" WHERE {_EAQI_WHERE} '
                           'GROUP BY time($__interval), "site" fill(none)', alias="$tag_site")])
        .mappings(band_mappings())
        .thresholds(db.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(
            [model.Threshold(value=value, color=colour) for value, colour in band_thresholds()]))
        .color_scheme(db.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
    )
    return [now, timeline]


def _limits() -> list[cogbuilder.Builder[model.Panel]]:
    return [
        time_series(
            "PM10, valid daily mean", "Daily mean of PM10 per station (UTC days) as the EU limit counts it: only "
            "days with at least 18 valid hourly means. Red dashed: EU daily limit value 50 µg/m³ (35 days a "
            "year allowed above it); orange dashed: WHO 24-hour guideline 45 µg/m³.",
            unit=UNIT, width=12, bars=True,
            lines=[Line(50, EU, "EU daily limit"), Line(45, WHO, "WHO 24 h guideline")],
            queries=[InfluxQL(f'SELECT mean("pm10_mean") FROM "r1d"."air_limits" WHERE $timeFilter AND '
                              f'{WHERE_PLACE} GROUP BY time(1d), "site" fill(none)', alias="$tag_site")],
        ),
        table_panel(
            "EU limit exceedances this year", "Per station, since 1 January (local): days with a valid PM10 "
            "daily mean above 50 µg/m³ (35 allowed a year) and hours with NO2 above 200 µg/m³ (18 allowed a "
            "year), after Directive 2008/50/EC; valid days and hours counted beside them.",
            unit="short", width=12, hide_time=True, time_from="now/y", sort_by="PM10 days > 50", descending=True,
            queries=[InfluxQL(
                'SELECT sum("pm10_over_limit") AS "PM10 days > 50", count("pm10_mean") AS "PM10 valid days", '
                'sum("no2_hours_over_limit") AS "NO2 hours > 200", sum("no2_valid_hours") AS "NO2 valid hours" '
                f'FROM "r1d"."air_limits" WHERE $timeFilter AND {WHERE_PLACE} GROUP BY "site"', table=True)],
        ),
    ]
