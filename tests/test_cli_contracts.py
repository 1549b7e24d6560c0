"""The stage contracts of DESIGN.md, through the CLI: manifests, pipes, caching, shards, errors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from conftest import TINY, manifest, rows
from memoire_cli.app import STAGES
from memoire_cli.stage import Selection

PIPELINE = ["synth", "ingest", "people", "graph", "persona", "pat", "label", "train", "rank", "eval"]



def test_help_lists_every_stage(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for stage in PIPELINE:
        assert f"\n  {stage} " in result.stdout
    assert len(STAGES) == len(PIPELINE)
    for stage in PIPELINE:
        sub = cli(stage, "--help")
        assert sub.exit_code == 0, sub.stderr
        assert "Pipeline: synth (or ingest) → people (optional) → graph → persona → pat → label → train → rank → eval" in " ".join(sub.stdout.split())


def test_every_command_and_sub_action_has_help(cli) -> None:
    """`--help` of every command and sub-action (issue 17: real subcommands); the diffusion options
    of synth in their own help group; hidden old spellings not listed."""
    from memoire_cli.app import command_tree

    paths = [list(p) for p in command_tree()]
    assert ["persona", "update"] in paths and ["pat", "session"] in paths and ["schema", "ddl"] in paths
    assert ["people", "name"] in paths and ["persona", "train"] not in paths and ["people", "run"] not in paths
    for path in paths:
        result = cli(*path, "--help")
        usage = result.stdout.splitlines()[0].split()
        assert result.exit_code == 0 and usage[0] == "Usage:" and usage[2:2 + len(path)] == path, (path, result.output)
    synth = cli("synth", "--help").stdout
    options, diffusion = synth.split("\nDiffusion renderers:\n")
    assert "--user-count" in options and "--sd3" not in options and "--sd3" in diffusion and "--seed" not in diffusion
    assert "--users" not in options and "--alpha" not in cli("rank", "--help").stdout
    assert "--image-size" not in cli("train", "--help").stdout and "--input-size" in cli("train", "--help").stdout
    persona = cli("persona", "--help").stdout
    options, commands = persona.split("\nOptions:\n")[1].split("\nCommands:\n")
    assert [line.split()[0] for line in commands.split("\n\n")[0].splitlines()] == ["update"] and "--full" not in options


@pytest.mark.parametrize(("command", "old", "new", "value"), [
    ("synth", "--users", "--user-count", "0"),
    ("rank", "--alpha", "--tag-weights", "learned"),
    ("train", "--image-size", "--input-size", "100"),
])
def test_renamed_options_keep_working(cli, tmp_path: Path, command: str, old: str, new: str, value: str) -> None:
    """An old spelling is the new option after one stderr line saying so (scripts keep working)."""
    from memoire_cli.app import build_command

    assert build_command(command).renamed == {old: new}
    args = ("-w", tmp_path / "w")
    renamed, current = cli(command, *args, old, value), cli(command, *args, new, value)
    assert current.exit_code == renamed.exit_code == 2 and new in current.stderr and old not in current.stderr
    assert renamed.stderr.splitlines() == [f"`{old}` is now `{new}`", *current.stderr.splitlines()]
    assert cli(command, *args, f"{old}={value}").stderr == renamed.stderr


def test_renamed_option_records_the_same_parameters(cli, box_renderer, tmp_path: Path) -> None:
    """`synth --users 3` is `synth --user-count 3`: the same run (cached), the same parameters JSON."""
    ws = tmp_path / "w"
    assert TINY[0] == "--user-count"
    assert manifest(cli("synth", "-w", ws, *TINY))["computed"] == 3
    old = cli("synth", "-w", ws, "--users", *TINY[1:])
    assert manifest(old)["skipped"] is True and old.stderr.startswith("`--users` is now `--user-count`\n")
    params = rows(ws, "SELECT DISTINCT params FROM runs WHERE stage = 'synth'")
    assert len(params) == 1 and json.loads(params[0][0])["users"] == 3


@pytest.mark.parametrize(("old", "new"), [
    (["persona", "train"], ["persona"]),
    (["people", "run"], ["people"]),
    (["pat", "--session", "all"], ["pat", "session", "--session", "all"]),
])
def test_old_sub_action_spellings_keep_working(cli, tmp_path: Path, old: list[str], new: list[str]) -> None:
    """`persona train`, `people run` and `pat --session` run what their new spellings run, after one line."""
    args = ("-w", tmp_path / "nowhere")
    before, after = cli(*old, *args), cli(*new, *args)
    assert before.exit_code == after.exit_code == 1 and "no workspace at" in after.stderr
    said = f"`{' '.join(old[:2])}` is now `{' '.join(new[:2]) if old[1] != '--session' else 'pat session --session'}`"
    assert before.stderr.splitlines()[0] == said and len(before.stderr.splitlines()) == 2
    assert before.stderr.splitlines()[1].split(": error: ")[1] == after.stderr.split(": error: ")[1].rstrip("\n")
    assert cli(old[0], *args, *old[1:]).stderr == before.stderr  # the group's options before the old word count too


def test_sub_actions_take_the_group_options_given_before_them(cli, tmp_path: Path) -> None:
    """`memoire persona -w W update` is `memoire persona update -w W`; plain `memoire schema` is json."""
    before, after = cli("persona", "-w", tmp_path / "nowhere", "update"), cli("persona", "update", "-w", tmp_path / "nowhere")
    assert before.exit_code == after.exit_code == 1 and before.stderr == after.stderr
    assert after.stderr.startswith("memoire persona update: error: no workspace at")
    assert cli("schema").stdout == cli("schema", "json").stdout
    assert cli("persona", "nonesuch").stderr.startswith("memoire persona: usage error: No such command 'nonesuch'")
    assert "Did you mean 'synth'?" in cli("synt").stderr and "Did you mean 'ddl'?" in cli("schema", "dd").stderr
    assert "Did you mean" not in cli("persona", "retrain").stderr  # not the hidden old spelling `train`


def test_groups_read_the_workspace_from_a_piped_manifest(cli, box_renderer, tmp_path: Path) -> None:
    """`memoire synth | memoire persona` and `| memoire pat session` find the workspace on stdin, as before."""
    ws = tmp_path / "w"
    made = cli("synth", "-w", ws, *TINY)
    for args in (["persona"], ["persona", "update"], ["pat"], ["pat", "session"]):
        result = cli(*args, input=made.stdout)  # each needs an output synth does not make: it says so of this workspace
        assert result.exit_code == 1 and "needs the outputs of" in result.stderr and str(ws.resolve()) in result.stderr, (args, result.stderr)


def test_manifest_only_on_stdout(cli, box_renderer, tmp_path: Path) -> None:
    ws = tmp_path / "w"
    result = cli("synth", "-w", ws, *TINY)
    assert result.exit_code == 0, result.stderr
    m = manifest(result)
    assert m["stage"] == "synth" and m["workspace"] == str(ws.resolve()) and m["skipped"] is False
    assert m["users"] == m["computed"] == 3 and m["cached"] == 0
    assert "images" in m["wrote"]["tables"] and "users/{user_id}/images" in m["wrote"]["arrays"]
    assert "renderer: box" in result.stderr
    assert (ws / "memoire.duckdb").exists() and (ws / "arrays.zarr" / "zarr.json").exists()


def test_workspace_from_stdin_and_env(cli, box_renderer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "w"
    first = cli("synth", "-w", ws, *TINY)
    piped = cli("status", input="some other line\n" + first.stdout)
    assert piped.exit_code == 0, piped.stderr
    status = manifest(piped)
    assert status["workspace"] == str(ws.resolve()) and status["stages"]["synth"]["users"] == 3
    monkeypatch.setenv("MEMOIRE_WORKSPACE", str(ws))
    assert manifest(cli("status"))["workspace"] == str(ws.resolve())


def test_no_workspace_anywhere(cli) -> None:
    result = cli("status", input="")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and "no workspace" in result.stderr


def test_cached_skip_and_force(cli, box_renderer, tmp_path: Path) -> None:
    ws = tmp_path / "w"
    cli("synth", "-w", ws, *TINY)
    again = cli("synth", "-w", ws, *TINY)
    m = manifest(again)
    assert m["skipped"] is True and m["computed"] == 0 and m["cached"] == 3
    assert "nothing to do" in again.stderr
    forced = manifest(cli("synth", "-w", ws, *TINY, "--force"))
    assert forced["skipped"] is False and forced["computed"] == 3
    changed = manifest(cli("synth", "-w", ws, *TINY[:-2], "--anchors", "2"))
    assert changed["computed"] == 3
    runs = rows(ws, "SELECT status, fingerprint, code_version, params FROM runs WHERE stage = 'synth' ORDER BY started_at")
    assert [r[0] for r in runs] == ["done", "skipped", "done", "done"]
    assert runs[0][1] == runs[1][1] == runs[2][1] != runs[3][1]
    assert all(r[2].endswith("+synth.2") for r in runs)
    assert json.loads(runs[3][3])["anchors_per_person"] == 2


def test_shrinking_user_count_drops_stale_users(cli, box_renderer, tmp_path: Path) -> None:
    ws = tmp_path / "w"
    cli("synth", "-w", ws, *TINY)
    args = list(TINY)
    args[1] = "2"
    refused = cli("synth", "-w", ws, *args)  # destroying a gallery takes --force
    assert refused.exit_code == 1 and "delete the gallery of u0002" in refused.stderr
    assert rows(ws, "SELECT count(DISTINCT user_id) FROM users") == [(3,)]
    assert cli("synth", "-w", ws, *args, "--force").exit_code == 0
    assert rows(ws, "SELECT user_id FROM users ORDER BY 1") == [("u0000",), ("u0001",)]
    assert not (ws / "arrays.zarr" / "users" / "u0002" / "images").exists()


def test_shards_are_disjoint_and_complete(cli, box_renderer, tmp_path: Path) -> None:
    universe = [f"u{i:04d}" for i in range(7)]
    parts = [Selection(shard_index=i, shard_count=3).apply(universe) for i in range(3)]
    assert sorted(sum(parts, [])) == universe and sum(map(len, parts)) == len(universe)
    ws = tmp_path / "w"
    seen = []
    for i in range(2):
        m = manifest(cli("synth", "-w", ws, *TINY, "--shard", f"{i}/2"))
        assert m["shard"] == f"{i}/2"
        seen.append(m["computed"])
    assert seen == [2, 1]
    assert rows(ws, "SELECT count(*) FROM stage_users WHERE stage = 'synth'") == [(3,)]
    assert manifest(cli("synth", "-w", ws, *TINY))["skipped"] is True


def test_newer_or_unknown_schema_version_is_refused(cli, box_renderer, tmp_path: Path) -> None:
    ws = tmp_path / "w"
    cli("synth", "-w", ws, *TINY)
    for value, words in (("99", "newer than this memoire"), ("abc", "unknown schema version")):
        con = duckdb.connect(str(ws / "memoire.duckdb"))
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [value])
        con.close()
        result = cli("status", "-w", ws)
        assert result.exit_code == 1 and result.stdout == ""
        assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_not_a_workspace(cli, tmp_path: Path) -> None:
    result = cli("status", "-w", tmp_path / "nowhere")
    assert result.exit_code == 1 and "no workspace at" in result.stderr
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "memoire.duckdb").write_bytes(b"not a database")
    result = cli("status", "-w", tmp_path / "junk")
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--user-count", "0"], 2, "--user-count must be between 1 and 100000"),
        (["--user-count", "-3"], 2, "--user-count must be between 1 and 100000"),
        (["--images-per-user", "0"], 2, "--images-per-user"),
        (["--image-size", "16"], 2, "--image-size"),
        (["--frames-per-clip", "9"], 2, "--frames-per-clip"),
        (["--shard", "2/2"], 2, "--shard"),
        (["--shard", "x"], 2, "--shard"),
        (["--jobs", "0"], 2, "--jobs must be a positive number of processes or auto"),
        (["--jobs", "some"], 2, "--jobs must be a positive number of processes or auto"),
        (["--renderer", "sd9"], 2, "unknown renderer 'sd9'"),
        (["--user-count", "many"], 2, "Invalid value for '--user-count'"),
    ],
)
def test_bad_synth_input(cli, tmp_path: Path, args: list[str], code: int, words: str) -> None:
    ws = tmp_path / "w"
    result = cli("synth", "-w", ws, *args)
    assert result.exit_code == code
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == "" and not ws.exists()


def test_unusable_workspace_path(cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli("synth", "-w", blocker / "w", *TINY)
    assert result.exit_code == 1 and "cannot create workspace folder" in result.stderr
    result = cli("synth", "-w", blocker, *TINY)
    assert result.exit_code == 1 and "is not a folder" in result.stderr


def test_interrupted_run_keeps_committed_users_and_resumes(cli, box_renderer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from memoire_cli.synth.stage import SynthStage

    real = SynthStage.compute
    calls = []

    def flaky(self, ws, user_id):  # noqa: ANN001, ANN202
        calls.append(user_id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, ws, user_id)

    monkeypatch.setattr(SynthStage, "compute", flaky)
    ws = tmp_path / "w"
    result = cli("synth", "-w", ws, *TINY)
    assert result.exit_code == 130 and result.stdout == "" and "interrupted" in result.stderr
    assert rows(ws, "SELECT user_id FROM stage_users") == [("u0000",)]
    assert rows(ws, "SELECT DISTINCT user_id FROM images") == [("u0000",)]
    assert rows(ws, "SELECT status FROM runs") == [("interrupted",)]
    monkeypatch.setattr(SynthStage, "compute", real)
    resumed = manifest(cli("synth", "-w", ws, *TINY))
    assert resumed["computed"] == 2 and resumed["cached"] == 1


def test_not_built_stages_fail_cleanly(cli, tmp_path: Path) -> None:
    """A stage whose command still answers `not_built` fails in one line (the list shrinks as stages land)."""
    import importlib
    import inspect

    pending = [s for s in PIPELINE if "not_built(" in inspect.getsource(importlib.import_module(f"memoire_cli.commands.{s}"))]
    for stage in pending:
        result = cli(stage, "-w", tmp_path)
        assert result.exit_code == 1 and result.stdout == ""
        assert "not built" in result.stderr


def test_schema_command(cli) -> None:
    out = json.loads(cli("schema", "json").stdout)
    assert out["schema_version"] == 2 and "images" in out["tables"] and "people_image_tags" in out["tables"]
    assert cli("schema", "yaml").exit_code == 2
