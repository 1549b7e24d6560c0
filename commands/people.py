"""`memoire people`: find the people in every photo by face; list them, and name the unnamed ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memoire_cli.cli import (
    ForceOpt,
    JobsOpt,
    ShardOpt,
    UsersOpt,
    WorkspaceOpt,
    old_action,
    parent_option,
    run,
)
from memoire_cli.people.config import PeopleConfig  # light: dataclasses only, the defaults' one source

HELP = """Find the people in every photo by face; list them; name the unnamed ones.

`memoire people` (between the gallery and graph): every face of every image is detected (packaged
SCRFD at PAT's θ_det, NMS) and embedded (ArcFace) once; faces are matched to the enrolled people
(anchor portraits) by a Hungarian assignment on 1 − cos with τ_match (Table 1). A person found by
face becomes a person tag of the image for graph and pat; a person tag the faces contradict is
flagged on stderr (--fix-names replaces it by the face's person); faces that match nobody are
clustered into unnamed people. pat then reuses these faces instead of detecting again.

`memoire people list` shows the people and unnamed clusters with their counts (--crops DIR writes a
face crop of each; --json prints one JSON line). `memoire people name CLUSTER --as NAME --relation
REL` names a cluster: a new person, and its photos are re-tagged.
"""

_D = PeopleConfig()


def command(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    users: UsersOpt = None,
    theta_det: Annotated[float | None, typer.Option("--theta-det", help="Face detection threshold θ_det. Default: as pat (0.50 for the packaged SCRFD-500M, 0.80 with a --faces pack).", show_default=False)] = None,
    tau_match: Annotated[float, typer.Option("--tau-match", help="ArcFace cosine threshold τ_match (Table 1) for matching a face to an enrolled person.")] = _D.tau_match,
    cluster_distance: Annotated[float | None, typer.Option("--cluster-distance", help="Cosine distance at which unknown faces stop merging into one unnamed person (average linkage). Default: 1 − τ_match.", show_default=False)] = None,
    fix_names: Annotated[bool, typer.Option("--fix-names", help="Replace a person tag the faces contradict by the person the face shows (or drop it when the face is nobody enrolled).")] = _D.fix_names,
    faces: Annotated[Path | None, typer.Option("--faces", help="Another insightface model pack (a folder of ONNX files). Default: the packaged SCRFD-500M + MobileFaceNet.", show_default=False)] = None,
    shard: ShardOpt = None,
    jobs: JobsOpt = "1",
    force: ForceOpt = False,
    crops: Annotated[Path | None, typer.Option("--crops", hidden=True, help="Belongs to `memoire people list`.")] = None,
    as_json: Annotated[bool, typer.Option("--json", hidden=True, help="Belongs to `memoire people list`.")] = False,
) -> None:
    if ctx.invoked_subcommand is not None:  # `memoire people list` / `name`: the action runs, not the stage
        return
    from memoire_cli.errors import UsageError

    if crops is not None or as_json:
        raise UsageError("--crops and --json go with `memoire people list`")

    cfg = PeopleConfig(theta_det=theta_det, tau_match=tau_match, cluster_distance=cluster_distance, fix_names=fix_names,
                       faces=None if faces is None else str(faces.resolve()))
    if faces is not None and not faces.is_dir():
        raise UsageError(f"--faces {faces}: no such folder")

    from memoire_cli.people.stage import PeopleStage
    from memoire_cli.threads import pin_torch_threads

    pin_torch_threads()
    run(lambda: PeopleStage(cfg), workspace, users=users, shard=shard, force=force, jobs=jobs)


def list_(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    users: UsersOpt = None,
    crops: Annotated[Path | None, typer.Option("--crops", help="Write a face crop of each person and cluster into this folder.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line on stdout instead of a table.")] = False,
) -> None:
    from memoire_cli.errors import UsageError

    if crops is not None and crops.exists() and not crops.is_dir():
        raise UsageError(f"--crops {crops}: not a folder")
    _list(parent_option(ctx, "workspace", workspace), parent_option(ctx, "users", users), crops, as_json)


def name(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="The cluster id (from `memoire people list`).", show_default=False)],
    workspace: WorkspaceOpt = None,
    person: Annotated[str, typer.Option("--as", help="The person's name.", show_default=False)] = ...,  # type: ignore[assignment]
    relation: Annotated[str, typer.Option("--relation", help="Their relation to the user (self, spouse, mother, friend, colleague, … or unknown).")] = "unknown",
) -> None:
    _name(parent_option(ctx, "workspace", workspace), cluster, person, relation)


#: Sub-actions (`memoire people list`, `memoire people name`); a leading _ hides the old spelling kept for scripts.
SUBCOMMANDS = {"list": (list_, "The people and unnamed clusters with their counts (--crops DIR: a face crop of each; --json)."),
               "name": (name, "Name an unnamed cluster: a new person, and its photos are re-tagged."),
               "_run": (old_action(command, "people run", "people"), "Old spelling of `memoire people`.")}


def _list(workspace: Path | None, users: str | None, crops: Path | None, as_json: bool) -> None:
    from memoire_cli.console import emit_json
    from memoire_cli.manifest import resolve_workspace
    from memoire_cli.people.catalogue import list_people
    from memoire_cli.workspace import Workspace

    ws = Workspace.open(resolve_workspace(workspace), "people")
    selected = [u.strip() for u in users.split(",") if u.strip()] if users else None
    catalogue = list_people(ws, selected, crops)
    if as_json:
        return emit_json(catalogue)
    lines: list[str] = []
    for user_id, entry in catalogue["users"].items():
        lines.append(f"user {user_id}")
        lines.append("  people                       images  by face  relation")
        lines.extend(f"  {p['name'][:28]:<28} {p['images']:>6} {p['by_face']:>8}  {p['relation'] or ''}"
                     f"{'  ' + p['crop'] if p.get('crop') else ''}" for p in entry["people"])
        lines.append("  unnamed (memoire people name ID --as NAME)  faces  images")
        lines.extend(f"  {c['cluster_id']:<42} {c['faces']:>6} {c['images']:>7}{'  ' + c['crop'] if c.get('crop') else ''}"
                     for c in entry["clusters"])
        for f in entry["flags"]:
            lines.append(f"  flagged: {f['path'] or f['image_id']}: tag {f['tag_id']} ({f['action']})")
    typer.echo("\n".join(lines))


def _name(workspace: Path | None, cluster: str, name: str, relation: str) -> None:
    from memoire_cli.console import stderr_console
    from memoire_cli.manifest import resolve_workspace
    from memoire_cli.people.catalogue import last_config, name_cluster
    from memoire_cli.people.stage import PeopleStage
    from memoire_cli.workspace import Workspace

    ws = Workspace.open(resolve_workspace(workspace), "people")
    named = name_cluster(ws, cluster, name, relation)
    stderr_console().print(f"people: {cluster} ({named['faces']} face(s)) is now {named['name']!r} ({named['relation']}), "
                           f"tag {named['tag_id']} of user {named['user_id']}; re-tagging their photos", markup=False)
    params = last_config(ws, named["user_id"])
    cfg = PeopleConfig.from_params(params)
    run(lambda: PeopleStage(cfg), ws.root, users=named["user_id"])
