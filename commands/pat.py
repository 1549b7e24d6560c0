"""`memoire pat`: personal attention maps A(I): people, location and event masks fused by α (S1.3)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memoire_cli.cli import ForceOpt, JobsOpt, ShardOpt, UsersOpt, WorkspaceOpt, is_job_worker, parent_option, run
from memoire_cli.pat.config import PatConfig  # light: dataclasses only, the defaults' one source
from memoire_cli.pat.grounder import GROUNDERS

HELP = """Personal attention maps A(I): people, location and event masks fused by α (S1.3).

People: packaged SCRFD face detection (θ_det), ArcFace, Hungarian assignment to the enrolment
anchors (τ_match), SAM with the face box or the Gaussian fallback. Places and events: CLIPSeg with
the Table 2 templates and the Table 3 proxy vocabulary, or, without local CLIPSeg weights, a
documented spatial prior. Fusion with the persona's α, 3×3 close, σ = 1 blur, min–max (S1.3.5).

`memoire pat session --session SPEC` instead re-fuses the stored masks of a session's images with
the session-blended α* (S1.2.8); no model runs.
"""

SessionOpt = Annotated[str, typer.Option("--session", help="Which images: all, event:ID, dates:A..B, ids:a,b or ids:@FILE, folder:PREFIX.")]
RhoOpt = Annotated[str, typer.Option("--rho", help="ρ of (16): auto (eq. 17) or a number in [0, 1].")]
OverlayOpt = Annotated[Path | None, typer.Option("--overlay", help="After the run, write a picture of A(I) over the photo of --image (Fig. 6) to this file.", show_default=False)]
ImageOpt = Annotated[str | None, typer.Option("--image", help="The image for --overlay: a file path (relative to the ingested folder, or absolute inside it) or an image id, e.g. u0000/00012.", show_default=False)]
_D = PatConfig()


def command(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    users: UsersOpt = None,
    theta_det: Annotated[float | None, typer.Option("--theta-det", help="Face detection threshold θ_det. Default: Table 1's 0.80 with a --faces pack (the spec's RetinaFace), 0.50 with the packaged SCRFD-500M (its own operating point; see schemas/README.md).", show_default=False)] = None,
    tau_match: Annotated[float, typer.Option("--tau-match", help="ArcFace cosine threshold τ_match (Table 1).")] = _D.tau_match,
    clipseg: Annotated[Path | None, typer.Option("--clipseg", help="Local CLIPSeg folder (default: $MEMOIRE_CLIPSEG or the local Hugging Face cache of CIDAS/clipseg-rd64-refined).", show_default=False)] = None,
    faces: Annotated[Path | None, typer.Option("--faces", help="Another insightface model pack (a folder of ONNX files, e.g. antelopev2 with RetinaFace-style SCRFD and ArcFace r100). Default: the packaged SCRFD-500M + MobileFaceNet.", show_default=False)] = None,
    grounder: Annotated[str, typer.Option("--grounder", help=f"Places and events: {GROUNDERS.choices()} or a plugin of memoire.grounders. auto: CLIPSeg when its weights are local, else cam for ingested photos and prior for synthetic ones; cam: class-activation maps of the packaged ImageNet EfficientNet-Lite0 (the spatial prior for phrases without an ImageNet class); prior: the content-free spatial prior.")] = _D.grounder,
    sam: Annotated[Path | None, typer.Option("--sam", help="Local SAM folder for transformers' SamModel (default: $MEMOIRE_SAM).", show_default=False)] = None,
    overlay: OverlayOpt = None,
    image: ImageOpt = None,
    shard: ShardOpt = None,
    jobs: JobsOpt = "1",
    force: ForceOpt = False,
    session: Annotated[str | None, typer.Option("--session", hidden=True, help="Old spelling of `memoire pat session --session`.")] = None,
    rho: Annotated[str, typer.Option("--rho", hidden=True, help="Old spelling of `memoire pat session --rho`.")] = "auto",
) -> None:
    if ctx.invoked_subcommand is not None:  # `memoire pat session`: the action runs, not the stage
        return
    from memoire_cli.errors import UsageError

    if session is not None:
        import sys

        sys.stderr.write("`pat --session` is now `pat session --session`\n")
        if jobs != "1":
            raise UsageError("--jobs runs PAT; --session re-fuses stored masks in one process")
        return _session(workspace, users, shard, session, rho, overlay, image)

    cfg = PatConfig(theta_det=theta_det, tau_match=tau_match, clipseg=None if clipseg is None else str(clipseg.resolve()),
                    sam=None if sam is None else str(sam.resolve()), faces=None if faces is None else str(faces.resolve()), grounder=grounder)
    for name, path in (("--clipseg", clipseg), ("--sam", sam), ("--faces", faces)):
        if path is not None and not path.is_dir():
            raise UsageError(f"{name} {path}: no such folder")

    GROUNDERS.check(grounder)
    if (overlay is None) != (image is None):
        raise UsageError("--overlay and --image go together")

    from memoire_cli.pat.stage import PatStage
    from memoire_cli.threads import pin_torch_threads

    pin_torch_threads()  # masks must not depend on the machine's thread count ($MEMOIRE_TORCH_THREADS overrides)

    from memoire_cli.pat.overlay import check_image, write_overlay

    check = None if image is None else (lambda ws: check_image(ws, image))
    ws = run(lambda: PatStage(cfg), workspace, users=users, shard=shard, force=force, check=check, jobs=jobs)
    if overlay is not None and image is not None and not is_job_worker():  # with --jobs, the parent draws it
        write_overlay(ws, image, overlay)


def session(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    users: UsersOpt = None,
    session: SessionOpt = "all",
    rho: RhoOpt = "auto",
    overlay: Annotated[Path | None, typer.Option("--overlay", help="After the run, write a picture of A*(I) over the photo of --image to this file.", show_default=False)] = None,
    image: ImageOpt = None,
    shard: ShardOpt = None,
) -> None:
    _session(parent_option(ctx, "workspace", workspace), parent_option(ctx, "users", users), parent_option(ctx, "shard", shard),
             session, rho, overlay, image)


#: Sub-actions (`memoire pat session`).
SUBCOMMANDS = {"session": (session, "Re-fuse the stored masks of a session's images with the session-blended α* (S1.2.8); no model runs.")}


def _session(workspace, users, shard, session: str, rho: str, overlay, image) -> None:  # noqa: ANN001
    """``memoire pat session``: re-fusion with α* for the selected users (memoire_cli/pat/session.py)."""
    from memoire_cli.errors import UsageError
    from memoire_cli.pat.overlay import check_image
    from memoire_cli.pat.session import SessionStage, write_session_overlay

    if (overlay is None) != (image is None):
        raise UsageError("--overlay and --image go together")
    try:
        rho_value = None if rho == "auto" else float(rho)
    except ValueError:
        raise UsageError(f"--rho must be auto or a number in [0, 1], got {rho!r}") from None
    if rho_value is not None and not 0.0 <= rho_value <= 1.0:
        raise UsageError(f"--rho must be auto or a number in [0, 1], got {rho!r}")
    check = None if image is None else (lambda ws: check_image(ws, image))
    ws = run(lambda: SessionStage(session, rho_value), workspace, users=users, shard=shard, check=check)
    if overlay is not None:
        write_session_overlay(ws, image, overlay)
