"""`memoire persona`: train PERSONA-GAT per user: tag importances α_t (global persona), S1.2.5–1.2.7."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memoire_cli.cli import DeviceOpt, ForceOpt, JobsOpt, ShardOpt, UsersOpt, WorkspaceOpt, old_action, parent_option, run
from memoire_cli.persona.config import PersonaConfig  # light: no torch, the defaults' one source

HELP = """Train PERSONA-GAT per user: tag importances α_t (global persona), S1.2.5–1.2.7.

Reads each user's tag graph (memoire graph) and trains, without labels, the relation-aware GAT of
S1.2.5 (h = 4 heads, d = 128, L = 2) with the losses of S1.2.6: NCE context prediction, a weak
ordinal hinge on the prior IPS^0, EMA smoothing; AdamW, curriculum, early stop. Writes α_t, s_t
and their EMA per tag, the training curves, the embeddings z_t and the weights.

`memoire persona update` (S1.2.11, streaming maintenance) instead follows the gallery: it compares
the gallery's digest with the one each user's graph accounts for and reads `ingest_changes` to
see which photos a re-ingest added, removed or retagged. Added photos (images.idx >=
graph_users.n_images) are folded in: tag statistics and co-occurrences of the touched tags,
cold-start nodes for new tags, one forward of the trained model on their 1-hop ego graph (EMA
beta = 0.9, alpha = softmax of the EMA), cold-start blending, pruning to <= 500 nodes. A removed,
edited or retagged photo needs a full run (its old tags are no longer in the gallery): one line
names it and the command fails, unless --full rebuilds those users' graph and persona with the
parameters of their last full runs.
"""

_D = PersonaConfig()


def command(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    users: UsersOpt = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Most epochs per user (early stop: patience 5 on the loss and KL(α‖α_prev) < 1e-3).")] = _D.max_epochs,
    steps_per_epoch: Annotated[int, typer.Option("--steps-per-epoch", help="Full-batch optimisation steps per epoch; 0: as many as fit 48k messages (directed edges), at most 20.")] = _D.steps_per_epoch,
    lr: Annotated[float, typer.Option("--lr", help="AdamW learning rate.")] = _D.lr,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1, help="Run seed (each user trains from a seed derived from it and its id).")] = _D.seed,
    device: DeviceOpt = "auto",
    shard: ShardOpt = None,
    jobs: JobsOpt = "1",
    force: ForceOpt = False,
    full: Annotated[bool, typer.Option("--full", hidden=True, help="Belongs to `memoire persona update` (said so when given here).")] = False,
) -> None:
    if ctx.invoked_subcommand is not None:  # `memoire persona update`: the action runs, not the stage
        return
    from memoire_cli.errors import UsageError

    if full:
        raise UsageError("--full belongs to `memoire persona update`; a plain `memoire persona` run retrains what changed")
    from memoire_cli.threads import pin_torch_threads

    pin_torch_threads(force_import=False)  # a bad $MEMOIRE_TORCH_THREADS is a usage error before any work
    cfg = PersonaConfig(max_epochs=epochs, steps_per_epoch=steps_per_epoch, lr=lr, seed=seed)

    from memoire_cli.persona.config import resolve_device
    from memoire_cli.persona.stage import PersonaStage

    dev = resolve_device(device)
    pin_torch_threads()  # α must not depend on the machine's thread count ($MEMOIRE_TORCH_THREADS overrides)
    run(lambda: PersonaStage(cfg, dev), workspace, users=users, shard=shard, force=force, jobs=jobs)


def update(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    users: UsersOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Rebuild (graph + persona) the users whose gallery changed in a way an update cannot fold in (a removed, edited or retagged photo).")] = False,
) -> None:
    from memoire_cli.threads import pin_torch_threads

    pin_torch_threads(force_import=False)  # a bad $MEMOIRE_TORCH_THREADS is a usage error before any work
    _update(parent_option(ctx, "workspace", workspace), parent_option(ctx, "users", users), full)


#: Sub-actions (`memoire persona update`); a leading _ hides the old spelling kept for scripts.
SUBCOMMANDS = {"update": (update, "Fold new images into the graph and persona (S1.2.11); --full rebuilds what an update cannot."),
           "_train": (old_action(command, "persona train", "persona"), "Old spelling of `memoire persona`.")}


def _update(workspace: Path | None, users: str | None, full: bool) -> None:
    from memoire_cli.persona.update import UpdateConfig, UpdateStage

    run(lambda: UpdateStage(UpdateConfig(), full=full), workspace, users=users)
