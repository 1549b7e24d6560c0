"""Decoded frames kept on disk until the gallery is assembled, so memory does not grow with the gallery.

A run decodes every new image once; holding them all in memory would cost N × S² × 3 bytes (about
8 GB for 10 000 photos at S = 512). Instead each frame is appended to one scratch file, unlinked as
soon as it is created (nothing is left behind, even after a crash), and read back when the image
array is assembled — itself a memory map of another unlinked scratch file, which the runner then
copies chunk by chunk into Zarr. Scratch files go to the temporary folder (``$TMPDIR``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """A (height, width, 3) uint8 frame in a :class:`FrameStore`."""

    store: FrameStore
    offset: int
    height: int
    width: int

    def load(self) -> np.ndarray:
        return self.store.read(self)


class FrameStore:
    """An append-only scratch file of frames (an unlinked temporary file; :meth:`close` frees it)."""

    def __init__(self) -> None:
        fd, path = tempfile.mkstemp(prefix="memoire-ingest-", suffix=".frames")
        os.unlink(path)
        self.fd = fd
        self.end = 0

    def put(self, frame: np.ndarray) -> Frame:
        data = np.ascontiguousarray(frame, dtype=np.uint8)
        if data.ndim != 3 or data.shape[2] != 3:
            raise ValueError(f"frames are (h, w, 3) uint8, got {data.shape}")
        view = memoryview(data.reshape(-1))
        done = 0
        while done < len(view):
            done += os.pwrite(self.fd, view[done:], self.end + done)
        ref = Frame(self, self.end, data.shape[0], data.shape[1])
        self.end += data.nbytes
        return ref

    def read(self, ref: Frame) -> np.ndarray:
        size = ref.height * ref.width * 3
        buf = bytearray(size)
        view = memoryview(buf)
        done = 0
        while done < size:
            got = os.preadv(self.fd, [view[done:]], ref.offset + done)
            if got <= 0:
                raise OSError("scratch file of decoded frames ended early")
            done += got
        return np.frombuffer(buf, dtype=np.uint8).reshape(ref.height, ref.width, 3)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def scratch_array(shape: tuple[int, ...]) -> np.ndarray:
    """A zero-filled uint8 array backed by an unlinked scratch file (freed with the array)."""
    fd, path = tempfile.mkstemp(prefix="memoire-ingest-", suffix=".array")
    try:
        size = int(np.prod(shape))
        os.ftruncate(fd, max(size, 1))
        with os.fdopen(fd, "r+b") as f:
            fd = -1
            arr = np.memmap(f, dtype=np.uint8, mode="r+", shape=shape) if size else np.zeros(shape, np.uint8)
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(path)
    return arr
