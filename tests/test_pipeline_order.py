"""The stage order is declared once (memoire_cli/pipeline.py; issue 17, item 5)."""

from __future__ import annotations

from memoire_cli import app, pipeline, stage, workspace
from memoire_cli.schema import load_schema


def test_every_module_reads_the_one_declaration() -> None:
    assert app.STAGE_NAMES is pipeline.PIPELINE
    assert stage.PIPELINE is pipeline.PIPELINE
    assert workspace.GALLERY_STAGES is pipeline.GALLERY_STAGES
    assert app.TOOL_NAMES is pipeline.TOOL_NAMES


def test_the_help_line_follows_the_order() -> None:
    assert app.EPILOG == ("Pipeline: synth (or ingest) → people (optional) → graph → persona → pat → label → train → "
                          "rank → eval. Tools: export, status, schema.")


def test_gallery_and_optional_stages_are_stages_and_every_producer_is_one() -> None:
    assert set(pipeline.GALLERY_STAGES) | set(pipeline.OPTIONAL_STAGES) <= set(pipeline.PIPELINE)
    assert pipeline.PIPELINE[: len(pipeline.GALLERY_STAGES)] == pipeline.GALLERY_STAGES
    producers = {p for spec in load_schema().tables.values() for p in spec.producers}
    # the schema's other producers are the workspace itself, every stage, and `people name` (a sub-action)
    assert producers - set(pipeline.PIPELINE) == {"workspace", "every stage", "people name"}
