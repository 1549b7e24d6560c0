"""Where output goes: people read stderr (Rich), programs read stdout (one JSON manifest line).

Nothing in memoire writes to stdout except :func:`emit_json`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


def stderr_console() -> Console:
    """A Rich console on stderr: progress bars, logs, tables and warnings go here."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(obj: dict[str, Any]) -> None:
    """Write one JSON line to stdout (the manifest, or a command's machine-readable answer)."""
    sys.stdout.write(json.dumps(obj, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
