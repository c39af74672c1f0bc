"""Where do messages come from? An IMAP folder or a local Maildir.

The daemon asks one question of an inbox: *which messages are newer than the
highest UID I have recorded for this UIDVALIDITY?* It passes
``last_seen_uid(uidvalidity) -> uid`` (0 when that UIDVALIDITY is new to it,
which makes the inbox hand over everything again and leaves duplicates to the
store's second key), and receives complete raw messages. They are downloaded
before :meth:`Inbox.fetch_new` returns, so a long OCR never holds a server
session open.

The inbox is shared with people: nothing is marked read, moved or deleted
unless :class:`InboxOptions` says so, and then only in :meth:`Inbox.acknowledge`,
which the daemon calls once a message is safely recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.errors import ConfigError
from bot.mailurl import maildir_path, parse_server_url, scheme_of

LastSeenUid = Callable[[int], int]
"""``uidvalidity -> highest UID already recorded`` (0 when none)."""

INBOX_FORM = "imaps://USER:PASS@HOST:PORT/FOLDER, imap://USER:PASS@HOST:PORT/FOLDER or maildir:PATH"


@dataclass(frozen=True)
class Fetched:
    """One message, downloaded whole, and where it came from."""

    source: str
    """The inbox, without password: ``imaps://user@host:993/INBOX`` or ``maildir:/abs/path``."""
    uidvalidity: int
    uid: int
    raw: bytes


@dataclass(frozen=True)
class InboxOptions:
    """How an inbox behaves; the defaults suit a production server."""

    ca_file: Path | None = None
    """Trust only this CA bundle instead of the system's (a private or self-signed server)."""
    allow_plain_remote: bool = False
    """Allow ``imap://`` (no TLS) to a host that is not loopback."""
    timeout: float = 60.0
    """Socket timeout of every IMAP command, seconds."""
    idle_renew: float = 20 * 60.0
    """Re-issue IDLE after this many seconds: servers may drop it after 29 minutes."""
    poll_interval: float = 2.0
    """Maildir: how often :meth:`Inbox.wait` looks for new files."""
    reconnect_within: float = 300.0
    """How long to keep reconnecting after a drop before raising InboxError."""
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    batch_size: int = 20
    """Messages per UID FETCH."""
    mark_seen: bool = False
    """:meth:`Inbox.acknowledge` sets \\Seen (off: the inbox is shared with people)."""
    move_to: str | None = None
    """:meth:`Inbox.acknowledge` moves the message to this folder (off by default)."""


class Inbox(Protocol):
    """A source of raw messages with stable (UIDVALIDITY, UID) identities."""

    @property
    def source(self) -> str:
        """The inbox's identity in the store; never contains the password."""
        ...

    def fetch_new(self, last_seen_uid: LastSeenUid, *, limit: int = 100) -> list[Fetched]:
        """Up to ``limit`` messages with UID above ``last_seen_uid(uidvalidity)``, oldest first.

        Each message is complete in memory when this returns. Call again until
        it returns an empty list. Raises :class:`bot.errors.InboxError` when the
        source stays unreachable for ``reconnect_within`` seconds.
        """
        ...

    def acknowledge(self, message: Fetched) -> None:
        """Apply the configured after-processing action (none by default) to ``message``."""
        ...

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True as soon as new mail may be waiting."""
        ...

    def close(self) -> None:
        """Release the connection; safe to call twice."""
        ...


def open_inbox(url: str, *, setting: str = "PECBOT_INBOX", options: InboxOptions | None = None) -> Inbox:
    """The inbox a PECBOT_INBOX URL names. Bad URLs raise ConfigError (password never shown).

    Opening does not connect: the first :meth:`Inbox.fetch_new` does, so a
    server that is down at start-up is retried like any other drop.
    """
    options = options or InboxOptions()
    scheme = scheme_of(url)
    if scheme == "maildir":
        from bot.inbox.maildir import MaildirInbox

        return MaildirInbox(maildir_path(url, setting=setting), options)
    address = parse_server_url(
        url, setting=setting, default_ports={"imaps": 993, "imap": 143}, form=INBOX_FORM
    )
    if not address.user or address.password is None:
        raise ConfigError(f"{setting}: {scheme} URL needs USER:PASS; expected {INBOX_FORM}")
    if scheme == "imap" and not address.is_loopback and not options.allow_plain_remote:
        raise ConfigError(
            f"{setting}: imap:// sends the password in clear; use imaps:// for {address.host}"
        )
    from bot.inbox.imap import ImapInbox

    return ImapInbox(address, options)
