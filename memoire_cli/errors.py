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


class ParameterError(UsageError, ValueError):
    """A stage parameter out of its range, found by its config's ``__post_init__``: a usage error (exit
    code 2) on the command line, a :class:`ValueError` to code that builds the config itself."""


class WorkspaceError(MemoireError):
    """The workspace is missing, unwritable, of another schema version, or lacks a stage's inputs."""


class SchemaVersionError(WorkspaceError):
    """The workspace was written with a schema version this memoire cannot read."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type's name when empty), at most ``limit`` characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_library_error(exc: BaseException) -> str | None:
    """A one-line reason for a failure raised by a library on damaged input, or ``None`` (a bug: let it show).

    The libraries memoire reads its workspace and inputs with raise their own types on damaged
    files: DuckDB (``duckdb.Error``: I/O errors, corrupt blocks, a dropped table or column), Zarr and
    its codecs (a garbled chunk: zstd/blosc decoding errors), NumPy's ``.npz`` (``zipfile.BadZipFile``),
    Python's text codecs (``UnicodeError``: a path or file that is not UTF-8) and the operating system
    (``OSError``: a full disk, a vanished file). Where the place that raised it could name the file,
    it raised a :class:`MemoireError` already; this is the fallback of :class:`memoire_cli.cli.MemoireGroup`.
    """
    import zipfile

    module = type(exc).__module__ or ""
    root = module.split(".", 1)[0]
    if root in ("duckdb", "_duckdb"):
        return f"workspace database: {type(exc).__name__}: {first_line(exc)} (the file is damaged or was edited: restore it or rerun the stages)"
    if root in ("zarr", "numcodecs", "blosc", "zstandard") or "decompression" in str(exc).lower():
        return f"workspace arrays: {first_line(exc)} (a Zarr chunk is damaged: rerun the stage that wrote it)"
    if isinstance(exc, zipfile.BadZipFile):
        return f"damaged archive file: {first_line(exc)}"
    if isinstance(exc, UnicodeError):
        return f"text that is not valid UTF-8 ({type(exc).__name__}); file names and file contents must be UTF-8"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        return f"{where}{exc.strerror or first_line(exc)}"
    if isinstance(exc, RuntimeError) and "bad_cast" in str(exc):
        return "a path that is not valid UTF-8 (the database library cannot open it)"
    return None
