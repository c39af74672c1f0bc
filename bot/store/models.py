"""What pecbot remembers: the tables, as SQLAlchemy 2 typed models.

The journey of a message is visible in its ``state`` column::

    fetched ──claim──▶ analysing ──▶ analysed ──▶ reply_queued ──sent──▶ done
       ▲                   │                 └──▶ ignored
       └──── retry ────────┴──(too many failures)──▶ quarantined

Every arrow is one committed transaction (see :mod:`bot.store.queue` and
:mod:`bot.store.outbox`), so a crash between two arrows leaves the message in
a state the next run knows how to continue from.

``bot/store/migrations/versions/`` must describe exactly these tables: a test
runs Alembic's autogenerate comparison against both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

MessageState = Literal[
    "fetched", "analysing", "analysed", "reply_queued", "ignored", "done", "quarantined"
]
MESSAGE_STATES: tuple[MessageState, ...] = (
    "fetched",
    "analysing",
    "analysed",
    "reply_queued",
    "ignored",
    "done",
    "quarantined",
)
ReplyState = Literal["pending", "sent", "failed"]
REPLY_STATES: tuple[ReplyState, ...] = ("pending", "sent", "failed")
CaseStatus = Literal["complete", "incomplete"]

# Named constraints so that migrations and autogenerate agree on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current instant, timezone-aware (UTC)."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """An instant stored in UTC and always read back timezone-aware.

    SQLite has no time zones: SQLAlchemy would silently drop the offset of an
    aware datetime. Storing UTC everywhere keeps comparisons (lease expiry,
    retention) correct on both backends.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store: instants must be aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Case(Base):
    """One mailbox to renew: its documents come from any number of messages.

    ``status`` is the automatic verdict over all documents; ``manual_status``
    is an operator's decision and, when set, wins (:attr:`effective_status`).
    Automatic recomputation writes only the automatic columns, so a manual
    decision can never be overwritten by one.
    """

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_one_of("status", ("complete", "incomplete")), name="status"),
        CheckConstraint(
            "manual_status IS NULL OR " + _one_of("manual_status", ("complete", "incomplete")),
            name="manual_status",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(320), unique=True)
    ets_name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="incomplete")
    missing: Mapped[list[Any]] = mapped_column(default=list)
    problems: Mapped[list[Any]] = mapped_column(default=list)
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    manual_status: Mapped[str | None] = mapped_column(String(20))
    manual_note: Mapped[str | None] = mapped_column(Text)
    manual_by: Mapped[str | None] = mapped_column(String(200))
    manual_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    """Since when the case is complete (automatically or by decision); purge counts from here."""
    purged_at: Mapped[datetime | None]

    @property
    def effective_status(self) -> CaseStatus:
        """The operator's decision when there is one, else the automatic status."""
        chosen = self.manual_status or self.status
        return "complete" if chosen == "complete" else "incomplete"


class Message(Base):
    """One message taken from the inbox, its raw bytes in the blob store."""

    __tablename__ = "messages"
    __table_args__ = (CheckConstraint(_one_of("state", MESSAGE_STATES), name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(1000), unique=True)
    raw_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    raw_purged_at: Mapped[datetime | None]
    # What the analysis found, copied out of ``analysis`` for queries and replies.
    envelope_type: Mapped[str | None] = mapped_column(String(40))
    certified_sender: Mapped[str | None] = mapped_column(String(320))
    certified_at: Mapped[datetime | None]
    pec_id: Mapped[str | None] = mapped_column(String(500))
    message_id_header: Mapped[str | None] = mapped_column(String(1000))
    subject: Mapped[str | None] = mapped_column(Text)
    verdict: Mapped[str | None] = mapped_column(String(20))
    analysis: Mapped[dict[str, Any] | None]
    """The ``pecbot check --json`` object of this message."""
    state: Mapped[str] = mapped_column(String(20), default="fetched", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    retry_after: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    quarantined_at: Mapped[datetime | None]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)


class InboxSeen(Base):
    """An inbox UID already taken: never fetched again while UIDVALIDITY holds."""

    __tablename__ = "inbox_seen"
    __table_args__ = (UniqueConstraint("source", "uidvalidity", "uid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(500))
    """Which inbox and folder, e.g. ``imaps://bot@host/INBOX`` (no password)."""
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    """One document of a message, as the analysis classified and read it."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    filename: Mapped[str | None] = mapped_column(Text)
    """Nulled by the purge: file names often carry a person's name."""
    kind: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[dict[str, Any] | None]
    id_sides: Mapped[list[Any] | None]
    unreadable: Mapped[str | None] = mapped_column(Text)
    purged_at: Mapped[datetime | None]


class Reply(Base):
    """The outbox: one reply per message (unique), sent only once the server accepted it."""

    __tablename__ = "replies"
    __table_args__ = (CheckConstraint(_one_of("state", REPLY_STATES), name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str | None] = mapped_column(Text)
    message_id_header: Mapped[str] = mapped_column(String(1000))
    mime: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The full message as it will be sent; nulled by the purge once sent."""
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class Digest(Base):
    """One operators' digest per period (unique key): never sent twice."""

    __tablename__ = "digests"
    __table_args__ = (CheckConstraint(_one_of("state", REPLY_STATES), name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Who did what, when: operator decisions, quarantines, purges, daemon errors.

    Kept when documents are purged. Notes must never hold personal data.
    """

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    note: Mapped[str | None] = mapped_column(Text)


class DaemonState(Base):
    """Small facts about the daemon itself (last successful poll, …), by key."""

    __tablename__ = "daemon_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
