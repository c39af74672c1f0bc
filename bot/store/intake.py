"""What came in: which inbox messages are already stored, and storing a new one.

Each inbox item has two identities. Its (source, UIDVALIDITY, UID) says
where it sits in the inbox, and lets a poll ask only for what is newer than
the highest UID seen. Its dedup key (:mod:`bot.store.dedup`) says what it is,
and survives a UIDVALIDITY reset or a second delivery: a message already
stored is never stored (or answered) again, only its new UID is noted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store.atomic import insert_if_absent
from bot.store.blobs import BlobStore
from bot.store.models import InboxSeen, Message, utcnow


def is_seen(session: Session, source: str, uidvalidity: int, uid: int) -> bool:
    """True when this UID of this inbox (under this UIDVALIDITY) was already taken."""
    query = select(InboxSeen.id).where(
        InboxSeen.source == source, InboxSeen.uidvalidity == uidvalidity, InboxSeen.uid == uid
    )
    return session.scalar(query) is not None


def highest_seen_uid(session: Session, source: str, uidvalidity: int) -> int | None:
    """The highest UID taken from this inbox under this UIDVALIDITY; None after a reset."""
    query = select(func.max(InboxSeen.uid)).where(
        InboxSeen.source == source, InboxSeen.uidvalidity == uidvalidity
    )
    return session.scalar(query)


def unseen_uids(session: Session, source: str, uidvalidity: int, uids: Iterable[int]) -> list[int]:
    """The UIDs among ``uids`` not taken yet, ascending: the ones to fetch."""
    wanted = sorted(set(uids))
    seen: set[int] = set()
    for start in range(0, len(wanted), 500):  # keep IN lists a sane size
        chunk = wanted[start : start + 500]
        seen.update(
            session.scalars(
                select(InboxSeen.uid).where(
                    InboxSeen.source == source,
                    InboxSeen.uidvalidity == uidvalidity,
                    InboxSeen.uid.in_(chunk),
                )
            )
        )
    return [uid for uid in wanted if uid not in seen]


def is_known(session: Session, dedup_key: str) -> bool:
    """True when a message with this dedup key is stored (no need to download it again)."""
    return session.scalar(select(Message.id).where(Message.dedup_key == dedup_key)) is not None


def record_known(session: Session, source: str, uidvalidity: int, uid: int, dedup_key: str) -> bool:
    """Mark a UID as seen because its dedup key is already stored; False if the key is new.

    Lets the daemon skip downloading a message it already has (after a
    UIDVALIDITY reset, or a copy in another folder) from its headers alone.
    """
    message_id = session.scalar(select(Message.id).where(Message.dedup_key == dedup_key))
    if message_id is None:
        session.rollback()
        return False
    _mark_seen(session, source, uidvalidity, uid, message_id)
    session.commit()
    return True


def record_fetched(
    session: Session,
    blobs: BlobStore,
    *,
    source: str,
    uidvalidity: int,
    uid: int,
    raw: bytes,
    dedup_key: str,
    now: datetime | None = None,
) -> Message | None:
    """Store a message just taken from the inbox and mark its UID seen, in one commit.

    The raw bytes reach the blob store (durably) before the row that points
    to them is committed. Returns the new message, or None when the dedup key
    was already stored; the UID is recorded as seen in both cases.
    """
    if not is_known(session, dedup_key):
        session.rollback()  # do not hold a SQLite write lock while writing the file
        sha256 = blobs.put(raw)
        inserted = insert_if_absent(
            session,
            Message,
            {
                "dedup_key": dedup_key,
                "raw_sha256": sha256,
                "size": len(raw),
                "received_at": now or utcnow(),
                "state": "fetched",
                "attempts": 0,
            },
            unique=("dedup_key",),
        )
    else:
        inserted = False
    message_id = session.scalar(select(Message.id).where(Message.dedup_key == dedup_key))
    assert message_id is not None  # inserted now, or present since is_known
    _mark_seen(session, source, uidvalidity, uid, message_id, now)
    session.commit()
    return session.get(Message, message_id, populate_existing=True) if inserted else None


def _mark_seen(
    session: Session,
    source: str,
    uidvalidity: int,
    uid: int,
    message_id: int,
    now: datetime | None = None,
) -> None:
    insert_if_absent(
        session,
        InboxSeen,
        {
            "source": source,
            "uidvalidity": uidvalidity,
            "uid": uid,
            "message_id": message_id,
            "seen_at": now or utcnow(),
        },
        unique=("source", "uidvalidity", "uid"),
    )
