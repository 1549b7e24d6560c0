"""`memoire rank`: Session-adapted, diversity-aware top-k of a session with reasons (S1.2.8, S2.4)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from memoire_cli.cli import DeviceOpt, ForceOpt, JobsOpt, ShardOpt, UsersOpt, WorkspaceOpt
from memoire_cli.embed import EMBEDDERS
from memoire_cli.rank.config import RankOptions  # light: dataclasses only, the defaults' one source

#: Old option spellings that still work (one stderr line): `--alpha` is graph's weight α of (6).
RENAMED = {"--alpha": "--tag-weights"}

HELP = """Session-adapted, diversity-aware top-k of a session with reasons (S1.2.8, S2.4).

Per user: the session's persona α* (session prior and ρ of eq. 17, blended with the global α),
attention maps A*(I) re-fused from PAT's stored per-tag masks with α*, impact scores from the
trained predictor (`memoire train`; PyTorch checkpoint or ONNX export), and the top k chosen by
maximal marginal relevance (λ = 0.4) over the min–max-normalised scores, with similarity = ½
cosine of (centred) image embeddings + ½ Jaccard overlap of the images' people/place/event tags
and event. Ties go to the smaller image id. The picks and the tags that carried their attention
are shown on stderr; stdout gets the manifest, or with --json the ranking itself. Ingested photos
are named by their file (path relative to the photo folder; --json adds `path` beside `image_id`)
and dated in their own local time (`taken`, as their EXIF/XMP offset says).

Sessions: all | event:ID | dates:YYYY-MM-DD..YYYY-MM-DD (local days) | ids:a,b,c | ids:@FILE |
folder:PREFIX; ids are image ids or ingested files' paths (at most 200,000; an @FILE is a regular
UTF-8 text file of at most 16 MiB).
"""

_D = RankOptions()


def command(
    workspace: WorkspaceOpt = None,
    session: Annotated[str, typer.Option("--session", help="Which images: all, event:ID, dates:A..B, ids:a,b / ids:@FILE (image ids or file paths), folder:PREFIX.")] = "all",
    k: Annotated[int, typer.Option("--k", "-k", help="How many images to pick (S2.2: 20).")] = _D.k,
    lam: Annotated[float, typer.Option("--lambda", help="MMR diversity weight λ in [0, 1] (0: no diversity, A3).")] = _D.lam,
    rho: Annotated[str, typer.Option("--rho", help="Session blend ρ (16): auto (eq. 17) or a number in [0, 1] (0: no session adaptation, A4).")] = "auto",
    alpha: Annotated[str, typer.Option("--tag-weights", help="Tag weights α fused into A*(I): persona (the learned α) or uniform (A1 No-Persona).")] = _D.alpha,
    tag_types: Annotated[str, typer.Option("--tag-types", help="Mask types fused into A*(I): any of P, L, E.")] = "".join(_D.tag_types),
    model: Annotated[str, typer.Option("--model", help="Model name (`memoire train --name`).")] = _D.model,
    runtime: Annotated[str, typer.Option("--runtime", help="torch (checkpoint) or onnx (the export, onnxruntime).")] = _D.runtime,
    embedder: Annotated[str, typer.Option("--embedder", help=f"Image embedder: {EMBEDDERS.choices()} or a plugin of memoire.embedders. auto: the first available of CLIP (local), EfficientNet-Lite0 (packaged), colour-texture.")] = "auto",
    clip: Annotated[str | None, typer.Option("--clip", help="Local CLIP folder (default: $MEMOIRE_CLIP or the Hugging Face cache).", show_default=False)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the ranking itself (JSON) on stdout instead of the manifest.")] = False,
    contact_sheet: Annotated[Path | None, typer.Option("--contact-sheet", help="Write an image (PNG/JPEG) of the top k with their attention overlays, cropped around faces, captioned with file, stars and reasons.", show_default=False)] = None,
    show: Annotated[int, typer.Option("--show", help="Print the picks of at most this many users on stderr.")] = 1,
    users: UsersOpt = None,
    shard: ShardOpt = None,
    device: DeviceOpt = "auto",
    force: ForceOpt = False,
    jobs: JobsOpt = "1",
) -> None:
    from memoire_cli.errors import UsageError
    from memoire_cli.session.selection import parse_session
    from memoire_cli.vocabulary import TAG_TYPES

    rho_value: float | None = None
    if rho.strip().lower() != "auto":
        try:
            rho_value = float(rho)
        except ValueError:
            raise UsageError(f"--rho must be auto or a number in [0, 1], got {rho!r}") from None
    types = tuple(t for t in TAG_TYPES if t in tag_types.upper())
    if not types or set(tag_types.upper()) - set(TAG_TYPES):
        raise UsageError(f"--tag-types must be letters among P, L, E, got {tag_types!r}")
    options = RankOptions(k=k, lam=lam, rho=rho_value, alpha=alpha, tag_types=types, model=model, runtime=runtime)
    if contact_sheet is not None and contact_sheet.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise UsageError(f"--contact-sheet must end in .png, .jpg or .jpeg, got {contact_sheet}")
    if show < 0:
        raise UsageError("--show must be ≥ 0")
    parsed = parse_session(session)
    run_rank(workspace, parsed, options, embedder=embedder, clip=clip, device=device, users=users, shard=shard,
             force=force, json_out=json_out, contact_sheet=contact_sheet, show=show, jobs=jobs)


def run_rank(workspace: Path | None, session: Any, options: Any, *, embedder: str, clip: str | None, device: str,
             users: str | None, shard: str | None, force: bool, json_out: bool, contact_sheet: Path | None, show: int,
             jobs: str = "1") -> None:
    """Open the workspace, check the request, rank, show the picks; stdout: the manifest or (--json) the ranking.
    ``jobs``: the users in that many worker processes (:mod:`memoire_cli.runner.jobs`); the parent shows."""
    from memoire_cli.cli import run
    from memoire_cli.rank.display import (
        print_table,
        ranking_json,
        read_rankings,
        write_contact_sheet,
    )
    from memoire_cli.rank.stage import RankStage, model_row
    from memoire_cli.session.selection import check_session
    from memoire_cli.stage import parse_selection

    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    selection = parse_selection(users, shard)
    stage = RankStage(session, options, embedder=embedder, clip=clip, device=device)
    chosen: list[str] = []

    def check(ws: Any) -> None:
        chosen[:] = selection.apply(stage.universe(ws))
        model_row(ws, options.model)  # a clear error before any work when the model is missing
        check_session(ws, chosen, session)

    def show_picks(ws: Any, manifest: dict[str, Any]) -> dict[str, Any]:
        from memoire_cli.console import stderr_console

        console = stderr_console()
        ranked = read_rankings(ws, chosen)
        for r in ranked[:show]:
            print_table(console, r)
        if len(ranked) > show:
            console.print(f"rank: {len(ranked) - show} more user(s) ranked (see --show, --json or the rankings table)")
        if contact_sheet is not None:
            write_contact_sheet(ws, ranked, contact_sheet)
            console.print(f"rank: contact sheet of the top {options.k} written to {contact_sheet}")
        return ranking_json(manifest, ranked) if json_out else manifest

    run(lambda: stage, workspace, users=users, shard=shard, force=force, check=check, jobs=jobs, show=show_picks)
