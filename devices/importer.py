"""Bulk import of devices from CSV, in the shape The Things Stack and ChirpStack imports use.

The whole file is read and checked before anything is written: every bad row is reported with its line number,
field and reason, and nothing is saved unless every row is valid. Saving runs in one transaction; rows that
match the registry already are not written, so importing the same file again changes nothing.

Columns (case, spaces, dashes and dots in the header do not matter; unknown columns such as ``join_eui`` or
``app_key`` are ignored and never stored): see :data:`ALIASES`. Separators ``;``, ``,`` or tab; UTF-8 with or
without a byte-order mark; in ``;`` files a decimal comma in coordinates is accepted (``50,1234``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from devices.registry import Change, DeviceRegistry, DeviceSpec, RegistryError, check_device
from stadtpuls.errors import DataError

MAX_IMPORT_BYTES = 5 * 1024 * 1024  # one import file; about 50,000 devices
MAX_ROWS = 50_000
MAX_PROBLEMS = 1000  # reported per file; the count says how many there were

# canonical field → accepted column names (normalised: lower case, runs of non-alphanumerics as "_")
ALIASES: dict[str, tuple[str, ...]] = {
    "dev_eui": ("dev_eui", "deveui", "eui", "device_eui", "ids_dev_eui"),
    "name": ("name", "device_name", "display_name"),
    "device_id": ("id", "device_id", "ids_device_id"),  # The Things Stack's id: the name when there is none
    "model": ("model", "model_id", "device_model", "stadtpuls_model"),
    "site": ("site", "site_name", "location_name"),
    "municipality": ("municipality", "town"),
    "lat": ("lat", "latitude", "location_latitude", "gps_lat"),
    "lon": ("lon", "lng", "long", "longitude", "location_longitude", "gps_lon"),
    "installed_on": ("installed_on", "installation_date", "install_date", "installed"),
    "notes": ("notes", "note", "description", "comment", "comments"),
    "status": ("status", "lifecycle_status"),
}
REQUIRED = ("dev_eui", "model", "site")
_BY_ALIAS = {alias: name for name, aliases in ALIASES.items() for alias in aliases}


class ImportFileError(DataError):
    """The file cannot be imported; ``problems`` lists every bad row (line, field, reason)."""

    def __init__(self, message: str, problems: list[Problem] | None = None, *, total: int = 0) -> None:
        self.problems = problems or []
        self.total = total or len(self.problems)
        lines = [message, *(str(p) for p in self.problems)]
        if self.total > len(self.problems):
            lines.append(f"... and {self.total - len(self.problems)} more")
        super().__init__("\n".join(lines))
        self.summary = message


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a row cannot be imported."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field + ': ' if self.field else ''}{self.reason}"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did (or, for a dry run, would do)."""

    rows: int
    changes: list[Change]
    new_sites: list[str] = field(default_factory=list)
    written: bool = False

    def count(self, action: str) -> int:
        """How many rows have this action (create, update, unchanged)."""
        return sum(1 for c in self.changes if c.action == action)


def normalise_header(name: str) -> str:
    """``" Dev-EUI "`` → ``"dev_eui"``; ``"location.latitude"`` → ``"location_latitude"``."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def decode(data: bytes, *, source: str) -> str:
    """The file's text: UTF-8, a leading byte-order mark dropped.

    Raises:
        ImportFileError: too large, binary, or not UTF-8 (naming the line).
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFileError(
            f"{source}: {len(data) / 1e6:.1f} MB is too large; an import takes at most "
            f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB (about {MAX_ROWS:,} devices): split the file"
        )
    if b"\x00" in data:
        raise ImportFileError(f"{source}: contains NUL bytes: not a CSV text file (a spreadsheet? save it as CSV)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFileError(
            f"{source}: line {line} is not UTF-8 (byte 0x{data[exc.start]:02X}); save the file as "
            "'CSV UTF-8' (in LibreOffice: character set Unicode (UTF-8))"
        ) from exc


def sniff_delimiter(header: str) -> str:
    """The separator of the header line: ``;``, ``,`` or tab, whichever occurs most (``,`` if none)."""
    counts = {d: header.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def map_columns(header: list[str], *, source: str) -> dict[str, int]:
    """Canonical field → column index.

    Raises:
        ImportFileError: a required column is missing or a field appears twice.
    """
    columns: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = _BY_ALIAS.get(normalise_header(raw))
        if name is None:
            continue
        if name in columns:
            raise ImportFileError(
                f"{source}: columns {header[columns[name]]!r} and {raw!r} both give {name}; keep one"
            )
        columns[name] = index
    missing = [name for name in REQUIRED if name not in columns]
    if "name" not in columns and "device_id" not in columns:
        missing.append("name")
    if missing:
        wanted = "; ".join(f"{m} (or {', '.join(ALIASES[m][1:])})" for m in missing)
        found = ", ".join(repr(h) for h in header) or "nothing"
        raise ImportFileError(f"{source}: missing column(s) {wanted}; the header has {found}")
    return columns


@dataclass(frozen=True, slots=True)
class Layout:
    """How a file's rows are laid out: column map, separator, number of header fields."""

    columns: dict[str, int]
    delimiter: str
    width: int


def rows(text: str, *, source: str) -> tuple[Layout, Iterator[tuple[int, list[str]]]]:
    """The file's layout and an iterator of (line number, fields) of its non-empty rows.

    Raises:
        ImportFileError: the file is empty or its header lacks a required column.
    """
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise ImportFileError(f"{source}: is empty or starts with an empty line; the first line must be the header")
    delimiter = sniff_delimiter(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader)
    layout = Layout(map_columns(header, source=source), delimiter, len(header))

    def body() -> Iterator[tuple[int, list[str]]]:
        start = reader.line_num + 1
        for fields in reader:
            if any(f.strip() for f in fields):
                yield start, fields
            start = reader.line_num + 1

    return layout, body()


def _number(value: str, label: str, delimiter: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    if delimiter == ";":
        value = value.replace(",", ".")  # a decimal comma, as spreadsheets in German write them
    try:
        return float(value)
    except ValueError:
        raise RegistryError(f"{label} must be a number, got {value!r}", field=label) from None


def _date(value: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise RegistryError(f"installation date must be YYYY-MM-DD or DD.MM.YYYY, got {value!r}", field="installed_on")


def _spec(fields: list[str], columns: dict[str, int], *, municipality: str, delimiter: str) -> DeviceSpec:
    def get(name: str) -> str:
        return fields[columns[name]].strip() if name in columns else ""

    notes = get("notes") if "notes" in columns else None
    return check_device(
        get("dev_eui"),
        model=get("model"),
        name=get("name") or get("device_id"),
        site=get("site"),
        municipality=get("municipality") or municipality,
        lat=_number(get("lat"), "lat", delimiter),
        lon=_number(get("lon"), "lon", delimiter),
        installed_on=_date(get("installed_on")),
        notes=notes,
        status=get("status") or None,
    )


def check_rows(
    data: bytes, *, municipality: str, source: str = "import"
) -> tuple[list[tuple[int, DeviceSpec]], list[Problem]]:
    """The valid rows as checked :class:`DeviceSpec` with their line numbers, and the problems of the others.

    Raises:
        ImportFileError: the file as a whole cannot be read (size, encoding, header, CSV syntax).
    """
    layout, body = rows(decode(data, source=source), source=source)
    specs: list[tuple[int, DeviceSpec]] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    line = 1
    try:
        for line, fields in body:
            if len(specs) + len(problems) >= MAX_ROWS:
                raise ImportFileError(f"{source}: more than {MAX_ROWS:,} rows; split the file")
            problem = _row_problem(fields, layout)
            if problem:
                problems.append(Problem(line, "", problem))
                continue
            try:
                spec = _spec(fields, layout.columns, municipality=municipality, delimiter=layout.delimiter)
            except RegistryError as exc:
                problems.append(Problem(line, exc.field, str(exc)))
                continue
            if spec.dev_eui in seen:
                problems.append(Problem(line, "dev_eui", f"DevEUI {spec.dev_eui} is on line {seen[spec.dev_eui]} too"))
                continue
            seen[spec.dev_eui] = line
            specs.append((line, spec))
    except csv.Error as exc:
        raise ImportFileError(f"{source}: not a readable CSV file after line {line}: {exc}") from exc
    if not specs and not problems:
        raise ImportFileError(f"{source}: has a header but no rows")
    return specs, problems


def parse(data: bytes, *, municipality: str, source: str = "import") -> list[tuple[int, DeviceSpec]]:
    """Every row of an import file as a checked :class:`DeviceSpec` with its line number.

    Raises:
        ImportFileError: the file or any row is invalid; lists every bad row.
    """
    specs, problems = check_rows(data, municipality=municipality, source=source)
    if problems:
        raise _invalid(source, problems, len(specs) + len(problems))
    return specs


def _invalid(source: str, problems: list[Problem], rows: int) -> ImportFileError:
    problems = sorted(problems, key=lambda p: p.line)
    return ImportFileError(
        f"{source}: {len(problems)} of {rows} rows are invalid; nothing was imported",
        problems[:MAX_PROBLEMS],
        total=len(problems),
    )


def _row_problem(fields: list[str], layout: Layout) -> str:
    """Why a row's shape is wrong, or "" (extra empty fields at the end, as spreadsheets write, are fine)."""
    if len(fields) < layout.width or any(f.strip() for f in fields[layout.width :]):
        return (
            f"has {len(fields)} fields, the header has {layout.width} (a value with a "
            f"'{layout.delimiter}' in it needs double quotes)"
        )
    return ""


def run_import(
    registry: DeviceRegistry,
    data: bytes,
    *,
    municipality: str,
    by: str,
    owner: str | None = None,
    dry_run: bool = False,
    source: str = "import",
) -> ImportResult:
    """Check a whole import file against itself and the registry, then save all of it or nothing.

    Args:
        registry: where the devices go.
        data: the file's bytes.
        municipality: for rows without a municipality column.
        by: who imports (kept in each device's history).
        owner: the importer's municipality, when acting for one: rows of another municipality, and DevEUIs
            another municipality has registered, are refused.
        dry_run: only report what would change.
        source: the file's name, for messages.

    Raises:
        ImportFileError: the file or a row is invalid; lists every bad row; nothing was written.
    """
    parsed, problems = check_rows(data, municipality=municipality, source=source)
    specs = [spec for _, spec in parsed]
    changes = registry.plan(specs, owner=owner)
    problems += [
        Problem(line, change.problem_field, change.problem)
        for (line, _), change in zip(parsed, changes, strict=True)
        if change.action == "refused"
    ]
    if problems:
        raise _invalid(source, problems, len(specs) + len(problems) - sum(c.action == "refused" for c in changes))
    known = {(s.municipality, s.name) for s in registry.sites()}
    new_sites = sorted({f"{s.site} ({s.municipality})" for s in specs if (s.municipality, s.site) not in known})
    if dry_run or all(c.action == "unchanged" for c in changes):
        return ImportResult(len(specs), changes, new_sites, written=False)
    try:
        changes = registry.save_all(specs, by=by, owner=owner)
    except RegistryError as exc:  # changed between the check and the save
        raise ImportFileError(f"{source}: nothing was imported: {exc}") from exc
    return ImportResult(len(specs), changes, new_sites, written=True)
