"""The house's floors, read from the source: core/ is pure, and each package imports only from the floors below."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("core", "kube", "sim", "dashboard", "cli", "app")
# what each package may import of ours: core, then the I/O layer and the simulator, then the dashboard, then faces
ALLOWED = {"core": set(), "kube": {"core"}, "sim": {"core"}, "dashboard": {"core", "kube", "sim"}}
# no I/O, threads, HTTP, environment, argparse or UI in the engine
NOT_IN_CORE = {"kubernetes", "threading", "urllib", "urllib3", "streamlit", "uvicorn", "http", "socket", "os",
               "subprocess", "argparse", "requests", "asyncio", "sqlite3"}


def modules(package: str) -> list[Path]:
    """The package's source files."""
    return sorted((ROOT / package).rglob("*.py"))


def imported(path: Path, top_level_only: bool = False) -> set[str]:
    """The absolute module names a file imports (in functions too, unless top_level_only)."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_name(path: Path) -> str:
    """core/matching.py -> core.matching; kube/__init__.py -> kube."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_package_has_modules():
    assert all(modules(package) for package in ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_from_the_floors_below(package):
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules(package)
        for name in imported(path)
        if name.split(".")[0] in OURS and name.split(".")[0] not in ALLOWED[package] | {package}
    }
    assert not wrong, sorted(wrong)


def test_core_is_pure():
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules("core")
        for name in imported(path)
        if name.split(".")[0] in NOT_IN_CORE
    }
    assert not wrong, sorted(wrong)


@pytest.mark.parametrize("package", ["core", "kube", "sim", "dashboard"])
def test_no_import_circle_inside_a_package(package):
    names = {module_name(path): path for path in modules(package)}
    graph = {name: {n for n in imported(path, top_level_only=True) if n in names and n != name}
             for name, path in names.items()}
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, " -> ".join((*trail[trail.index(name):], name))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, (*trail, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())


# sim's rooms, top first: ECI's behaviour, then the Kubernetes controllers, then the API-server machinery; each
# room imports only from the rooms below it (the top-level modules assemble them and are not a room)
SIM_ROOMS = ("eci", "controllers", "apiserver")


def sim_room(name: str) -> str | None:
    """sim.eci.pulls -> eci; sim.simulation (a top-level module) or sim itself -> None."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in SIM_ROOMS else None


@pytest.mark.parametrize("room", SIM_ROOMS)
def test_a_sim_room_imports_only_from_the_rooms_below(room):
    above = SIM_ROOMS[:SIM_ROOMS.index(room)]
    wrong = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules(f"sim/{room}")
        for name in imported(path)
        if name.split(".")[0] == "sim" and sim_room(name) in {None, *above}
    }
    assert modules(f"sim/{room}")
    assert not wrong, sorted(wrong)
