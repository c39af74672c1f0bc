"""Where raw messages are kept: a content-addressed file store.

A message's bytes live at ``<root>/ab/cd/<sha256>``, named by their SHA-256,
so storing the same message twice writes one file, and a row in the
database only needs the hash. Files are written atomically (temporary file,
fsync, rename, fsync of the directory): after a crash a blob is either whole
or absent. Messages hold personal data: files are 0600, directories 0700.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import time
from pathlib import Path

from bot.errors import StoreError

FILE_MODE = 0o600
DIR_MODE = 0o700
#: A temporary file older than this was left by a writer that died.
STALE_TEMPORARY_SECONDS = 3600.0


class BlobStore:
    """Content-addressed files under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / "tmp"

    def path_of(self, sha256: str) -> Path:
        """Where the blob with this hash lives (whether or not it exists)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its SHA-256 (hex).

        Idempotent: storing bytes already present writes nothing. Raises
        :class:`StoreError` when the disk refuses (full, read-only, no
        permission); no partial file is left behind in that case.
        """
        sha256 = hashlib.sha256(data).hexdigest()
        final = self.path_of(sha256)
        if final.exists() and final.stat().st_size == len(data):
            return sha256
        try:
            self._make_dir(final.parent)
            self._make_dir(self._tmp)
            self._write_atomically(final, data)
        except OSError as exc:
            raise StoreError(self._explain(exc, "cannot store a message")) from exc
        return sha256

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``, checked against the hash.

        Raises :class:`StoreError` when the blob is missing or damaged.
        """
        path = self.path_of(sha256)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StoreError(self._explain(exc, f"cannot read stored message {sha256}")) from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StoreError(f"stored message {sha256} is damaged (its content changed on disk)")
        return data

    def exists(self, sha256: str) -> bool:
        """True when a blob with this hash is stored."""
        return self.path_of(sha256).exists()

    def delete(self, sha256: str) -> bool:
        """Remove the blob (for the purge); False when it was already gone."""
        try:
            self.path_of(sha256).unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreError(self._explain(exc, f"cannot delete stored message {sha256}")) from exc
        return True

    def sweep_temporary(self, older_than: float = STALE_TEMPORARY_SECONDS) -> int:
        """Remove temporary files left by writers killed mid-write; returns how many.

        Only files older than ``older_than`` seconds go, so a writer still
        running in another process keeps its file.
        """
        if not self._tmp.is_dir():
            return 0
        removed = 0
        limit = time.time() - older_than
        for leftover in self._tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < limit:
                    leftover.unlink()
                    removed += 1
        return removed

    def _make_dir(self, path: Path) -> None:
        missing: list[Path] = []
        while not path.is_dir():
            missing.append(path)
            path = path.parent
        for directory in reversed(missing):
            directory.mkdir(mode=DIR_MODE, exist_ok=True)
            os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask

    def _write_atomically(self, final: Path, data: bytes) -> None:
        temporary = self._tmp / f"{final.name}.{os.getpid()}.{time.monotonic_ns()}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            try:
                view = memoryview(data)
                while view:
                    written = os.write(descriptor, view)
                    view = view[written:]
                os.fchmod(descriptor, FILE_MODE)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            os.replace(temporary, final)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        _fsync_directory(final.parent)

    def _explain(self, exc: OSError, what: str) -> str:
        if exc.errno == errno.ENOSPC:
            return f"{what}: the disk holding {self.root} is full"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"{what}: {self.root} is not writable ({exc.strerror})"
        return f"{what} under {self.root}: {exc.strerror or exc}"


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
