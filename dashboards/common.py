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
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

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
                decimals: int | None = None) -> timeseries.Panel:
    """A time series panel; ``lines`` are drawn as dashed threshold lines (limits, guidelines)."""
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
               reduce: str = "lastNotNull", graph: bool = False) -> stat.Panel:
    """A stat panel showing one value of a query (Grafana's ``reduce`` of it); ``thresholds`` colour it.

    ``graph`` draws the query's values over time behind the number.
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
        steps = [model.Threshold(value=value, color=color) for value, color in thresholds]
        panel = panel.thresholds(db.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps))
        panel = panel.color_mode(common.BigValueColorMode.VALUE)
    return panel


def table_panel(title: str, description: str, *, unit: str, queries: Sequence[InfluxQL], width: int = 12,
                height: int = 8, units: dict[str, str] | None = None, sort_by: str | None = None,
                descending: bool = False, hide_time: bool = False) -> table.Panel:
    """A table of queries in table format; ``units`` gives columns a unit other than ``unit``.

    Several queries are merged into one table on their common columns (Grafana's "merge" transformation);
    ``hide_time`` hides the time column, which an aggregate over the whole range fills with the range's start.
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
    return panel


def to_dict(dashboard: db.Dashboard) -> dict[str, Any]:
    """The dashboard as the JSON object Grafana stores (plain dicts and lists)."""
    document: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(dashboard.build()))
    return document
