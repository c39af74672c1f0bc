"""One error hierarchy for everything pecbot raises on purpose.

Callers catch the narrowest class they can handle::

    PecbotError
    ├── ConfigError            bad configuration (environment, --config file)
    ├── RulesError             a file in rules/ is wrong; carries file and line
    ├── MessageUnreadable      the bytes are not an e-mail message at all
    ├── AttachmentUnreadable   one attachment cannot be read (corrupt, encrypted,
    │                          empty, too big, a bomb); becomes a warning, never a crash
    ├── StoreError             the database refused or is at the wrong schema
    └── TransportError         the inbox or outbox server failed
        ├── InboxError
        └── OutboxError

A normal early end of the analysis (a PEC receipt, our own reply) is not an
error: it is a :class:`bot.model.Stop` recorded on the submission.
"""

from __future__ import annotations


class PecbotError(Exception):
    """Base of every error pecbot raises deliberately."""


class ConfigError(PecbotError):
    """The configuration (environment or --config file) is unusable."""


class RulesError(PecbotError):
    """A rules file is invalid; ``str()`` reads ``file:line: what is wrong``."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {problem}")


class MessageUnreadable(PecbotError):
    """The input cannot be read as an e-mail message."""


class AttachmentUnreadable(PecbotError):
    """One attachment cannot be read; the reason is meant for an operator."""


class StoreError(PecbotError):
    """The database cannot be used (unreachable, wrong schema, refused write)."""


class TransportError(PecbotError):
    """A mail server (IMAP or SMTP) failed or refused."""


class InboxError(TransportError):
    """The inbox cannot be read."""


class OutboxError(TransportError):
    """A reply could not be handed to the outgoing server.

    ``permanent`` is true when the server refused *this message* for good (a
    5xx to the sender, a recipient or the data): retrying it is useless. When
    false the reply should wait and be retried (server down, timeout, TLS or
    login trouble — problems of the server, not of the message).
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
