"""Table 13's Saliency ↔ PAT r (S2.4 B4): the predictor's Grad-CAM, the per-image Pearson r, the ONNX
refusal, and the B4 column of an evaluation — on tiny random networks and a synthetic session (no
workspace pipeline: a few seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memoire_cli.errors import MemoireError

torch.set_num_threads(1)

#: A 3-stage TinyViT small enough to run in milliseconds; at 64 px its last feature map is 4×4.
TINY3 = {"dims": (8, 16, 24), "depths": (1, 1, 1), "heads": (1, 1, 1), "windows": (7, 7, 7), "head_hidden": 16, "film_hidden": 4}
SIZE = 64


def tiny_predictor(fusion: str = "early+mid", seed: int = 0, runtime: str = "torch", name: str = "default"):
    from memoire_cli.train.model import PredictorConfig, build_model
    from memoire_cli.train.predictor import Predictor

    torch.manual_seed(seed)
    model = build_model(PredictorConfig(fusion=fusion, image_size=SIZE, **TINY3))
    with torch.no_grad():  # FiLM starts as the identity; give it a real effect so A(I) matters
        for p in model.films.parameters():
            p.normal_(0.0, 0.2)
    model.eval()
    session = FakeOnnx(model) if runtime == "onnx" else None
    return Predictor(name=name, model_id=f"{name}-test", fusion=fusion, image_size=SIZE, runtime=runtime, sha256="0" * 64,
                     calibration=np.linspace(-1.0, 1.0, 101), _model=session if runtime == "onnx" else model)


class FakeOnnx:
    """An onnxruntime-like session over a torch module (``get_inputs``, ``run``): the ONNX code path
    without exporting a graph."""

    class _Input:
        def __init__(self, name: str) -> None:
            self.name = name

    def __init__(self, model) -> None:
        self.model = model

    def get_inputs(self) -> list:
        return [self._Input("rgb"), self._Input("attention")]

    def run(self, names, feeds):
        with torch.no_grad():
            return [self.model(torch.from_numpy(feeds["rgb"]), torch.from_numpy(feeds["attention"])).numpy()]


def inputs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    att = np.stack([np.exp(-((yy - rng.integers(8, 56)) ** 2 + (xx - rng.integers(8, 56)) ** 2) / 200.0) for _ in range(n)])
    return rgb, att.astype(np.float32)


# ------------------------------------------------------------------------------------ Grad-CAM
@pytest.mark.parametrize("fusion", ["early+mid", "none"])
def test_gradcam_shape_range_and_no_side_effects(fusion: str) -> None:
    import torch.nn.functional as F

    from memoire_cli.train.losses import gradcam
    from memoire_cli.train.predictor import to_network_inputs

    p = tiny_predictor(fusion)
    rgb, att = inputs(5)
    p._model.train()  # saliency must switch dropout off and restore the mode
    sal = p.saliency(rgb, att, batch_size=2)
    assert p._model.training and all(q.grad is None for q in p._model.parameters())
    assert sal.shape == (5, SIZE, SIZE) and sal.dtype == np.float32
    assert np.all((sal >= 0) & (sal <= 1)) and np.allclose(sal.reshape(5, -1).max(axis=1), 1.0)
    # the same Grad-CAM as the training loss's, through the whole forward (eval mode), upsampled and min–max scaled
    p._model.eval()
    x, a = (torch.from_numpy(v) for v in to_network_inputs(rgb, att))
    s, feats = p._model.forward_with_features(x, a)
    cam = F.interpolate(gradcam(s, feats, create_graph=False)[:, None], size=(SIZE, SIZE), mode="bilinear", align_corners=False)[:, 0]
    lo = cam.amin(dim=(1, 2), keepdim=True)
    want = ((cam - lo) / (cam.amax(dim=(1, 2), keepdim=True) - lo)).detach().numpy()
    assert np.allclose(sal, want, atol=1e-5)
    assert np.allclose(p.saliency(rgb, att, batch_size=5), sal, atol=1e-4)  # batching does not matter (float noise)
    scores, sal2 = p.score_and_saliency(rgb, att, batch_size=2)  # one pass: the scores are score()'s, bit for bit
    assert np.array_equal(scores, p.score(rgb, att, batch_size=2)) and np.array_equal(sal2, sal)
    if fusion == "none":  # A(I) is ignored by the RGB-only variant
        assert np.allclose(p.saliency(rgb, 1.0 - att), sal, atol=1e-4)
    else:
        assert not np.allclose(p.saliency(rgb, 1.0 - att), sal, atol=1e-3)


def test_bad_input_shapes() -> None:
    p = tiny_predictor()
    rgb, att = inputs(2)
    with pytest.raises(ValueError, match="inputs must be"):
        p.saliency(rgb, att[:1])
    with pytest.raises(ValueError, match="inputs must be"):
        p.saliency(rgb[:, :32, :32], att[:, :32, :32])


def test_onnx_runtime_refuses_saliency() -> None:
    from memoire_cli.eval.saliency import saliency_pat_r

    p = tiny_predictor(runtime="onnx")
    rgb, att = inputs(2)
    assert p.score(rgb, att).shape == (2,)  # the runtime itself works
    with pytest.raises(MemoireError, match="needs the torch runtime"):
        p.saliency(rgb, att)
    with pytest.raises(MemoireError, match="needs the torch runtime"):
        saliency_pat_r(p, rgb, att)


# ------------------------------------------------------------------------------------ Pearson r
class MapAsSaliency:
    """A predictor stand-in whose saliency is a given function of A(I)."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def saliency(self, rgb, attention, batch_size=32):
        return self.fn(np.asarray(attention, np.float32))


def test_fed_inputs_records_what_rank_user_scored() -> None:
    from memoire_cli.eval.saliency import FedInputs, mean_r, saliency_pat_r
    from memoire_cli.rank import RankOptions, rank_user

    p = tiny_predictor()
    ctx = synthetic_context("u0000")
    plain = rank_user(ctx, p, RankOptions(k=3))
    fed = FedInputs(p, saliency=True)
    ranked = rank_user(ctx, fed, RankOptions(k=3))
    assert ranked.image_ids == plain.image_ids and np.array_equal(ranked.scores, plain.scores) and ranked.selected == plain.selected
    assert fed.rgb is ctx.rgb and fed.attention.shape == fed.saliency.shape == (len(ctx), SIZE, SIZE)
    assert mean_r(fed.saliency, fed.attention) == pytest.approx(saliency_pat_r(p, ctx.rgb, fed.attention), abs=1e-6)
    recorder = FedInputs(p)  # without saliency: a plain pass-through
    rank_user(ctx, recorder, RankOptions(k=3))
    assert recorder.saliency is None and np.array_equal(recorder.attention, fed.attention)


def test_pearson_r_on_constructed_maps() -> None:
    from memoire_cli.eval.saliency import map_correlations, saliency_pat_r

    rgb, att = inputs(4, seed=3)
    assert saliency_pat_r(MapAsSaliency(lambda a: a), rgb, att) == pytest.approx(1.0)
    assert saliency_pat_r(MapAsSaliency(lambda a: 0.3 + 2 * a), rgb, att) == pytest.approx(1.0)  # r is affine-invariant
    assert saliency_pat_r(MapAsSaliency(lambda a: 1.0 - a), rgb, att) == pytest.approx(-1.0)
    # a constant A*(I) is skipped; a constant saliency counts as r = 0; no usable image → NaN
    att2 = att.copy()
    att2[0] = 0.0
    r = map_correlations(att2, att2)
    assert np.isnan(r[0]) and np.allclose(r[1:], 1.0)
    sal = att2.copy()
    sal[1] = 0.5
    r = map_correlations(sal, att2)
    assert np.isnan(r[0]) and r[1] == 0.0 and np.allclose(r[2:], 1.0)
    assert saliency_pat_r(MapAsSaliency(lambda a: a), rgb, np.zeros_like(att)) != saliency_pat_r(MapAsSaliency(lambda a: a), rgb, np.zeros_like(att))
    noise = np.random.default_rng(0).random(att.shape).astype(np.float32)
    assert abs(float(np.mean(map_correlations(noise, att)))) < 0.2
    with pytest.raises(ValueError, match="same"):
        map_correlations(att[:2], att)


# ------------------------------------------------------------------------------------ eval's B4
def synthetic_context(user: str, n: int = 8, seed: int = 0):
    """A UserContext of n 80×64 images with people/location/event masks, without a workspace."""
    from memoire_cli.rank.context import UserContext
    from memoire_cli.session.context import ImageMasks
    from memoire_cli.session.selection import Session
    from memoire_cli.train.predictor import preprocess

    rng = np.random.default_rng(seed)
    node_tags = np.array([1, 2, 3, 10, 11, 20])
    node_types = np.array(["P", "P", "P", "L", "L", "E"], object)
    tags = {1: ("P", "Ann", "family"), 2: ("P", "Bo", "friend"), 3: ("P", "Cy", "colleague"), 10: ("L", "beach", None),
            11: ("L", "home", None), 20: ("E", "birthday", None)}
    h, w = 64, 80
    images, masks, image_tags = [], [], []
    for _ in range(n):
        people = sorted(rng.choice([1, 2, 3], size=int(rng.integers(1, 3)), replace=False).tolist())
        carried = [*people, int(rng.choice([10, 11]))] + ([20] if rng.random() < 0.5 else [])
        stack = []
        for t in carried:
            m = np.zeros((h, w), np.uint8)
            if tags[t][0] == "P":
                y, x = rng.integers(0, h - 24), rng.integers(0, w - 20)
                m[y:y + 24, x:x + 20] = 255
            elif tags[t][0] == "L":
                m[h // 2:] = 160
            else:
                m[:, : w // 2] = 200
            stack.append(m)
        images.append(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        masks.append(ImageMasks(np.array(carried, np.int64), np.array([tags[t][0] for t in carried], object), np.stack(stack)))
        image_tags.append(carried)
    membership = np.array([[t in it for t in node_tags] for it in image_tags], bool)
    emb = rng.normal(size=(n, 16)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    rgb = np.stack([preprocess(im, np.zeros(im.shape[:2], np.float32), SIZE)[0] for im in images])
    start = np.datetime64("2024-05-01T10:00:00", "us")
    return UserContext(
        user_id=user, session=Session("all"), image_ids=[f"{user}/{i:05d}" for i in range(n)], idxs=np.arange(n),
        event_ids=np.array([i // 3 for i in range(n)], np.int64), taken_at=start + np.arange(n) * np.timedelta64(3600, "s").astype("timedelta64[us]"),
        views=rng.random(n), favourite=(rng.random(n) < 0.3).astype(np.float64), image_tags=image_tags, tags=tags,
        node_tags=node_tags, node_types=node_types, node_relations=np.array([tags[t][2] for t in node_tags], object),
        alpha=np.array([0.3, 0.2, 0.1, 0.15, 0.1, 0.15]), graph_params={}, images=images, masks=masks, image_size=SIZE,
        rgb=rgb, embeddings=emb, embedder="test", membership=membership)


class FakeWorkspace:
    """What run_suite asks a workspace for, once contexts and predictors are supplied: model names."""

    def query(self, sql: str, params=None):
        return [("default",), ("hinge",)] if "FROM models" in sql else []


class Quiet:
    def print(self, *args, **kwargs) -> None:
        pass


@pytest.fixture
def suite_env(monkeypatch: pytest.MonkeyPatch):
    """run_suite over two synthetic users with tiny `default` and `hinge` networks (by runtime)."""
    import memoire_cli.train.predictor as predictor_mod
    from memoire_cli.eval.truth import GroundTruth
    from memoire_cli.rank import UserContext

    contexts = {u: synthetic_context(u, seed=i) for i, u in enumerate(("u0000", "u0001"))}
    made: dict = {}

    def load_predictor(ws, name="default", *, runtime="torch", device="cpu"):
        made[name] = tiny_predictor(seed={"default": 0, "hinge": 1}[name], runtime=runtime, name=name)
        return made[name]

    monkeypatch.setattr(predictor_mod, "load_predictor", load_predictor)
    monkeypatch.setattr(UserContext, "load", classmethod(lambda cls, ws, user, session, image_size, **kw: contexts[user]))
    rng = np.random.default_rng(7)
    truth = GroundTruth(pis={u: {i: float(rng.uniform(0, 100)) for i in c.image_ids} for u, c in contexts.items()},
                        source={u: "truth.scores" for u in contexts})
    return truth, contexts, made


def test_eval_b4_reports_saliency_r(suite_env) -> None:
    from memoire_cli.eval.report import markdown, row_dict, table_rows
    from memoire_cli.eval.saliency import saliency_pat_r
    from memoire_cli.eval.suite import FULL, run_suite
    from memoire_cli.rank.ranker import attention_maps
    from memoire_cli.session.blend import session_alpha

    truth, contexts, made = suite_env
    result = run_suite(FakeWorkspace(), truth, "quick", 3, "torch", Quiet())
    b4 = {r.variant: r for r in result.rows if r.section == "B4"}
    assert set(b4) == {"Logistic (ours)", "Hinge (margin=1.0)"}
    for variant, model in (("Logistic (ours)", "default"), ("Hinge (margin=1.0)", "hinge")):
        row = b4[variant]
        assert row.status == "ok" and "not measured" not in row.note and row.n_users == 2
        # independently: A*(I) re-fused from the masks with α*, Grad-CAM of that model, mean over users
        want = []
        for ctx in contexts.values():
            alpha, _, _ = session_alpha(ctx.evidence())
            att, _ = attention_maps(ctx, {int(t): float(a) for t, a in zip(ctx.node_tags, alpha)}, FULL.tag_types)
            want.append(saliency_pat_r(made[model], ctx.rgb, att))
        assert np.isfinite(row.summary["saliency_r"]) and -1 <= row.summary["saliency_r"] <= 1
        assert row.summary["saliency_r"] == pytest.approx(float(np.mean(want)), abs=1e-6)
    assert b4["Logistic (ours)"].summary["saliency_r"] != pytest.approx(b4["Hinge (margin=1.0)"].summary["saliency_r"])
    # only B4 carries it; the report shows the column in Table 13 only
    assert all("saliency_r" not in r.summary for r in result.rows if r.section != "B4")
    rows = [row_dict(r) for r in result.rows]
    summary = {"run_id": "r", "users_note": "2 users", "ground_truth": "truth.scores", "k": 3, "suite": "quick", "embedder": "test",
               "models": result.models, "rows": rows, "runtime": [], "goals": []}
    head, body = table_rows(summary, "B4")
    col = head.index("Saliency↔PAT r ↑")
    assert body[0][col] == f"{b4['Logistic (ours)'].summary['saliency_r']:.3f}"
    assert "Saliency↔PAT r" not in table_rows(summary, "A")[0]
    assert "Saliency↔PAT r ↑" in markdown(summary)


def test_eval_b4_with_onnx_says_not_measured(suite_env) -> None:
    from memoire_cli.eval.suite import run_suite

    truth, _, _ = suite_env
    result = run_suite(FakeWorkspace(), truth, "quick", 3, "onnx", Quiet())
    for row in (r for r in result.rows if r.section == "B4"):
        assert row.status == "ok" and "not measured with ONNX" in row.note
        assert np.isnan(row.summary["saliency_r"]) and np.isfinite(row.summary["srcc"])
