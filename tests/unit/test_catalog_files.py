"""Loading catalogs: every codec is resolved at load, a town adds its own models, bad files say what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from devices.catalog import (
    CATALOG_FILE,
    CatalogError,
    catalog,
    check_catalog,
    get_model,
    load_catalog,
    merge_catalogs,
    models,
)
from devices.cli import devices_group
from devices.codec_cli import codec_group
from devices.codecs import codec_for
from devices.jscodec import JsCodec
from stadtpuls.cli import main
from stadtpuls.errors import EX_CONFIG
from stadtpuls.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_JS = ROOT / "tests" / "fixtures" / "js" / "sample-counter.js"
SAMPLE_YAML = ROOT / "tests" / "fixtures" / "js" / "sample-counter-codec.yaml"

TOWN_ENTRY = """\
- model: acme-counter
  vendor: Acme
  name: Acme door counter
  class: footfall
  codec_js: codecs/acme-counter.js
  fports: {1: counts, 2: configuration}
  report_interval: 900
  quantities:
    - {match: people_in, quantity: people_in}
    - {match: people_out, quantity: people_out}
"""


@pytest.fixture(autouse=True)
def _fresh_catalog() -> Iterator[None]:
    """Each test reads settings and catalog anew, and leaves the built-in ones behind."""
    get_settings.cache_clear()
    catalog.cache_clear()
    yield
    get_settings.cache_clear()
    catalog.cache_clear()


def town_catalog(folder: Path, text: str = TOWN_ENTRY, js: str | None = None) -> Path:
    """A town catalog file in ``folder`` with its codec in ``codecs/acme-counter.js`` (the sample counter's
    source unless ``js`` is given).
    """
    (folder / "codecs").mkdir(exist_ok=True)
    source = SAMPLE_JS.read_text(encoding="utf-8") if js is None else js
    (folder / "codecs" / "acme-counter.js").write_text(source, encoding="utf-8")
    path = folder / "town-catalog.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# Codecs are resolved when the catalog loads ------------------------------------------------------------------


def test_a_missing_codec_file_stops_the_load_naming_model_and_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(TOWN_ENTRY, encoding="utf-8")  # codecs/acme-counter.js does not exist
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert str(path) in message
    assert "'acme-counter'" in message
    assert str(tmp_path / "codecs" / "acme-counter.js") in message
    assert "cannot read codec file" in message


def test_a_codec_that_does_not_compile_stops_the_load_naming_model_and_file(tmp_path: Path) -> None:
    path = town_catalog(tmp_path, js="function decodeUplink(input) { return {data: {}};\n")
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert str(path) in message
    assert "'acme-counter'" in message
    assert "acme-counter.js" in message
    assert "SyntaxError" in message


def test_a_codec_without_a_decoder_stops_the_load(tmp_path: Path) -> None:
    path = town_catalog(tmp_path, js="var x = 1;\n")
    with pytest.raises(CatalogError, match=r"acme-counter.*defines no decodeUplink"):
        load_catalog(path)


def test_an_unknown_native_codec_stops_the_load(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text("- {model: acme-x1, class: generic, codec: acme_x1}\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"catalog.yaml: model 'acme-x1': unknown native codec 'acme_x1'"):
        load_catalog(path)


def test_the_loaded_codec_is_the_one_ingest_gets(tmp_path: Path) -> None:
    """The codec compiled at load is reused: the first uplink neither compiles nor fails on it."""
    model = load_catalog(town_catalog(tmp_path))["acme-counter"]
    codec = codec_for(model)
    assert isinstance(codec, JsCodec)
    assert codec_for(model) is codec
    built = codec.realms_built
    assert codec.decode(1, bytes([0x01, 0x00, 0x2A, 0x01, 0x00, 0x24]))["data"]["people_in"] == 42
    assert codec.realms_built == built


# A town's own catalog ----------------------------------------------------------------------------------------


def test_setting_names_a_town_catalog_merged_with_the_built_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = town_catalog(tmp_path)
    monkeypatch.setenv("STADTPULS_CATALOG", str(path))
    models = catalog()
    assert set(load_catalog(CATALOG_FILE)) | {"acme-counter"} == set(models)
    entry = get_model("acme-counter")
    assert entry.codec_js == tmp_path / "codecs" / "acme-counter.js"
    assert entry.source == path
    frame = bytes([0x01, 0x00, 0x01, 0x00, 0x02, 0x1C])
    assert codec_for(entry).decode(1, frame)["data"]["people_out"] == 2


def test_a_model_defined_in_both_catalogs_names_both_files(tmp_path: Path) -> None:
    path = tmp_path / "town.yaml"
    path.write_text("- {model: cayenne-lpp, class: generic, codec: cayenne_lpp}\n", encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        merge_catalogs([CATALOG_FILE, path])
    message = str(caught.value)
    assert "'cayenne-lpp' is defined twice" in message
    assert str(CATALOG_FILE) in message
    assert str(path) in message


def test_a_model_twice_in_one_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "town.yaml"
    path.write_text("- {model: acme-x1, class: generic, codec: cayenne_lpp}\n" * 2, encoding="utf-8")
    with pytest.raises(CatalogError, match="model 'acme-x1' appears twice"):
        load_catalog(path)


def test_commands_list_the_town_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STADTPULS_CATALOG", str(town_catalog(tmp_path)))
    result = CliRunner().invoke(devices_group, ["models"])
    assert result.exit_code == 0, result.output
    assert "acme-counter" in result.output
    assert "Acme door counter" in result.output
    result = CliRunner().invoke(codec_group, ["test", str(SAMPLE_YAML), "--model", "acme-counter"])
    assert result.exit_code == 0, result.output
    assert result.output.count("PASS") == 6


@pytest.mark.parametrize(
    "args",
    [["devices", "models"], ["codec", "decode", "cayenne-lpp", "--fport", "1", "--hex", "00"], ["ingest"], ["api"]],
    ids=["devices", "codec", "ingest", "api"],
)
def test_a_broken_town_catalog_stops_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    path = tmp_path / "town.yaml"
    path.write_text(TOWN_ENTRY, encoding="utf-8")  # the codec file is missing
    monkeypatch.setenv("STADTPULS_CATALOG", str(path))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == EX_CONFIG, result.output
    assert "the device catalog cannot be used" in result.output
    assert "acme-counter" in result.output


def test_model_metadata_does_not_compile_codecs_but_the_check_still_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Processing reads what the models are and decodes nothing: a broken codec does not stop it, while the
    start-up check of the commands that decode still refuses the catalog.
    """
    path = tmp_path / "town.yaml"
    path.write_text(TOWN_ENTRY, encoding="utf-8")  # the codec file is missing
    monkeypatch.setenv("STADTPULS_CATALOG", str(path))
    assert get_model("acme-counter").report_interval == 900
    assert set(models()) == set(load_catalog(CATALOG_FILE)) | {"acme-counter"}
    with pytest.raises(CatalogError, match="cannot read codec file"):
        check_catalog()
    with pytest.raises(CatalogError, match="cannot read codec file"):
        load_catalog(path)
    assert load_catalog(path, codecs=False)["acme-counter"].source == path


def test_model_metadata_is_the_checked_catalog_once_it_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STADTPULS_CATALOG", str(town_catalog(tmp_path)))
    metadata = models()
    checked = catalog()
    assert metadata == checked
    assert models() is checked
    assert get_model("acme-counter") is checked["acme-counter"]


# Validation names file, entry and field ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- {model: acme-x1, class: generic, codec: cayenne_lpp, quantities: [{match: x, quantity: flux}]}\n",
         "[0] (acme-x1).quantities[0].quantity: unknown quantity 'flux'"),
        ("- {model: acme-x1, class: gadget, codec: cayenne_lpp}\n", "[0] (acme-x1).class: Input should be"),
        ("- {model: acme-x1, class: generic, codec: cayenne_lpp}\n- {model: acme-x2, class: generic}\n",
         "[1] (acme-x2): name exactly one of codec"),
        ("- {model: acme-x1, class: generic, codec: cayenne_lpp, report_interval: -5}\n",
         "[0] (acme-x1).report_interval: Input should be greater than or equal to 0"),
        ("- {model: acme-x1, class: generic, codec: cayenne_lpp, quantities: [{match: '(', quantity: light}]}\n",
         "[0] (acme-x1).quantities[0].match: not a valid regular expression"),
        ("- {model: acme-x1, class: generic, codec: cayenne_lpp, colour: red}\n",
         "[0] (acme-x1).colour: Extra inputs are not permitted"),
        ("- {model: Acme_X1, class: generic, codec: cayenne_lpp}\n", "[0] (Acme_X1).model: model id 'Acme_X1'"),
        ("model: acme-x1\n", "Input should be a valid list"),
        ("- [unclosed\n", "not valid YAML"),
    ],
)
def test_errors_name_file_entry_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert f"{path}: " in str(caught.value)
    assert expected in str(caught.value)


def test_an_empty_catalog_file_adds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text("# no models yet\n", encoding="utf-8")
    assert load_catalog(path) == {}
