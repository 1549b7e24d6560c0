"""`memoire graph` as a stage: per user, read the gallery, build the graph, features and IPS⁰ (S1.2.1–S1.2.4).

The runner (:mod:`memoire_cli.stage`) selects users with committed gallery outputs (synth or
ingest), skips those whose fingerprint (parameters, code version, gallery digest) is unchanged, and
commits each user's ``graph_users``, ``graph_nodes`` and ``graph_edges`` rows in one transaction.

When `memoire people` ran on the user's current gallery, the people per image are the ones it kept
and found by face (:mod:`memoire_cli.people.tags`) and its output's digest joins the user's input
digest; otherwise the graph reads the gallery alone, exactly as before.
"""

from __future__ import annotations

from typing import Any

from memoire_cli.graph.build import build_user_graph
from memoire_cli.graph.config import GraphConfig
from memoire_cli.graph.load import load_user
from memoire_cli.stage import Stage, UserOutput
from memoire_cli.workspace import Workspace


class GraphStage(Stage):
    name = "graph"
    code_version = "1"
    inputs = ("gallery",)

    def __init__(self, cfg: GraphConfig | None = None):
        self.cfg = cfg or GraphConfig()

    def params(self) -> dict[str, Any]:
        return self.cfg.as_params()

    def input_digests(self, ws: Workspace, users: list[str]) -> dict[str, str]:
        from memoire_cli.people.tags import with_people

        return with_people(ws, super().input_digests(ws, users))

    def compute(self, ws: Workspace, user_id: str) -> UserOutput:
        from memoire_cli.people.tags import current_people

        people = user_id in current_people(ws)
        return UserOutput(tables=build_user_graph(load_user(ws, user_id, people=people), self.cfg))
