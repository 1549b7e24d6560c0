"""The evaluation suite: Memoire, the baselines, and S2.4's ablations, sweeps and robustness rows.

Every *source* of rankings is evaluated once per user and its per-user metrics reused by every table
row that shows it (Table 9's "Full Memoire" = Table 10's λ = 0.4 = Table 15's 0% noise …):

* Memoire settings (:class:`MemoireSetting`): a model name plus the :class:`memoire_cli.rank.RankOptions`
  knobs (λ, ρ, uniform α, mask types, blur σ) and the in-memory perturbations of
  :mod:`memoire_cli.eval.perturb` (tag noise, graph pruning) and :mod:`memoire_cli.eval.pat_perturb`
  (τ_match, τ, event proxies); ranked by :func:`memoire_cli.rank.rank_user` (full order for SRCC, MMR
  top-k for the set metrics).
* baselines (:mod:`memoire_cli.eval.baselines`): plain score order, top-k = its first k.

Tables (sections), shaped like the spec's:

==========  ================================================================  ==========
section     rows                                                              suite
==========  ================================================================  ==========
comparison  Memoire vs every offline baseline (SRCC ± 95% CI, APS@k, …)        quick
A           Table 9: full, No-PERSONA (A1), No-PAT (A2), No-Diversity (A3),    quick
            No-Session (A4), early-/mid-only fusion (A5), the spec-literal
            FiLM (no π(I)), people/event/location-only masks
B1          Table 10: λ ∈ {0, 0.2, 0.4, 0.6, 0.8}                               quick
B2          Table 11: ρ ∈ {0, 0.25, 0.5, 0.75} by archetype                     full
B4          Table 13: logistic vs hinge, with Saliency↔PAT r                   quick
            (:mod:`memoire_cli.eval.saliency`)
C1          Table 15: tag drop/swap at 0–40 %                                   full
B3          Table 12: persona pruned to top 250/500/1000 nodes, with latency    full
C2          Table 16: strict τ_match (+15 %, more FNs) / lax (−15 %, FPs), by   full
            re-running the face assignment on the stored embeddings; family-
            centric users (the spec's) and all users
B5          Table 14: τ_match, CLIPSeg τ and blur σ scaled together by           full
            ±10/20 % (assignment re-run, stored masks re-tempered, re-fused)
C3          Table 17: half the proxies of the 5 most common events removed,     full
            those event masks re-grounded by the grounder that made them
E           Table 18: A*(I) re-fusion and predictor latency vs masks, size      full
==========  ================================================================  ==========

B5, C2 and C3 need nothing from pat beyond what it stores (:mod:`memoire_cli.eval.pat_perturb`); rows a
workspace cannot support (pat from before the references were stored, a grounder whose weights are not
here) are recorded as not run, with the reason.

Ablations that need another model (A2 ``rgb-only``, A5 ``early-only``/``mid-only``, the spec-literal FiLM
``spec-literal``, B4 ``hinge``) use it
when the ``models`` table has it, else the row says which ``memoire train`` command makes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError, UsageError
from memoire_cli.eval import metrics
from memoire_cli.eval.baselines import (
    BASELINES,
    RANDOM_SEEDS,
    UserSignals,
    baseline_scores,
    ranking_of,
)
from memoire_cli.eval.config import SUITES
from memoire_cli.eval.truth import GroundTruth
from memoire_cli.rank.config import RankOptions
from memoire_cli.table1 import BLUR_SIGMA

#: `memoire rank`'s defaults: the base of every Memoire setting (Table 9's "Full Memoire").
_RANK = RankOptions()
LAMBDAS = (0.0, 0.2, 0.4, 0.6, 0.8)
RHOS = (0.0, 0.25, 0.5, 0.75)
NOISE = (0.0, 0.1, 0.2, 0.3, 0.4)
GRAPH_SIZES = (250, 500, 1000)
#: How each conventional variant model is made (contracts: `memoire train --name N --fusion F --loss L`).
TRAIN_COMMANDS = {
    "default": "memoire train",
    "rgb-only": "memoire train --name rgb-only --fusion none",
    "early-only": "memoire train --name early-only --fusion early",
    "mid-only": "memoire train --name mid-only --fusion mid",
    "hinge": "memoire train --name hinge --loss hinge",
    "spec-literal": "memoire train --name spec-literal",
}
C2_STRICT = 1.15  # τ_match × 1.15: faces whose match cosine falls below are lost (false negatives)
C2_LAX = 0.85  # τ_match × 0.85: Hungarian pairs with a cosine in [0.85 τ_match, τ_match) become matches (false positives)
C2_ARCHETYPE = "family-centric"  # S2.4 C2 perturbs family-centric users; the suite also reports all users
#: B5 (Table 14): τ_match, τ and blur σ scaled together by these factors.
PAT_SCALES = (("Default", 1.0), ("−10% all", 0.9), ("+10% all", 1.1), ("−20% all", 0.8), ("+20% all", 1.2))


@dataclass(frozen=True)
class MemoireSetting:
    """One way of running Memoire: a model and the rank knobs, plus in-memory perturbations."""

    model: str = _RANK.model
    lam: float = _RANK.lam
    rho: float | None = _RANK.rho
    alpha: str = _RANK.alpha
    tag_types: tuple[str, ...] = _RANK.tag_types
    noise: float = 0.0  # C1 tag drop/swap rate
    prune: int | None = None  # B3 nodes kept
    tau_match: float = 1.0  # B5/C2: factor on pat's τ_match (the face assignment re-run)
    tau: float = 1.0  # B5: factor on CLIPSeg's temperature τ (stored L/E masks re-tempered)
    blur: float = 1.0  # B5: factor on the blur σ of A*(I)'s re-fusion
    half_proxies: bool = False  # C3: the common events' masks re-grounded with half their proxies

    @property
    def pat_perturbed(self) -> bool:
        """Whether the stored masks are changed (B5, C2, C3) before the re-fusion."""
        return self.tau_match != 1.0 or self.tau != 1.0 or self.half_proxies

    @property
    def key(self) -> str:
        parts = [f"model={self.model}", f"lam={self.lam:g}", f"rho={'eq17' if self.rho is None else f'{self.rho:g}'}",
                 f"alpha={self.alpha}", f"masks={''.join(self.tag_types)}"]
        if self.noise:
            parts.append(f"noise={self.noise:g}")
        if self.prune is not None:
            parts.append(f"prune={self.prune}")
        if self.tau_match != 1.0:
            parts.append(f"faces=x{self.tau_match:g}")
        if self.tau != 1.0:
            parts.append(f"tau=x{self.tau:g}")
        if self.blur != 1.0:
            parts.append(f"blur=x{self.blur:g}")
        if self.half_proxies:
            parts.append("proxies=half")
        return "memoire:" + ",".join(parts)


@dataclass
class UserResult:
    """One source's metrics for one user."""

    srcc: float
    aps: float
    redundancy: float
    coverage: float
    coverage_events: float
    latency_ms: float
    selected: list[str]
    saliency_r: float = float("nan")  # B4: Saliency ↔ PAT r (mean over the user's images), NaN when not measured


@dataclass
class Row:
    """One row of a spec-shaped table; ``source`` is a MemoireSetting key or ``baseline:NAME``."""

    section: str
    variant: str
    setting: str
    source: str | None
    status: str = "ok"  # ok | missing model | not run | failed
    note: str = ""
    archetype: str | None = None  # B2: only users of this archetype
    flag: str = ""  # reads an input derived from the ground truth (:mod:`memoire_cli.eval.leaks`); "" when not
    summary: dict[str, float] = field(default_factory=dict)
    n_users: int = 0


FULL = MemoireSetting()


def plan_rows(suite: str, k: int) -> tuple[list[Row], dict[str, MemoireSetting]]:
    """The table rows of ``suite`` and the Memoire settings they need (by key)."""
    settings: dict[str, MemoireSetting] = {}
    rows: list[Row] = []

    def mem(section: str, variant: str, setting: str, s: MemoireSetting, **kw: Any) -> None:
        settings[s.key] = s
        rows.append(Row(section, variant, setting, s.key, **kw))

    mem("comparison", "Memoire", f"λ={FULL.lam:g}, ρ=eq. (17), model default", FULL)
    for name in BASELINES:
        note = f"mean over seeds {', '.join(map(str, RANDOM_SEEDS))}" if name == "random" else ""
        rows.append(Row("comparison", name, "baseline", f"baseline:{name}", note=note))
    mem("A", "Full Memoire", "early+mid, λ=0.4, ρ=eq. (17)", FULL)
    mem("A", "No-PERSONA (A1)", "uniform α", replace(FULL, alpha="uniform"))
    mem("A", "No-PAT (A2)", "model rgb-only (fusion none)", replace(FULL, model="rgb-only"))
    mem("A", "No-Diversity (A3)", "λ=0", replace(FULL, lam=0.0))
    mem("A", "No-Session Adaptation (A4)", "ρ=0", replace(FULL, rho=0.0))
    mem("A", "Early-only fusion (A5)", "model early-only", replace(FULL, model="early-only"))
    mem("A", "Mid-only fusion (A5)", "model mid-only", replace(FULL, model="mid-only"))
    mem("A", "Spec-literal FiLM", "model spec-literal (FiLM on A(I) alone, no π(I))", replace(FULL, model="spec-literal"))
    mem("A", "People-only", "masks P", replace(FULL, tag_types=("P",)))
    mem("A", "Event-only", "masks E", replace(FULL, tag_types=("E",)))
    mem("A", "Location-only", "masks L", replace(FULL, tag_types=("L",)))
    for lam in LAMBDAS:
        mem("B1", f"λ={lam:g}", f"{lam:g}", replace(FULL, lam=lam))
    mem("B4", "Logistic (ours)", "model default", FULL)
    mem("B4", "Hinge (margin=1.0)", "model hinge", replace(FULL, model="hinge"))
    if suite == "full":
        for arch in ("family-centric", "travel-centric", "mixed", None):
            for rho in RHOS:
                mem("B2", arch or "all users", f"{rho:g}", replace(FULL, rho=rho), archetype=arch)
        for rate in NOISE:
            mem("C1", "tag drop/swap", f"{rate:.0%}", replace(FULL, noise=rate))
        for n in GRAPH_SIZES:
            mem("B3", f"top {n} nodes", str(n), replace(FULL, prune=n),
                note="persona α pruned in memory (no GAT re-training on the pruned graph)")
        for arch in (C2_ARCHETYPE, None):
            who = arch or "all users"
            mem("C2", "Default", f"τ_match · {who}", FULL, archetype=arch)
            mem("C2", "More FNs (strict τ_match; +15%)", f"×{C2_STRICT:g} · {who}", replace(FULL, tau_match=C2_STRICT), archetype=arch,
                note=f"assignment re-run at {C2_STRICT:g} τ_match: person masks whose face falls below are removed")
            mem("C2", "More FPs (lax τ_match; −15%)", f"×{C2_LAX:g} · {who}", replace(FULL, tau_match=C2_LAX), archetype=arch,
                note=f"assignment re-run at {C2_LAX:g} τ_match: faces it matches get the Gaussian-blob person mask")
        for variant, f in PAT_SCALES:
            mem("B5", variant, f"τ_match, τ, σ ×{f:g}", replace(FULL, tau_match=f, tau=f, blur=f) if f != 1.0 else FULL)
        mem("C3", "Default proxies", "all of K(e)", FULL)
        mem("C3", "Half proxies removed", "5 common events: first ⌈|K(e)|/2⌉ of K(e)", replace(FULL, half_proxies=True))
    else:
        for section, what in (("B2", "session blend ρ by archetype"), ("C1", "tag drop/swap"), ("B3", "graph size vs latency"),
                              ("C2", "face-ID errors"), ("B5", "PAT constants ±10/20 %"), ("C3", "half the event proxies removed"),
                              ("E", "runtime scaling")):
            rows.append(Row(section, what, "", None, status="not run", note="in `--suite full` only"))
    return rows, settings


def available_models(ws: Any) -> set[str]:
    """Names of the models the workspace has (empty when train never ran)."""
    try:
        return {r[0] for r in ws.query("SELECT name FROM models")}
    except Exception:  # noqa: BLE001 - a workspace without the models table yet
        return set()


def user_signals(ws: Any, ctx: Any) -> UserSignals:
    """The baselines' view of a context: usage, time, tags, faces detected by PAT, pixels."""
    faces = dict(ws.query("SELECT image_id, faces FROM pat_images WHERE user_id = ?", [ctx.user_id]))
    people = [sum(1 for t in tags if ctx.tags.get(t, ("?",))[0] == "P") for tags in ctx.image_tags]
    n_faces = np.array([faces.get(i) if faces.get(i) is not None else p for i, p in zip(ctx.image_ids, people)], np.float64)
    return UserSignals(ctx.user_id, list(ctx.image_ids), ctx.taken_at, ctx.views, ctx.favourite,
                       [list(t) for t in ctx.image_tags], n_faces, ctx.images, rejected=ctx.rejected)


def strict_face_masks(ws: Any, ctx: Any, factor: float = C2_STRICT) -> Any:
    """C2 (FN side): the person masks at factor · τ_match (the assignment re-run, or for a workspace without
    stored references the matches whose stored cosine stays ≥ factor · τ_match — the same result)."""
    from memoire_cli.eval.pat_perturb import PatPerturbations

    return PatPerturbations(ws).apply(ctx, "strict", tau_match=factor)


def prepare_pat_rows(ws: Any, users: list[str], rows: list[Row], settings: dict[str, MemoireSetting]) -> Any:
    """Check what B5/C2/C3 need for the evaluated users, mark the rows that cannot run (with the reason) and
    write the readings into the others' notes; return the run's
    :class:`memoire_cli.eval.pat_perturb.PatPerturbations` (C3's events chosen here)."""
    from memoire_cli.eval.pat_perturb import (
        REFS_MISSING,
        PatPerturbations,
        Regrounder,
        common_events,
        half_proxies,
        has_references,
        locate_pat_clipseg,
    )
    from memoire_cli.pat.vocab import event_phrases

    pat = PatPerturbations(ws)
    wanted = [settings[r.source] for r in rows if r.status == "ok" and r.source in settings and settings[r.source].pat_perturbed]
    if not wanted:
        return pat
    lacking = [u for u in users if not has_references(ws, u)]
    found = [pat.user(u) for u in users]
    sam = any(f.sam for f in found)
    offline = sorted(set().union(*(f.mask_sources() for f in found)) & {"prior", "cam"})
    if any(s.half_proxies for s in wanted):
        pat.events = tuple(e for e, _ in common_events(ws, users))
    event_sources = sorted(set().union(*(f.mask_sources(("E",), pat.events) for f in found))) if pat.events else []
    pat.regrounder = Regrounder(locate_pat_clipseg(ws, users) if "clipseg" in event_sources else None)
    blocked = [why for why in (pat.regrounder.available(src) for src in event_sources) if why]
    for row in rows:
        s = settings.get(row.source or "")
        if row.status != "ok" or s is None or not s.pat_perturbed:
            continue
        if (s.tau_match < 1.0 or row.section == "B5") and lacking:  # B5's ±rows run together or not at all
            row.status, row.note = "not run", f"{REFS_MISSING}: {', '.join(lacking[:5])}{' …' if len(lacking) > 5 else ''}"
            continue
        if s.half_proxies and not pat.events:
            row.status, row.note = "not run", "no event with two or more proxy phrases among the evaluated users' images"
            continue
        if s.half_proxies and blocked:
            row.status, row.note = "not run", "; ".join(blocked)
            continue
        notes = [row.note] if row.note else []
        if s.tau_match < 1.0 and sam:
            notes.append("masks added for newly matched faces use the Gaussian blob (pat used SAM)")
        if s.tau != 1.0:
            notes.append("stored L/E masks re-tempered σ(logit(m)·τ/τ′), θ_mask re-applied (values cut at pat time stay 0)"
                         + (f"; {'/'.join(offline)} masks are not CLIPSeg logits: the same transform, read as a sharpness change"
                            if offline else ""))
        if s.half_proxies:
            notes.append("events " + ", ".join(f"{e} ({len(half_proxies(e))}/{len(event_phrases(e))} proxies kept)" for e in pat.events))
            grounders = [src for src in event_sources if src != "prior"]
            if not grounders:
                notes.append("their masks come from the spatial prior, which does not read the proxies: equals Default")
            else:
                notes.append(f"re-grounded by {', '.join(grounders)}"
                             + ("; masks from the spatial prior unchanged" if "prior" in event_sources else ""))
        row.note = "; ".join(notes)
    return pat


def finish_pat_rows(rows: list[Row], settings: dict[str, MemoireSetting], pat: Any, archetypes: dict[str, str]) -> None:
    """After the run: what each B5/C2/C3 perturbation changed for the row's users (masks added, removed,
    re-tempered, re-grounded), and Table 16's Δ SRCC / Δ APS of each C2 row against the Default row of the
    same users."""
    for row in rows:
        s = settings.get(row.source or "")
        by_user = pat.stats.get(row.source or "", {}) if s is not None and s.pat_perturbed else {}
        counts = [c for u, c in by_user.items() if row.archetype is None or archetypes.get(u) == row.archetype]
        if row.status != "ok" or not counts:
            continue
        total = {k: sum(c[k] for c in counts) for k in counts[0]}
        done = [f"{total['added']} person masks added, {total['removed']} removed"] if s.tau_match != 1.0 else []
        done += [f"{total['retempered']} L/E masks re-tempered"] if s.tau != 1.0 else []
        done += [f"{total['regrounded']} event masks re-grounded"] if s.half_proxies else []
        row.note = "; ".join(x for x in (row.note, ", ".join(done)) if x)
    base = {r.archetype: r for r in rows if r.section == "C2" and r.variant == "Default" and r.status == "ok" and r.summary}
    for row in rows:
        ref = base.get(row.archetype)
        if row.section == "C2" and row.variant != "Default" and row.status == "ok" and row.summary and ref is not None:
            d_srcc = row.summary["srcc"] - ref.summary["srcc"]
            d_aps = row.summary["aps"] - ref.summary["aps"]
            row.note = "; ".join(x for x in (row.note, f"Δ SRCC {d_srcc:+.3f}, Δ APS {d_aps:+.1f} vs Default") if x)


def _metrics(ctx: Any, full: list[str], selected: list[str], pis: dict[str, float], latency_ms: float) -> UserResult:
    pos = {i: n for n, i in enumerate(ctx.image_ids)}
    types = {t: v[0] for t, v in ctx.tags.items()}
    sel_tags = [ctx.image_tags[pos[i]] for i in selected]
    emb = ctx.embeddings[[pos[i] for i in selected]] if selected else np.zeros((0, 1))
    return UserResult(metrics.srcc(full, pis), metrics.aps(selected, pis), metrics.redundancy(emb),
                      metrics.coverage(sel_tags, ctx.image_tags, types), metrics.coverage(sel_tags, ctx.image_tags, types, "E"),
                      latency_ms, list(selected))


def evaluate_baseline(name: str, ctx: Any, sig: UserSignals, pis: dict[str, float], k: int) -> UserResult:
    """A baseline's metrics for one user (the random baseline: the mean over its seeds)."""
    results = []
    for scores in baseline_scores(name, sig):
        t0 = time.perf_counter()
        full, top = ranking_of(sig.image_ids, scores, k, sig.rejected)
        results.append(_metrics(ctx, full, top, pis, (time.perf_counter() - t0) * 1e3))
    if len(results) == 1:
        return results[0]
    mean = {f: float(np.mean([getattr(r, f) for r in results])) for f in
            ("srcc", "aps", "redundancy", "coverage", "coverage_events", "latency_ms")}
    return UserResult(**mean, selected=results[0].selected)


def reselect(ctx: Any, ranking: Any, lam: float, k: int) -> list[str]:
    """The MMR top-k of an existing ranking at another λ (B1, A3): the scores — hence the full order and
    SRCC — do not depend on λ, only the selection does. The same steps as :func:`memoire_cli.rank.rank_user`
    (relevance = min–max scores, similarity over the context's embeddings and tags, ties by image id,
    rejected images never candidates)."""
    from memoire_cli.rank.mmr import SimilaritySpace, mmr_select, relevance
    from memoire_cli.rank.ranker import context_matrix

    score_of = dict(zip(ranking.image_ids, np.asarray(ranking.scores, np.float64)))
    scores = np.array([score_of[i] for i in ctx.image_ids])
    id_rank = np.empty(len(ctx), np.int64)
    id_rank[np.argsort(np.array(ctx.image_ids, dtype=str), kind="stable")] = np.arange(len(ctx))
    cand = np.flatnonzero(~np.asarray(ctx.rejected, bool)) if len(ctx.rejected) else np.arange(len(ctx))  # rejected: never picked
    space = SimilaritySpace.build(ctx.embeddings[cand], context_matrix(ctx)[cand])
    picked, _ = mmr_select(relevance(scores[cand]), space, k, lam, tiebreak=id_rank[cand])
    return [ctx.image_ids[i] for i in cand[picked]]


def evaluate_memoire(ws: Any, setting: MemoireSetting, ctx: Any, predictor: Any, pis: dict[str, float], k: int,
                     cache: dict[str, Any] | None = None, saliency: bool = False, pat: Any = None) -> UserResult:
    """Memoire's metrics for one user under ``setting`` (set metrics on the true tags/pixels).

    ``cache`` (per user: setting key → (ranking, ms)) lets settings that differ from a ranked one only
    in λ reuse its scores and re-run the selection alone (:func:`reselect`). ``pat``: the run's
    :class:`memoire_cli.eval.pat_perturb.PatPerturbations` for B5/C2/C3 (made here when not given)."""
    from memoire_cli.eval.perturb import prune_graph, tag_noise
    from memoire_cli.eval.saliency import FedInputs, mean_r
    from memoire_cli.rank import RankOptions, rank_user

    plain = not setting.noise and setting.prune is None and not setting.pat_perturbed and setting.blur == 1.0
    if cache is not None and plain and not saliency and setting.key in cache:  # ranked already (as a λ sweep's base)
        ranking, ms = cache[setting.key]
        return _metrics(ctx, ranking.image_ids, ranking.selected, pis, ms)
    if cache is not None and plain:
        base = replace(setting, lam=FULL.lam)
        if setting.lam != base.lam:
            if base.key not in cache:
                evaluate_memoire(ws, base, ctx, predictor, pis, k, cache)
            ranking, ms = cache[base.key]
            t0 = time.perf_counter()
            selected = reselect(ctx, ranking, setting.lam, k)
            return _metrics(ctx, ranking.image_ids, selected, pis, ms + (time.perf_counter() - t0) * 1e3)
    work = ctx
    if setting.noise:
        work = tag_noise(work, setting.noise)
    if setting.prune is not None:
        work = prune_graph(work, setting.prune)
    if setting.pat_perturbed:
        from memoire_cli.eval.pat_perturb import PatPerturbations

        pat = pat if pat is not None else PatPerturbations(ws)
        work = pat.apply(work, setting.key, tau_match=setting.tau_match, tau=setting.tau, half=setting.half_proxies)
    options = RankOptions(k=k, lam=setting.lam, rho=setting.rho, alpha=setting.alpha, tag_types=setting.tag_types,
                          model=setting.model, runtime=getattr(predictor, "runtime", "torch"), blur_sigma=BLUR_SIGMA * setting.blur)
    t0 = time.perf_counter()
    fed = FedInputs(predictor, saliency=True) if saliency else predictor  # B4: Grad-CAM from the scoring pass
    ranking = rank_user(work, fed, options)
    latency = (time.perf_counter() - t0) * 1e3
    if cache is not None and plain:
        cache[setting.key] = (ranking, latency)
    result = _metrics(ctx, ranking.image_ids, ranking.selected, pis, latency)
    if saliency and fed.saliency is not None:  # B4: Grad-CAM vs exactly the A*(I) the model scored
        result.saliency_r = mean_r(fed.saliency, fed.attention)
    return result


def summarise(row: Row, per_user: dict[str, UserResult], archetypes: dict[str, str]) -> None:
    """Fill ``row.summary``: SRCC mean and bootstrap 95% CI, means of the other metrics."""
    users = [u for u in sorted(per_user) if row.archetype is None or archetypes.get(u) == row.archetype]
    row.n_users = len(users)
    if not users:
        if row.status == "ok":
            row.status, row.note = "not run", (row.note + "; " if row.note else "") + "no evaluated user of this archetype"
        return
    res = [per_user[u] for u in users]
    mean, lo, hi = metrics.mean_ci([r.srcc for r in res])
    row.summary = {"srcc": mean, "srcc_lo": lo, "srcc_hi": hi,
                   "aps": metrics.nanmean(r.aps for r in res),
                   "redundancy": metrics.nanmean(r.redundancy for r in res),
                   "coverage": metrics.nanmean(r.coverage for r in res),
                   "coverage_events": metrics.nanmean(r.coverage_events for r in res),
                   "latency_ms": float(np.median([r.latency_ms for r in res]))}
    if row.section == "B4":
        row.summary["saliency_r"] = metrics.nanmean(r.saliency_r for r in res)


@dataclass
class SuiteResult:
    rows: list[Row]
    per_user: dict[str, dict[str, UserResult]]  # source → user → result
    models: dict[str, dict[str, Any]]  # model name → {model_id, fusion, sha256, runtime}
    embedder: str
    runtime: list[dict[str, Any]]  # E rows
    image_size: int


def check_k(truth: GroundTruth, k: int) -> None:
    for user, pis in sorted(truth.pis.items()):
        if k > len(pis):
            raise UsageError(f"--k {k} is larger than user {user}'s session ({len(pis)} images with ground truth): use --k {len(pis)} or less")


def embedder_for(predictors: dict[str, Any], size: int) -> Any:
    """The embedder `memoire rank` uses by default, so eval's Redundancy@k and MMR match a ranking
    whether or not `rank` ran first: the default predictor's frozen backbone when it is the offline
    default embedder (:class:`memoire_cli.rank.context.PredictorEmbedder`), else the default (None)."""
    from memoire_cli.rank.context import PredictorEmbedder

    p = predictors.get("default")
    return PredictorEmbedder(p) if p is not None and p.image_size == size and PredictorEmbedder.fits(p) else None


def run_suite(ws: Any, truth: GroundTruth, suite: str, k: int, runtime: str, console: Any) -> SuiteResult:
    """Rank and score every source for every evaluated user; returns the filled table rows."""
    from memoire_cli.rank import UserContext
    from memoire_cli.session.selection import Session
    from memoire_cli.train.predictor import load_predictor

    if suite not in SUITES:
        raise UsageError(f"--suite {suite!r}: choose from {', '.join(SUITES)}")
    check_k(truth, k)
    rows, settings = plan_rows(suite, k)
    have = available_models(ws)
    if "default" not in have:
        raise MemoireError("no trained model `default` in this workspace: run `memoire train` first")
    predictors: dict[str, Any] = {}
    models: dict[str, dict[str, Any]] = {}
    for name in sorted({s.model for s in settings.values()}):
        if name not in have:
            continue
        predictors[name] = load_predictor(ws, name, runtime=runtime)
        p = predictors[name]
        models[name] = {"model_id": p.model_id, "fusion": p.fusion, "sha256": p.sha256, "runtime": p.runtime, "image_size": p.image_size}
        console.print(f"eval: model {name!r} ({p.fusion} fusion, {p.runtime}, {p.image_size} px, {p.model_id})")
    for row in rows:
        s = settings.get(row.source or "")
        if s is not None and s.model not in predictors:
            row.status, row.note = "missing model", f"run `{TRAIN_COMMANDS.get(s.model, 'memoire train --name ' + s.model)}` to make it"
    pat = prepare_pat_rows(ws, truth.users(), rows, settings)  # B5/C2/C3: what this workspace supports
    per_user: dict[str, dict[str, UserResult]] = {}
    wanted = {r.source for r in rows if r.status == "ok" and r.source}
    salient = {r.source for r in rows if r.section == "B4" and r.status == "ok"} if runtime == "torch" else set()
    for row in rows:
        if row.section == "B4" and row.status == "ok" and runtime != "torch":
            row.note = "Saliency↔PAT r not measured with ONNX (Grad-CAM needs the torch runtime)"
    embedder = ""
    for user in truth.users():
        pis = truth.pis[user]
        session = Session("all") if truth.source[user] == "truth.scores" else Session("ids", image_ids=tuple(sorted(pis)))
        contexts: dict[int, Any] = {}
        cache: dict[str, Any] = {}
        t0 = time.perf_counter()
        for source in sorted(wanted):
            s = settings.get(source)
            size = predictors[s.model].image_size if s else predictors["default"].image_size
            if size not in contexts:
                contexts[size] = UserContext.load(ws, user, session, image_size=size, embedder=embedder_for(predictors, size))
                embedder = embedder or contexts[size].embedder
            ctx = contexts[size]
            missing = [i for i in ctx.image_ids if i not in pis]
            if missing:
                from memoire_cli.image_names import image_name

                raise MemoireError(f"user {user}: {image_name(ws, missing[0]).label} has no ground-truth score")
            if s is None:
                sig = user_signals(ws, ctx)
                result = evaluate_baseline(source.split(":", 1)[1], ctx, sig, pis, k)
            else:
                result = evaluate_memoire(ws, s, ctx, predictors[s.model], pis, k, cache, saliency=source in salient, pat=pat)
            per_user.setdefault(source, {})[user] = result
        pat.users.pop(user, None)  # its faces and references are not needed again
        console.print(f"eval: {user}: {len(pis)} images, {len(wanted)} rankings in {time.perf_counter() - t0:.1f} s")
    for row in rows:
        if row.status == "ok" and row.source in per_user:
            summarise(row, per_user[row.source], truth.archetype)
    finish_pat_rows(rows, settings, pat, truth.archetype)
    timings = runtime_scaling(predictors["default"]) if suite == "full" else []
    return SuiteResult(rows, per_user, models, embedder, timings, predictors["default"].image_size)


def _median_p95(fn: Any, reps: int) -> tuple[float, float]:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), float(np.percentile(times, 95))


def runtime_scaling(predictor: Any, reps: int = 7) -> list[dict[str, Any]]:
    """Table 18 (E), measured here: A*(I) re-fusion from m stored masks (PAT Δ over 0 masks) and the
    predictor at batch 1, on synthetic inputs at the model's size; resolutions time the re-fusion only
    (the model takes one input size)."""
    from memoire_cli.session.refusion import refuse

    rng = np.random.default_rng(0)
    size = predictor.image_size
    out: list[dict[str, Any]] = []

    def masks(m: int, s: int) -> np.ndarray:
        return rng.integers(0, 256, (m, s, s), dtype=np.uint8)

    rgb = rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    att = rng.random((1, size, size)).astype(np.float32)
    pred_med, pred_p95 = _median_p95(lambda: predictor.score(rgb, att, batch_size=1), reps)
    base = {}
    for s in sorted({size, 224, 320, 384}):
        zero = np.zeros((1, s, s), np.uint8)
        base[s] = _median_p95(lambda z=zero: refuse(z, [0.0]), reps)[0]
    for factor, settings in (("# faces (people masks)", (0, 1, 3, 5)), ("# event proxies (masks)", (10, 30, 60))):
        for m in settings:
            mk = masks(m, size) if m else np.zeros((1, size, size), np.uint8)
            med, p95 = _median_p95(lambda mk=mk: refuse(mk, [1.0 / max(1, len(mk))] * len(mk)), reps)
            out.append({"factor": factor, "setting": str(m), "pat_delta_ms": med - base[size], "pat_p95_ms": p95,
                        "predictor_ms": pred_med, "predictor_p95_ms": pred_p95})
    for s in (224, 320, 384):
        mk = masks(3, s)
        med, p95 = _median_p95(lambda mk=mk: refuse(mk, [1 / 3] * 3), reps)
        out.append({"factor": "resolution (3 masks)", "setting": str(s), "pat_delta_ms": med - base[size], "pat_p95_ms": p95,
                    "predictor_ms": pred_med if s == size else float("nan"), "predictor_p95_ms": pred_p95 if s == size else float("nan")})
    return out
