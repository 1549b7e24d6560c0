"""`pat` and `rank` do not import each other; sessions live in `memoire_cli.session`, which imports neither.

A source scan of every import statement (module level and inside functions, relative ones resolved,
``importlib.import_module("…")`` with a literal name), so a lazy import cannot hide a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "memoire_cli"


def imported_modules(source: str, module: str) -> set[str]:
    """Every module name ``source`` (the text of ``module``, dotted) imports, at any depth of its code."""
    package = module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
            out.update(f"{name}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__")))):
            out.add(node.args[0].value)
    return out


def package_imports(name: str) -> dict[str, set[str]]:
    """Module (dotted) → what it imports, for every module of ``memoire_cli.<name>``."""
    folder = PACKAGE / name
    out = {}
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts[:-1]) if rel.name == "__init__" else list(rel.parts)
        dotted = ".".join(parts)
        out[dotted] = imported_modules(path.read_text(encoding="utf-8"), dotted if rel.name != "__init__" else dotted + ".__init__")
    assert out, f"no module found in {folder}"
    return out


def offending(importer: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{mod} imports {dep}" for mod, deps in package_imports(importer).items() for dep in deps
                  if any(dep == f"memoire_cli.{f}" or dep.startswith(f"memoire_cli.{f}.") for f in forbidden))


def test_the_scanner_sees_lazy_relative_and_dynamic_imports() -> None:
    source = """
import memoire_cli.rank.ranker as r
from memoire_cli.rank import RankOptions

def f():
    from memoire_cli.rank.context import UserContext
    from ..rank import mmr
    from . import fusion
    importlib.import_module("memoire_cli.rank.display")
"""
    found = imported_modules(source, "memoire_cli.pat.session")
    for name in ("memoire_cli.rank.ranker", "memoire_cli.rank", "memoire_cli.rank.context", "memoire_cli.rank.mmr",
                 "memoire_cli.pat.fusion", "memoire_cli.rank.display"):
        assert name in found, name


@pytest.mark.parametrize(("importer", "forbidden"), [("pat", ("rank",)), ("rank", ("pat",)), ("session", ("pat", "rank"))])
def test_no_import_between(importer: str, forbidden: tuple[str, ...]) -> None:
    assert offending(importer, forbidden) == []


def test_session_package_holds_selection_prior_blend_and_refusion() -> None:
    from memoire_cli import session

    for name in ("parse_session", "session_indices", "check_session", "session_alpha", "refuse", "quantise",
                 "SessionContext", "SessionEvidence"):
        assert hasattr(session, name), name
    modules = set(package_imports("session"))
    assert {"memoire_cli.session.selection", "memoire_cli.session.prior", "memoire_cli.session.blend",
            "memoire_cli.session.refusion", "memoire_cli.session.context"} <= modules
