"""The package's architecture, enforced: every import of ``xiaofei`` (module level, inside functions and
under ``TYPE_CHECKING`` alike) points down the layer order of ``LAYERS``, and no set of modules imports
itself round in a cycle. The README's architecture section draws the same order.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "xiaofei"

# Bottom first. A module may import its own layer (acyclically) and any layer below, never one above.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "config", "log", "clock", "limits"),  # leaves: import nothing of the package
    ("ids", "identity"),
    ("storage",),
    ("imaging",),
    ("inference",),
    ("records",),
    ("lifecycle",),
    ("app",),  # the container of one warm instance: builds storage, records, the model source
    ("usecases",),
    ("adapters",),  # HTTP, SCF events, the local server, the command lines, the SCF API
    ("__main__", "__init__"),  # the entry points and the public surface
]
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def layer_of(module: str) -> int:
    parts = module.split(".")
    if parts == ["xiaofei"]:
        return LAYER_OF["__init__"]
    return LAYER_OF[parts[1]]


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(source: str, this: str, is_package: bool, known: set[str]) -> set[str]:
    """Every package module that module ``this`` (its ``source``) imports, wherever the statement stands."""
    package = this if is_package else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name`` imports mod.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        else:
            continue
        found.update(n for n in names if n == "xiaofei" or n.startswith("xiaofei."))
    found.discard(this)
    return {n for n in found if n in known}


def graph() -> dict[str, set[str]]:
    found = modules()
    edges = {
        name: imports_of(path.read_text(), name, path.name == "__init__.py", set(found))
        for name, path in found.items()
    }
    return edges


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in modules() if m != "xiaofei" and m.split(".")[1] not in LAYER_OF]
    assert not unplaced, f"add these to LAYERS: {unplaced}"


def test_imports_point_down_the_layers() -> None:
    upward = sorted(
        f"{importer} → {imported}"
        for importer, targets in graph().items()
        for imported in targets
        if layer_of(imported) > layer_of(importer)
    )
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph ``edges`` (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_cycles() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


@pytest.mark.parametrize(
    ("edges", "cyclic"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
        ({"a": {"a"}}, True),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, False),
    ],
)
def test_find_cycle_finds_cycles(edges: dict[str, set[str]], cyclic: bool) -> None:
    assert (find_cycle(edges) is not None) is cyclic


def test_lazy_relative_and_type_only_imports_count() -> None:
    """The checker sees imports inside functions and under TYPE_CHECKING, the ones that hid cycles."""
    source = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from xiaofei.app import App\n"
        "def f():\n    from ..usecases import service\n    from . import history\n"
    )
    known = {"xiaofei.app", "xiaofei.usecases", "xiaofei.usecases.service", "xiaofei.records.history"}
    assert imports_of(source, "xiaofei.records.fake", False, known) == {
        "xiaofei.app",
        "xiaofei.usecases.service",
        "xiaofei.records.history",
    }
