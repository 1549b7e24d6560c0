"""`memoire ingest`: Read a real photo directory (EXIF, XMP faces and keywords, ratings) into a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memoire_cli.cli import ForceOpt, WorkspaceOpt, run
from memoire_cli.ingest.config import IngestConfig  # light: dataclasses only, the defaults' one source

HELP = """Read a real photo folder into a workspace: the gallery tables synth writes, minus ground truth.

Walks FOLDER (JPEG, PNG, WebP, TIFF; HEIC with pillow-heif; videos at 1 fps, at most 5 frames) and
reads what photo managers keep: EXIF (capture time with offset, GPS, orientation), XMP embedded and
in sidecars (IMG.jpg.xmp, then IMG.xmp): MWG and Microsoft face regions, PersonInImage, keywords
(dc:subject, lr:hierarchicalSubject, digiKam:TagsList), IPTC location, ratings and pick flags;
Google Takeout JSON beside a photo (views, favourites, people).
Favourites come from explicit marks only (pick/accept flags, Takeout favorited), never from star
ratings, which `memoire eval` uses as ground truth (--favourites-from-rating opts in). Rejected
photos (rating -1 or a reject flag, stored as -1) are never in a top-k of `rank` or eval's baselines.
Named faces become person tags (relations from --relations or People/… keywords; unnamed faces
are `unknown`), with an enrolment portrait each; MWG Pet regions become person-like tags (their
name, or `pet`; relation unknown; regions of other types are counted on stderr); events come from Events/… keywords or time gaps
(--event-gap; a burst without a keyword is one event named by its date range), places from IPTC fields or GPS clusters (--place-radius). Re-runs read only new or
changed files and record what changed (ingest_changes). Nothing leaves the machine.
Limits: stills up to 512 MiB and --max-pixels; sidecars up to 16 MiB and Takeout JSON up to 1 MiB,
read only from regular files (a FIFO or a device is noted and ignored). A file that cannot be read,
for whatever reason, is skipped with the reason (ingest_files.detail) and the run goes on.
"""

_D = IngestConfig()


def command(
    folder: Annotated[Path, typer.Argument(help="The photo folder to ingest.", show_default=False)],
    workspace: WorkspaceOpt = None,
    user: Annotated[str, typer.Option("--user", help="User id of this gallery (one gallery stage per user id).")] = "me",
    relations: Annotated[Path | None, typer.Option("--relations", help="YAML or CSV: name → relation (self, mother, friend …) [, reference photo].", show_default=False)] = None,
    image_size: Annotated[int, typer.Option("--image-size", help="Side of the square pixel buffer; images are scaled to fit.")] = _D.image_size,
    anchor_size: Annotated[int, typer.Option("--anchor-size", help="Side of the enrolment portraits (≤ --image-size).")] = _D.anchor_size,
    event_gap: Annotated[float, typer.Option("--event-gap", help="Hours between shots that start a new event (without Events/… keywords).")] = _D.event_gap_h,
    place_radius: Annotated[float, typer.Option("--place-radius", help="GPS clustering radius in km (without IPTC or Places/… names).")] = _D.place_radius_km,
    favourites_from_rating: Annotated[float | None, typer.Option(
        "--favourites-from-rating", metavar="STARS", show_default=False,
        help="Opt-in: rated images of at least STARS stars (1–5) also count as favourites. Off by default: favourites "
             "come only from pick/accept flags and Takeout `favorited`, because the ratings are `memoire eval`'s ground "
             "truth; with it, eval flags favourites as derived from that truth.")] = _D.favourites_from_rating,
    max_pixels: Annotated[int, typer.Option("--max-pixels", help="Larger stills are skipped as decompression bombs.")] = _D.max_pixels,
    force: ForceOpt = False,
) -> None:
    from memoire_cli.errors import UsageError
    from memoire_cli.ingest.config import check_user_id

    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    check_user_id(user)
    cfg = IngestConfig(image_size=image_size, anchor_size=min(anchor_size, image_size),
                       event_gap_h=event_gap, place_radius_km=place_radius, favourites_from_rating=favourites_from_rating, max_pixels=max_pixels)
    people = {}
    if relations is not None:
        from memoire_cli.ingest.relations import load_relations

        people = load_relations(relations, folder)
    from memoire_cli.ingest.stage import IngestStage

    root = folder.resolve()
    run(lambda: IngestStage(root, user, cfg, relations.resolve() if relations else None, people, reread=force),
        workspace, users=None, shard=None, force=force, create=True)
