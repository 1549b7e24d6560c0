"""The package list in pyproject.toml covers every package, so a built wheel ships all the code."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = config["package-dir"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "memoire_cli").rglob("__init__.py")}
    for name, folder in mapping.items():
        found |= {name + "".join("." + part for part in p.parent.relative_to(ROOT / folder).parts)
                  for p in (ROOT / folder).rglob("__init__.py")}
    assert found == listed


def test_heavy_libraries_stay_off_the_start_up_path() -> None:
    import subprocess
    import sys

    code = ("import sys, memoire_cli.app; heavy = {'torch', 'duckdb', 'zarr', 'numpy', 'insightface', 'onnxruntime', "
            "'transformers', 'diffusers', 'torch_geometric', 'PIL', 'scipy'}; print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
