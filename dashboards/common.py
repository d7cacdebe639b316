"""What every board shares: the InfluxQL data source, its query type, the template variables, panel helpers.

Every panel reads InfluxDB through Grafana's InfluxDB data source in InfluxQL mode; the data source has a
fixed uid (:data:`DATASOURCE_UID`), written into the provisioning file by ``stadtpuls dashboards build`` and
created with that uid by ``stadtpuls dashboards publish``. The foundation SDK has no InfluxDB query type, so
:class:`InfluxQL` provides one: a raw InfluxQL query as Grafana's query editor stores it.

Queries use Grafana's macros: ``$timeFilter`` (the dashboard's time range), ``$__interval`` (the interval
Grafana picks for the range and panel width) and the template variables ``$municipality`` and ``$site``,
always as regular expressions (``=~ /^$site$/``) so that several values and "All" work
(:data:`WHERE_PLACE`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import geomap, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import geomap as geomap_model

DATASOURCE_UID = "stadtpuls-influxdb"
DATASOURCE_NAME = "Stadtpuls InfluxDB"
DATASOURCE_TYPE = "influxdb"
DATASOURCE = model.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)
FOLDER_UID = "stadtpuls"
FOLDER_TITLE = "Stadtpuls"
TAGS = ["stadtpuls"]
TIMEZONE = "Europe/Berlin"

# The filter every panel query carries: the points of the chosen municipalities and sites.
WHERE_PLACE = "\"municipality\" =~ /^$municipality$/ AND \"site\" =~ /^$site$/"

ResultFormat = Literal["time_series", "table"]


class InfluxQLQuery(cogvariants.Dataquery):
    """A raw InfluxQL query of Grafana's InfluxDB data source (its ``rawQuery`` mode)."""

    def __init__(self, ref_id: str, query: str, result_format: ResultFormat, alias: str | None) -> None:
        self.ref_id = ref_id
        self.query = query
        self.result_format = result_format
        self.alias = alias

    def to_json(self) -> dict[str, object]:
        """The target as Grafana stores it in a panel's ``targets``."""
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": DATASOURCE.to_json(),
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias is not None:
            payload["alias"] = self.alias
        return payload


class InfluxQL(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builder of an :class:`InfluxQLQuery`, to pass to a panel's ``with_target``."""

    def __init__(self, query: str, *, ref_id: str = "A", table: bool = False, alias: str | None = None) -> None:
        self._query = InfluxQLQuery(ref_id, " ".join(query.split()), "table" if table else "time_series", alias)

    def build(self) -> cogvariants.Dataquery:
        """The query."""
        return self._query


@dataclass(frozen=True, slots=True)
class Line:
    """A horizontal reference line (a limit or guideline) drawn on a time series panel."""

    value: float
    color: str
    label: str


def place_variables(measurement: str) -> list[db.QueryVariable]:
    """The template variables ``municipality`` and ``site``, listing the tag values of ``measurement``.

    Both take several values and "All" (matched as the regular expression ``.*``); the sites offered are those
    of the chosen municipalities.
    """
    municipality = _tag_variable(
        "municipality", "Municipality", f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "municipality"'
    )
    site = _tag_variable(
        "site", "Site",
        f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "site" WHERE "municipality" =~ /^$municipality$/',
    )
    return [municipality, site]


def _tag_variable(name: str, label: str, query: str) -> db.QueryVariable:
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(model.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
    )


def board(uid: str, title: str, description: str, *, measurement: str, time_from: str) -> db.Dashboard:
    """A dashboard with Stadtpuls' common settings and the place variables over ``measurement``."""
    dashboard = (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .timezone(TIMEZONE)
        .time(time_from, "now")
        .refresh("5m")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .readonly()
    )
    for variable in place_variables(measurement):
        dashboard = dashboard.with_variable(variable)
    return dashboard


def add_panels(dashboard: db.Dashboard, panels: Sequence[cogbuilder.Builder[model.Panel]]) -> db.Dashboard:
    """Add ``panels`` in order, numbering them 1, 2, ... (Grafana needs a unique id per panel)."""
    for number, panel in enumerate(panels, start=1):
        built = panel.build()
        built.id_val = number
        dashboard = dashboard.with_panel(_Built(built))
    return dashboard


class _Built(cogbuilder.Builder[model.Panel]):
    def __init__(self, panel: model.Panel) -> None:
        self._panel = panel

    def build(self) -> model.Panel:
        return self._panel


def time_series(title: str, description: str, *, unit: str, queries: Sequence[InfluxQL], width: int = 12,
                height: int = 8, lines: Sequence[Line] = (), bars: bool = False,
                decimals: int | None = None, time_shift: str | None = None) -> timeseries.Panel:
    """A time series panel; ``lines`` are drawn as dashed threshold lines (limits, guidelines).

    ``time_shift`` (e.g. ``7d``) shows the same range that much earlier (Grafana's panel time shift).
    """
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .targets(list(queries))
        .span_nulls(False)
        .line_width(1)
        .fill_opacity(10)
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    if time_shift is not None:
        panel = panel.time_shift(time_shift)
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    if lines:
        steps = [model.Threshold(value=None, color="transparent")]
        steps += [model.Threshold(value=line.value, color=line.color) for line in sorted(lines, key=_value)]
        panel = (
            panel.thresholds(db.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps))
            .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphTresholdsStyleMode.DASHED))
        )
    return panel


def _value(line: Line) -> float:
    return line.value


def big_number(title: str, description: str, *, unit: str, query: InfluxQL, width: int = 6, height: int = 4,
               decimals: int | None = None, thresholds: Sequence[tuple[float | None, str]] = (),
               reduce: str = "lastNotNull", graph: bool = False,
               mappings: Sequence[model.ValueMapping] = (), time_from: str | None = None,
               no_value: str | None = None) -> stat.Panel:
    """A stat panel showing one value of a query (Grafana's ``reduce`` of it); ``thresholds`` colour it.

    ``graph`` draws the query's values over time behind the number; ``mappings`` show values as text;
    ``time_from`` overrides the dashboard's range (e.g. ``now/y``, this year so far); ``no_value`` is shown
    when the query returns nothing (e.g. ``0`` where no row means none).
    """
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .with_target(query)
        .graph_mode(common.BigValueGraphMode.AREA if graph else common.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs([reduce]).values(False))
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    if thresholds:
        panel = panel.thresholds(_thresholds(thresholds)).color_mode(common.BigValueColorMode.VALUE)
    if mappings:
        panel = panel.mappings(list(mappings))
    if time_from is not None:
        panel = panel.time_from(time_from)
    if no_value is not None:
        panel = panel.no_value(no_value)
    return panel


def _thresholds(steps: Sequence[tuple[float | None, str]]) -> db.ThresholdsConfig:
    return db.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(
        [model.Threshold(value=value, color=color) for value, color in steps])


def table_panel(title: str, description: str, *, unit: str, queries: Sequence[InfluxQL], width: int = 12,
                height: int = 8, units: dict[str, str] | None = None, sort_by: str | None = None,
                descending: bool = False, hide_time: bool = False,
                colours: Sequence[tuple[float | None, str]] = (), coloured: str | None = None,
                decimals: int | None = None,
                time_from: str | None = None) -> table.Panel:
    """A table of queries in table format; ``units`` gives columns a unit other than ``unit``.

    Several queries are merged into one table on their common columns (Grafana's "merge" transformation);
    ``hide_time`` hides the time column, which an aggregate over the whole range fills with the range's start.
    ``colours`` are thresholds that colour the background of the cells of the column ``coloured`` (of every
    number column if None); ``time_from`` overrides the dashboard's range (e.g. ``now/y``).
    """
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .targets(list(queries))
    )
    if len(queries) > 1:
        panel = panel.with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
    if hide_time:
        panel = panel.with_transformation(
            model.DataTransformerConfig(id_val="organize", options={"excludeByName": {"Time": True}}))
    for column, column_unit in (units or {}).items():
        panel = panel.override_by_name(column, [model.DynamicConfigValue(id_val="unit", value=column_unit)])
    if sort_by is not None:
        panel = panel.sort_by([common_builders.TableSortByFieldState().display_name(sort_by).desc(descending)])
    if colours:
        background = [model.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"})]
        panel = panel.thresholds(_thresholds(colours))
        if coloured is None:
            panel = panel.override_by_field_type("number", background)
        else:
            panel = panel.override_by_name(coloured, background)
    if decimals is not None:
        panel = panel.decimals(decimals)
    if time_from is not None:
        panel = panel.time_from(time_from)
    return panel


def hour_by_weekday(title: str, description: str, *, unit: str, query: InfluxQL, value: str,
                    colours: Sequence[tuple[float | None, str]], width: int = 12, decimals: int = 0) -> table.Panel:
    """An hour × weekday matrix (a heatmap as a coloured table) of an hourly query's field ``value``.

    The query returns one row per hour (table format, local time). Grafana's transformations label each row
    with its weekday (``1-Mon`` … ``7-Sun``) and hour (``00`` … ``23``) in the dashboard's time zone, average
    the rows of the same weekday and hour, and lay the means out with the hours as rows and the weekdays as
    columns; the cells are coloured by ``colours``.
    """
    steps = [
        model.DataTransformerConfig(id_val="formatTime", options={
            "timeField": "Time", "outputFormat": "[day=]E-ddd [hour=]HH", "useTimezone": True}),
        model.DataTransformerConfig(id_val="sortBy", options={"sort": [{"field": "Time"}]}),
        model.DataTransformerConfig(id_val="extractFields", options={
            "source": "Time", "format": "kvp", "replace": False, "keepTime": False}),
        model.DataTransformerConfig(id_val="groupBy", options={"fields": {
            "day": {"operation": "groupby"}, "hour": {"operation": "groupby"},
            value: {"operation": "aggregate", "aggregations": ["mean"]}}}),
        model.DataTransformerConfig(id_val="groupingToMatrix", options={
            "columnField": "day", "rowField": "hour", "valueField": f"{value} (mean)"}),
    ]
    panel = table_panel(title, description, unit=unit, queries=[query], width=width, colours=colours,
                        decimals=decimals, height=10)
    for step in steps:
        panel = panel.with_transformation(step)
    return panel


def marker_map(title: str, description: str, *, unit: str, query: InfluxQL, value: str, label: str,
               colours: Sequence[tuple[float | None, str]], width: int = 12, height: int = 10,
               decimals: int | None = None) -> geomap.Panel:
    """A map (Grafana's geomap panel) with one marker per row of a table query, coloured by its ``value``.

    The query returns the columns ``latitude`` and ``longitude`` (°, WGS 84), the column ``value`` that
    ``colours`` (thresholds) colour the marker by, and ``label`` shown beside it. The view fits the markers.
    """
    location = (
        common_builders.FrameGeometrySource().mode(common.FrameGeometrySourceMode.COORDS)
        .latitude("latitude").longitude("longitude")
    )
    style = {
        "color": {"field": value, "fixed": "dark-green"},
        "size": {"fixed": 12, "min": 6, "max": 24},
        "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
        "opacity": 0.8,
        "text": {"field": label, "fixed": "", "mode": "field"},
        "textConfig": {"fontSize": 11, "offsetX": 10, "offsetY": 0, "textAlign": "left", "textBaseline": "middle"},
    }
    markers = (
        common_builders.MapLayerOptions().type("markers").name("Markers").location(location).tooltip(True)
        .config({"showLegend": True, "style": style})
    )
    panel = (
        geomap.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .with_target(query)
        .view(geomap.MapViewConfig().id(geomap_model.MapCenterID.FIT.value).zoom(15).max_zoom(18))
        .basemap(common_builders.MapLayerOptions().type("default").name("Basemap"))
        .layers([markers])
        .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True).show_attribution(True))
        .tooltip(geomap.TooltipOptions().mode(geomap_model.TooltipMode.DETAILS))
        .thresholds(_thresholds(colours))
        .color_scheme(db.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


def to_dict(dashboard: db.Dashboard) -> dict[str, Any]:
    """The dashboard as the JSON object Grafana stores (plain dicts and lists)."""
    document: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(dashboard.build()))
    return document
