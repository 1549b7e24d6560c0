"""`memoire persona update` (S1.2.11) cost against the gallery size, on one CPU core.

    .venv/bin/python benchmarks/bench_persona_update.py [--sizes 1000,10000,100000] [--repeats 5]

For each size N a workspace with one user of N images is built directly as tables (300 tags:
120 people, 90 places, 90 events with Zipf popularity; each image has one place, one event and
0–3 people; usage known), then ``memoire graph`` and a one-step ``memoire persona`` (only to have
trained weights; training time is not the point here). Timed, best of ``--repeats``:

* **update**: append one image (three existing tags and one new person) and run
  :func:`memoire_cli.persona.update.run_update` end to end (reads, the update, the z array and the
  one-transaction commit);
* **update core**: the in-memory part of the same update (steps 1–6 and the ego-graph forward,
  :func:`~memoire_cli.persona.update.update_state`), without the database and Zarr round trips;
* **full**: what a full refresh costs instead: the graph stage's build for the user
  (``load_user`` + ``build_user_graph``) plus one PERSONA-GAT forward on the whole graph (no
  training, which would cost far more), in memory as the update core is;
* **graph stage**: ``memoire graph --force`` for the user end to end (reads, build, commit, run
  records: the same kind of database round trips the update pays), timed once after the updates.

The update should stay roughly flat in N (its cost follows the ego graph of the new image's tags),
while the full path grows with the gallery; ratios are printed per size. End to end, the update's
wall time is mostly its three short DuckDB write transactions (run record, commit, run record),
a constant.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

USER = "u0000"
RELS = ["self", "father", "mother", "spouse", "son", "daughter", "sibling", "grandparent", "cousin", "friend", "colleague", "unknown"]


def quiet() -> object:
    from rich.console import Console

    return Console(file=open(os.devnull, "w"))  # noqa: SIM115


def build(root: Path, n_images: int, seed: int = 0) -> None:
    """A workspace with one user of ``n_images`` images, written as tables (no pixels)."""
    from memoire_cli.workspace import Workspace, utcnow

    rng = np.random.default_rng(seed)
    ws = Workspace.open(root, "synth", create=True)
    n_p, n_l, n_e = 120, 90, 90
    types = ["P"] * n_p + ["L"] * n_l + ["E"] * n_e
    relations = [RELS[i % len(RELS)] if t == "P" else None for i, t in enumerate(types)]

    def zipf(n: int, size: int) -> np.ndarray:
        p = 1.0 / np.arange(1, n + 1) ** 1.1
        return rng.choice(n, size=size, p=p / p.sum())

    start = np.datetime64("2024-01-01T00:00:00", "us")
    times = start + (np.sort(rng.random(n_images)) * 540 * 86_400e6).astype("timedelta64[us]")
    ids = np.array([f"{USER}/{i:06d}" for i in range(n_images)], dtype=object)
    img_idx, tag_ids = [np.arange(n_images), np.arange(n_images)], [zipf(n_l, n_images) + n_p, zipf(n_e, n_images) + n_p + n_l]
    k_people = rng.integers(0, 4, n_images)
    for j in range(3):
        has = k_people > j
        img_idx.append(np.flatnonzero(has))
        tag_ids.append(zipf(n_p, int(has.sum())))
    img = np.concatenate(img_idx)
    tag = np.concatenate(tag_ids)
    _, first = np.unique(img * 1000 + tag, return_index=True)
    img, tag = img[first], tag[first]

    def obj(values: object) -> np.ndarray:
        out = np.empty(len(values), dtype=object)  # type: ignore[arg-type]
        out[:] = list(values)  # type: ignore[call-overload]
        return out

    def write(con: object) -> None:
        con.execute("INSERT INTO users (user_id, user_index, split, seed, now, n_images, image_size) VALUES (?, 0, 'test', 0, ?, ?, 64)",
                    [USER, times[-1].astype(object), n_images])
        con.register("t", {"tag_id": np.arange(len(types), dtype=np.int32), "type": obj(types), "relation": obj(relations)})
        con.execute(f"INSERT INTO tags (user_id, tag_id, type, name, relation) SELECT '{USER}', tag_id, type, 'tag' || tag_id, relation FROM t")
        con.register("i", {"image_id": ids, "idx": np.arange(n_images, dtype=np.int32), "taken_at": times,
                           "views": rng.integers(0, 50, n_images).astype(np.int32), "fav": rng.random(n_images) < 0.1})
        con.execute(f"INSERT INTO images (user_id, image_id, idx, kind, taken_at) SELECT '{USER}', image_id, idx, 'still', taken_at FROM i")
        con.execute(f"INSERT INTO usage SELECT '{USER}', image_id, views, views / 49.0, fav FROM i")
        con.register("p", {"image_id": ids[img], "tag_id": tag.astype(np.int32)})
        con.execute(f"INSERT INTO image_tags SELECT '{USER}', image_id, tag_id FROM p")
        con.execute("INSERT INTO stage_users VALUES ('synth', ?, 'bench', 'bench', 'bench', ?)", [USER, utcnow()])

    ws.transaction(write)


def append_image(root: Path, k: int) -> None:
    """One new image: two existing people, a place and an event of middling popularity (Zipf rank
    ~30–40: the top tags are hubs linked to most of the graph), and a new person."""
    import duckdb

    con = duckdb.connect(str(root / "memoire.duckdb"))
    try:
        n, last = con.execute("SELECT count(*), max(taken_at) FROM images WHERE user_id = ?", [USER]).fetchone()
        new_tag = con.execute("SELECT max(tag_id) + 1 FROM tags WHERE user_id = ?", [USER]).fetchone()[0]
        con.execute("INSERT INTO tags (user_id, tag_id, type, name, relation) VALUES (?, ?, 'P', 'new', 'friend')", [USER, new_tag])
        image_id = f"{USER}/n{k:05d}"
        con.execute("INSERT INTO images (user_id, image_id, idx, kind, taken_at) VALUES (?, ?, ?, 'still', ?)", [USER, image_id, n, last])
        con.execute("INSERT INTO usage VALUES (?, ?, 5, 0.1, false)", [USER, image_id])
        for t in (30, 41, 120 + 35, 210 + 35, new_tag):
            con.execute("INSERT INTO image_tags VALUES (?, ?, ?)", [USER, image_id, t])
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import memoire_cli.persona.update as up
    from memoire_cli.graph.build import build_user_graph
    from memoire_cli.graph.config import GraphConfig
    from memoire_cli.graph.load import load_user
    from memoire_cli.graph.stage import GraphStage
    from memoire_cli.persona.model import edge_tensors
    from memoire_cli.persona.stage import PersonaStage, read_graph
    from memoire_cli.persona.train import PersonaConfig
    from memoire_cli.persona.update import UpdateConfig, load_model, run_update
    from memoire_cli.runner import run_stage
    from memoire_cli.stage import Selection
    from memoire_cli.workspace import Workspace

    print(f"torch threads: {torch.get_num_threads()}")
    core: list[float] = []
    inner = up.update_state

    def timed(*a: object, **k: object) -> object:
        t0 = time.perf_counter()
        out = inner(*a, **k)
        core.append(time.perf_counter() - t0)
        return out

    up.update_state = timed
    print(f"{'images':>8} {'nodes':>6} {'edges':>6} {'ego':>5} {'update ms':>10} {'core ms':>8} {'full ms':>9} {'graph ms':>9} "
          f"{'forward ms':>10} {'stage ms':>9} {'full/core':>9} {'stage/update':>12}")
    for n_images in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "w"
            build(root, n_images)
            run_stage(Workspace.open(root, "graph"), GraphStage(), Selection(), False, quiet())
            pcfg = PersonaConfig(max_epochs=1, steps_per_epoch=1)
            run_stage(Workspace.open(root, "persona"), PersonaStage(pcfg, "cpu"), Selection(), False, quiet())
            ws = Workspace.open(root, "persona")
            model = load_model({**pcfg.as_params()}, np.asarray(ws.read_array("persona_weights", USER)[...]))
            model.eval()

            upd, full_graph, full_fwd = [], [], []
            core.clear()
            for k in range(args.repeats):
                append_image(root, k)
                t0 = time.perf_counter()
                m = run_update(Workspace.open(root, "persona"), Selection(), UpdateConfig(), quiet())
                upd.append(time.perf_counter() - t0)
                assert m["computed"] == 1, m
                t0 = time.perf_counter()
                build_user_graph(load_user(ws, USER), GraphConfig())
                t1 = time.perf_counter()
                g = read_graph(ws, USER)
                ei, ea = edge_tensors(g.n_nodes, g.src, g.dst, g.weight)
                with torch.no_grad():
                    model(torch.from_numpy(g.x), ei, ea)
                t2 = time.perf_counter()
                full_graph.append(t1 - t0)
                full_fwd.append(t2 - t1)
            t0 = time.perf_counter()
            run_stage(Workspace.open(root, "graph"), GraphStage(), Selection(), True, quiet())
            stage_ms = (time.perf_counter() - t0) * 1e3
            g = read_graph(ws, USER)
            u, fg, ff = min(upd) * 1e3, min(full_graph) * 1e3, min(full_fwd) * 1e3
            refreshed = _last_ego(ws)
            c = min(core) * 1e3
            print(f"{n_images:>8} {g.n_nodes:>6} {g.n_edges:>6} {refreshed:>5} {u:>10.1f} {c:>8.1f} {fg + ff:>9.1f} {fg:>9.1f} "
                  f"{ff:>10.1f} {stage_ms:>9.1f} {(fg + ff) / c:>9.2f} {stage_ms / u:>12.2f}")


def _last_ego(ws: object) -> int:
    """Size of the 1-hop ego graph of the last new image's tags, from the committed edges (what the
    last update ran its forward on)."""
    rows = ws.query(  # type: ignore[attr-defined]
        f"""WITH t AS (SELECT g.node FROM image_tags it JOIN images i USING (image_id)
                      JOIN graph_nodes g ON g.user_id = it.user_id AND g.tag_id = it.tag_id
                      WHERE it.user_id = '{USER}' AND i.idx = (SELECT max(idx) FROM images WHERE user_id = '{USER}'))
            SELECT count(DISTINCT n) FROM (SELECT node AS n FROM t
              UNION ALL SELECT CASE WHEN e.src IN (SELECT node FROM t) THEN e.dst ELSE e.src END
              FROM graph_edges e WHERE e.user_id = '{USER}' AND (e.src IN (SELECT node FROM t) OR e.dst IN (SELECT node FROM t)))""")
    return int(rows[0][0])


if __name__ == "__main__":
    main()
