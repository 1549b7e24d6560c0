"""`memoire pat` through the CLI on a small real-rendered gallery: contracts, outputs, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import manifest, rows
from memoire_cli.schema import load_schema
from memoire_cli.workspace import Workspace


@pytest.fixture(scope="module")
def pat_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import Invoker

    cli = Invoker()
    ws = tmp_path_factory.mktemp("pat") / "w"
    steps = (["synth", "-w", ws, "--user-count", "1", "--images-per-user", "6", "--frames-per-clip", "1", "--image-size", "256",
              "--anchors", "1", "--seed", "4"], ["graph", "-w", ws], ["persona", "-w", ws, "--epochs", "2"], ["pat", "-w", ws])
    for args in steps:
        result = cli(*args)
        assert result.exit_code == 0, result.stderr
    assert "Gaussian fallback" in result.stderr and "spatial prior" in result.stderr
    assert manifest(result)["computed"] == 1
    return ws


def test_outputs_match_declarations_and_each_other(pat_ws: Path) -> None:
    for spec in load_schema().tables_of("pat"):
        cols = rows(pat_ws, "SELECT column_name, data_type FROM information_schema.columns "
                            f"WHERE table_name = '{spec.name}' ORDER BY ordinal_position")
        assert cols == [(c.name, c.type) for c in spec.columns]
    ws = Workspace.open(pat_ws, "rank")
    n = rows(pat_ws, "SELECT count(*) FROM images")[0][0]
    attention = ws.read_array("pat_attention", "u0000")
    masks = ws.read_array("pat_masks", "u0000")
    assert attention.shape == (n, 256, 256) and attention.dtype == np.uint8
    assert masks.shape[0] == rows(pat_ws, "SELECT count(*) FROM pat_masks")[0][0] > 0
    # every location and event tag of every image has a mask; people only where a face matched
    assert rows(pat_ws, """SELECT count(*) FROM image_tags it JOIN tags t USING (user_id, tag_id)
                           WHERE t.type != 'P' AND NOT EXISTS (SELECT 1 FROM pat_masks m
                           WHERE m.image_id = it.image_id AND m.tag_id = it.tag_id)""") == [(0,)]
    assert rows(pat_ws, "SELECT sum(matched) FROM pat_images")[0][0] == rows(pat_ws, "SELECT count(*) FROM pat_masks WHERE type = 'P'")[0][0]
    # α of the fused masks is the persona's
    assert rows(pat_ws, "SELECT count(*) FROM pat_masks m JOIN persona p USING (user_id, tag_id) WHERE abs(m.alpha - p.alpha) > 1e-12") == [(0,)]
    for idx, width, height in rows(pat_ws, "SELECT idx, width, height FROM images"):
        a = attention[idx]
        assert a[:height, :width].max() == 255 and not a[height:, :].any()


def test_strangers_get_no_mask(pat_ws: Path) -> None:
    assert rows(pat_ws, "SELECT count(*) FROM pat_masks m JOIN people p USING (user_id, tag_id) WHERE NOT p.in_graph") == [(0,)]


def test_rerun_is_cached_and_forced_rerun_is_bit_identical(cli, pat_ws: Path) -> None:
    before = rows(pat_ws, "SELECT digest FROM stage_users WHERE stage = 'pat'")
    assert manifest(cli("pat", "-w", pat_ws))["skipped"] is True
    assert manifest(cli("pat", "-w", pat_ws, "--force"))["computed"] == 1
    assert rows(pat_ws, "SELECT digest FROM stage_users WHERE stage = 'pat'") == before


def test_grounder_choice(cli, pat_ws: Path, tmp_path: Path) -> None:
    """auto on a synthetic gallery without CLIPSeg: the prior; --grounder cam: CAM masks where a tag has an
    ImageNet class, the prior elsewhere, each mask's source recorded; --grounder clipseg needs weights."""
    assert {s for (s,) in rows(pat_ws, "SELECT DISTINCT source FROM pat_masks WHERE type != 'P'")} == {"prior"}
    result = cli("pat", "-w", pat_ws, "--grounder", "cam")
    assert result.exit_code == 0, result.stderr
    assert "class-activation maps" in result.stderr and manifest(result)["computed"] == 1  # a new parameter: recomputed
    from memoire_cli.pat.cam import tag_classes

    names = rows(pat_ws, "SELECT DISTINCT m.type, t.name, m.source FROM pat_masks m JOIN tags t USING (user_id, tag_id) WHERE m.type != 'P'")
    for kind, name, source in names:
        assert source == ("cam" if tag_classes(kind, name) else "prior")
    missing = cli("pat", "-w", pat_ws, "--grounder", "clipseg")
    assert missing.exit_code == 1 and "no local CLIPSeg" in missing.stderr and missing.stdout == ""
    assert manifest(cli("pat", "-w", pat_ws, "--grounder", "auto"))["computed"] == 1  # back to the default


def test_bad_input(cli, box_renderer, tmp_path: Path) -> None:
    ws = tmp_path / "w"
    assert cli("synth", "-w", ws, "--user-count", "1", "--images-per-user", "2", "--frames-per-clip", "0", "--image-size", "128",
               "--anchors", "1").exit_code == 0
    before = cli("pat", "-w", ws)
    assert before.exit_code == 1 and "needs the outputs of synth or ingest and persona" in before.stderr
    no_maps = cli("pat", "session", "-w", ws, "--session", "all")
    assert no_maps.exit_code == 1 and "`memoire pat --session` needs the outputs of pat" in no_maps.stderr
    old = cli("pat", "-w", ws, "--session", "all")  # the old spelling: the same, after one line
    assert old.exit_code == 1 and old.stderr.splitlines()[0] == "`pat --session` is now `pat session --session`"
    assert old.stderr.splitlines()[1:] == [no_maps.stderr.strip().replace("memoire pat session: ", "memoire pat: ", 1)]
    for args, words in ((["--theta-det", "1.5"], "--theta-det"), (["--clipseg", str(tmp_path / "nope")], "no such folder"),
                        (["--grounder", "sam"], "--grounder must be one of")):
        result = cli("pat", "-w", ws, *args)
        assert result.exit_code == 2 and words in result.stderr and result.stdout == ""


def test_person_masks_record_their_face(pat_ws: Path) -> None:
    faces = rows(pat_ws, "SELECT type, face_cos, face_x0, face_y0, face_x1, face_y1 FROM pat_masks")
    for kind, cos, *box in faces:
        if kind == "P":
            assert cos >= 0.35 and box[0] < box[2] and box[1] < box[3]
        else:
            assert cos is None and box == [None] * 4
    assert any(kind == "P" for kind, *_ in faces)


def test_every_detected_face_is_stored_with_its_embedding(pat_ws: Path) -> None:
    faces = rows(pat_ws, "SELECT face_idx, image_id, x0, y0, x1, y1, det_score, tag_id, cos FROM pat_faces ORDER BY face_idx")
    detected = rows(pat_ws, "SELECT sum(faces) FROM pat_images")[0][0]
    assert len(faces) == detected > 0 and [f[0] for f in faces] == list(range(len(faces)))
    emb = np.asarray(Workspace.open(pat_ws, "rank").read_array("pat_face_embeddings", "u0000"))
    assert emb.shape == (len(faces), 512) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)
    assert all(score >= 0.50 and x0 < x1 and y0 < y1 for _, _, x0, y0, x1, y1, score, _, _ in faces)  # packaged θ_det
    # the matched faces are exactly the person masks, with the same tag, box and cosine
    matched = sorted((img, tag, round(cos, 6), round(x0, 3)) for _, img, x0, _, _, _, _, tag, cos in faces if tag is not None)
    masks = rows(pat_ws, "SELECT image_id, tag_id, face_cos, face_x0 FROM pat_masks WHERE type = 'P'")
    assert matched == sorted((img, tag, round(cos, 6), round(x0, 3)) for img, tag, cos, x0 in masks)
    assert all(cos is None for *_, tag, cos in faces if tag is None)


def test_overlay_picture(cli, pat_ws: Path, tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "overlay.png"
    result = cli("pat", "-w", pat_ws, "--overlay", out, "--image", "u0000/00001")
    assert result.exit_code == 0, result.stderr
    assert manifest(result)["skipped"] is True
    w, h = rows(pat_ws, "SELECT width, height FROM images WHERE image_id = 'u0000/00001'")[0]
    assert Image.open(out).size == (3 * w, h)
    bad = cli("pat", "-w", pat_ws, "--overlay", out, "--image", "u9/1")
    assert bad.exit_code == 1 and "no image 'u9/1'" in bad.stderr and bad.stdout == ""
    assert cli("pat", "-w", pat_ws, "--overlay", out).exit_code == 2


def test_session_refusion(cli, pat_ws: Path, tmp_path: Path) -> None:
    """`pat session`: A*(I) re-fused from the stored masks with α*; ρ = 0 gives back A(I) (up to
    quantisation of the masks); a narrower session blends in its prior; bad specs fail cleanly."""
    ws = Workspace.open(pat_ws, "rank")
    same = cli("pat", "session", "-w", pat_ws, "--session", "all", "--rho", "0")
    assert same.exit_code == 0, same.stderr
    got = manifest(same)
    assert got["action"] == "session" and got["computed"] == 1 and got["wrote"]["tables"] == ["pat_sessions"]
    rows_ = rows(pat_ws, "SELECT row, idx, session, rho FROM pat_sessions ORDER BY row")
    assert [r[1] for r in rows_] == list(range(len(rows_))) and {(r[2], r[3]) for r in rows_} == {("all", 0.0)}
    session_maps = np.asarray(ws.read_array("pat_session_attention", "u0000"))
    stored = np.asarray(ws.read_array("pat_attention", "u0000"))
    assert session_maps.shape == stored.shape
    assert np.abs(session_maps.astype(int) - stored.astype(int)).max() <= 3

    event = rows(pat_ws, "SELECT event_id, count(*) FROM images WHERE user_id = 'u0000' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1")[0]
    narrow = cli("pat", "session", "-w", pat_ws, "--session", f"event:{event[0]}", "--overlay", tmp_path / "s.png", "--image",
                 rows(pat_ws, f"SELECT image_id FROM images WHERE event_id = {event[0]} ORDER BY idx LIMIT 1")[0][0])
    assert narrow.exit_code == 0, narrow.stderr
    assert "top α*" in narrow.stderr and (tmp_path / "s.png").stat().st_size > 0
    (n, rho), = rows(pat_ws, "SELECT count(*), max(rho) FROM pat_sessions")
    assert n == event[1] and 0.25 <= rho <= 1.0  # ρ from (17): at least ρ0

    for args, code, words in ((["--session", "event:999"], 1, "matches no image"), (["--session", "all", "--rho", "2"], 2, "--rho"),
                              (["--session", "yesterday"], 2, "expected all")):
        bad = cli("pat", "session", "-w", pat_ws, *args)
        assert bad.exit_code == code and words in bad.stderr and bad.stdout == ""
    assert rows(pat_ws, "SELECT count(*) FROM pat_sessions")[0][0] == event[1]  # nothing lost
    assert manifest(cli("pat", "-w", pat_ws, "--force"))["computed"] == 1  # a PAT re-run drops the session maps
    assert rows(pat_ws, "SELECT count(*) FROM pat_sessions") == [(0,)]
