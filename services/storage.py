"""Content-addressed blob storage: bytes live under their sha256, written once."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from services.errors import FileTooLarge

CHUNK = 1024 * 1024


@dataclass(slots=True)
class StagedBlob:
    """Bytes streamed to a temporary file and hashed, not yet content-addressed."""

    path: Path
    sha256: str
    size: int
    head: bytes


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key_for(sha256: str) -> str:
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def path(self, key: str) -> Path:
        return self.root / key

    async def stage(
        self, chunks: AsyncIterator[bytes], *, max_bytes: int, field: str = "file"
    ) -> StagedBlob:
        """Stream `chunks` to a temp file, hashing as it goes; refuse past `max_bytes`."""
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        digest = hashlib.sha256()
        size = 0
        head = b""
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise FileTooLarge(f"is larger than {max_bytes} bytes", field=field)
                    if len(head) < 8192:
                        head += chunk[: 8192 - len(head)]
                    digest.update(chunk)
                    await asyncio.to_thread(out.write, chunk)
        except BaseException:
            os.unlink(name)
            raise
        return StagedBlob(path=Path(name), sha256=digest.hexdigest(), size=size, head=head)

    async def stage_file(self, source: Path) -> StagedBlob:
        """Stage a file made on this machine (a render, a download) for `commit`."""

        async def chunks() -> AsyncIterator[bytes]:
            with source.open("rb") as handle:
                while chunk := await asyncio.to_thread(handle.read, CHUNK):
                    yield chunk

        return await self.stage(chunks(), max_bytes=1 << 40)

    def commit(self, staged: StagedBlob) -> tuple[str, bool]:
        """Move a staged blob to its content address. Returns (key, newly_created)."""
        key = self.key_for(staged.sha256)
        target = self.path(key)
        if target.exists():
            staged.path.unlink(missing_ok=True)
            return key, False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.path, target)
        return key, True

    def discard(self, staged: StagedBlob) -> None:
        staged.path.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def sweep(self, referenced: set[str], *, older_than_seconds: float) -> int:
        """Delete blobs no row references (mark and sweep with a grace period)."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for path in self.root.glob("??/??/*"):
            key = path.relative_to(self.root).as_posix()
            if key not in referenced and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        for path in self.tmp.iterdir():  # uploads and work folders a killed process left
            try:
                if path.stat().st_mtime >= cutoff:
                    continue
            except FileNotFoundError:  # its owner was done with it meanwhile
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return removed
