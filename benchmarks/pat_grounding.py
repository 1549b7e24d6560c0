"""Eval-side check of PAT's offline location/event grounders against what the renderer drew (S1.3.3–S1.3.4).

    .venv/bin/python benchmarks/pat_grounding.py WORKSPACE [MAX_IMAGES_PER_USER]

For every location and event region a synthetic gallery records (hidden `truth.regions`, read as `eval`
may), each grounder's mask M for the tag is compared with the drawn region R:

* pointing — the mask's peak lies inside R (the pointing game);
* precision — Σ M·R / Σ M, the share of the mask's mass on the region;
* lift — precision divided by R's share of the image (1.0 = no better than spreading mass uniformly).

Grounders: the spatial prior (`prior`) and ImageNet class-activation maps (`cam`, only for tags with an
ImageNet class; the others are counted separately since they fall back to the prior). Run `memoire synth`
first (no other stage is needed).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main(root: Path, max_images: int) -> None:
    import torch

    from memoire_cli.pat.cam import CamGrounder, tag_classes
    from memoire_cli.pat.clipseg import PriorGrounder
    from memoire_cli.workspace import Workspace

    torch.set_num_threads(1)
    ws = Workspace.open(root, "eval")
    grounders = {"prior": PriorGrounder(), "cam": CamGrounder()}
    tags = {(u, t): (k, n) for u, t, k, n in ws.query("SELECT user_id, tag_id, type, name FROM tags")}
    rows = ws.query("""SELECT r.user_id, r.region_idx, r.image_id, r.tag_id, r.kind, i.idx, i.width, i.height
                       FROM truth.regions r JOIN images i USING (image_id) WHERE r.kind IN ('L', 'E')
                       QUALIFY dense_rank() OVER (PARTITION BY r.user_id ORDER BY i.idx) <= ?
                       ORDER BY r.user_id, i.idx, r.region_idx""", [max_images])
    if not rows:
        raise SystemExit(f"no location/event regions in {root}: run `memoire synth` first")
    results: dict[tuple[str, str, bool], list[tuple[float, float, float]]] = {}
    arrays: dict[str, tuple] = {}
    for user_id, region_idx, _image_id, tag_id, kind, idx, width, height in rows:
        if user_id not in arrays:
            arrays[user_id] = (ws.read_array("images", user_id), ws.read_array("truth_regions", user_id))
        images, regions = arrays[user_id]
        pixels = np.asarray(images[idx])[:height, :width]
        region = np.asarray(regions[region_idx])[:height, :width].astype(np.float32)
        if region.sum() == 0:
            continue
        _, name = tags[(user_id, tag_id)]
        mapped = bool(tag_classes(kind, name))
        for gname, grounder in grounders.items():
            mask = grounder.location_mask(pixels, name) if kind == "L" else grounder.event_mask(pixels, name)
            mass = float(mask.sum())
            if mass <= 0:
                results.setdefault((gname, kind, mapped), []).append((0.0, 0.0, 0.0))
                continue
            peak = np.unravel_index(int(np.argmax(mask)), mask.shape)
            precision = float((mask * region).sum()) / mass
            results.setdefault((gname, kind, mapped), []).append(
                (float(region[peak] > 0), precision, precision / (region.mean() + 1e-9)))
    print(f"{'grounder':<8} {'kind':<5} {'ImageNet class':<15} {'regions':>8} {'pointing':>9} {'precision':>10} {'lift':>6}")
    for (gname, kind, mapped), vals in sorted(results.items(), key=lambda kv: (kv[0][1], not kv[0][2], kv[0][0])):
        v = np.array(vals)
        print(f"{gname:<8} {kind:<5} {'yes' if mapped else 'no (prior)':<15} {len(v):>8} {v[:, 0].mean():>9.1%} "
              f"{v[:, 1].mean():>10.1%} {v[:, 2].mean():>6.2f}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) == 3 else 1_000_000)
