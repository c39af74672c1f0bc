"""Which new messages does the IMAP folder hold? (imapclient, read-only by default)

The folder is shared with people, so it is opened with EXAMINE (read-only)
and bodies are fetched with ``BODY.PEEK[]``: \\Seen never changes. Only UIDs
above what the store recorded are searched and fetched, so a poll costs a
SEARCH, not a download of the mailbox. Every drop — refused connection,
timeout, BYE, TLS error — is followed by reconnection with exponential
backoff and jitter; only after ``reconnect_within`` seconds does it surface as
:class:`InboxError`. A refused login or an unverifiable certificate is raised
at once: waiting does not fix them.
"""

from __future__ import annotations

import contextlib
import imaplib
import random
import ssl
import time
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import LoginError

from bot.errors import InboxError, PecbotError
from bot.inbox import Fetched, InboxOptions, LastSeenUid
from bot.mailurl import ServerUrl

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Early wake-ups of idle_check with nothing read mean EOF (imapclient swallows it).
_EARLY = 0.05


def _is_transient(exc: BaseException) -> bool:
    """Whether reconnecting may cure ``exc``."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False
    return isinstance(exc, OSError | EOFError | imaplib.IMAP4.abort)


def _announces_new_mail(responses: list[Any]) -> bool:
    """True when the untagged responses include EXISTS or RECENT."""
    return any(
        isinstance(r, tuple) and len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT") for r in responses
    )


def _says_bye(responses: list[Any]) -> bool:
    return any(isinstance(r, tuple) and r and r[0] == b"BYE" for r in responses)


class ImapInbox:
    """An IMAP folder seen through one reconnecting session."""

    def __init__(self, address: ServerUrl, options: InboxOptions) -> None:
        self._address = address
        self._options = options
        self._folder = address.path or "INBOX"
        self._writable = options.mark_seen or options.move_to is not None
        self._client: IMAPClient | None = None
        self._capabilities: tuple[bytes, ...] = ()
        self._connections = 0
        self._source = ServerUrl(
            address.scheme, address.host, address.port, address.user, None, self._folder
        ).redacted()

    @property
    def source(self) -> str:
        """``imaps://user@host:port/FOLDER`` — the store's key for this inbox."""
        return self._source

    # -- session

    def _connect(self) -> IMAPClient:
        tls = self._address.scheme == "imaps"
        context = ssl.create_default_context(cafile=self._options.ca_file) if tls else None
        timeout = self._options.timeout
        client = IMAPClient(
            self._address.host,
            port=self._address.port,
            ssl=tls,
            ssl_context=context,
            timeout=SocketTimeout(connect=min(timeout, 30.0), read=timeout),
        )
        try:
            client.login(self._address.user, self._address.password)
            self._capabilities = tuple(client.capabilities())
            client.select_folder(self._folder, readonly=not self._writable)
        except BaseException:
            client.shutdown()
            raise
        self._connections += 1
        log.info("imap_connected", source=self._source, idle="IDLE" in self._idle_names())
        return client

    def _idle_names(self) -> set[str]:
        return {c.decode(errors="replace").upper() for c in self._capabilities}

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(OSError):  # already gone: that is why we drop it
                client.shutdown()

    def _session(self, operation: Callable[[IMAPClient], T]) -> T:
        """Run ``operation`` on a live session, reconnecting with backoff after drops."""
        deadline = time.monotonic() + self._options.reconnect_within
        delay = self._options.backoff_initial
        while True:
            try:
                if self._client is None:
                    self._client = self._connect()
                return operation(self._client)
            except LoginError as exc:
                self._drop()
                raise InboxError(f"{self._source}: login refused") from exc
            except PecbotError:
                raise  # from the caller's last_seen_uid (e.g. StoreError): not ours to wrap
            except Exception as exc:
                self._drop()
                if isinstance(exc, ssl.SSLCertVerificationError):
                    raise InboxError(
                        f"{self._source}: TLS certificate verification failed ({exc.verify_message})"
                    ) from exc
                if not _is_transient(exc):
                    raise InboxError(f"{self._source}: {type(exc).__name__}: {exc}") from exc
                # Full jitter keeps many clients from hammering a restarting server together.
                pause = random.uniform(delay / 2, delay)
                if time.monotonic() + pause > deadline:
                    raise InboxError(
                        f"{self._source}: unreachable for {self._options.reconnect_within:g}s"
                        f" ({type(exc).__name__})"
                    ) from exc
                log.warning("imap_reconnecting", error=type(exc).__name__, pause=round(pause, 2))
                time.sleep(pause)
                delay = min(delay * 2, self._options.backoff_max)

    # -- the Inbox interface

    def fetch_new(self, last_seen_uid: LastSeenUid, *, limit: int = 100) -> list[Fetched]:
        """Up to ``limit`` messages above ``last_seen_uid(uidvalidity)``, oldest first, downloaded whole."""
        return self._session(lambda client: self._fetch(client, last_seen_uid, limit))

    def _fetch(self, client: IMAPClient, last_seen_uid: LastSeenUid, limit: int) -> list[Fetched]:
        # Re-selecting refreshes the view and re-reads UIDVALIDITY on every poll.
        selected = client.select_folder(self._folder, readonly=not self._writable)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        after = last_seen_uid(uidvalidity)
        # "n:*" always matches the highest UID, even below n: filter again.
        uids = sorted(u for u in client.search(["UID", f"{after + 1}:*"]) if u > after)[:limit]
        fetched: list[Fetched] = []
        size = max(1, self._options.batch_size)
        for start in range(0, len(uids), size):
            batch = uids[start : start + size]
            answer = client.fetch(batch, ["BODY.PEEK[]"])
            for uid in batch:
                raw = answer.get(uid, {}).get(b"BODY[]")
                if isinstance(raw, bytes):  # absent: a person expunged it meanwhile
                    fetched.append(Fetched(self._source, uidvalidity, uid, raw))
        if fetched:
            log.info("imap_fetched", count=len(fetched), uidvalidity=uidvalidity)
        return fetched

    def acknowledge(self, message: Fetched) -> None:
        """Mark \\Seen and/or move ``message`` if the options ask for it; otherwise nothing."""
        if not self._writable:
            return
        self._session(lambda client: self._acknowledge(client, message))

    def _acknowledge(self, client: IMAPClient, message: Fetched) -> None:
        selected = client.select_folder(self._folder, readonly=False)
        if int(selected[b"UIDVALIDITY"]) != message.uidvalidity:
            log.warning("imap_acknowledge_skipped", reason="uidvalidity changed", uid=message.uid)
            return
        if self._options.mark_seen:
            client.add_flags([message.uid], [b"\\Seen"], silent=True)
        target = self._options.move_to
        if target:
            if not client.folder_exists(target):
                client.create_folder(target)
            if b"MOVE" in self._capabilities:
                client.move([message.uid], target)
            else:
                client.copy([message.uid], target)
                client.add_flags([message.uid], [b"\\Deleted"], silent=True)
                if b"UIDPLUS" in self._capabilities:
                    client.uid_expunge([message.uid])  # never EXPUNGE others' \Deleted

    def wait(self, timeout: float) -> bool:
        """IDLE up to ``timeout`` s; True when the server announces mail or the session was renewed.

        Without IDLE the server is polled by the caller: this just sleeps and
        returns False. IDLE is re-issued every ``idle_renew`` seconds.
        """
        connections = self._connections
        deadline = time.monotonic() + timeout

        def idle(client: IMAPClient) -> bool:
            if self._connections != connections:
                return True  # we were cut off: mail may have arrived meanwhile
            if "IDLE" not in self._idle_names():
                time.sleep(max(0.0, deadline - time.monotonic()))
                return False
            return self._idle(client, deadline)

        return self._session(idle)

    def _idle(self, client: IMAPClient, deadline: float) -> bool:
        # NOOP first: it both proves the session alive and flushes updates since the last SELECT.
        if _announces_new_mail(client.noop()[1]):
            return True
        self._start_idle(client)
        renew_at = time.monotonic() + self._options.idle_renew
        while True:
            now = time.monotonic()
            if now >= deadline:
                return _announces_new_mail(client.idle_done()[1])
            budget = max(0.0, min(deadline, renew_at) - now)
            responses = client.idle_check(timeout=budget)
            if _says_bye(responses):
                raise imaplib.IMAP4.abort("server said BYE during IDLE")
            if _announces_new_mail(responses):
                client.idle_done()
                return True
            woke_early = not responses and time.monotonic() < min(deadline, renew_at) - _EARLY
            if time.monotonic() >= renew_at or woke_early:
                # DONE then IDLE again: renews before the server's 29-minute limit, and on a
                # dead socket (imapclient hides EOF as an empty answer) DONE raises.
                if _announces_new_mail(client.idle_done()[1]):
                    return True
                self._start_idle(client)
                renew_at = time.monotonic() + self._options.idle_renew

    @staticmethod
    def _start_idle(client: IMAPClient) -> None:
        try:
            client.idle()
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            # An update slipped in before "+ idling": the session's state is unclear, so
            # treat it as a drop — the reconnection makes wait() report possible new mail.
            raise imaplib.IMAP4.abort(f"IDLE refused: {exc}") from exc
    def close(self) -> None:
        """Log out politely if connected; never raises."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # closing a dead session must not mask the caller's state
            with contextlib.suppress(OSError):
                client.shutdown()
