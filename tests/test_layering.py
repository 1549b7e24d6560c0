"""Layering: the real-photo path does not depend on the simulator (issue 17, item 3).

Nothing outside ``memoire_cli/synth/`` (and the ``synth`` command that wraps it) imports
``memoire_cli.synth`` — at module level, inside functions, relatively, or through ``importlib``. The
vocabulary both speak is :mod:`memoire_cli.vocabulary`; image hashing is :mod:`memoire_cli.phash`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIMULATOR = "memoire_cli.synth"


def module_name(path: Path) -> str:
    """Dotted name of a source file of the package (``commands/`` installs as ``memoire_cli.commands``)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "commands":
        parts = ["memoire_cli", *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, wherever it is written."""
    package = module if is_package else module.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            out += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"):
            out.append((node.lineno, node.args[0].value))
    return out


def type_only_lines(source: str) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks: imports for annotations, which never run."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def simulator_imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    return [(line, name) for line, name in imported_modules(source, module, is_package)
            if name == SIMULATOR or name.startswith(SIMULATOR + ".")]


def core_sources() -> list[Path]:
    """Every source file of the package but the simulator's (``memoire_cli/commands`` may be a link to ``commands/``)."""
    package = [f for f in sorted((ROOT / "memoire_cli").rglob("*.py"))
               if f.relative_to(ROOT / "memoire_cli").parts[0] not in ("synth", "commands")]
    return package + [f for f in sorted((ROOT / "commands").glob("*.py")) if f.name != "synth.py"]


def test_nothing_outside_synth_imports_the_simulator() -> None:
    files = core_sources()
    assert len(files) > 50 and any(f.parent.name == "ingest" for f in files)
    found = [f"{f.relative_to(ROOT)}:{line}: {name}" for f in files
             for line, name in simulator_imports(f.read_text(encoding="utf-8"), module_name(f),
                                                 f.name == "__init__.py")]
    assert not found, "the simulator is imported outside memoire_cli/synth:\n" + "\n".join(found)


@pytest.mark.parametrize("source", [
    "from memoire_cli.synth.ontology import RELATIONS\n",
    "import memoire_cli.synth.phash\n",
    "def f():\n    from memoire_cli.synth.phash import phash\n    return phash\n",
    "from ..synth import ontology\n",
    "from ..synth.ontology import EVENT_TYPES\n",
    "from .. import synth\n",
    "import importlib\nm = importlib.import_module('memoire_cli.synth.stage')\n",
])
def test_the_scanner_sees_every_way_of_importing(source: str) -> None:
    assert simulator_imports(source, "memoire_cli.ingest.relations")


@pytest.mark.parametrize("source", [
    "from memoire_cli.vocabulary import RELATIONS\n",
    "from memoire_cli.phash import phash\n",
    "from . import relations\n",
    "from ..graph import cooccurrence\n",
    "x = 'memoire_cli.synth'\n",
])
def test_the_scanner_passes_core_imports(source: str) -> None:
    assert not simulator_imports(source, "memoire_cli.ingest.relations")


def test_the_simulator_has_priors_for_every_event_type_of_the_vocabulary() -> None:
    from memoire_cli.synth.ontology import EVENT_TYPES
    from memoire_cli.vocabulary import EVENT_NAMES

    assert tuple(e.name for e in EVENT_TYPES) == EVENT_NAMES
    assert len(EVENT_NAMES) == 33


# --- import cycles ----------------------------------------------------------------------------------------
#: Cycles that predate issue 17's clean-up: what a stage is and the workspace, and two packages whose
#: ``__init__`` re-exports modules that import it back. Any other cycle fails.
KNOWN_CYCLES = ({"memoire_cli.stage", "memoire_cli.workspace"}, "memoire_cli.embed", "memoire_cli.synth.render.procedural")


def import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports at run time (anywhere in it, functions included; not the
    imports of ``if TYPE_CHECKING:`` blocks, which only annotations read)."""
    files = [f for f in sorted((ROOT / "memoire_cli").rglob("*.py")) if f.relative_to(ROOT / "memoire_cli").parts[0] != "commands"]
    modules = {module_name(f): f for f in files}
    graph: dict[str, set[str]] = {}
    for name, f in modules.items():
        targets = set()
        source = f.read_text(encoding="utf-8")
        typing_only = type_only_lines(source)
        for line, target in imported_modules(source, name, f.name == "__init__.py"):
            if line in typing_only:
                continue
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target not in (name, "memoire_cli"):
                targets.add(target)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    for root, targets in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(targets)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(component)
    return out


def _known(component: set[str]) -> bool:
    return any(component <= known if isinstance(known, set) else all(m == known or m.startswith(known + ".") for m in component)
               for known in KNOWN_CYCLES)


def test_imports_for_annotations_only_are_told_apart() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a import b\nimport c\n"
    assert type_only_lines(source) == {3}


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_new_import_cycles_and_none_in_train() -> None:
    found = cycles(import_graph())
    assert not [c for c in found if not _known(c)]
    assert not [c for c in found if any(m.startswith("memoire_cli.train") for m in c)]  # model.py ↔ network.py is gone
