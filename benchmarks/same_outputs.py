"""Do two workspaces hold the same outputs? The check behind "behaviour is unchanged" for refactors.

Run the main job before and after a change into two workspaces, then compare them:

    bash examples/tiny_gallery.sh out/before        # on the old commit
    bash examples/tiny_gallery.sh out/after         # on the new one
    python benchmarks/same_outputs.py out/before out/after

Every DuckDB table (the `main` and `truth` schemas) is compared row by row, in primary-key order,
and every Zarr array by the SHA-256 of its values, dtype and shape. What legitimately differs between
two runs is left out: the bookkeeping of *when* and *where* (run ids, timestamps, process ids, hosts,
wall-clock durations, throughput and latency; the tables `runs` and `eval_runtime`; the workspace id)
and the workspace's own path inside parameters. A checkpoint embeds the workspace id, so its file hash
differs between workspaces: its weights are compared tensor by tensor instead. Everything a stage
computes is compared, including `stage_users`' fingerprints and digests, so a refactor that changes a cache key shows up here too.

Two runs of the main job on the same commit are the same under this check (measured).

Exit status 0 when the two are the same, 1 when they differ (each difference on one line on stdout).
`--dump W` prints one workspace's digests as JSON instead.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

# Columns that record when or where something ran, not what it computed.
VOLATILE_COLUMN = re.compile(
    r"(^run_id$|_run_id$|_at$|^pid$|^host$|seconds|duration|elapsed|^wall|runtime|per_s$|latency|^workspace_id$"
    # a checkpoint file embeds the workspace id, so its hash differs between workspaces; its weights are
    # compared under "files" instead
    r"|^checkpoint_sha256$|^model_sha256$)"
)
# Rows of `meta` that say when and which workspace.
VOLATILE_META = ("created_at", "workspace_id")
# Tables that are only bookkeeping of invocations or timings.
VOLATILE_TABLES = {"main.runs", "main.eval_runtime"}
# A report's run id and folder are named by the run; they appear in eval's rows.
RUN_ID_TEXT = re.compile(r"\b[0-9]{8}T[0-9]{6}Z?-[0-9a-f]{4,}\b|\b[0-9a-f]{32}\b")


def _normal(value: object, workspace: str) -> object:
    if isinstance(value, str):
        return RUN_ID_TEXT.sub("<run>", value.replace(workspace, "<W>"))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return [_normal(v, workspace) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v, workspace) for k, v in value.items()}
    return value if value is None or isinstance(value, (int, bool)) else str(value)


def table_digests(workspace: Path) -> dict[str, str]:
    """``{schema.table: sha256 of its rows}`` with volatile columns and tables left out."""
    import duckdb

    out: dict[str, str] = {}
    root = str(workspace.resolve())
    con = duckdb.connect(str(workspace / "memoire.duckdb"), read_only=True)
    try:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            name = f"{schema}.{table}"
            if name in VOLATILE_TABLES:
                continue
            cols = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                    [schema, table],
                ).fetchall()
                if not VOLATILE_COLUMN.search(c)
            ]
            if not cols:
                continue
            quoted = ", ".join(f'"{c}"' for c in cols)
            where = f" WHERE key NOT IN {VOLATILE_META}" if name == "main.meta" else ""
            rows = con.execute(f'SELECT {quoted} FROM "{schema}"."{table}"{where}').fetchall()
            lines = sorted(json.dumps(_normal(list(r), root), sort_keys=True, default=str) for r in rows)
            h = hashlib.sha256(json.dumps(cols).encode())
            for line in lines:
                h.update(line.encode())
                h.update(b"\n")
            out[name] = f"{len(rows)} rows {h.hexdigest()[:16]}"
    finally:
        con.close()
    return out


def array_digests(workspace: Path) -> dict[str, str]:
    """``{array path: sha256 of dtype, shape and values}`` for every array of the Zarr group."""
    import numpy as np
    import zarr

    out: dict[str, str] = {}
    root = zarr.open_group(store=str(workspace / "arrays.zarr"), mode="r")

    def walk(group, prefix: str) -> None:
        for name, arr in sorted(group.arrays()):
            values = np.ascontiguousarray(arr[...])
            h = hashlib.sha256(f"{values.dtype}{values.shape}".encode())
            h.update(values.tobytes())
            out[f"{prefix}{name}"] = f"{values.dtype}{list(values.shape)} {h.hexdigest()[:16]}"
        for name, sub in sorted(group.groups()):
            walk(sub, f"{prefix}{name}/")

    walk(root, "")
    return out


def file_digests(workspace: Path) -> dict[str, str]:
    """``{models/NAME/FILE: sha256}``: a checkpoint's weights tensor by tensor, an exported model's bytes."""
    import torch

    out: dict[str, str] = {}
    for path in sorted((workspace / "models").glob("*/*")):
        name = str(path.relative_to(workspace))
        h = hashlib.sha256()
        if path.suffix == ".pt":
            state = torch.load(path, map_location="cpu", weights_only=False)["model"]
            for key in sorted(state):
                h.update(key.encode())
                h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
        else:
            h.update(path.read_bytes())
        out[name] = h.hexdigest()[:16]
    return out


def digests(workspace: Path) -> dict[str, dict[str, str]]:
    return {"tables": table_digests(workspace), "arrays": array_digests(workspace), "files": file_digests(workspace)}


def differences(a: dict[str, dict[str, str]], b: dict[str, dict[str, str]]) -> list[str]:
    lines = []
    for kind in ("tables", "arrays", "files"):
        for name in sorted(set(a[kind]) | set(b[kind])):
            left, right = a[kind].get(name), b[kind].get(name)
            if left != right:
                lines.append(f"{kind[:-1]} {name}: {left or 'absent'} | {right or 'absent'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workspaces", nargs="+", type=Path, help="two workspaces to compare (or one with --dump)")
    p.add_argument("--dump", action="store_true", help="print the digests of one workspace as JSON")
    args = p.parse_args(argv)
    for w in args.workspaces:
        if not (w / "memoire.duckdb").is_file():
            print(f"error: {w} is not a memoire workspace", file=sys.stderr)
            return 2
    if args.dump:
        print(json.dumps(digests(args.workspaces[0]), indent=1, sort_keys=True))
        return 0
    if len(args.workspaces) != 2:
        print("error: give two workspaces to compare", file=sys.stderr)
        return 2
    a, b = (digests(w) for w in args.workspaces)
    diff = differences(a, b)
    for line in diff:
        print(line)
    n = sum(len(a[k]) for k in a)
    verdict = "same" if not diff else "DIFFERENT"
    print(f"{verdict}: {n - len(diff)} of {n} tables, arrays and model files identical", file=sys.stderr)
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
