"""Which new messages does the local Maildir hold? (the embedded default inbox)

Maildir has no UIDs, so we keep our own: ``pecbot-uidlist`` in the Maildir's
root maps each message's unique name (the part before ``:2,flags``, which
people's clients change when they read or flag a message and move it from
``new/`` to ``cur/``) to a UID, under a UIDVALIDITY chosen when the list is
created (and remembered in ``pecbot-uidlist.validity``, so it is never reused).
The list only grows, is appended and fsynced before any message is handed
out, and is locked against a second pecbot. If it is lost or corrupt a new
UIDVALIDITY starts, and the store's second key catches the duplicates.

Messages are read, never renamed or moved, unless the options ask for it.
"""

from __future__ import annotations

import fcntl
import mailbox
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import structlog

from bot.errors import InboxError
from bot.inbox import Fetched, InboxOptions, LastSeenUid

log = structlog.get_logger(__name__)

UIDLIST = "pecbot-uidlist"
_HEADER = b"pecbot-uidlist 1 "


def _old_uidvalidity(data: bytes) -> int:
    """The UIDVALIDITY a damaged list still shows in its header, else 0."""
    header = data.split(b"\n", 1)[0]
    try:
        return int(header[len(_HEADER) :]) if header.startswith(_HEADER) else 0
    except ValueError:
        return 0


class UidList:
    """The persistent map ``unique name -> UID`` of one Maildir, with its UIDVALIDITY."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[BinaryIO]:
        with open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            handle.seek(0)
            yield handle

    @staticmethod
    def _parse(data: bytes) -> tuple[int, dict[str, int]] | None:
        """``(uidvalidity, uids)`` or None when the file is empty or damaged."""
        # An unterminated last line is a torn append: it was never handed out.
        lines = data.split(b"\n")[:-1]
        if not lines or not lines[0].startswith(_HEADER):
            return None
        try:
            uidvalidity = int(lines[0][len(_HEADER) :])
            uids: dict[str, int] = {}
            for line in lines[1:]:
                number, key = line.split(b" ", 1)
                uids[key.decode()] = int(number)
        except (ValueError, UnicodeDecodeError):
            return None
        return (uidvalidity, uids) if uidvalidity > 0 else None

    def _next_uidvalidity(self, damaged: bytes) -> int:
        """A UIDVALIDITY never used before in this Maildir, even within the same second.

        The last one handed out is also kept in a side file, so losing the list
        itself cannot bring an old UIDVALIDITY back (a reused one would make
        the store skip every message as already seen).
        """
        side = self.path.with_name(UIDLIST + ".validity")
        try:
            last = int(side.read_text().strip())
        except (OSError, ValueError):
            last = 0
        uidvalidity = max(int(time.time()), last + 1, _old_uidvalidity(damaged) + 1)
        with open(side, "w") as handle:
            handle.write(f"{uidvalidity}\n")
            handle.flush()
            os.fsync(handle.fileno())
        return uidvalidity

    def read(self) -> tuple[int, dict[str, int]] | None:
        """``(uidvalidity, names numbered so far)``; None before the first :meth:`assign`."""
        if not self.path.exists():
            return None
        with self._locked(exclusive=False) as handle:
            return self._parse(handle.read())

    def assign(self, names: list[str]) -> tuple[int, dict[str, int]]:
        """Number every name not yet in the list, in the given order, durably.

        Returns the UIDVALIDITY and the whole map. The new lines are on disk
        (fsynced) before this returns.
        """
        with self._locked(exclusive=True) as handle:
            data = handle.read()
            parsed = self._parse(data)
            uids: dict[str, int]
            if parsed is None:
                if data.strip():
                    self.path.with_name(UIDLIST + ".damaged").write_bytes(data)
                    log.warning("maildir_uidlist_damaged", action="new uidvalidity")
                uidvalidity, uids = self._next_uidvalidity(data), {}
                handle.truncate(0)
                handle.write(_HEADER + str(uidvalidity).encode() + b"\n")
            else:
                uidvalidity, uids = parsed
                handle.truncate(data.rfind(b"\n") + 1)  # drop a torn last line
            next_uid = max(uids.values(), default=0) + 1
            added = []
            for name in names:
                if name not in uids and "\n" not in name:
                    uids[name] = next_uid
                    added.append(f"{next_uid} {name}\n".encode())
                    next_uid += 1
            handle.seek(0, os.SEEK_END)
            handle.write(b"".join(added))
            handle.flush()
            os.fsync(handle.fileno())
        return uidvalidity, uids


class MaildirInbox:
    """A local Maildir (``new/`` and ``cur/``) with UIDs kept in :class:`UidList`."""

    def __init__(self, path: Path, options: InboxOptions) -> None:
        try:
            self._maildir = mailbox.Maildir(path, factory=None, create=True)
        except OSError as exc:
            raise InboxError(f"maildir {path}: cannot open ({exc.strerror})") from exc
        self._root = path.resolve()
        self._options = options
        self._uids = UidList(self._root / UIDLIST)
        self._known: set[str] | None = None
        self._source = f"maildir:{self._root}"

    @property
    def source(self) -> str:
        """``maildir:/absolute/path`` — the store's key for this inbox."""
        return self._source

    def _listing(self) -> dict[str, tuple[float, Path]]:
        """Every message now in new/ and cur/: unique name -> (mtime, path)."""
        found: dict[str, tuple[float, Path]] = {}
        for sub in ("new", "cur"):
            with os.scandir(self._root / sub) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    try:
                        mtime = entry.stat().st_mtime
                    except FileNotFoundError:
                        continue  # renamed by a client right now: seen on the next look
                    if entry.is_file():
                        found[entry.name.split(self._maildir.colon, 1)[0]] = (mtime, Path(entry.path))
        return found

    def fetch_new(self, last_seen_uid: LastSeenUid, *, limit: int = 100) -> list[Fetched]:
        """Up to ``limit`` messages above ``last_seen_uid(uidvalidity)``, oldest first, read whole."""
        try:
            listing = self._listing()
            order = sorted(listing, key=lambda name: (listing[name][0], name))
            uidvalidity, uids = self._uids.assign(order)
            self._known = set(uids)
            after = last_seen_uid(uidvalidity)
            wanted = sorted((uids[name], name) for name in listing if uids.get(name, 0) > after)
            fetched = []
            for uid, name in wanted[:limit]:
                raw = self._read(name, listing)
                if raw is not None:
                    fetched.append(Fetched(self._source, uidvalidity, uid, raw))
        except OSError as exc:
            raise InboxError(f"{self._source}: {exc.strerror or exc}") from exc
        return fetched

    def _read(self, name: str, listing: dict[str, tuple[float, Path]]) -> bytes | None:
        """The file's bytes, following a rename by a client; None if it was deleted."""
        for _ in range(2):
            try:
                return listing[name][1].read_bytes()
            except FileNotFoundError:
                listing = self._listing()
                if name not in listing:
                    return None
        return None

    def _path_of(self, message: Fetched) -> Path | None:
        """Where ``message`` is now, or None if it is gone or the numbering changed."""
        numbered = self._uids.read()
        if numbered is None or numbered[0] != message.uidvalidity:
            return None
        name = next((n for n, uid in numbered[1].items() if uid == message.uid), None)
        found = self._listing().get(name) if name else None
        return found[1] if found else None

    def acknowledge(self, message: Fetched) -> None:
        """Flag \\Seen (``S``) and/or move to the ``move_to`` folder when configured; else nothing."""
        if not (self._options.mark_seen or self._options.move_to):
            return
        try:
            path = self._path_of(message)
            if path is None:
                log.warning("maildir_acknowledge_skipped", uid=message.uid)
                return
            if self._options.mark_seen:
                unique, _, info = path.name.partition(self._maildir.colon)
                flags = "".join(sorted(set(info[2:] if info.startswith("2,") else "") | {"S"}))
                seen = self._root / "cur" / f"{unique}{self._maildir.colon}2,{flags}"
                os.rename(path, seen)
                path = seen
            if self._options.move_to:
                self._maildir.add_folder(self._options.move_to)  # Maildir++: ".NAME"
                folder = self._root / f".{self._options.move_to}"
                os.rename(path, folder / path.parent.name / path.name)
        except OSError as exc:
            raise InboxError(f"{self._source}: {exc.strerror or exc}") from exc

    def wait(self, timeout: float) -> bool:
        """Poll every ``poll_interval`` s; True as soon as a file not yet numbered appears."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._known is None:
                    numbered = self._uids.read()
                    self._known = set(numbered[1]) if numbered else set()
                if set(self._listing()) - self._known:
                    return True
            except OSError as exc:
                raise InboxError(f"{self._source}: {exc.strerror or exc}") from exc
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self._options.poll_interval, remaining))

    def close(self) -> None:
        """Nothing to release: every call opens and closes its files."""
        self._known = None
