"""What does a PECBOT_INBOX / PECBOT_OUTBOX URL say?

``imaps://USER:PASS@HOST:PORT/FOLDER``, ``smtp://HOST:PORT``, ``maildir:PATH``
and friends, parsed once at the edge into typed values. User and password are
percent-decoded. Error messages never repeat the URL — a password with an
unescaped ``/`` or ``#`` would otherwise leak through a "bad port" complaint —
only the scheme and what is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.errors import ConfigError

_WORD = re.compile(r"[a-z][a-z0-9+.-]{0,15}")


@dataclass(frozen=True)
class ServerUrl:
    """A mail server's address and credentials; the password never shows in repr."""

    scheme: str
    host: str
    port: int
    user: str | None
    password: str | None = field(repr=False)
    path: str
    """Decoded path without the leading ``/`` (the IMAP folder), or empty."""

    @property
    def is_loopback(self) -> bool:
        """True for 127.0.0.0/8, ::1 and ``localhost`` — the only hosts plain text may go to."""
        return is_loopback(self.host)

    def redacted(self) -> str:
        """The URL without the password, fit for logs and for ``Fetched.source``."""
        who = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        tail = f"/{self.path}" if self.path else ""
        return f"{self.scheme}://{who}{host}:{self.port}{tail}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def scheme_of(url: str) -> str:
    """The URL's scheme in lower case, or ``""`` when it has none."""
    head, sep, _ = url.partition(":")
    return head.lower() if sep and _WORD.fullmatch(head.lower()) else ""


def maildir_path(url: str, *, setting: str) -> Path:
    """The folder of a ``maildir:PATH`` URL (``maildir:///abs`` also accepted)."""
    rest = url.partition(":")[2]
    if rest.startswith("//"):
        rest = rest[2:]
    if not rest.strip():
        raise ConfigError(f"{setting}: maildir: needs a path, e.g. maildir:var/inbox")
    return Path(unquote(rest))


def parse_server_url(url: str, *, setting: str, default_ports: dict[str, int], form: str) -> ServerUrl:
    """Split a server URL whose scheme is one of ``default_ports``.

    Raises :class:`ConfigError` naming ``setting`` and the expected ``form``,
    never quoting the URL itself.
    """
    scheme = scheme_of(url)
    if scheme not in default_ports:
        shown = f"scheme {scheme!r}" if scheme else "no scheme"
        raise ConfigError(f"{setting}: unsupported URL ({shown}); expected {form}")
    hint = f"{setting}: bad {scheme} URL: {{}}; expected {form} (percent-encode special characters in USER and PASS)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError(hint.format("the host or port cannot be read")) from None
    if port == 0:
        raise ConfigError(hint.format("port 0"))
    if not parts.hostname:
        raise ConfigError(hint.format("no host"))
    if parts.query or parts.fragment:
        raise ConfigError(hint.format("unexpected '?' or '#'"))
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not user:
        raise ConfigError(hint.format("a password without a user"))
    return ServerUrl(
        scheme=scheme,
        host=parts.hostname,
        port=port or default_ports[scheme],
        user=user,
        password=password,
        path=unquote(parts.path.lstrip("/")),
    )
