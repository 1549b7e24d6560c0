"""Reading small input files with a size cap, from regular files only.

Sidecars (XMP), Google Takeout JSON, relations files and ``@FILE`` lists are small text files that
name a path the user chose: the path may lead to a FIFO (a read blocks forever), a device
(``/dev/zero`` never ends) or a huge file. :func:`read_capped` looks before it reads: it ``stat``\\ s
the path and refuses anything that is not a regular file, opens it with ``O_NONBLOCK`` (so that a
FIFO swapped in after the ``stat`` cannot block the open) and checks again on the open descriptor,
then reads at most ``cap + 1`` bytes: more than ``cap`` is refused, never read whole.

:func:`read_text_capped` also refuses content that is not UTF-8 text, without quoting it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: Caps on what memoire reads from small files (documented in schemas/README.md and the commands' help).
MAX_SIDECAR_BYTES = 16 << 20  # an XMP sidecar (region lists of a large group photo stay well below)
MAX_TAKEOUT_BYTES = 1 << 20  # a Google Takeout JSON (a few kilobytes)
MAX_LIST_BYTES = 16 << 20  # an @FILE list of ids (about half a million ids)


class BoundedReadError(ValueError):
    """The file is not a regular file, is larger than the cap, or is not text (the reason is the message)."""


def read_capped(path: Path | str, cap: int) -> bytes:
    """The bytes of a regular file of at most ``cap`` bytes; :class:`BoundedReadError` otherwise.

    ``OSError`` (missing, unreadable) passes through for the caller to word.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise BoundedReadError(f"not a regular file ({_kind(st.st_mode)})")
    if st.st_size > cap:
        raise BoundedReadError(f"larger than {_size(cap)}")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for something else since the stat
            raise BoundedReadError(f"not a regular file ({_kind(os.fstat(fd).st_mode)})")
        chunks, left = [], cap + 1
        while left > 0:
            block = os.read(fd, min(left, 1 << 20))
            if not block:
                break
            chunks.append(block)
            left -= len(block)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > cap:  # grew since the stat
        raise BoundedReadError(f"larger than {_size(cap)}")
    return data


def read_text_capped(path: Path | str, cap: int) -> str:
    """:func:`read_capped`, decoded as UTF-8 text; binary content is refused without being quoted."""
    data = read_capped(path, cap)
    if b"\x00" in data:
        raise BoundedReadError("binary content, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BoundedReadError(f"not UTF-8 text (an undecodable byte at offset {exc.start})") from None


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n:,} bytes"
