"""Where do replies go? An SMTP server or a local Maildir.

:meth:`Outbox.send` either hands the reply over or raises
:class:`bot.errors.OutboxError`; its ``permanent`` flag tells the daemon
whether to keep the reply waiting and retry (server down, timeout, TLS, login)
or to give up on it (the server refused this message with a 5xx). Queueing is
the daemon's: a reply waits in the store until ``send`` succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from bot.errors import ConfigError
from bot.mailurl import maildir_path, parse_server_url, scheme_of

OUTBOX_FORM = "smtps://USER:PASS@HOST:PORT, smtp://[USER:PASS@]HOST:PORT or maildir:PATH"


@dataclass(frozen=True)
class OutboxOptions:
    """How an outbox behaves; the defaults suit a production server."""

    ca_file: Path | None = None
    """Trust only this CA bundle instead of the system's (a private or self-signed server)."""
    allow_plain_remote: bool = False
    """Allow SMTP without TLS to a host that is not loopback (a server offering no STARTTLS)."""
    timeout: float = 60.0
    """Socket timeout of every SMTP exchange, seconds."""


class Outbox(Protocol):
    """A place replies are handed to."""

    def send(self, message: EmailMessage) -> None:
        """Hand ``message`` over to its recipients (To/Cc/Bcc) or raise OutboxError."""
        ...


def open_outbox(url: str, *, setting: str = "PECBOT_OUTBOX", options: OutboxOptions | None = None) -> Outbox:
    """The outbox a PECBOT_OUTBOX URL names. Bad URLs raise ConfigError (password never shown).

    Nothing is contacted until the first :meth:`Outbox.send`.
    """
    options = options or OutboxOptions()
    if scheme_of(url) == "maildir":
        from bot.outbox.maildir import MaildirOutbox

        return MaildirOutbox(maildir_path(url, setting=setting))
    address = parse_server_url(
        url, setting=setting, default_ports={"smtps": 465, "smtp": 587}, form=OUTBOX_FORM
    )
    if address.path:
        raise ConfigError(f"{setting}: an SMTP URL takes no path; expected {OUTBOX_FORM}")
    if (address.user is None) != (address.password is None):
        raise ConfigError(f"{setting}: give both USER and PASS, or neither; expected {OUTBOX_FORM}")
    from bot.outbox.smtp import SmtpOutbox

    return SmtpOutbox(address, options)
