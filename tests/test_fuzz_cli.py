"""Fuzzing every subcommand's options (issue 16): whatever the values, one line and a documented exit code.

Each case is one in-process ``memoire <command> …`` (typer's CliRunner) on its own copy of a tiny
workspace, with options drawn from the command's own declaration (so a new option is fuzzed
without being listed here): integers, floats and strings among valid cheap values and bad ones
(huge, negative, nan/inf, empty, text that is not UTF-8, paths to devices, FIFOs and binary files).
The contract (tests/fuzz_support.py): exit code 0, 1, 2 or 130, no traceback, bounded time.

Run: ``pytest tests/test_fuzz_cli.py`` (the quick profile: a quarter of the budget, derandomised);
``MEMOIRE_FUZZ=thorough`` for the whole budget; ``MEMOIRE_FUZZ=nightly`` for 20× as many cases, randomised.
``pytest --hypothesis-show-statistics`` shows the number of cases.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import typing
from pathlib import Path
from types import UnionType
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from fuzz_support import assert_contract, copy_workspace, fuzz_settings, tiny_workspace

INT_BAD = ["0", "-1", "-2147483649", "2147483648", "9223372036854775808", "1" + "0" * 30, "-" + "9" * 25, "1e3", "", "x",
           "0x10", " 1", "1.5", "nan"]
FLOAT_BAD = ["nan", "NaN", "-nan", "inf", "-inf", "1e309", "-1e309", "-0", "", "x", "1e-400", "1,5", "0x1p3", "-1", "1e30"]
STR_BAD = ["", " ", "\udcff", "caf\udce9", "é", "x" * 300, "../..", "/dev/zero", "-", "--", "0", "-1", "none", "auto", "all",
           "\x00", "\n", "{}", "null", "cuda", "cuda:7", "mps", "0/0", "1/0", "-1/2", "3/2", "2/2", "50/50/0", "0/0/0", "100/0/0",
           "1x1", "99999x99999", "0x0", "packaged", "P", "PLEX", "default", "../escape", "a" * 70, "u0000,u0000", ",", "ids:"]
SESSIONS = ["all", "event:1", "event:99999999999999999999999", "event:x", "dates:2020-01-01..2019-01-01", "dates:9999-12-31",
            "dates:0000-00-00", "ids:", "ids:,,,", "ids:@/dev/zero", "folder:", "folder:./", "ids:" + ",".join(["x"] * 300_001),
            "ids:" + "y" * 600]
#: Options whose every value would start worker processes, and the values that do not.
JOBS_VALUES = ["1", "0", "-1", "x", "", "1025", "1.5"]


class Pools:
    """Files the cases point options at, made once per module."""

    def __init__(self, root: Path, ws: Path):
        self.root = root
        self.ws = ws
        self.text = root / "notes.txt"
        self.text.write_text("hello\n")
        self.binary = root / "blob.bin"
        self.binary.write_bytes(b"\x00\xff\xfe\x80" * 64)
        self.fifo = root / "pipe.fifo"
        os.mkfifo(self.fifo)
        self.photos = root / "photos"
        self.photos.mkdir()
        rng = np.random.default_rng(0)
        for i in range(2):
            Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(self.photos / f"p{i}.jpg", quality=80)
        (self.photos / "p0.jpg.json").write_text('{"photoTakenTime": {"timestamp": "99999999999999"}, "imageViews": "1e9"}')
        self.relations = root / "relations.csv"
        self.relations.write_text("name,relation\nAnn,mother\nBo,\n")

    def paths(self) -> list[str]:
        return [str(self.root / "missing"), str(self.text), str(self.binary), "/dev/zero", "/dev/null", str(self.root), "",
                "\udcff", str(self.photos)]


@pytest.fixture(scope="module")
def pools(tmp_path_factory: pytest.TempPathFactory) -> Pools:
    root = tmp_path_factory.mktemp("fuzz-cli")
    return Pools(root, tiny_workspace(root / "base"))


def _commands() -> dict[str, Any]:
    """Every command by its path ("synth", "persona update", …), the hidden old spellings too."""
    from memoire_cli.app import command_tree

    return {" ".join(path): command for path, command in command_tree(hidden=True).items() if path}


def _kind(param: Any) -> str:
    """int, float, bool, path or str: what the parameter's annotation takes."""
    annotation = param.type_descriptor.annotation
    args = typing.get_args(annotation) if isinstance(annotation, UnionType) or typing.get_origin(annotation) else (annotation,)
    args = tuple(a for a in args if a is not type(None))
    for kind, types in (("bool", (bool,)), ("int", (int,)), ("float", (float,)), ("path", (Path,))):
        if any(a in types for a in args):
            return kind
    return "str"


def _value(kind: str, name: str, pools: Pools) -> st.SearchStrategy[str]:
    if name == "jobs":
        return st.sampled_from(JOBS_VALUES)
    if name == "session":
        return st.sampled_from([*SESSIONS, f"ids:@{pools.fifo}", f"ids:@{pools.binary}", f"ids:@{pools.text}", "ids:@"])
    if name == "relations":
        return st.sampled_from([str(pools.relations), str(pools.fifo), str(pools.binary), "/dev/zero", str(pools.root / "nope.yaml")])
    if kind == "int":
        return st.one_of(st.sampled_from(["1", "2", "3"]), st.integers(-10**6, 10**6).map(str), st.sampled_from(INT_BAD))
    if kind == "float":
        return st.one_of(st.sampled_from(["0", "0.5", "1"]), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                         st.sampled_from(FLOAT_BAD))
    if kind == "path":
        return st.sampled_from(pools.paths())
    return st.one_of(st.sampled_from(STR_BAD), st.text(max_size=12))


#: Options every case of a command gets, so that a valid draw stays small (the defaults are a full gallery).
REQUIRED: dict[str, dict[str, list[str]]] = {
    "synth": {"--user-count": ["1", "2", "0", "1000000000", "-5", "x"], "--images-per-user": ["1", "2", "100000000", "0", ""],
              "--image-size": ["128", "64", "100000", "nan"], "--frames-per-clip": ["1", "0", "9"], "--anchors": ["1", "4"]},
}
SKIPPED_OPTIONS = {"--help", "-h", "--workspace", "-w"}


def case(name: str, pools: Pools) -> st.SearchStrategy[list[str]]:
    """Argument lists for ``memoire <name>`` (``name`` may be a sub-action: "persona update").

    Options come from the command's declaration, plus the old spellings it still takes (``renamed``:
    their values are drawn as the new option's), and a group may be followed by one of its
    sub-actions (its options then come before it: ``memoire persona --epochs 3 update``)."""
    command = _commands()[name]
    options = [p for p in command.params if p.param_type_name == "option" and not set(p.opts) & SKIPPED_OPTIONS]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    by_opt = {opt: p for p in options for opt in p.opts}
    renamed = sorted((old, by_opt[new]) for old, new in getattr(command, "renamed", {}).items())
    actions = sorted(getattr(command, "commands", {}))
    required = REQUIRED.get(name, {})

    @st.composite
    def draw(draw: Any) -> list[str]:
        argv: list[str] = name.split()
        for p in arguments:
            if name == "ingest":
                argv.append(draw(st.sampled_from([str(pools.photos)] * 3 + pools.paths())))
            elif p.required or draw(st.booleans()):
                argv.append(draw(st.one_of(st.sampled_from(["c0", "update", "ddl", "docs", "json"]), st.sampled_from(STR_BAD))))
        ws = draw(st.sampled_from(["copy"] * 6 + ["missing", "file", "dev", "bad-utf8"]))
        argv += ["-w", {"copy": "{ws}", "missing": "{scratch}/no-ws", "file": str(pools.text), "dev": "/dev/null",
                        "bad-utf8": "{scratch}/w\udcff"}[ws]]
        for opt, values in required.items():
            argv += [opt, draw(st.sampled_from(values))]
        chosen = draw(st.lists(st.sampled_from(options), max_size=5, unique_by=lambda p: p.name)) if options else []
        for p in chosen:
            opt = draw(st.sampled_from(list(p.opts) + list(p.secondary_opts or ())))
            if opt in required:
                continue
            if p.is_flag:
                argv.append(opt)
            else:
                argv += [opt, draw(_value(_kind(p), p.name, pools))]
        if renamed and draw(st.booleans()):
            old, p = draw(st.sampled_from(renamed))
            values = required.get(p.opts[0])
            argv += [old, draw(st.sampled_from(values) if values else _value(_kind(p), p.name, pools))]
        if actions and draw(st.integers(0, 3)) == 0:
            argv.append(draw(st.sampled_from(actions)))
        return argv

    return draw()


WRITERS = frozenset({"synth", "ingest", "graph"})
#: Commands left out, and why.
NOT_FUZZED = {"people": "face detection per case is too slow for the suite's budget (tests/test_people*.py cover it)",
              "export": "writes into folders the cases would name (tests/test_export*.py cover it)",
              "schema docs": "the same code path as schema ddl", "schema json": "the same code path as schema"}
COMMANDS = ("synth", "ingest", "graph", "persona", "persona update", "pat", "pat session", "label", "train", "rank", "eval", "status",
            "schema", "schema ddl", "people list", "people name")
EXAMPLES = {"synth": 40, "ingest": 40, "graph": 40, "persona": 50, "persona update": 25, "pat": 50, "pat session": 30, "label": 50,
            "train": 50, "rank": 60, "eval": 50, "status": 30, "schema": 20, "schema ddl": 5, "people list": 20, "people name": 20}


def test_every_command_is_fuzzed() -> None:
    """A new command or sub-action joins COMMANDS (or, with a reason, NOT_FUZZED)."""
    visible = {name for name, command in _commands().items() if not command.hidden}
    assert visible - set(NOT_FUZZED) == set(COMMANDS), visible ^ set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_any_options_give_one_line_and_a_documented_exit_code(name: str, pools: Pools, box_renderer: None) -> None:
    from typer.testing import CliRunner

    from memoire_cli.app import build_app

    app = build_app()
    runner = CliRunner()
    os.environ.pop("MEMOIRE_WORKSPACE", None)
    # Stages that can succeed on a fresh gallery get a copy per case; the others fail before any
    # output (their inputs are missing) and share one copy (16 MB each: copies are most of the time).
    shared = None if name in WRITERS else copy_workspace(pools.ws, pools.root / f"shared-{name}")

    @fuzz_settings(EXAMPLES[name])
    @given(argv=case(name, pools))
    def run(argv: list[str]) -> None:
        scratch = Path(tempfile.mkdtemp(dir=pools.root))
        try:
            ws = copy_workspace(pools.ws, scratch / "w") if shared is None and "{ws}" in argv else shared
            args = [a.replace("{ws}", str(ws)).replace("{scratch}", str(scratch)) for a in argv]
            cwd = os.getcwd()
            os.chdir(scratch)  # a relative path in a value lands here
            started = time.monotonic()
            try:
                result = runner.invoke(app, args)
            finally:
                os.chdir(cwd)
            assert_contract(result, started, " ".join(a.encode("utf-8", "backslashreplace").decode()[:80] for a in args))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    run()
