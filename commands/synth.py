"""`memoire synth`: synthetic galleries with hidden ground truth (S1.1)."""

from __future__ import annotations

from typing import Annotated

import typer

from memoire_cli.cli import ForceOpt, ShardOpt, WorkspaceOpt, run
from memoire_cli.errors import UsageError

HELP = """Synthesise virtual users' galleries: people, events, calendar, usage, images, hidden truth (S1.1).

Creates the workspace if needed. Defaults are the spec's (100 users, 8–14 events each with
20–40 stills and one clip); --images-per-user shrinks galleries keeping the same structure.
"""


def _check(name: str, value: int | None, lo: int, hi: int | None = None) -> None:
    if value is not None and (value < lo or (hi is not None and value > hi)):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise UsageError(f"{name} must be {bound}, got {value}")


def command(
    workspace: WorkspaceOpt = None,
    users: Annotated[int, typer.Option("--users", help="Number of virtual users (split 80/10/10 train/val/test).")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Run seed: every user, event and image derives from it.")] = 0,
    images_per_user: Annotated[int | None, typer.Option("--images-per-user", help="Stills per user (default: n_e ~ U{20,40} per event).", show_default=False)] = None,
    renderer: Annotated[str, typer.Option("--renderer", help="Image backend: procedural (CPU, no downloads).")] = "procedural",
    image_size: Annotated[int, typer.Option("--image-size", help="Side of the square image buffer, pixels.")] = 512,
    frames_per_clip: Annotated[int, typer.Option("--frames-per-clip", help="Video frames kept per clip (sampled at 1 fps, at most 5).")] = 5,
    anchors: Annotated[int, typer.Option("--anchors", help="Enrolment anchor portraits per person (1–3).")] = 3,
    shard: ShardOpt = None,
    force: ForceOpt = False,
) -> None:
    from memoire_cli.synth.gallery import SynthConfig
    from memoire_cli.synth.render import check_renderer
    from memoire_cli.synth.stage import SynthStage

    _check("--users", users, 1)
    _check("--images-per-user", images_per_user, 1)
    _check("--image-size", image_size, 128, 4096)
    _check("--frames-per-clip", frames_per_clip, 0, 5)
    _check("--anchors", anchors, 1, 3)
    check_renderer(renderer)
    cfg = SynthConfig(users=users, seed=seed, images_per_user=images_per_user, image_size=image_size, anchor_size=min(256, image_size),
                      anchors_per_person=anchors, max_frames_per_clip=frames_per_clip)
    run(lambda: SynthStage(cfg, renderer), workspace, shard=shard, force=force, create=True)
