"""`memoire train`: Train the impact predictor (Tiny-ViT, early fusion + FiLM) on judged pairs; export ONNX (S1.4)."""

from __future__ import annotations

from memoire_cli.cli import WorkspaceOpt, not_built

HELP = """Train the impact predictor (Tiny-ViT, early fusion + FiLM) on judged pairs; export ONNX (S1.4)."""


def command(workspace: WorkspaceOpt = None) -> None:
    not_built("train")
