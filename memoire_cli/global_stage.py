"""Stages that compute once over many users: ``train`` (one predictor from every training user's
labels) and ``eval`` (one report over the evaluated users).

The runner (:mod:`memoire_cli.runner`) commits a per-user stage's outputs user by user; a global stage
has one output set, so its bookkeeping is simpler but follows the same contracts (DESIGN.md):

* **Fingerprint** — parameters + code version + the digests of every input user's committed
  upstream outputs (:func:`memoire_cli.stage.committed_inputs`, as DVC's lock file hashes content),
  plus whatever :meth:`GlobalStage.extra_digest` adds (a model file's checksum, a ratings table's).
* **Caching** — when a ``done`` run of the stage with the same fingerprint is recorded in ``runs``
  and :meth:`GlobalStage.outputs_exist` agrees, the stage does nothing and says so (``--force`` redoes it).
* **Records** — one ``runs`` row: ``running`` → ``done`` | ``skipped`` | ``failed`` | ``interrupted``,
  with the error's first line; ``users`` is the number of input users.
* **Writes** — the stage writes its own outputs inside :meth:`GlobalStage.run`: rows in short
  :meth:`Workspace.transaction` calls, files to a temporary name then :func:`os.replace`, so an
  interruption leaves the previous outputs intact. Resumption (e.g. training from ``last.pt``)
  is the stage's own business.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from memoire_cli import __version__
from memoire_cli.stage import canonical_json, committed_inputs, input_users, sha16
from memoire_cli.workspace import Workspace


class GlobalStage(ABC):
    """A stage with one output set computed from many users' upstream outputs.

    Subclasses set ``name``, ``code_version`` and ``inputs`` (upstream stage names; ``"gallery"``
    stands for synth or ingest) and implement :meth:`params` and :meth:`run`.
    """

    name: str = ""
    code_version: str = "1"
    inputs: tuple[str, ...] = ()

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The parameters that change the outputs (they enter the fingerprint)."""

    def users(self, ws: Workspace) -> list[str]:
        """The input users: those with committed outputs of every input stage (sorted)."""
        return input_users(ws, self.name, self.inputs)

    def extra_digest(self, ws: Workspace, users: list[str]) -> str:
        """Anything else the outputs depend on (a model file's checksum, …); empty by default."""
        return ""

    def outputs_exist(self, ws: Workspace, fingerprint: str) -> bool:
        """Whether the outputs of a recorded run with ``fingerprint`` are still there (caching)."""
        return True

    @abstractmethod
    def run(self, ws: Workspace, users: list[str], run_id: str, fingerprint: str, console: Any) -> dict[str, Any]:
        """Do the work and write the outputs; returns extra manifest fields."""

    def code(self) -> str:
        return f"{__version__}+{self.name}.{self.code_version}"

    def fingerprint(self, ws: Workspace, users: list[str]) -> str:
        """Parameters, code version, every input user's upstream digest, and :meth:`extra_digest`."""
        digests = committed_inputs(ws, self.inputs) if self.inputs else {}
        return sha16(canonical_json({
            "params": self.params(),
            "code": self.code(),
            "inputs": {u: digests.get(u, "") for u in users},
            "extra": self.extra_digest(ws, users),
        }))


def last_done_fingerprints(ws: Workspace, stage: str) -> set[str]:
    """Fingerprints of the stage's runs that ended ``done``."""
    return {fp for (fp,) in ws.query("SELECT fingerprint FROM runs WHERE stage = ? AND status = 'done'", [stage]) if fp}

