"""`memoire label`: Pairwise High/Low personal-impact labels from a vision–language judge (S1.1.10)."""

from __future__ import annotations

from typing import Annotated

import typer

from memoire_cli.cli import DeviceOpt, ForceOpt, JobsOpt, ShardOpt, UsersOpt, WorkspaceOpt, run
from memoire_cli.label import JUDGES
from memoire_cli.label.config import LabelConfig  # light: dataclasses only, the defaults' one source

HELP = """Pairwise High/Low personal-impact labels from a judge of image + A(I) + tag card (S1.1.10).

Per user, up to --max-pairs pairs balanced over same/different event × key person (highest-α
person) × key location, drawn from --seed. Each pair is judged by two prompt variants, the second
with the candidates swapped; the label is kept only when both agree. Judge `offline`: a
deterministic stand-in scoring attention-weighted close people, meaningful places and important
events first, then exposure, contrast, sharpness and composition.
"""

_D = LabelConfig()


def command(
    workspace: WorkspaceOpt = None,
    users: UsersOpt = None,
    max_pairs: Annotated[int, typer.Option("--max-pairs", help="At most this many pairs per user (S1.1.10: 20k).")] = _D.max_pairs,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1, help="Seed of the pair sampling.")] = _D.seed,
    judge: Annotated[str, typer.Option("--judge", help=f"Judge: {JUDGES.choices(auto=False)} or a plugin of memoire.judges. offline: deterministic, no model; qwen-vl: Qwen2.5-VL from a local copy.")] = _D.judge,
    qwen: Annotated[str | None, typer.Option("--qwen", help="Local Qwen2.5-VL folder (default: $MEMOIRE_QWEN_VL or the local Hugging Face cache).", show_default=False)] = None,
    device: DeviceOpt = "auto",
    shard: ShardOpt = None,
    jobs: JobsOpt = "1",
    force: ForceOpt = False,
) -> None:
    LabelConfig(max_pairs=max_pairs, seed=seed, judge=judge)  # the checks
    JUDGES.check(judge, auto=False)
    from memoire_cli.label.stage import LabelStage
    from memoire_cli.threads import pin_torch_threads

    pin_torch_threads(force_import=judge != "offline")  # a model judge: the same labels on every machine
    if device == "auto" and judge != "offline":  # the offline judge needs no torch at all
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    run(lambda: LabelStage(max_pairs=max_pairs, seed=seed, judge=judge, model_dir=qwen, device=device),
        workspace, users=users, shard=shard, force=force, jobs=jobs)
