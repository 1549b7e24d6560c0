"""The order of the stages, declared once (the CLI lists them so; the runner names the first stale one).

Pure Python: no imports, so ``memoire --help`` can read it at once.
"""

from __future__ import annotations

#: Every stage, in pipeline order (`memoire --help` lists them so; the first stale stage named is
#: the one to re-run first).
PIPELINE: tuple[str, ...] = ("synth", "ingest", "people", "graph", "persona", "pat", "label", "train", "rank", "eval")
#: Stages that produce a gallery (the observable tables of S1.1, declared with both as producers);
#: a user's gallery comes from one of them.
GALLERY_STAGES: tuple[str, ...] = ("synth", "ingest")
#: Stages a pipeline may skip.
OPTIONAL_STAGES: tuple[str, ...] = ("people",)
#: Commands that are not stages (they read a workspace, or none).
TOOL_NAMES: tuple[str, ...] = ("export", "status", "schema")


def describe() -> str:
    """One line for `memoire --help`: the stages in order (gallery producers as alternatives), then the tools."""
    first, *others = GALLERY_STAGES
    steps = [first + "".join(f" (or {o})" for o in others)]
    steps += [f"{s} (optional)" if s in OPTIONAL_STAGES else s for s in PIPELINE if s not in GALLERY_STAGES]
    return f"Pipeline: {' → '.join(steps)}. Tools: {', '.join(TOOL_NAMES)}."
