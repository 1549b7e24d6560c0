"""`memoire rank` end to end on a tiny gallery with a really trained (smallest-preset) model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import PIPELINE, Pipeline, copy_workspace, manifest, rows

#: Every check here reads the shared pipeline's ranking, which needs its trained model (about a minute
#: and a half to build on 2 cores): `pytest -m "not slow"` leaves the module out.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ranked_ws(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shared pipeline through rank (synth → graph → persona → pat → label → train with
    the smallest real training → rank --show 2): this module re-runs rank on it."""
    result = pipeline.output("rank")
    assert PIPELINE["rank"] == ["--show", "2"] and manifest(result)["computed"] == 3
    return copy_workspace(pipeline("rank"), tmp_path_factory.mktemp("rank") / "w")


def users_of(ws: Path) -> list[str]:
    return [u for (u,) in rows(ws, "SELECT user_id FROM users ORDER BY user_id")]


def test_rank_writes_what_it_declares(ranked_ws: Path) -> None:
    from memoire_cli.schema import load_schema

    schema = load_schema()
    import duckdb

    con = duckdb.connect(str(ranked_ws / "memoire.duckdb"), read_only=True)
    try:
        for name in ("rankings", "sessions", "session_alpha"):
            cols = tuple(r[0] for r in con.execute(f"DESCRIBE {name}").fetchall())
            assert cols == schema.tables[name].column_names
    finally:
        con.close()
    import zarr

    root = zarr.open_group(str(ranked_ws / "arrays.zarr"), mode="r")
    for user in users_of(ranked_ws):
        emb = np.asarray(root[f"rank/{user}/embeddings"])
        (n,) = rows(ranked_ws, f"SELECT count(*) FROM images WHERE user_id = '{user}'")[0]
        assert emb.shape[0] == n and emb.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_full_order_and_picks(ranked_ws: Path) -> None:
    for user in users_of(ranked_ws):
        order = rows(ranked_ws, f"SELECT image_id, position, score, impact, pick, reasons FROM rankings WHERE user_id = '{user}' ORDER BY position")
        (n_images,) = rows(ranked_ws, f"SELECT count(*) FROM images WHERE user_id = '{user}'")[0]
        assert len(order) == n_images and [r[1] for r in order] == list(range(n_images))
        keys = [(-r[2], r[0]) for r in order]
        assert keys == sorted(keys), "score descending, ties by image id"
        assert all(0.0 <= r[3] <= 100.0 for r in order)
        picks = sorted((r[4], r[0], json.loads(r[5])) for r in order if r[4] is not None)
        assert [p[0] for p in picks] == list(range(min(20, n_images)))
        assert all(r[5] is None for r in order if r[4] is None)
        for _, _, reasons in picks:
            shares = [x["share"] for x in reasons]
            assert shares == sorted(shares, reverse=True) and all(0.02 <= s <= 1.0 for s in shares)
            assert all(x["type"] in "PLE" and x["alpha_star"] >= 0 for x in reasons)
        (n_sel, rho, src) = rows(ranked_ws, f"SELECT n_selected, rho, rho_source FROM sessions WHERE user_id = '{user}'")[0]
        assert n_sel == len(picks) and 0.0 < rho <= 1.0 and src == "eq17"
        (total,) = rows(ranked_ws, f"SELECT sum(alpha_star) FROM session_alpha WHERE user_id = '{user}'")[0]
        assert total == pytest.approx(1.0)


def test_second_run_is_cached_and_json_is_the_ranking(ranked_ws: Path, cli) -> None:
    result = cli("rank", "-w", ranked_ws, "--json")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert out["skipped"] is True and out["stage"] == "rank"
    for r in out["rankings"]:
        stored = [i for (i,) in rows(ranked_ws, f"SELECT image_id FROM rankings WHERE user_id = '{r['user_id']}' AND pick IS NOT NULL ORDER BY pick")]
        assert [p["image_id"] for p in r["selected"]] == stored
        assert len(r["order"]) == r["n_images"]
        assert all(o["path"] is None and o["taken"] for o in r["order"])  # synthetic images: no file, their id shown
    assert "reasons" in result.stderr and out["rankings"][0]["selected"][0]["image_id"] in result.stderr


def test_library_variants(ranked_ws: Path) -> None:
    from memoire_cli.rank import RankOptions, UserContext, rank_user
    from memoire_cli.session.refusion import refuse
    from memoire_cli.session.selection import parse_session
    from memoire_cli.train.predictor import load_predictor
    from memoire_cli.workspace import Workspace

    ws = Workspace.open(ranked_ws, "rank")
    predictor = load_predictor(ws)
    user = users_of(ranked_ws)[0]
    ctx = UserContext.load(ws, user, parse_session("all"), image_size=predictor.image_size)
    assert ctx.embedder  # the stored embeddings of the rank run are reused
    # Re-fusion with the global α reproduces pat's stored A(I) (up to the masks' uint8 quantisation).
    alpha = dict(zip(ctx.node_tags.tolist(), ctx.alpha.tolist()))
    stored = ws.read_array("pat_attention", user)
    for idx, image, m in zip(ctx.idxs, ctx.images, ctx.masks):
        if len(m.tag_ids):
            h, w = image.shape[:2]
            again = refuse(m.masks, [alpha.get(int(t), 0.0) for t in m.tag_ids])
            assert np.abs(again * 255 - np.asarray(stored[idx])[:h, :w]).max() <= 3.0
    base = rank_user(ctx, predictor, RankOptions())
    no_session = rank_user(ctx, predictor, RankOptions(rho=0.0))
    np.testing.assert_allclose([no_session.alpha_star[int(t)] for t in ctx.node_tags], ctx.alpha, rtol=1e-9)
    uniform = rank_user(ctx, predictor, RankOptions(alpha="uniform"))
    assert len(set(np.round(list(uniform.alpha_star.values()), 12))) == 1
    plain = rank_user(ctx, predictor, RankOptions(lam=0.0, k=5))
    assert plain.selected == base.image_ids[:5]
    assert sorted(base.selected) == sorted(set(base.selected)) and len(base.selected) == min(20, len(ctx))
    people = rank_user(ctx, predictor, RankOptions(tag_types=("P",)))
    assert all(r["type"] == "P" for rs in people.reasons.values() for r in rs)
    again = rank_user(ctx, predictor, RankOptions())
    assert again.image_ids == base.image_ids and again.selected == base.selected  # deterministic


def test_contact_sheet(ranked_ws: Path, cli, tmp_path: Path) -> None:
    from PIL import Image

    sheet = tmp_path / "sheet.png"
    result = cli("rank", "-w", ranked_ws, "--contact-sheet", sheet)  # cached: the sheet comes from the stored picks
    assert result.exit_code == 0, result.stderr
    with Image.open(sheet) as im:
        assert im.size[0] > 4 * 100 and im.size[1] >= 2 * 100
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.std() > 10  # photos with heat maps, not a blank page


def test_onnx_runtime_gives_the_same_ranking(ranked_ws: Path, cli) -> None:
    if not rows(ranked_ws, "SELECT 1 FROM models WHERE name = 'default' AND onnx_sha256 IS NOT NULL"):
        pytest.skip("the smoke preset did not export ONNX")
    torch_scores = dict(rows(ranked_ws, "SELECT image_id, score FROM rankings"))  # the fixture's torch run
    result = cli("rank", "-w", ranked_ws, "--runtime", "onnx", "--json")
    assert result.exit_code == 0, result.stderr
    for ranked in json.loads(result.stdout)["rankings"]:
        assert ranked["runtime"] == "onnx"
        np.testing.assert_allclose([o["score"] for o in ranked["order"]], [torch_scores[o["image_id"]] for o in ranked["order"]], atol=1e-4)


@pytest.mark.parametrize(("args", "message"), [
    (["--session", "event:9999"], "matches no image"),
    (["--session", "ids:nobody/00001"], "unknown image id"),
    (["--session", "album:3"], "expected all, event:ID"),
    (["--k", "0"], "--k must be at least 1"),
    (["--rho", "2"], "--rho must be in [0, 1]"),
    (["--rho", "high"], "--rho must be auto or a number"),
    (["--lambda", "-0.1"], "--lambda must be in [0, 1]"),
    (["--tag-types", "PX"], "--tag-types"),
    (["--tag-weights", "learned"], "--tag-weights must be one of"),
    (["--runtime", "tflite"], "--runtime must be torch or onnx"),
    (["--embedder", "resnet"], "unknown embedder"),
    (["--contact-sheet", "sheet.gif"], "--contact-sheet must end in"),
    (["--model", "nonesuch"], "run `memoire train --name nonesuch`"),
])
def test_bad_requests_change_nothing(ranked_ws: Path, cli, args: list[str], message: str) -> None:
    before = rows(ranked_ws, "SELECT user_id, image_id, pick, score FROM rankings ORDER BY 1, 2")
    runs = rows(ranked_ws, "SELECT count(*) FROM runs WHERE stage = 'rank'")
    result = cli("rank", "-w", ranked_ws, *args)
    assert result.exit_code != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert rows(ranked_ws, "SELECT user_id, image_id, pick, score FROM rankings ORDER BY 1, 2") == before
    assert rows(ranked_ws, "SELECT count(*) FROM runs WHERE stage = 'rank'") == runs


def test_missing_stages_say_which_to_run(ranked_ws: Path, cli, pipeline: Pipeline, workspace_copy, tmp_path: Path) -> None:
    ws = workspace_copy(pipeline("synth"))
    result = cli("rank", "-w", ws)
    assert result.exit_code != 0 and "graph" in result.stderr and "Traceback" not in result.stderr
    # Everything but a model: says to train.
    partial = tmp_path / "partial"
    shutil.copytree(ranked_ws, partial)
    import duckdb

    con = duckdb.connect(str(partial / "memoire.duckdb"))
    con.execute("DELETE FROM models")
    con.close()
    result = cli("rank", "-w", partial, "--force")
    assert result.exit_code != 0 and "memoire train" in result.stderr


def test_model_from_another_workspace_is_refused(ranked_ws: Path, cli, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(ranked_ws, other)
    import duckdb

    con = duckdb.connect(str(other / "memoire.duckdb"))
    con.execute("UPDATE meta SET value = 'another-workspace' WHERE key = 'workspace_id'")
    con.close()
    result = cli("rank", "-w", other, "--force")
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    assert "workspace" in result.stderr


def test_sessions_restrict_the_ranking(ranked_ws: Path, cli) -> None:
    user = users_of(ranked_ws)[0]
    (event,) = rows(ranked_ws, f"SELECT event_id FROM images WHERE user_id = '{user}' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0]
    result = cli("rank", "-w", ranked_ws, "--users", user, "--session", f"event:{event}", "--json", "--embedder", "colour-texture")
    assert result.exit_code == 0, result.stderr
    (ranked,) = json.loads(result.stdout)["rankings"]
    expected = {i for (i,) in rows(ranked_ws, f"SELECT image_id FROM images WHERE user_id = '{user}' AND event_id = {event}")}
    assert {o["image_id"] for o in ranked["order"]} == expected
    assert len(ranked["selected"]) == len(expected) < 20
    assert "fewer than k = 20: all are returned" in result.stderr
    assert ranked["embedder"] == "colour-texture-v1"
    ids = sorted(expected)[:2]
    result = cli("rank", "-w", ranked_ws, "--users", user, "--session", "ids:" + ",".join(ids), "-k", "1", "--json")
    assert result.exit_code == 0, result.stderr
    (ranked,) = json.loads(result.stdout)["rankings"]
    assert {o["image_id"] for o in ranked["order"]} == set(ids) and len(ranked["selected"]) == 1
