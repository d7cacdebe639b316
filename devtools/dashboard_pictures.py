"""Pictures of the boards for the README, rendered with matplotlib from the boards' own queries.

Not a Grafana screenshot: each panel's InfluxQL runs (macros substituted as Grafana does, see
:mod:`dashboards.macros`) against an InfluxDB filled by the simulated town and processed, and the result is
drawn in the panel's place on Grafana's grid: time series as lines or bars with their threshold lines, stat
panels as a big number (one per series), tables as their first rows, hour × weekday tables as the matrix
Grafana's transformations make of them (:mod:`dashboards.transformations`), state timelines as coloured
bands, pie charts as pies, maps as their markers on a longitude/latitude plane.

    python -m devtools.dashboard_pictures --out docs/img --days 7

starts its own InfluxDB on a free loopback port (as the tests do), backfills the default town for ``--days``
local days up to today and the week before them (one run, so the counters run on; with a few faults in the
last hours: garbled payloads, an implausible value, an unknown device, an air station gone silent), and for
``--days`` days 52 weeks before (the panels shifted to last week and last year), runs the processing backfill
over them and one live pass, then the alarms check, anomaly detection and the fleet summary every 2 hours
over the last 12, and writes ``docs/img/<board>.png``. Geomaps are drawn without map tiles.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from dashboards.boards import build_all, panels
from dashboards.common import TIMEZONE
from dashboards.macros import ALL, Variable, panel_range, substitute

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from stadtpuls.settings import Settings

UNIT_TEXT = {"conμgm3": "µg/m³", "dBm": "dBm", "dB": "dB", "percentunit": "%", "cpm": "/min", "volt": "V",
             "short": "", "none": "", "bool_yes_no": ""}
BACKGROUND, PANEL, TEXT, GRID = "#111217", "#181b1f", "#ccccdc", "#2c3235"
PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#705da0", "#37872d",
           "#fade2a"]
COLOURS = {"red": "#f2495c", "orange": "#ff9830", "green": "#73bf69", "blue": "#5794f2", "transparent": "none"}
ROW_INCHES = 0.42  # height of one grid row
WIDTH_INCHES = 18.0  # 24 grid columns
EVERYTHING = {"municipality": Variable("municipality", [ALL]), "site": Variable("site", [ALL])}


async def run_queries(settings: Settings, board: dict[str, Any], end: datetime) -> list[list[list[dict[str, Any]]]]:
    """Each panel's targets' series, in panel order, for "All" municipalities and sites."""
    from stadtpuls.influx import InfluxClient

    results = []
    async with InfluxClient.from_settings(settings.influx, timeout=120) as influx:
        for panel in panels(board):
            start, stop = panel_range(board, panel, end=end, zone=ZoneInfo(TIMEZONE))
            per_target = []
            for target in panel["targets"]:
                query = substitute(target["query"], start=start, end=stop, variables=EVERYTHING)
                per_target.append(await influx.query(query, epoch="ms"))
            results.append(per_target)
    return results


def draw_board(board: dict[str, Any], results: Sequence[Sequence[list[dict[str, Any]]]], path: Path) -> None:
    """Draw the board's panels in their grid positions and save a PNG to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = panels(board)
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in found)
    figure = plt.figure(figsize=(WIDTH_INCHES, rows * ROW_INCHES + 0.6), facecolor=BACKGROUND)
    figure.text(0.01, 1 - 0.25 / (rows * ROW_INCHES + 0.6), f"{board['title']}  ·  {_subtitle(board)}",
                color=TEXT, fontsize=13, va="center")
    top = 1 - 0.6 / (rows * ROW_INCHES + 0.6)
    for panel, series in zip(found, results, strict=True):
        axes = _panel_axes(figure, panel["gridPos"], rows, top)
        _draw(panel)(axes, panel, series)
    figure.savefig(path, dpi=80, facecolor=BACKGROUND)
    plt.close(figure)


def _subtitle(board: dict[str, Any]) -> str:
    return f"last {board['time']['from'][4:]}, all municipalities and sites  ·  rendered from the board's queries"


def _panel_axes(figure: Any, grid: dict[str, int], rows: int, top: float) -> Axes:
    """The panel's frame; the title sits in its top row, the content below (see :func:`_content`)."""
    pad_x, pad_y = 0.004, 0.006
    left = grid["x"] / 24 + pad_x
    width = grid["w"] / 24 - 2 * pad_x
    height = grid["h"] / rows * top - 2 * pad_y
    bottom = top - (grid["y"] + grid["h"]) / rows * top + pad_y
    frame: Axes = figure.add_axes((left, bottom, width, height), facecolor=PANEL)
    frame.set_xticks([])
    frame.set_yticks([])
    for spine in frame.spines.values():
        spine.set_color(GRID)
    return frame


def _content(frame: Axes, *, left: float = 0.1, bottom: float = 0.1, plot: bool = False) -> Axes:
    """An axes inside ``frame`` below its title; ``plot`` leaves room (inches) for tick labels."""
    from matplotlib.figure import Figure

    figure = frame.get_figure()
    assert isinstance(figure, Figure)
    width_in, height_in = figure.get_size_inches()
    box = frame.get_position()
    left_in, bottom_in, top_in = (0.55, 0.3, 0.3) if plot else (left, bottom, 0.3)
    axes = figure.add_axes((
        box.x0 + left_in / width_in, box.y0 + bottom_in / height_in,
        box.width - (left_in + 0.1) / width_in, box.height - (bottom_in + top_in) / height_in,
    ), facecolor=PANEL)
    for spine in axes.spines.values():
        spine.set_color(GRID)
    axes.tick_params(colors=TEXT, labelsize=7)
    return axes


def _title(frame: Axes, panel: dict[str, Any], *, with_unit: bool = True) -> None:
    unit = UNIT_TEXT.get(str(panel["fieldConfig"]["defaults"].get("unit")), "")
    title = panel["title"] + (f" [{unit}]" if unit and with_unit else "")
    frame.text(0.008, 0.985, title, color=TEXT, fontsize=9, ha="left", va="top", transform=frame.transAxes)


def _label(series: dict[str, Any], alias: str | None) -> str:
    tags = series.get("tags") or {}
    if alias and "$tag_" in alias:
        return re.sub(r"\$tag_(\w+)", lambda match: str(tags.get(match.group(1), "")), alias)
    return alias or ", ".join(str(v) for v in tags.values()) or str(series.get("name", ""))


def _draw_time_series(frame: Axes, panel: dict[str, Any], results: Sequence[list[dict[str, Any]]]) -> None:
    import matplotlib.dates as mdates

    axes = _content(frame, plot=True)
    zone = ZoneInfo(TIMEZONE)
    custom = panel["fieldConfig"]["defaults"].get("custom", {})
    bars = custom.get("drawStyle") == "bars"
    colour = 0
    for target, series_list in zip(panel["targets"], results, strict=True):
        for series in series_list:
            points = [(datetime.fromtimestamp(row[0] / 1000, zone), row[1]) for row in series["values"]
                      if row[1] is not None]
            if not points:
                continue
            times, values = zip(*points, strict=True)
            style = "steps-post" if bars else "default"
            axes.plot(times, values, drawstyle=style, linewidth=1.1, color=PALETTE[colour % len(PALETTE)],
                      label=_label(series, target.get("alias")))
            colour += 1
    unit = panel["fieldConfig"]["defaults"].get("unit")
    if unit == "percentunit":
        axes.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    thresholds = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
    if custom.get("thresholdsStyle", {}).get("mode") in ("dashed", "line"):
        for step in thresholds:
            if step["value"] is not None:
                axes.axhline(step["value"], color=COLOURS.get(step["color"], step["color"]), linestyle="--",
                             linewidth=1)
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%a %H:%M", tz=zone))  # type: ignore[no-untyped-call]
    axes.grid(color=GRID, linewidth=0.5)
    if colour:
        axes.legend(fontsize=6, loc="upper left", ncol=min(colour, 6), facecolor=PANEL, edgecolor=GRID,
                    labelcolor=TEXT)
    _title(frame, panel)


def _draw_stat(axes: Axes, panel: dict[str, Any], results: Sequence[list[dict[str, Any]]]) -> None:
    """The reduced value of each series, as a big number in its threshold colour (mapped to text if mapped)."""
    calcs = panel["options"]["reduceOptions"]["calcs"]
    alias = panel["targets"][0].get("alias")
    tiles = []
    for series in results[0]:
        values = [row[1] for row in series["values"] if row[1] is not None]
        if values and calcs == ["mean"]:
            values = [sum(values) / len(values)]
        if values:
            tiles.append((_label(series, alias) if len(results[0]) > 1 else "", values[-1]))
    defaults = panel["fieldConfig"]["defaults"]
    unit = str(defaults.get("unit"))
    if not tiles:
        axes.text(0.5, 0.42, "No data", color=TEXT, fontsize=24, ha="center", va="center", transform=axes.transAxes)
    size = 24 if len(tiles) <= 1 else max(9, 20 - 2 * len(tiles))
    for n, (label, value) in enumerate(tiles):
        x = (n + 0.5) / len(tiles)
        text = _mapped(defaults, value) or _format(value, unit, defaults.get("decimals"))
        axes.text(x, 0.42, text, color=_stat_colour(panel, value), fontsize=size, ha="center", va="center",
                  transform=axes.transAxes, wrap=True)
        if label:
            axes.text(x, 0.72, label, color=TEXT, fontsize=7, ha="center", va="center", transform=axes.transAxes)
    _title(axes, panel, with_unit=False)


def _mapped(defaults: dict[str, Any], value: float) -> str | None:
    """The text a value mapping gives ``value``, or None."""
    for mapping in defaults.get("mappings", []):
        result = mapping.get("options", {}).get(f"{value:g}")
        if result is not None:
            return str(result["text"])
    return None


def _mapped_colour(defaults: dict[str, Any], value: float) -> str | None:
    for mapping in defaults.get("mappings", []):
        result = mapping.get("options", {}).get(f"{value:g}")
        if result is not None:
            return str(result["color"])
    return None


def _stat_colour(panel: dict[str, Any], value: float | None) -> str:
    return _threshold_colour(panel["fieldConfig"]["defaults"], value) or PALETTE[0]


def _threshold_colour(defaults: dict[str, Any], value: float | None) -> str | None:
    colour = None
    for step in defaults.get("thresholds", {}).get("steps", []):
        if value is not None and (step["value"] is None or value >= step["value"]):
            colour = COLOURS.get(step["color"], step["color"])
    return colour


def _format(value: float, unit: str, decimals: int | None) -> str:
    if unit == "percentunit":
        return f"{value * 100:.{decimals if decimals is not None else 1}f} %"
    if unit == "bool_yes_no":
        return "occupied" if value else "free"
    if unit == "s" and abs(value) >= 60:  # as Grafana shows durations: in the largest unit that fits
        minutes = value / 60
        return f"{minutes:.1f} min" if abs(minutes) < 60 else f"{minutes / 60:.1f} hour"
    digits = decimals if decimals is not None else (0 if float(value).is_integer() or abs(value) >= 100 else 1)
    text = f"{value:,.{digits}f}"
    suffix = UNIT_TEXT.get(unit, unit)
    return f"{text} {suffix}".strip()


def _draw_table(frame: Axes, panel: dict[str, Any], results: Sequence[list[dict[str, Any]]]) -> None:
    from matplotlib.transforms import Bbox

    header, rows = _table_rows(panel, results)
    sort = ((panel.get("options") or {}).get("sortBy") or [{}])[0]
    if sort.get("displayName") in header:
        index = header.index(sort["displayName"])
        present = sorted((r for r in rows if r[index] is not None), key=lambda r: r[index],
                         reverse=bool(sort.get("desc")))
        rows = present + [r for r in rows if r[index] is None]  # empty cells last, as Grafana sorts
    defaults = panel["fieldConfig"]["defaults"]
    overrides = panel["fieldConfig"].get("overrides", [])
    units = {o["matcher"]["options"]: p["value"] for o in overrides for p in o["properties"] if p["id"] == "unit"}
    coloured = {str(o["matcher"]["options"]) for o in overrides for p in o["properties"]
                if p["id"] == "custom.cellOptions"}
    shown = max(1, panel["gridPos"]["h"] - 2)
    cells = [[_cell(value, column, units.get(column, defaults.get("unit", "")), defaults.get("decimals"))
              for column, value in zip(header, row, strict=True)] for row in rows[:shown]]
    _title(frame, panel, with_unit=False)
    if not cells:
        return
    axes = _content(frame, left=0.05, bottom=0.05)
    axes.axis("off")
    table = axes.table(cellText=cells, colLabels=header, loc="upper center", cellLoc="left", colLoc="left",
                       bbox=Bbox.from_bounds(0, 1 - min(1.0, (len(cells) + 1) / (shown + 1)), 1,
                                             min(1.0, (len(cells) + 1) / (shown + 1))))
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    for (row, column), cell in table.get_celld().items():
        value = rows[row - 1][column] if row > 0 else None
        paint = header[column] in coloured or ("number" in coloured and isinstance(value, int | float))
        background = _threshold_colour(defaults, value) if paint and isinstance(value, int | float) else None
        cell.set_facecolor(background if background not in (None, "none") else PANEL)
        cell.set_edgecolor(GRID)
        cell.get_text().set_color("#111217" if background not in (None, "none") else TEXT)


def _table_rows(panel: dict[str, Any], results: Sequence[list[dict[str, Any]]]) -> tuple[list[str], list[list[Any]]]:
    """Rows as Grafana's table shows them: tags then columns; "merge" joins the targets on their tags."""
    transformations = {t["id"]: t.get("options", {}) for t in panel.get("transformations", [])}
    hidden = set(transformations.get("organize", {}).get("excludeByName", {}))
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    header: list[str] = []
    for series_list in results:
        for series in series_list:
            tags = series.get("tags") or {}
            columns = ["Time" if c == "time" else c for c in series["columns"]]
            for name in [*tags, *columns]:
                if name not in header:
                    header.append(name)
            for row in series["values"]:
                key = tuple(tags.values()) if "merge" in transformations else (len(merged),)
                merged.setdefault(key, {}).update({**tags, **dict(zip(columns, row, strict=True))})
    header = [name for name in header if name not in hidden]
    return header, [[values.get(name) for name in header] for values in merged.values()]


def _cell(value: Any, column: str, unit: str, decimals: int | None) -> str:
    if value is None:
        return ""
    if column == "Time":
        return datetime.fromtimestamp(value / 1000, ZoneInfo(TIMEZONE)).strftime("%a %H:%M")
    if isinstance(value, int | float):
        return _format(float(value), unit, decimals)
    return str(value)


def _draw_pie(frame: Axes, panel: dict[str, Any], results: Sequence[list[dict[str, Any]]]) -> None:
    axes = _content(frame)
    axes.axis("off")
    alias = panel["targets"][0].get("alias")
    parts = [(_label(s, alias), sum(r[1] for r in s["values"] if r[1] is not None)) for s in results[0]]
    parts = [(label, value) for label, value in parts if value and not math.isnan(value)]
    if parts:
        labels, values = zip(*parts, strict=True)
        axes.pie(values, labels=labels, colors=PALETTE[: len(values)], autopct="%1.0f %%",
                 textprops={"color": TEXT, "fontsize": 7})
    _title(frame, panel, with_unit=False)


def _draw_matrix(frame: Axes, panel: dict[str, Any], results: Sequence[list[dict[str, Any]]]) -> None:
    """An hour × weekday table as the panel's transformations make it (:mod:`dashboards.transformations`)."""
    from matplotlib.colors import to_rgba

    from dashboards.transformations import apply, table_frame

    [matrix] = apply(panel["transformations"], [table_frame(results[0])], zone=ZoneInfo(TIMEZONE))
    rows, *columns = matrix
    hours = matrix[rows]
    defaults = panel["fieldConfig"]["defaults"]
    unit = str(defaults.get("unit"))
    axes = _content(frame, plot=True)
    box = axes.get_position()
    axes.set_position((box.x0, box.y0, box.width, box.height * 0.93))  # room for the weekdays under the title
    for x, column in enumerate(columns):
        for y, value in enumerate(matrix[column]):
            if value == "":
                continue
            colour = _threshold_colour(defaults, value) or PANEL
            axes.add_patch(_rectangle(x, y, to_rgba(colour, 0.85)))
            axes.text(x + 0.5, y + 0.5, _format(value, unit, 0), fontsize=5.5, ha="center", va="center",
                      color="#111217")
    axes.set_xlim(0, max(1, len(columns)))
    axes.set_ylim(max(1, len(hours)), 0)
    axes.set_xticks([n + 0.5 for n in range(len(columns))], [c.split("-")[-1] for c in columns])
    axes.set_yticks([n + 0.5 for n in range(0, len(hours), 3)], hours[::3])
    axes.xaxis.tick_top()
    _title(frame, panel)


def _draw_geomap(frame: Axes, panel: dict[str, Any], results: Sequence[list[dict[str, Any]]]) -> None:
    """The markers of a geomap on a plain longitude/latitude plane (no map tiles), coloured and labelled as the
    panel's marker layer says.
    """
    from dashboards.transformations import table_frame

    layer = panel["options"]["layers"][0]
    location, style = layer["location"], layer["config"]["style"]
    table = table_frame(results[0])
    defaults = panel["fieldConfig"]["defaults"]
    axes = _content(frame, plot=True)
    points = [(lon, lat, value, label) for lon, lat, value, label in zip(
        table.get(location["longitude"], []), table.get(location["latitude"], []),
        table.get(style["color"]["field"], []), table.get(style["text"]["field"], []), strict=True)
        if lon is not None and lat is not None]
    for lon, lat, value, label in points:
        colour = _threshold_colour(defaults, value) if value is not None else None
        axes.scatter([lon], [lat], s=220, color=colour or "#8e8e8e", alpha=0.85, edgecolors=TEXT, linewidths=0.5)
        shown = _format(value, str(defaults.get("unit")), defaults.get("decimals")) if value is not None else "?"
        axes.annotate(f"{label}  {shown}", (lon, lat), xytext=(9, 0), textcoords="offset points", fontsize=7,
                      color=TEXT, va="center")
    if points:
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        pad = max(max(lons) - min(lons), max(lats) - min(lats), 0.004) * 0.25
        axes.set_xlim(min(lons) - pad, max(lons) + 4 * pad)
        axes.set_ylim(min(lats) - pad, max(lats) + pad)
        axes.set_aspect(1 / math.cos(math.radians(sum(lats) / len(lats))))
    axes.set_xlabel("longitude °E", fontsize=6, color=TEXT)
    axes.set_ylabel("latitude °N", fontsize=6, color=TEXT)
    _title(frame, panel, with_unit=False)


def _rectangle(x: float, y: float, colour: Any) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 1, 1, facecolor=colour, edgecolor=PANEL, linewidth=0.5)


def _draw_state_timeline(frame: Axes, panel: dict[str, Any], results: Sequence[list[dict[str, Any]]]) -> None:
    """One band per series, each value drawn in its mapped colour until the next value."""
    import matplotlib.dates as mdates

    zone = ZoneInfo(TIMEZONE)
    defaults = panel["fieldConfig"]["defaults"]
    axes = _content(frame, plot=True)
    alias = panel["targets"][0].get("alias")
    labels = []
    for n, series in enumerate(results[0]):
        rows = [row for row in series["values"] if row[1] is not None]
        labels.append(_label(series, alias))
        for row, following in zip(rows, [*rows[1:], None], strict=True):
            start = float(mdates.date2num(_local(row[0])))  # type: ignore[no-untyped-call]
            stop = float(mdates.date2num(_local(following[0]))) if following else start + 1 / 24  # type: ignore[no-untyped-call]
            colour = _mapped_colour(defaults, row[1]) or _threshold_colour(defaults, row[1]) or PALETTE[0]
            axes.broken_barh([(start, stop - start)], (n + 0.1, 0.8), facecolors=colour)
    axes.set_yticks([n + 0.5 for n in range(len(labels))], labels)
    axes.set_ylim(len(labels), 0)
    axes.xaxis_date(zone)
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%a %H:%M", tz=zone))  # type: ignore[no-untyped-call]
    _title(frame, panel)


def _local(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(TIMEZONE))


def _draw(panel: dict[str, Any]) -> Any:
    if any(t["id"] == "groupingToMatrix" for t in panel.get("transformations", [])):
        return _draw_matrix
    return _DRAW.get(panel["type"], _draw_table)


_DRAW = {"timeseries": _draw_time_series, "stat": _draw_stat, "table": _draw_table, "piechart": _draw_pie,
         "state-timeline": _draw_state_timeline, "geomap": _draw_geomap}


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("docs/img"), show_default=True)
@click.option("--days", type=click.IntRange(1, 60), default=7, show_default=True, help="Local days of the town.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
def main(out: Path, days: int, workers: int) -> None:
    """Backfill the default town into a local InfluxDB and draw every board to OUT/<board>.png."""
    import tempfile

    from devtools.localstack import InfluxServer, create_database
    from firmware_sim.backfill import run_backfill
    from stadtpuls.settings import InfluxSettings, Settings

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, InfluxServer(Path(folder) / "influxdb") as influx:
        create_database(influx.url, "stadtpuls")
        settings = Settings(influx=InfluxSettings(url=influx.url, db="stadtpuls"), data_dir=Path(folder))
        today = datetime.now(ZoneInfo(TIMEZONE)).date()
        # the last days and a week before them in one run (the counters run on), and 52 weeks before
        for back, length in ((0, days + 7), (364, days)):
            first = today - timedelta(days=back + length - 1)
            faults = _fault_spec(Path(folder) / "faults.yaml") if back == 0 else None
            result = run_backfill(settings, town="default", days=length, start=first, workers=workers,
                                  faults=faults)
            points = _process(settings, first, length)
            click.echo(f"backfilled {length} days from {first}: {result.uplinks:,} uplinks, {points:,} processed "
                       "points", err=True)
        service = _service(settings)
        asyncio.run(service.run_pass())
        end = datetime.now(UTC)
        asyncio.run(_fleet_history(settings, service, end))
        for name, board in build_all().items():
            path = out / f"{name}.png"
            draw_board(board, asyncio.run(run_queries(settings, board, end)), path)
            click.echo(str(path))


# faults of the last hours (kind, device, hours before now it starts, hours it lasts), for the fleet panels
FAULTS = (
    ("garbled_payload", "obere-marktstrasse", 9, 3),
    ("implausible_value", "ring-ost", 7, 1),
    ("unknown_device", "ring-nord", 10, 1),
    ("offline", "stadtpark", 5, 48),
)
FLEET_HOURS, FLEET_STEP = 12, 2  # the fleet summaries: every FLEET_STEP hours over the last FLEET_HOURS


def _fault_spec(path: Path) -> Path:
    now = datetime.now(ZoneInfo(TIMEZONE))
    lines = ["faults:"]
    for kind, device, before, hours in FAULTS:
        start = (now - timedelta(hours=before)).strftime("%Y-%m-%dT%H:%M")
        lines.append(f"  - {{kind: {kind}, device: {device}, start: '{start}', duration: {hours}h}}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _fleet_history(settings: Settings, service: Any, end: datetime) -> None:
    """The alarms check, anomaly detection and a fleet summary as the services run them, every
    :data:`FLEET_STEP` hours over the last :data:`FLEET_HOURS` up to ``end``, with the counters and air stations
    in service (the town registers its devices as installed now, after their history).
    """
    from devices.alarms import AlarmStore, check
    from devices.records import Status
    from devices.registry import DeviceRegistry
    from stadtpuls.influx import InfluxClient

    registry = DeviceRegistry(settings.registry_url)
    for device in registry.list():
        if device.device_class != "parking":
            registry.set_status(device.dev_eui, Status.ACTIVE, by="pictures", note="in the field before the history")
    alarms = AlarmStore(settings.registry_url)
    async with InfluxClient.from_settings(settings.influx, timeout=120) as influx:
        for hours in range(FLEET_HOURS, -1, -FLEET_STEP):
            moment = end - timedelta(hours=hours)
            await check(registry, alarms, influx, now=moment)
            await service.detect_anomalies(now=moment.timestamp())
            await service.summarise_fleet(now=int(moment.timestamp() * 1e9))


def _service(settings: Settings) -> Any:
    from processing.airquality import load_bands
    from processing.engine import Options
    from processing.service import ProcessingService

    return ProcessingService(settings, Options(load_bands()))


def _process(settings: Settings, first: Any, days: int) -> int:
    """Run the processing backfill over ``days`` local days from ``first``, up to now; the points written."""
    start = datetime.combine(first, datetime.min.time(), ZoneInfo(TIMEZONE))
    end = min(start + timedelta(days=days), datetime.now(UTC))
    report = asyncio.run(_service(settings).backfill(int(start.timestamp()) * 10**9, int(end.timestamp()) * 10**9))
    return int(report.points)


if __name__ == "__main__":
    main()
