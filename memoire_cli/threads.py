"""Pin torch's intra-op thread count, so that a stage's numbers do not depend on the machine.

torch sizes its intra-op thread pool from the machine (its cores, ``OMP_NUM_THREADS``), and a
reduction split over more threads adds its partial sums in another order: PERSONA-GAT's α moved by
up to 1.7 % (relative) between 1 and 2 threads (issue 14), enough to flip a label downstream. Every
stage that computes with torch therefore calls :func:`pin_torch_threads` before its first tensor op:

* per-user stages (``persona``, ``persona update``, ``pat``, ``label`` with a model judge) pin **1**
  thread: their tensors are small, a second thread only adds synchronisation, and parallelism comes
  from running users side by side (``--jobs``, ``--shard``);
* ``$MEMOIRE_TORCH_THREADS`` overrides the count for every stage (a positive integer; anything else
  is a usage error, one line, exit 2). Results are reproducible for a given count, and only
  comparable between runs with the same count.

Imports torch only when it is already imported or ``force_import`` is set, so a stage that may not
need torch (``label --judge offline``) does not pay its 1.5 s import to pin it.
"""

from __future__ import annotations

import os
import sys

from memoire_cli.errors import UsageError

#: The environment variable that overrides every stage's thread count.
ENV = "MEMOIRE_TORCH_THREADS"


def torch_threads(default: int = 1) -> int:
    """The thread count a stage should use: ``$MEMOIRE_TORCH_THREADS`` when set, else ``default``.

    Raises:
        UsageError: the variable is set to something other than a positive integer.
    """
    text = os.environ.get(ENV, "").strip()
    if not text:
        return default
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1 or count > 1024:
        raise UsageError(f"${ENV} must be a positive whole number of threads (e.g. 1), got {text!r}")
    return count


def pin_torch_threads(default: int = 1, force_import: bool = True) -> int:
    """Set torch's intra-op threads to :func:`torch_threads` (``default`` unless overridden).

    Args:
        default: the stage's count when ``$MEMOIRE_TORCH_THREADS`` is not set (1 for per-user stages).
        force_import: import torch to pin it; ``False`` pins only if torch is already imported
            (the variable is still validated).

    Returns:
        The count (pinned or, with torch not imported, to be pinned by the next call).

    Raises:
        UsageError: a bad ``$MEMOIRE_TORCH_THREADS``.
    """
    count = torch_threads(default)
    if force_import or "torch" in sys.modules:
        import torch

        if torch.get_num_threads() != count:
            torch.set_num_threads(count)
    return count
