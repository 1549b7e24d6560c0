"""Errors a user can cause and the exit codes the CLI maps them to.

Exit codes (the contract of every subcommand): 0 success, 1 a known failure reported in one line on
stderr, 2 a usage error (bad flag values), 130 interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class MemoireError(Exception):
    """A failure the user can act on: reported as one line, exit code 1, no traceback."""

    exit_code = EXIT_FAILURE


class UsageError(MemoireError):
    """Impossible flag values (zero sizes, a shard out of range, an unknown renderer): exit code 2."""

    exit_code = EXIT_USAGE


class WorkspaceError(MemoireError):
    """The workspace is missing, unwritable, of another schema version, or lacks a stage's inputs."""


class SchemaVersionError(WorkspaceError):
    """The workspace was written with a schema version this memoire cannot read."""
