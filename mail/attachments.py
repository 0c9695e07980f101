"""Attachment files on disk under `[mail] attachments_dir`, named by their sha256 (the
same file received twice is kept once). Written to a temporary name and renamed, so a
crash never leaves half a file under the final name; the row (mail/store.py) is added
after the file, so a row always has its file."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from pathlib import Path

_SHA = re.compile(r"^[0-9a-f]{64}$")


class AttachmentFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        if not _SHA.match(sha256):  # (never a path from the outside)
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.root / sha256[:2] / sha256

    async def put(self, data: bytes) -> str:
        """Store `data`; returns its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._write, sha, data)
        return sha

    def _write(self, sha: str, data: bytes) -> None:
        path = self.path_of(sha)
        if path.is_file() and path.stat().st_size == len(data):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{sha}.{os.getpid()}.tmp")
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)


def safe_filename(name: str) -> str:
    """A received attachment's name, fit for a Content-Disposition header and a disk."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>:|?*;').strip(" .")
    return cleaned[:200] or "attachment"
