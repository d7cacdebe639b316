"""Which package may import which, read from the source with ``ast`` (imports inside functions count too)."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("stadtpuls", "devices", "ingest", "processing", "api", "dashboards", "firmware_sim", "reports")
PROJECT = (*SHIPPED, "devtools", "bench", "tests")

# package → the project packages it may import; the core imports none, devtools may use every shipped one
MAY_IMPORT: dict[str, frozenset[str]] = {
    "stadtpuls": frozenset(),
    "devices": frozenset({"stadtpuls"}),
    "ingest": frozenset({"stadtpuls", "devices"}),
    "processing": frozenset({"stadtpuls", "devices"}),
    "api": frozenset({"stadtpuls", "devices", "processing", "reports"}),
    "dashboards": frozenset({"stadtpuls", "devices", "processing"}),
    "firmware_sim": frozenset({"stadtpuls", "devices", "ingest"}),
    "reports": frozenset({"stadtpuls", "devices", "processing"}),
    "devtools": frozenset(SHIPPED),
}

# decoding an uplink must not need a database: these modules reach no ORM, directly or through others
PURE_PIPELINE = (
    "stadtpuls.schema",
    "stadtpuls.lineprotocol",
    "devices.records",
    "devices.catalog",
    "devices.codecs",
    "ingest.envelopes",
    "ingest.dedup",
    "ingest.normalise",
    "ingest.pipeline",
)
ORM = ("sqlalchemy", "alembic")


def module_name(path: Path) -> str:
    """``ingest/pipeline.py`` → ``ingest.pipeline``; ``devices/codecs/__init__.py`` → ``devices.codecs``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(package: str) -> list[Path]:
    """Every Python file of a top-level package (none if the folder does not exist)."""
    return sorted((ROOT / package).rglob("*.py"))


@cache
def module_files() -> dict[str, Path]:
    """Every project module by dotted name."""
    return {module_name(path): path for package in PROJECT for path in source_files(package)}


@cache
def imports_of(module: str) -> frozenset[str]:
    """The dotted names a module imports anywhere in its text (top level, functions, TYPE_CHECKING blocks).

    ``from a.b import c`` yields ``a.b`` and, when ``a.b.c`` is a module, ``a.b.c`` as well.
    """
    path = module_files()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in module_files())
    return frozenset(found)


def _absolute(name: str | None, level: int, package: str) -> str:
    if not level:
        return name or ""
    parts = package.split(".")
    anchor = ".".join(parts[: len(parts) - level + 1])
    return f"{anchor}.{name}" if name else anchor


def top(name: str) -> str:
    """The top-level package of a dotted name."""
    return name.partition(".")[0]


def reachable(module: str) -> set[str]:
    """Every name a module imports, directly or through project modules (and their parent packages)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        for name in imports_of(current):
            for prefix in _prefixes(name):
                if prefix not in seen:
                    seen.add(prefix)
                    if prefix in module_files():
                        todo.append(prefix)
    return seen


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def violations(package: str) -> list[str]:
    """``module → imported`` for each import of another project package that ``package`` may not use."""
    allowed = MAY_IMPORT[package] | {package}
    return [
        f"{module_name(path)} → {name}"
        for path in source_files(package)
        for name in sorted(imports_of(module_name(path)))
        if top(name) in PROJECT and top(name) not in allowed
    ]


def test_the_module_graph_sees_imports_inside_functions() -> None:
    # firmware_sim's package init imports its live module inside a function, at call time
    assert "firmware_sim.live" in imports_of("firmware_sim")


def test_the_graph_resolves_relative_imports() -> None:
    assert _absolute("base", 1, "devices.codecs") == "devices.codecs.base"
    assert _absolute(None, 2, "devices.codecs") == "devices"


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_each_package_imports_only_the_packages_below_it(package: str) -> None:
    assert violations(package) == []


def test_the_core_imports_nothing_above_it() -> None:
    above = {name for path in source_files("stadtpuls") for name in imports_of(module_name(path))}
    assert {top(name) for name in above} & set(PROJECT) == {"stadtpuls"}


@pytest.mark.parametrize("module", PURE_PIPELINE)
def test_the_pure_pipeline_reaches_no_orm(module: str) -> None:
    assert {name for name in reachable(module) if top(name) in ORM} == set()


def test_nothing_imports_the_tests() -> None:
    importers = [
        f"{module_name(path)} → {name}"
        for package in (*SHIPPED, "devtools", "bench")
        for path in source_files(package)
        for name in imports_of(module_name(path))
        if top(name) == "tests"
    ]
    assert importers == []


def test_the_demo_is_registered_by_name_only() -> None:
    from stadtpuls.cli import COMMANDS

    assert COMMANDS["demo"] == "devtools.demo:demo_command"
    assert [name for name, target in COMMANDS.items() if target.startswith("devtools.")] == ["demo"]


def test_the_demo_never_imports_the_load_generator() -> None:
    names = reachable("devtools.demo")
    assert "devtools.loadgen" not in names
    assert {top(name) for name in names} & {"paho"} == set()


def test_stadtpuls_demo_starts_without_paho() -> None:
    code = (
        "import sys; sys.modules['paho'] = None\n"  # any import of paho now raises ImportError
        "from click.testing import CliRunner\n"
        "from stadtpuls.cli import main\n"
        "result = CliRunner().invoke(main, ['demo', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(result.output)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Run the whole platform on this machine" in done.stdout



def import_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """The groups of modules that import each other in a circle (strongly connected, more than one)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for other in graph[module]:
            if other not in order:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], order[other])
        if low[module] == order[module]:
            at = stack.index(module)
            group, stack[at:] = stack[at:], []
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return cycles


def test_the_cycle_finder_finds_a_circle_and_nothing_else() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"], "e": ["e"]}
    assert import_cycles(graph) == [["a", "b", "c"]]


def test_no_modules_import_each_other_in_a_circle() -> None:
    modules = {m for m in module_files() if top(m) in (*SHIPPED, "devtools")}
    graph = {m: sorted(n for n in imports_of(m) if n in modules and n != m) for m in modules}
    assert import_cycles(graph) == []
