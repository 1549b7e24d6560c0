"""`memoire persona` through the CLI: the pipe from synth and graph, declarations, caching, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
import zarr

from conftest import TINY, manifest, rows
from memoire_cli.persona.toy import gallery_graph
from memoire_cli.schema import load_schema
from memoire_cli.workspace import Workspace

FAST = ["--epochs", "2", "--steps-per-epoch", "2", "--device", "cpu"]


def one_line_error(result, code: int, words: str, after_progress: bool = False) -> None:  # noqa: ANN001
    """Exit code, nothing on stdout, one error line (the last, after the progress bar of a started run)."""
    assert result.exit_code == code, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert words in lines[-1] and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1 or (after_progress and sum("error" in line for line in lines) == 1), result.stderr


def graph_rows(user_id: str, n: int, src: list[int], dst: list[int], w: list[float], nan: bool = False) -> dict:
    """Hand-made graph_nodes / graph_edges rows (what `memoire graph` writes), for one user."""
    obj = lambda values: np.array(values, dtype=object)  # noqa: E731
    rng = np.random.default_rng(n)
    feats = {c: rng.normal(size=n) for c in ("f", "r", "v", "q", "g", "f_z", "r_z", "v_z", "q_z", "g_z", "ips0")}
    if nan:
        feats["g_z"][:] = np.nan
    nodes = {
        "user_id": obj([user_id] * n), "node": np.arange(n, dtype=np.int32), "tag_id": np.arange(n, dtype=np.int32) + 7,
        "type": obj((["P", "L", "E"] * n)[:n]), "relation": obj((["self", None, None] * n)[:n]),
        "count": np.ones(n, np.int32), "last_seen": np.full(n, np.datetime64("2024-01-01"), dtype="datetime64[us]"),
        **{c: feats[c] for c in ("f", "r", "v", "q", "g", "f_z", "r_z", "v_z", "q_z", "g_z", "ips0")},
    }
    m = len(src)
    edges = {
        "user_id": obj([user_id] * m), "src": np.array(src, np.int32), "dst": np.array(dst, np.int32),
        "count": np.ones(m, np.int32), "cooc": np.array(w, float), "social": np.zeros(m), "weight": np.array(w, float),
    }
    return {"graph_nodes": nodes, "graph_edges": edges}


def graph_workspace(root: Path, users: dict[str, dict]) -> Path:
    ws = Workspace.open(root, "graph", create=True)
    ws.commit_users("graph", "test", [(u, f"fp-{u}", f"digest-{u}", tables) for u, tables in users.items()])
    return root


def test_persona_before_graph_says_so(cli, box_renderer, tmp_path: Path) -> None:
    ws = tmp_path / "w"
    assert cli("synth", "-w", ws, *TINY).exit_code == 0
    result = cli("persona", "-w", ws, *FAST)
    one_line_error(result, 1, "needs the outputs of graph")
    assert rows(ws, "SELECT count(*) FROM persona") == [(0,)]


def test_pipe_synth_graph_persona(cli, box_renderer, tmp_path: Path) -> None:
    ws = tmp_path / "w"
    synth = cli("synth", "-w", ws, *TINY)
    graph = cli("graph", input=synth.stdout)
    assert graph.exit_code == 0, graph.stderr
    result = cli("persona", *FAST, input=graph.stdout)
    assert result.exit_code == 0, result.stderr
    m = manifest(result)
    assert m["stage"] == "persona" and m["computed"] == 3 and m["workspace"] == str(ws.resolve())
    assert set(m["wrote"]["tables"]) == {"persona", "persona_curves"}
    assert set(m["wrote"]["arrays"]) == {"persona/{user_id}/z", "persona/{user_id}/weights"}
    assert "PERSONA-GAT on cpu" in result.stderr

    # one row per graph node; α a distribution per user; curves per epoch with KL NULL at epoch 0
    assert rows(ws, "SELECT count(*) FROM persona") == rows(ws, "SELECT count(*) FROM graph_nodes")
    assert rows(ws, "SELECT count(*) FROM persona p JOIN graph_nodes g USING (user_id, node) WHERE p.tag_id <> g.tag_id") == [(0,)]
    for _, total, lo in rows(ws, "SELECT user_id, sum(alpha), min(alpha) FROM persona GROUP BY 1"):
        assert total == pytest.approx(1.0) and lo > 0
    curves = rows(ws, "SELECT user_id, epoch, kl, lambda_ord FROM persona_curves ORDER BY 1, 2")
    assert len(curves) == 3 * 2 and all((c[2] is None) == (c[1] == 0) for c in curves)
    assert sorted({round(c[3], 9) for c in curves}) == [0.1, 0.2]

    # what was written matches the declarations
    schema = load_schema()
    con = duckdb.connect(str(ws / "memoire.duckdb"), read_only=True)
    for spec in schema.tables_of("persona"):
        declared = [(c.name, c.type) for c in spec.columns]
        found = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                            [spec.name]).fetchall()
        assert declared == found, spec.name
    n_nodes = dict(con.execute("SELECT user_id, count(*) FROM graph_nodes GROUP BY 1").fetchall())
    con.close()
    root = zarr.open_group(str(ws / "arrays.zarr"), mode="r")
    for user_id, n in n_nodes.items():
        z = root[f"persona/{user_id}/z"]
        assert z.shape == (n, 128) and z.dtype == np.float32 and z.chunks == (n, 128)
        weights = root[f"persona/{user_id}/weights"]
        assert weights.dtype == np.float32 and weights.ndim == 1 and weights.chunks == weights.shape
    spec = schema.arrays["persona_weights"]
    assert spec.dtype == "float32" and spec.shape == ("n_parameters",)

    # cached, then forced: the same α (deterministic)
    before = rows(ws, "SELECT user_id, tag_id, alpha, score, score_ema FROM persona ORDER BY 1, 2")
    again = manifest(cli("persona", "-w", ws, *FAST))
    assert again["skipped"] is True and again["cached"] == 3
    forced = manifest(cli("persona", "-w", ws, *FAST, "--force"))
    assert forced["computed"] == 3
    assert rows(ws, "SELECT user_id, tag_id, alpha, score, score_ema FROM persona ORDER BY 1, 2") == before
    params = json.loads(rows(ws, "SELECT params FROM runs WHERE stage = 'persona' ORDER BY started_at DESC LIMIT 1")[0][0])
    assert params["lr"] == 3e-4 and params["max_epochs"] == 2 and params["device"] == "cpu"


def test_degenerate_users_and_nan_features(cli, tmp_path: Path) -> None:
    ws = graph_workspace(tmp_path / "w", {
        "u-empty": graph_rows("u-empty", 0, [], [], []),
        "u-one": graph_rows("u-one", 1, [], [], []),
        "u-isolated": graph_rows("u-isolated", 4, [], [], [], nan=True),
        "u-small": graph_rows("u-small", 5, [0, 0, 1, 3], [1, 2, 2, 4], [0.5, 0.2, 0.9, 1.0]),
    })
    result = cli("persona", "-w", ws, *FAST)
    assert result.exit_code == 0, result.stderr
    assert manifest(result)["computed"] == 4
    err = " ".join(result.stderr.split())
    assert "u-one: one tag in the graph: nothing to train (α = 1)" in err
    assert "u-empty: no tags in the graph" in err
    assert "u-isolated: 4 non-finite feature value(s) in graph_nodes replaced by 0" in err
    assert "u-isolated: no co-occurring tags" in err
    assert rows(ws, "SELECT alpha, score = score_ema FROM persona WHERE user_id = 'u-one'") == [(1.0, True)]
    assert rows(ws, "SELECT count(*) FROM persona_curves WHERE user_id = 'u-one'") == [(0,)]
    assert rows(ws, "SELECT count(*) FROM persona WHERE user_id = 'u-empty'") == [(0,)]
    assert rows(ws, "SELECT count(*) FROM stage_users WHERE stage = 'persona'") == [(4,)]
    for user_id in ("u-isolated", "u-small"):
        (total,) = rows(ws, f"SELECT sum(alpha) FROM persona WHERE user_id = '{user_id}'")[0]
        assert total == pytest.approx(1.0)
    assert zarr.open_group(str(ws / "arrays.zarr"), mode="r")["persona/u-empty/z"].shape == (0, 128)


def test_unusable_graph_rows_fail_cleanly(cli, tmp_path: Path) -> None:
    bad = graph_rows("u-bad", 3, [1], [1], [0.5])  # a self-loop row: src < dst is violated
    ws = graph_workspace(tmp_path / "w", {"u-good": graph_rows("u-good", 3, [0], [1], [0.5]), "u-bad": bad})
    result = cli("persona", "-w", ws, *FAST)
    one_line_error(result, 1, "user u-bad: graph_edges must have src < dst (self-loops are implicit): rerun `memoire graph`", after_progress=True)
    assert rows(ws, "SELECT DISTINCT user_id FROM persona") == []  # u-bad sorts first: nothing committed
    assert not (ws / "arrays.zarr" / "persona" / "u-bad").exists()
    assert rows(ws, "SELECT status FROM runs WHERE stage = 'persona'") == [("failed",)]
    good = cli("persona", "-w", ws, *FAST, "--users", "u-good")
    assert good.exit_code == 0 and rows(ws, "SELECT DISTINCT user_id FROM persona") == [("u-good",)]


@pytest.mark.parametrize(("args", "words"), [
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--steps-per-epoch", "-1"], "--steps-per-epoch"),
    (["--lr", "0"], "--lr must be positive"),
    (["--device", "tpu9"], "not a torch device"),
    (["--device", "meta"], "only cpu and cuda"),
])
def test_bad_flags(cli, tmp_path: Path, args: list[str], words: str) -> None:
    one_line_error(cli("persona", "-w", tmp_path, *args), 2, words)


def test_stored_weights_restore_the_model(cli, tmp_path: Path) -> None:
    """What `persona update` (S1.2.11) will need: weights + run parameters rebuild the model and its z."""
    import torch

    from memoire_cli.persona.model import edge_tensors, load_flat_weights
    from memoire_cli.persona.stage import read_graph
    from memoire_cli.persona.train import PersonaConfig, build_model

    g, _ = gallery_graph(n_images=30, seed=1)
    edges = [(int(s), int(d), float(w)) for s, d, w in zip(g.src, g.dst, g.weight)]
    tables = graph_rows("u0", g.n_nodes, [e[0] for e in edges], [e[1] for e in edges], [e[2] for e in edges])
    ws = graph_workspace(tmp_path / "w", {"u0": tables})
    assert cli("persona", "-w", ws, *FAST).exit_code == 0
    params = json.loads(rows(ws, "SELECT params FROM runs WHERE stage = 'persona'")[0][0])
    cfg = PersonaConfig(**{k: v for k, v in params.items() if k != "device"})
    w = Workspace.open(ws, "persona")
    model = load_flat_weights(build_model(cfg), w.read_array("persona_weights", "u0")[:]).eval()
    graph = read_graph(w, "u0")
    edge_index, edge_attr = edge_tensors(graph.n_nodes, graph.src, graph.dst, graph.weight)
    with torch.no_grad():
        z, s = model(torch.from_numpy(graph.x), edge_index, edge_attr)
    assert np.allclose(z.numpy(), w.read_array("persona_embeddings", "u0")[:], atol=1e-6)
    alpha = np.array([a for (a,) in rows(ws, "SELECT alpha FROM persona WHERE user_id = 'u0' ORDER BY node")])
    assert np.allclose(torch.softmax(s.double(), 0).numpy(), alpha, atol=1e-6)


def test_alpha_does_not_depend_on_the_machines_thread_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: α moved with torch's thread count. The stage pins it (1, or $MEMOIRE_TORCH_THREADS),
    so a machine whose torch defaults to 2 threads writes the α of one that defaults to 1, bit for bit."""
    import io

    import torch
    from rich.console import Console

    from memoire_cli.persona.stage import PersonaStage
    from memoire_cli.persona.train import PersonaConfig
    from memoire_cli.runner import run_stage
    from memoire_cli.stage import Selection
    from memoire_cli.threads import ENV

    g, _ = gallery_graph(n_images=60, seed=1)
    tables = graph_rows("u0", g.n_nodes, g.src.tolist(), g.dst.tolist(), g.weight.tolist())
    ws = Workspace.open(graph_workspace(tmp_path / "w", {"u0": tables}), "persona")
    cfg = PersonaConfig(max_epochs=3, steps_per_epoch=3)
    monkeypatch.delenv(ENV, raising=False)
    alphas = []
    try:
        for default in (2, 1, 3):
            torch.set_num_threads(default)  # what the machine would give torch
            run_stage(ws, PersonaStage(cfg, "cpu"), Selection(), True, Console(file=io.StringIO()))
            assert torch.get_num_threads() == 1
            alphas.append(rows(ws.root, "SELECT node, alpha, score, score_ema FROM persona ORDER BY node"))
        monkeypatch.setenv(ENV, "2")
        run_stage(ws, PersonaStage(cfg, "cpu"), Selection(), True, Console(file=io.StringIO()))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    assert alphas[0] == alphas[1] == alphas[2]


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_bad_thread_variable_is_a_usage_error(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from memoire_cli.threads import ENV

    monkeypatch.setenv(ENV, value)
    one_line_error(cli("persona", "-w", tmp_path, *FAST), 2, f"${ENV} must be a positive whole number")
    one_line_error(cli("persona", "update", "-w", tmp_path), 2, f"${ENV} must be a positive whole number")


def test_null_text_columns_read_as_none() -> None:
    """A NULL relation (a place or an event) reads as None, not numpy's default fill '?' (a bug found by mypy's review)."""
    import numpy as np

    from memoire_cli.persona.stage import _plain

    col = np.ma.masked_array(np.array(["spouse", "", "friend"], dtype=object), mask=[False, True, False])
    assert list(_plain(col, None)) == ["spouse", None, "friend"]
    assert list(_plain(np.ma.masked_array([1.0, 2.0], mask=[True, False]), np.nan))[1] == 2.0
