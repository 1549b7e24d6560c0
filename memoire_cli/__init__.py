"""memoire: learn what matters to a person from their photo gallery, and curate it.

A command-line toolkit of composable stages (``memoire synth | memoire graph | memoire persona …``)
that share nothing but a workspace: one DuckDB file and one Zarr group with versioned schemas.
"""

__version__ = "0.1.0"
