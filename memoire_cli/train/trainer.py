"""The training loop of the impact predictor (S1.4.2 "Optimization"), with checkpoints and resumption.

AdamW (lr, weight decay), a cosine schedule without restarts over all steps (per step, no warm-up),
``batch_size`` pairs per step (2 × batch images through the network), gradient clipping at 1.0,
FP16 autocast with a gradient scaler on CUDA (FP32 on CPU). Per step: augment (:mod:`.augment`),
score I⁺ and I⁻, L = L_rank + λ L_align (:mod:`.losses`; Grad-CAM needs a second-order backward).
After every epoch the network scores the validation images (eval mode, no augmentation): SRCC
against the per-image win rate (:func:`.data.validation_srcc`), pair accuracy and validation loss;
the epoch with the best SRCC (ties and NaN: then pair accuracy, then the earlier epoch) becomes
``best.pt``. ``last.pt`` holds the weights, optimiser, scheduler and scaler after every epoch: a run
with the same fingerprint that finds it resumes after its epoch.

Inputs per pair: each pair draws which version of the maps it is fed (:mod:`.data`): the global
persona's (ρ = 0) or the whole-gallery session's (ρ by eq. 17), the latter with probability
``session_mix`` — so the network learns on the maps ``rank`` feeds it as well as on those the judge saw.
A frozen backbone (``PredictorConfig.frozen``) runs once per image before the first epoch (its last map
does not depend on A(I)); the steps then train FiLM and the head on the cached maps, without the
augmentations (they would change the cached map; the frozen ImageNet features are what carries the
invariances here).

Determinism: every epoch re-seeds torch's global RNG (dropout) and the augmentation/shuffle generator
from (seed, epoch), so a resumed run equals an uninterrupted one; on CUDA, cuDNN is put in
deterministic mode (S1.4.1 footnote).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError
from memoire_cli.train.config import PredictorConfig, TrainConfig
from memoire_cli.train.data import TrainingData, validation_srcc, win_rates
from memoire_cli.train.predictor import (
    BEST,
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    LAST,
)

GRAD_CLIP = 1.0


@dataclass
class EpochRecord:
    epoch: int
    loss: float | None
    rank_loss: float | None
    align_loss: float | None
    val_loss: float
    val_srcc: float
    val_pair_accuracy: float
    lr: float
    pairs: int
    seconds: float
    pairs_per_s: float | None
    best: bool = False


@dataclass
class TrainResult:
    model: Any
    best_epoch: int
    history: list[EpochRecord] = field(default_factory=list)
    resumed_from: int | None = None
    cache: Any = None  # a frozen backbone's maps of the stored images (trunk_cache), for scoring them again


def _save(obj: dict, path: Path) -> None:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _key(rec: EpochRecord) -> tuple[float, float]:
    srcc = -math.inf if math.isnan(rec.val_srcc) else rec.val_srcc
    acc = -math.inf if math.isnan(rec.val_pair_accuracy) else rec.val_pair_accuracy
    return srcc, acc


def trunk_cache(model: Any, data: TrainingData, device: str, batch: int = 64, console: Any = None) -> Any:
    """A frozen backbone's last map of every stored image (N, C, h, w) on ``device``; None otherwise."""
    import torch

    from memoire_cli.progress import StepProgress
    from memoire_cli.train.network import normalise_rgb

    if not model.config.frozen:
        return None
    parts = []
    model.eval()
    n = len(data.image_ids)
    with StepProgress(console, "train: frozen backbone features (images)", n) as progress:
        for start in range(0, n, batch):
            x = normalise_rgb(torch.from_numpy(data.rgb[start:start + batch]).to(device))
            parts.append(model.trunk(x))
            progress.advance(len(x))
    return torch.cat(parts) if parts else None


def _forward(model: Any, data: TrainingData, rows: np.ndarray, version: Any, device: str, cache: Any,
             gen: Any = None, need_grad_map: bool = False) -> tuple[Any, Any, Any]:
    """(s (B,), the map the head pools (B, C, h, w), attention (B, 1, S, S)) of the store's ``rows``.

    ``version``: 0/1 or a (B,) array of versions. ``gen`` given: training augmentations (fine-tuned
    backbones only). ``need_grad_map``: the returned map requires grad (Grad-CAM of a frozen map)."""
    import torch

    from memoire_cli.train.augment import augment
    from memoire_cli.train.network import normalise_rgb

    a = torch.from_numpy(data.attention[version, rows]).to(device)[:, None]
    p = torch.from_numpy(data.persona[version, rows]).to(device)
    if cache is not None:
        trunk = cache[torch.from_numpy(rows).to(cache.device)]
        if need_grad_map and not model.config.mid:
            trunk = trunk.detach().requires_grad_(True)
        feats = model.from_trunk(trunk, a, p)
        return model.readout(feats, a), feats, a
    x = torch.from_numpy(data.rgb[rows]).to(device)
    if gen is not None:
        xf, a = augment(x.permute(0, 3, 1, 2).float() / 255.0, a, gen)
        x = (xf * 255.0).permute(0, 2, 3, 1)
    s, feats = model.forward_with_features(normalise_rgb(x), a, p)
    return s, feats, a


def score_images(model: Any, data: TrainingData, rows: np.ndarray, device: str, batch: int = 64,
                 version: int = 1, cache: Any = None) -> np.ndarray:
    """Eval-mode s(I) of the store's images ``rows`` (no augmentation), maps of ``version`` (default:
    the whole-gallery session's, what a ranking feeds): (len(rows),) float64."""
    import torch

    model.eval()
    out = np.zeros(len(rows), np.float64)
    with torch.inference_mode():
        for start in range(0, len(rows), batch):
            r = rows[start:start + batch]
            try:
                out[start:start + len(r)] = _forward(model, data, r, version, device, cache)[0].float().cpu().numpy()
            except (RuntimeError, MemoryError) as exc:
                if _oom(exc):
                    raise MemoireError(f"out of memory scoring {len(r)} images on {device}: "
                                       f"try --device cpu or a smaller --input-size") from None
                raise
    return out


def _validate(model: Any, data: TrainingData, cfg: TrainConfig, device: str, targets: np.ndarray,
              cache: Any = None) -> tuple[float, float, float]:
    import torch

    from memoire_cli.train.losses import ranking_loss

    rows = np.unique(np.concatenate([data.val.pos, data.val.neg]))
    if rows.size == 0:
        return float("nan"), float("nan"), float("nan")
    scores = np.full(len(data.image_ids), np.nan)
    scores[rows] = score_images(model, data, rows, device, cache=cache)
    srcc, acc = validation_srcc(scores, data.val)
    t = torch.from_numpy(np.nan_to_num(targets))
    loss = float(ranking_loss(cfg.loss, torch.from_numpy(scores[data.val.pos]), torch.from_numpy(scores[data.val.neg]),
                              t[data.val.pos], t[data.val.neg]))
    return loss, srcc, acc


def _trainable(model: Any) -> list[Any]:
    """The parameters training updates (a frozen backbone's are left out)."""
    return [p for p in model.parameters() if p.requires_grad]


def _oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()


@dataclass
class _Optimisation:
    """The network and what steps it: AdamW over the trainable parameters, the cosine schedule, the AMP scaler."""

    model: Any
    opt: Any
    sched: Any
    scaler: Any


def _cosine(steps: int) -> Callable[[int], float]:
    """The learning-rate factor at a step: cosine from 1 to 0 over ``steps`` steps, then 0."""
    return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, steps) / steps))


def _optimise(model: Any, cfg: TrainConfig, steps: int, scaler: Any) -> _Optimisation:
    import torch

    opt = torch.optim.AdamW(_trainable(model), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return _Optimisation(model, opt, torch.optim.lr_scheduler.LambdaLR(opt, _cosine(steps)), scaler)


def _initial_model(net: PredictorConfig, cfg: TrainConfig, device: str, init: Callable[[Any], None] | None) -> Any:
    """A freshly initialised network on ``device`` (seeded; cuDNN deterministic on CUDA), ``init`` applied."""
    import torch

    from memoire_cli.train.model import build_model

    if device.startswith("cuda"):
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    torch.manual_seed(cfg.seed)
    model = build_model(net)
    if init is not None:
        init(model)
    model.to(device)
    return model


def _resume(run: _Optimisation, cfg: TrainConfig, steps: int, folder: Path, *, fingerprint: str, workspace_id: str,
            name: str, device: str, console: Any) -> tuple[_Optimisation, list[EpochRecord], int | None]:
    """(state, history, last epoch done) from ``last.pt`` when it is this run's (same fingerprint and workspace,
    ``best.pt`` beside it); else ``run`` as given, no history and None."""
    from memoire_cli.train.predictor import model_from_checkpoint, read_checkpoint

    last_path, best_path = folder / LAST, folder / BEST
    if not last_path.is_file():
        return run, [], None
    try:
        ckpt = read_checkpoint(last_path)
    except MemoireError as exc:
        console.print(f"train: ignoring {last_path.name} ({exc}); starting afresh")
        return run, [], None
    if ckpt.get("fingerprint") != fingerprint or ckpt.get("workspace_id") != workspace_id or not best_path.is_file():
        return run, [], None
    resumed = _optimise(model_from_checkpoint(ckpt, last_path).to(device), cfg, steps, run.scaler)
    resumed.opt.load_state_dict(ckpt["optimizer"])  # after the scheduler, whose constructor resets the lr
    resumed.sched.load_state_dict(ckpt["scheduler"])
    resumed.scaler.load_state_dict(ckpt["scaler"])
    epoch = int(ckpt["epoch"])
    console.print(f"train: resuming {name!r} after epoch {epoch} from {last_path.name}")
    return resumed, [EpochRecord(**r) for r in ckpt["history"]], epoch


def _train_step(run: _Optimisation, data: TrainingData, cfg: TrainConfig, idx: np.ndarray, gen: Any, targets: np.ndarray,
                align: float, device: str, cache: Any) -> list[float]:
    """One optimisation step on the training pairs ``idx``; returns [loss, ranking loss, alignment loss]."""
    import torch

    from memoire_cli.train.losses import alignment_loss, gradcam, ranking_loss

    rows = np.concatenate([data.train.pos[idx], data.train.neg[idx]])
    session = (torch.rand(len(idx), generator=gen) < cfg.session_mix).numpy().astype(np.int64)
    version = np.concatenate([session, session])  # both images of a pair see the same persona
    try:
        with torch.autocast("cuda", dtype=torch.float16, enabled=device.startswith("cuda")):
            s, feats, a = _forward(run.model, data, rows, version, device, cache, gen=gen, need_grad_map=align > 0)
        s = s.float()
        half = len(idx)
        t = torch.from_numpy(np.nan_to_num(targets[rows])).float().to(device)
        l_rank = ranking_loss(cfg.loss, s[:half], s[half:], t[:half], t[half:])
        if align > 0:
            cam = gradcam(s, feats, create_graph=True)
            l_align = alignment_loss(cam.float(), a)
            loss = l_rank + align * l_align
        else:
            l_align = torch.zeros(())
            loss = l_rank
        run.opt.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        run.scaler.unscale_(run.opt)
        torch.nn.utils.clip_grad_norm_(_trainable(run.model), GRAD_CLIP)
        run.scaler.step(run.opt)
        run.scaler.update()
        run.sched.step()
    except (RuntimeError, MemoryError) as exc:
        if _oom(exc):
            raise MemoireError(f"out of memory at {cfg.batch_size} pairs per batch on {device}: "
                               f"try a smaller one, e.g. --batch-size {max(1, cfg.batch_size // 2)}") from None
        raise
    return [loss.item(), l_rank.item(), l_align.item()]


def _train_epoch(run: _Optimisation, data: TrainingData, cfg: TrainConfig, epoch: int, targets: np.ndarray, align: float,
                 device: str, cache: Any, console: Any) -> tuple[np.ndarray, float, float]:
    """One pass over the training pairs in an order drawn from (seed, epoch), so a resumed run equals an
    uninterrupted one. Returns the mean (loss, ranking loss, alignment loss) (3,), the epoch's lr, seconds."""
    import torch

    from memoire_cli.progress import StepProgress

    torch.manual_seed(cfg.seed * 100_003 + epoch)
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
    n_pairs = len(data.train)
    perm = torch.randperm(n_pairs, generator=gen).numpy()
    run.model.train()
    lr = run.opt.param_groups[0]["lr"]
    sums = np.zeros(3)
    batches = 0
    t0 = time.perf_counter()
    with StepProgress(console, f"train: epoch {epoch + 1}/{cfg.epochs} (batches)", math.ceil(n_pairs / cfg.batch_size)) as progress:
        for b0 in range(0, n_pairs, cfg.batch_size):
            sums += _train_step(run, data, cfg, perm[b0:b0 + cfg.batch_size], gen, targets, align, device, cache)
            batches += 1
            progress.advance()
    return sums / max(1, batches), lr, time.perf_counter() - t0


def _mark_best(history: list[EpochRecord], rec: EpochRecord) -> None:
    """Append ``rec``, marked the best epoch (by validation SRCC, then pair accuracy) when it beats every earlier one."""
    best_so_far = max((h for h in history if h.epoch >= 0), key=_key, default=None)
    rec.best = best_so_far is None or _key(rec) > _key(best_so_far)
    if rec.best:
        for h in history:
            h.best = False
    history.append(rec)


def _checkpoint(run: _Optimisation, net: PredictorConfig, history: list[EpochRecord], folder: Path, *,
                workspace_id: str, name: str, fingerprint: str) -> None:
    """``best.pt`` (when the last epoch of ``history`` is the best) and ``last.pt`` (with the optimiser's state)."""
    rec = history[-1]
    state = {k: v.detach().cpu() for k, v in run.model.state_dict().items()}
    common = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "config": net.to_dict(), "model": state,
              "workspace_id": workspace_id, "name": name, "fingerprint": fingerprint, "epoch": rec.epoch}
    if rec.best:
        _save({**common, "val_srcc": rec.val_srcc}, folder / BEST)
    _save({**common, "optimizer": run.opt.state_dict(), "scheduler": run.sched.state_dict(), "scaler": run.scaler.state_dict(),
           "history": [vars(h) for h in history]}, folder / LAST)


def _report(console: Any, cfg: TrainConfig, rec: EpochRecord) -> None:
    console.print(f"train: epoch {rec.epoch + 1}/{cfg.epochs}: loss {rec.loss:.4f} (rank {rec.rank_loss:.4f}"
                  + (f", align {rec.align_loss:.3f}" if rec.align_loss is not None else "")
                  + f"), val SRCC {rec.val_srcc:.3f}, pair acc {rec.val_pair_accuracy:.3f}, {rec.pairs_per_s or 0:.1f} pairs/s"
                  + (" *best*" if rec.best else ""))


def train(data: TrainingData, net: PredictorConfig, cfg: TrainConfig, folder: Path, *, fingerprint: str,
          workspace_id: str, name: str, device: str, console: Any, init: Callable[[Any], None] | None = None,
          on_epoch: Callable[[EpochRecord], None] | None = None) -> TrainResult:
    """Train (or resume) and leave ``best.pt``/``last.pt`` in ``folder``; returns the best model (eval mode)."""
    import torch

    from memoire_cli.train.predictor import model_from_checkpoint, read_checkpoint

    folder.mkdir(parents=True, exist_ok=True)
    model = _initial_model(net, cfg, device, init)
    align = cfg.align_weight if net.fusion != "none" else 0.0
    n_pairs = len(data.train)
    steps = max(1, math.ceil(n_pairs / cfg.batch_size)) * cfg.epochs
    run = _optimise(model, cfg, steps, torch.amp.GradScaler("cuda", enabled=device.startswith("cuda")))
    targets = win_rates(data.train, len(data.image_ids))
    val_targets = win_rates(data.val, len(data.image_ids))
    ids = {"workspace_id": workspace_id, "name": name, "fingerprint": fingerprint}
    run, history, resumed = _resume(run, cfg, steps, folder, device=device, console=console, **ids)
    cache = trunk_cache(run.model, data, device, console=console)
    if resumed is None:
        val_loss, srcc, acc = _validate(run.model, data, cfg, device, val_targets, cache)
        history = [EpochRecord(-1, None, None, None, val_loss, srcc, acc, cfg.lr, 0, 0.0, None)]
        console.print(f"train: untrained network: validation SRCC {srcc:.3f}, pair accuracy {acc:.3f}")
    for epoch in range(0 if resumed is None else resumed + 1, cfg.epochs):
        mean, lr, seconds = _train_epoch(run, data, cfg, epoch, targets, align, device, cache, console)
        val_loss, srcc, acc = _validate(run.model, data, cfg, device, val_targets, cache)
        rec = EpochRecord(epoch, float(mean[0]), float(mean[1]), float(mean[2]) if align > 0 else None, val_loss, srcc, acc,
                          lr, n_pairs, seconds, n_pairs / seconds if seconds > 0 else None)
        _mark_best(history, rec)
        _checkpoint(run, net, history, folder, **ids)
        _report(console, cfg, rec)
        if on_epoch is not None:
            on_epoch(rec)
    best = max((h for h in history if h.epoch >= 0), key=_key)
    best_path = folder / BEST
    return TrainResult(model=model_from_checkpoint(read_checkpoint(best_path), best_path), best_epoch=best.epoch,
                       history=history, resumed_from=resumed, cache=cache)
