"""The Grafana boards: built from code, complete, committed as built; Grafana's macros; publish over Grafana's HTTP API
against a local stand-in that checks requests the way Grafana's API documents them.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from dashboards.air_quality import BAND_COLOURS
from dashboards.boards import BOARDS, build_all, panels
from dashboards.common import DATASOURCE_UID, FOLDER_UID
from dashboards.macros import ALL, Variable, escape_regex, format_interval, panel_range, round_interval, substitute
from dashboards.provisioning import write_all
from dashboards.publish import InfluxSource, PublishError, publish
from processing.airquality import load_bands
from stadtpuls.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "glsa_test_token"


@pytest.fixture(scope="module")
def boards() -> dict[str, dict[str, Any]]:
    return build_all()


# --- the boards ------------------------------------------------------------------------------------------------

def test_every_board_builds_with_a_unique_uid_and_title(boards: dict[str, dict[str, Any]]) -> None:
    assert set(boards) == {"parking", "footfall", "air-quality", "fleet-health"}
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids)
    assert all(uid.startswith("stadtpuls-") and len(uid) <= 40 for uid in uids)  # Grafana's uid limit is 40
    titles = [board["title"] for board in boards.values()]
    assert len(set(titles)) == len(titles)


@pytest.mark.parametrize("name", list(BOARDS))
def test_every_panel_has_data_source_unit_description_and_query(name: str,
                                                                 boards: dict[str, dict[str, Any]]) -> None:
    board = boards[name]
    found = panels(board)
    assert len(found) >= 6
    assert len({panel["id"] for panel in found}) == len(found)
    for panel in found:
        where = f"{name}: {panel['title']!r}"
        assert panel["datasource"] == {"type": "influxdb", "uid": DATASOURCE_UID}, where
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{where} has no unit"
        assert len(panel.get("description", "")) >= 30, f"{where} says too little about what it shows"
        assert panel["targets"], f"{where} has no query"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(set(ref_ids)) == len(ref_ids), where
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID, where
            assert target["rawQuery"] is True, where
            assert target["query"].startswith("SELECT "), where
            query = target["query"]
            assert "$timeFilter" in query or "time <= now()" in query, f"{where} reads without a time range"
            assert '"municipality" =~ /^$municipality$/' in query, where
            assert '"site" =~ /^$site$/' in query, where


@pytest.mark.parametrize("name", list(BOARDS))
def test_every_board_has_municipality_and_site_variables(name: str, boards: dict[str, dict[str, Any]]) -> None:
    variables = {v["name"]: v for v in boards[name]["templating"]["list"]}
    assert list(variables) == ["municipality", "site"]
    for variable in variables.values():
        assert variable["datasource"]["uid"] == DATASOURCE_UID
        assert variable["query"].startswith("SHOW TAG VALUES FROM ")
        assert variable["multi"]
        assert variable["includeAll"]
        assert variable["allValue"] == ".*"
    assert "$municipality" in variables["site"]["query"]
    assert boards[name]["time"]["to"] == "now"
    assert boards[name]["time"]["from"].startswith("now-")


def test_committed_files_are_what_build_writes(tmp_path: Path) -> None:
    write_all(tmp_path)
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed_root = ROOT / "deploy" / "grafana"
    committed = sorted(p.relative_to(committed_root) for p in committed_root.rglob("*") if p.is_file())
    assert built == committed, "run `stadtpuls dashboards build` and commit deploy/grafana"
    for relative in built:
        assert (tmp_path / relative).read_text() == (committed_root / relative).read_text(), (
            f"deploy/grafana/{relative} differs from what `stadtpuls dashboards build` writes")


def test_build_command_writes_boards_and_provisioning(tmp_path: Path) -> None:
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "retired.json").write_text("{}")
    result = CliRunner().invoke(cli_main, ["dashboards", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "dashboards").iterdir()) == [
        "air-quality.json", "fleet-health.json", "footfall.json", "parking.json"]
    assert (tmp_path / "provisioning/datasources/influxdb.yaml").is_file()
    assert json.loads((tmp_path / "dashboards/parking.json").read_text())["uid"] == "stadtpuls-parking"


# --- Grafana's macros ------------------------------------------------------------------------------------------

def test_intervals_round_to_grafanas_steps() -> None:
    assert [round_interval(ms) for ms in (40_000, 86_400, 604_800, 2_592_000, 100_000_000)] == [
        30_000, 60_000, 600_000, 1_800_000, 86_400_000]
    assert [format_interval(ms) for ms in (60_000, 600_000, 3_600_000, 86_400_000, 1_500)] == [
        "1m", "10m", "1h", "1d", "1500ms"]


def test_substitution_as_grafana_does_it() -> None:
    end = datetime(2025, 3, 9, 12, 0, tzinfo=UTC)
    start = end - timedelta(days=7)
    query = 'SELECT mean("v") FROM "m" WHERE $timeFilter AND "site" =~ /^$site$/ GROUP BY time($__interval)'
    text = substitute(query, start=start, end=end, variables={"site": Variable("site", [ALL])})
    assert text == ('SELECT mean("v") FROM "m" WHERE time >= 1740916800000ms and time <= 1741521600000ms '
                    'AND "site" =~ /^.*$/ GROUP BY time(10m)')
    two = substitute('"site" =~ /^$site$/', start=start, end=end,
                     variables={"site": Variable("site", ["P1 Rathaus", "Markt/Süd (2)"])})
    assert two == r'"site" =~ /^(P1 Rathaus|Markt\/Süd \(2\))$/'
    one = substitute('"site" =~ /^${site}$/', start=start, end=end, variables={"site": Variable("site", ["a.b"])})
    assert one == r'"site" =~ /^a\.b$/'
    plain = Variable("site", ["a.b"], multi=False, include_all=False)
    assert substitute("$site", start=start, end=end, variables={"site": plain}) == "a.b"
    every = Variable("site", [ALL], all_value=None, options=["x", "y"])
    assert substitute("$site", start=start, end=end, variables={"site": every}) == "(x|y)"
    assert substitute("$__interval_ms", start=start, end=end - timedelta(days=6, hours=23)) == "60000"
    assert escape_regex(r"^$*+?.()|[]{}/\ ") == r"\^\$\*\+\?\.\(\)\|\[\]\{\}\/\\ "


def test_a_panels_range_follows_its_time_shift_and_relative_time() -> None:
    board = {"time": {"from": "now-7d", "to": "now"}}
    end = datetime(2025, 6, 14, 12, 0, tzinfo=UTC)
    zone = ZoneInfo("Europe/Berlin")
    assert panel_range(board, {}, end=end, zone=zone) == (end - timedelta(days=7), end)
    week = timedelta(weeks=1)
    assert panel_range(board, {"timeShift": "7d"}, end=end, zone=zone) == (end - 2 * week, end - week)
    assert panel_range(board, {"timeShift": "52w"}, end=end, zone=zone) == (end - 53 * week, end - 52 * week)
    start, stop = panel_range(board, {"timeFrom": "now/y"}, end=end, zone=zone)
    assert (start, stop) == (datetime(2025, 1, 1, tzinfo=zone), end)
    with pytest.raises(ValueError, match="now/M"):
        panel_range(board, {"timeFrom": "now/M"}, end=end, zone=zone)


def test_the_eaqi_panels_map_every_band_to_its_name_and_colour() -> None:
    board = build_all()["air-quality"]
    labels = load_bands().labels
    for title in ("EAQI now", "EAQI per station"):
        panel = next(p for p in panels(board) if p["title"] == title)
        options = {k: v for m in panel["fieldConfig"]["defaults"]["mappings"] for k, v in m["options"].items()}
        assert [options[str(i)]["text"] for i in range(1, 7)] == list(labels)
        assert [options[str(i)]["color"] for i in range(1, 7)] == list(BAND_COLOURS)
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert [s["value"] for s in steps] == [None, 2, 3, 4, 5, 6]


def test_the_hour_by_weekday_panels_lay_out_the_mean_of_their_queried_field() -> None:
    boards = build_all()
    for board, title, field in (("parking", "Occupancy by hour and weekday", "occupancy"),
                                ("footfall", "Weekday profile", "people")):
        panel = next(p for p in panels(boards[board]) if p["title"] == title)
        assert f'AS "{field}"' in panel["targets"][0]["query"]
        steps = {t["id"]: t["options"] for t in panel["transformations"]}
        assert steps["groupingToMatrix"]["valueField"] == f"{field} (mean)"
        assert steps["groupBy"]["fields"][field]["aggregations"] == ["mean"]


def test_the_map_of_lots_takes_positions_and_colour_from_columns_of_its_query() -> None:
    panel = next(p for p in panels(build_all()["parking"]) if p["type"] == "geomap")
    layer = panel["options"]["layers"][0]
    target = panel["targets"][0]
    assert target["resultFormat"] == "table"
    assert layer["type"] == "markers"
    assert layer["location"]["mode"] == "coords"
    for column in (layer["location"]["latitude"], layer["location"]["longitude"],
                   layer["config"]["style"]["color"]["field"]):
        assert f'AS "{column}"' in target["query"]
    assert layer["config"]["style"]["text"]["field"] == "site"
    assert 'GROUP BY "site"' in target["query"]
    assert panel["fieldConfig"]["defaults"]["color"]["mode"] == "thresholds"
    assert panel["options"]["view"]["id"] == "fit"


def test_an_unknown_variable_is_an_error_not_left_in_the_query() -> None:
    now = datetime(2025, 3, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match=r"\$lot"):
        substitute('"site" =~ /^$lot$/', start=now - timedelta(hours=1), end=now)
    assert substitute("ALIAS $tag_site", start=now - timedelta(hours=1), end=now) == "ALIAS $tag_site"


# --- publish against a stand-in for Grafana's HTTP API ------------------------------------------------------------

class FakeGrafana:
    """Grafana's dashboard, folder and data-source API as documented, in memory; refuses malformed requests."""

    def __init__(self) -> None:
        self.dashboards: dict[str, dict[str, Any]] = {}  # uid → {"dashboard", "folderUid", "version"}
        self.folders: dict[str, str] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.problems: list[str] = []
        self.next_id = 1

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, Any]:
        self.requests.append((method, path))
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Unauthorized"}
        payload: Any = None
        if method in ("POST", "PUT"):
            if not str(headers.get("Content-Type", "")).startswith("application/json"):
                self.problems.append(f"{method} {path} without a JSON content type")
                return 415, {"message": "Unsupported Media Type"}
            payload = json.loads(body)
        route = (method, *path.strip("/").split("/"))
        if route[:4] == ("GET", "api", "dashboards", "uid"):
            return self._get_dashboard(route[4])
        if route == ("POST", "api", "dashboards", "db"):
            return self._save_dashboard(payload)
        if route[:3] == ("GET", "api", "folders"):
            uid = route[3]
            return (200, {"uid": uid, "title": self.folders[uid]}) if uid in self.folders else (
                404, {"message": "folder not found"})
        if route == ("POST", "api", "folders"):
            if set(payload) - {"uid", "title", "parentUid"} or not payload.get("title"):
                self.problems.append(f"bad folder body {payload}")
                return 400, {"message": "bad request"}
            self.folders[payload["uid"]] = payload["title"]
            return 200, {"uid": payload["uid"], "title": payload["title"]}
        if route[:4] == ("GET", "api", "datasources", "uid"):
            uid = route[4]
            found = self.datasources.get(uid)
            return (200, found) if found else (404, {"message": "Data source not found"})
        if route == ("POST", "api", "datasources"):
            return self._save_datasource(payload, None)
        if route[:4] == ("PUT", "api", "datasources", "uid"):
            return self._save_datasource(payload, route[4])
        self.problems.append(f"unexpected request {method} {path}")
        return 404, {"message": "Not found"}

    def _get_dashboard(self, uid: str) -> tuple[int, Any]:
        stored = self.dashboards.get(uid)
        if stored is None:
            return 404, {"message": "Dashboard not found"}
        return 200, {"dashboard": stored["dashboard"], "meta": {"folderUid": stored["folderUid"], "slug": uid}}

    def _save_dashboard(self, payload: dict[str, Any]) -> tuple[int, Any]:
        if set(payload) - {"dashboard", "folderUid", "folderId", "overwrite", "message"}:
            self.problems.append(f"unknown keys in POST /api/dashboards/db: {sorted(payload)}")
            return 400, {"message": "bad request"}
        dashboard, folder = payload.get("dashboard"), payload.get("folderUid")
        if not isinstance(dashboard, dict) or not dashboard.get("uid") or not dashboard.get("title"):
            self.problems.append("dashboard without uid or title")
            return 400, {"message": "Dashboard title cannot be empty"}
        if folder not in self.folders:
            self.problems.append(f"folderUid {folder!r} does not exist")
            return 400, {"message": "folder not found"}
        uid = dashboard["uid"]
        existing = self.dashboards.get(uid)
        if existing is not None and payload.get("overwrite") is not True:
            return 412, {"status": "version-mismatch", "message": "The dashboard has been changed by someone else"}
        version = existing["version"] + 1 if existing else 1
        stored = {**dashboard, "id": existing["dashboard"]["id"] if existing else self.next_id, "version": version}
        self.next_id += existing is None
        self.dashboards[uid] = {"dashboard": stored, "folderUid": folder, "version": version}
        return 200, {"id": stored["id"], "uid": uid, "url": f"/d/{uid}", "status": "success", "version": version}

    def _save_datasource(self, payload: dict[str, Any], uid: str | None) -> tuple[int, Any]:
        for key in ("name", "type", "access", "url"):
            if not payload.get(key):
                self.problems.append(f"data source without {key}")
                return 400, {"message": f"{key} required"}
        target = uid or payload.get("uid") or "generated"
        if uid is None and target in self.datasources:
            return 409, {"message": "data source with the same uid already exists"}
        if uid is not None and uid not in self.datasources:
            return 404, {"message": "Data source not found"}
        stored = {k: v for k, v in payload.items() if k != "secureJsonData"}
        stored["secureJsonFields"] = {k: True for k in payload.get("secureJsonData", {})}
        self.datasources[target] = {**stored, "uid": target}
        return 200, {"message": "Datasource added", "datasource": self.datasources[target]}


@pytest.fixture
def grafana() -> Iterator[tuple[str, FakeGrafana]]:
    fake = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, answer = fake.handle(self.command, self.path, self.headers, self.rfile.read(length))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", fake
    server.shutdown()
    server.server_close()


INFLUX = InfluxSource("http://influxdb:8086", "stadtpuls", "grafana", "read-only-password")


def test_first_publish_creates_data_source_folder_and_every_board(grafana: tuple[str, FakeGrafana]) -> None:
    url, fake = grafana
    report = publish(url, TOKEN, influx=INFLUX)
    assert fake.problems == []
    assert report.datasource == "created"
    assert sorted(report.saved) == sorted(board["uid"] for board in build_all().values())
    assert report.unchanged == []
    assert FOLDER_UID in fake.folders
    source = fake.datasources[DATASOURCE_UID]
    assert source["type"] == "influxdb"
    assert source["jsonData"]["dbName"] == "stadtpuls"
    assert source["secureJsonFields"] == {"password": True}
    assert all(stored["version"] == 1 and stored["folderUid"] == FOLDER_UID for stored in fake.dashboards.values())


def test_publishing_again_changes_nothing(grafana: tuple[str, FakeGrafana]) -> None:
    url, fake = grafana
    publish(url, TOKEN, influx=INFLUX)
    saves_before = fake.requests.count(("POST", "/api/dashboards/db"))
    report = publish(url, TOKEN)
    assert fake.problems == []
    assert report.saved == []
    assert len(report.unchanged) == len(BOARDS)
    assert report.datasource == "unchanged"
    assert fake.requests.count(("POST", "/api/dashboards/db")) == saves_before
    assert all(stored["version"] == 1 for stored in fake.dashboards.values())


def test_a_board_changed_in_grafana_is_restored_as_a_new_version(grafana: tuple[str, FakeGrafana]) -> None:
    url, fake = grafana
    publish(url, TOKEN, influx=INFLUX)
    fake.dashboards["stadtpuls-parking"]["dashboard"]["title"] = "Parking (edited by hand)"
    report = publish(url, TOKEN)
    assert report.saved == ["stadtpuls-parking"]
    stored = fake.dashboards["stadtpuls-parking"]
    assert stored["version"] == 2
    assert stored["dashboard"]["title"] == "Parking"
    assert fake.problems == []


def test_a_wrong_token_is_a_clear_error(grafana: tuple[str, FakeGrafana]) -> None:
    url, fake = grafana
    with pytest.raises(PublishError, match="Unauthorized"):
        publish(url, "wrong", influx=INFLUX)
    assert fake.dashboards == {}


def test_without_a_data_source_and_without_its_password_publish_says_what_to_give(
        grafana: tuple[str, FakeGrafana]) -> None:
    url, fake = grafana
    with pytest.raises(PublishError, match="--influx-password"):
        publish(url, TOKEN)
    assert fake.dashboards == {}


def test_an_unreachable_grafana_is_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PublishError, match="unreachable"):
        publish(f"http://127.0.0.1:{port}", TOKEN, timeout=2)


def test_publish_command_reports_what_it_did(grafana: tuple[str, FakeGrafana]) -> None:
    url, fake = grafana
    args = ["dashboards", "publish", "--url", url, "--token", TOKEN, "--influx-url", "http://influxdb:8086",
            "--influx-password", "pw"]
    result = CliRunner().invoke(cli_main, args)
    assert result.exit_code == 0, result.output
    assert "data source: created" in result.output
    assert "saved      stadtpuls-fleet-health" in result.output
    again = CliRunner().invoke(cli_main, ["dashboards", "publish", "--url", url, "--token", TOKEN])
    assert again.exit_code == 0, again.output
    assert again.output.count("unchanged  ") == len(BOARDS)
    bad = CliRunner().invoke(cli_main, ["dashboards", "publish", "--url", url, "--token", "nope"])
    assert bad.exit_code != 0
    assert "Unauthorized" in bad.output
    assert fake.problems == []
