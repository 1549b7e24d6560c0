"""`memoire synth` as a stage: determinism, QC re-renders, what the tables say about the pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from conftest import TINY, BoxRenderer, manifest, rows


def test_same_seed_same_workspace(cli, box_renderer, tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for ws, seed in ((a, "1"), (b, "1"), (c, "2")):
        assert cli("synth", "-w", ws, *TINY, "--seed", seed).exit_code == 0
    digests = {ws: rows(ws, "SELECT user_id, digest FROM stage_users ORDER BY 1") for ws in (a, b, c)}
    assert digests[a] == digests[b]
    assert all(x[1] != y[1] for x, y in zip(digests[a], digests[c]))
    for table in ("images", "image_tags", "usage", "truth.scores", "truth.regions"):
        assert rows(a, f"SELECT * FROM {table} ORDER BY ALL") == rows(b, f"SELECT * FROM {table} ORDER BY ALL")
    za, zb = zarr.open_group(str(a / "arrays.zarr"), mode="r"), zarr.open_group(str(b / "arrays.zarr"), mode="r")
    for path in ("users/u0001/images", "users/u0001/anchors", "truth/u0001/regions"):
        assert np.array_equal(za[path][:], zb[path][:])


class DuplicateRenderer(BoxRenderer):
    """Draws the same picture whatever the seed: every still after the first is a duplicate."""

    def render(self, shot):  # noqa: ANN001, ANN201
        out = super().render(shot)
        out.image[:] = np.linspace(0, 255, shot.width, dtype=np.uint8)[None, :, None]
        return out


def test_duplicates_are_rerendered_and_recorded(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import memoire_cli.synth.render as render

    monkeypatch.setattr(render, "make_renderer", lambda name, cache_dir: DuplicateRenderer())
    ws = tmp_path / "w"
    assert cli("synth", "-w", ws, "--user-count", "1", "--images-per-user", "4", "--frames-per-clip", "0", "--image-size", "128",
               "--anchors", "1").exit_code == 0
    attempts = [r[0] for r in rows(ws, "SELECT attempts FROM images ORDER BY idx")]
    assert attempts == [1, 3, 3, 3]
    qc = rows(ws, "SELECT image_id, attempt, check_name, passed, detail FROM qc ORDER BY image_id, attempt")
    assert len(qc) == 9 and all(r[2] == "phash_duplicate" and r[3] is False for r in qc)
    assert "Hamming 0 < 6 to u0000/00000" in qc[0][4] and "kept after the last attempt" in qc[2][4]


def test_tables_agree_with_each_other(cli, box_renderer, tmp_path: Path) -> None:
    ws = tmp_path / "w"
    assert cli("synth", "-w", ws, *TINY).exit_code == 0
    # every image tag is a declared tag of that user; every image has its event's tags
    assert rows(ws, "SELECT count(*) FROM image_tags it ANTI JOIN tags t USING (user_id, tag_id)") == [(0,)]
    assert rows(ws, """SELECT count(*) FROM images i JOIN events e USING (user_id, event_id)
                       ANTI JOIN image_tags it ON it.image_id = i.image_id AND it.tag_id = e.tag_id""") == [(0,)]
    assert rows(ws, "SELECT count(*) FROM users u JOIN (SELECT user_id, count(*) n FROM images GROUP BY 1) c USING (user_id) "
                    "WHERE u.n_images != c.n") == [(0,)]
    assert rows(ws, "SELECT count(*) FROM images i JOIN clips c USING (clip_id) WHERE i.kind != 'video_frame'") == [(0,)]
    # enrolment anchors exist for self and every social-graph member, not for strangers
    assert rows(ws, "SELECT count(*) FROM people p ANTI JOIN anchors a USING (user_id, tag_id) WHERE p.in_graph") == [(0,)]
    assert rows(ws, "SELECT count(*) FROM people p JOIN anchors a USING (user_id, tag_id) WHERE NOT p.in_graph") == [(0,)]
    # the renderer's people regions are exactly P(I)
    assert rows(ws, """SELECT count(*) FROM truth.regions r WHERE kind = 'P'
                       AND NOT EXISTS (SELECT 1 FROM image_tags it WHERE it.image_id = r.image_id AND it.tag_id = r.tag_id)""") == [(0,)]
    m = manifest(cli("status", "-w", ws))
    assert m["rows"]["images"] == rows(ws, "SELECT count(*) FROM images")[0][0]
