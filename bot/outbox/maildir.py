"""Where do replies go without a server? Files in a local Maildir (the embedded default).

Each reply becomes one file in ``new/``, written to ``tmp/``, fsynced and then
renamed, so a reader never sees half a message. A reply with a Message-ID is
named after it: handing the same reply over twice (a crash between send and
the store's "sent") leaves one file, even after a client moved it to ``cur/``.
"""

from __future__ import annotations

import email.policy
import hashlib
import mailbox
import os
import uuid
from email.message import EmailMessage
from pathlib import Path

from bot.errors import OutboxError

# Maildir files conventionally use the local line ending.
_POLICY = email.policy.default.clone(linesep="\n")


class MaildirOutbox:
    """Replies written as message files into a Maildir."""

    def __init__(self, path: Path) -> None:
        try:
            self._maildir = mailbox.Maildir(path, factory=None, create=True)
        except OSError as exc:
            raise OutboxError(f"maildir {path}: cannot open ({exc.strerror})") from exc
        self._root = path.resolve()

    def _name(self, message: EmailMessage) -> str:
        message_id = str(message.get("Message-ID", "")).strip()
        if message_id:
            return "reply-" + hashlib.sha256(message_id.encode()).hexdigest()[:40]
        return f"reply-{uuid.uuid4().hex}"

    def _exists(self, name: str) -> bool:
        if (self._root / "new" / name).exists():
            return True
        prefix = name + self._maildir.colon
        return any(entry.startswith(prefix) for entry in os.listdir(self._root / "cur"))

    def send(self, message: EmailMessage) -> None:
        """Write ``message`` durably into ``new/``; a reply already there is not written again."""
        name = self._name(message)
        try:
            if self._exists(name):
                return
            data = message.as_bytes(policy=_POLICY)
            temporary = self._root / "tmp" / f"{name}.{os.getpid()}"
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(temporary, self._root / "new" / name)
            directory = os.open(self._root / "new", os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            raise OutboxError(f"maildir:{self._root}: {exc.strerror or exc}") from exc
