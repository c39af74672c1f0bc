"""bot.inbox.maildir: stable UIDs over a Maildir that people's clients also touch."""

from __future__ import annotations

import mailbox
import os
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.inbox import Fetched, Inbox, InboxOptions, open_inbox
from bot.inbox.maildir import UIDLIST

FAST = InboxOptions(poll_interval=0.05)


def message(n: int) -> bytes:
    return (
        f"From: ets{n}@example.org\nTo: bot@example.org\nSubject: prova {n}\n"
        f"Message-ID: <m{n}@example.org>\n\nMessaggio numero {n}\n"
    ).encode()


def deliver(folder: Path, n: int) -> str:
    """Deliver like an MDA: into new/, with increasing mtimes so the order is certain."""
    key = mailbox.Maildir(folder, create=True).add(message(n))
    stamp = 1_700_000_000 + n
    os.utime(folder / "new" / key, (stamp, stamp))
    return key


class Recorded:
    """What a store would remember: the highest UID per UIDVALIDITY."""

    def __init__(self) -> None:
        self.highest: dict[int, int] = {}

    def __call__(self, uidvalidity: int) -> int:
        return self.highest.get(uidvalidity, 0)

    def record(self, fetched: list[Fetched]) -> list[Fetched]:
        for item in fetched:
            self.highest[item.uidvalidity] = max(self.highest.get(item.uidvalidity, 0), item.uid)
        return fetched


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "inbox"


@pytest.fixture
def inbox(folder: Path) -> Iterator[Inbox]:
    with closing(open_inbox(f"maildir:{folder}", options=FAST)) as opened:
        yield opened


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every message file (relative path -> content), to prove nothing was touched."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for sub in ("new", "cur")
        for p in sorted((folder / sub).iterdir())
    }


def test_fetch_reads_messages_in_delivery_order_and_leaves_them_alone(folder: Path, inbox: Inbox) -> None:
    for n in (2, 1, 3):
        deliver(folder, n)
    before = snapshot(folder)

    fetched = inbox.fetch_new(Recorded())

    assert [f.raw for f in fetched] == [message(1), message(2), message(3)]
    assert [f.uid for f in fetched] == [1, 2, 3]
    assert {f.source for f in fetched} == {f"maildir:{folder.resolve()}"}
    assert snapshot(folder) == before


def test_only_new_messages_come_on_the_next_call(folder: Path, inbox: Inbox) -> None:
    recorded = Recorded()
    deliver(folder, 1)
    assert len(recorded.record(inbox.fetch_new(recorded))) == 1
    assert inbox.fetch_new(recorded) == []
    deliver(folder, 2)
    assert [f.raw for f in recorded.record(inbox.fetch_new(recorded))] == [message(2)]


def test_uids_survive_a_client_reading_and_flagging_messages(folder: Path, inbox: Inbox) -> None:
    recorded = Recorded()
    keys = [deliver(folder, n) for n in (1, 2)]
    first = recorded.record(inbox.fetch_new(recorded))

    # A person's client reads message 1: new/KEY -> cur/KEY:2,S
    store = mailbox.Maildir(folder)
    read = store.get_message(keys[0])
    read.set_subdir("cur")
    read.add_flag("S")
    store[keys[0]] = read
    deliver(folder, 3)

    with closing(open_inbox(f"maildir:{folder}", options=FAST)) as restarted:
        new = restarted.fetch_new(recorded)
    assert [(f.uid, f.raw) for f in new] == [(3, message(3))]
    assert new[0].uidvalidity == first[0].uidvalidity


def test_limit_returns_oldest_first_and_the_rest_on_the_next_call(folder: Path, inbox: Inbox) -> None:
    for n in range(5):
        deliver(folder, n)
    recorded = Recorded()
    batches = []
    while batch := recorded.record(inbox.fetch_new(recorded, limit=2)):
        batches.append([f.uid for f in batch])
    assert batches == [[1, 2], [3, 4], [5]]


def test_a_lost_uid_list_means_a_new_uidvalidity(folder: Path, inbox: Inbox) -> None:
    recorded = Recorded()
    deliver(folder, 1)
    old = recorded.record(inbox.fetch_new(recorded))[0].uidvalidity

    (folder / UIDLIST).write_bytes(b"garbage\n")
    again = inbox.fetch_new(recorded)

    assert [f.raw for f in again] == [message(1)]
    assert again[0].uidvalidity > old
    assert (folder / (UIDLIST + ".damaged")).read_bytes() == b"garbage\n"

    (folder / UIDLIST).unlink()
    third = inbox.fetch_new(recorded)
    assert [f.raw for f in third] == [message(1)]
    assert third[0].uidvalidity > again[0].uidvalidity


def test_a_torn_last_line_is_dropped_and_numbering_goes_on(folder: Path, inbox: Inbox) -> None:
    recorded = Recorded()
    deliver(folder, 1)
    validity = recorded.record(inbox.fetch_new(recorded))[0].uidvalidity
    with open(folder / UIDLIST, "ab") as handle:
        handle.write(b"2 half-writ")  # a crash in the middle of an append
    deliver(folder, 2)

    new = inbox.fetch_new(recorded)
    assert [(f.uidvalidity, f.uid, f.raw) for f in new] == [(validity, 2, message(2))]


def test_a_message_deleted_by_a_person_is_skipped(folder: Path, inbox: Inbox) -> None:
    keys = [deliver(folder, n) for n in (1, 2)]
    mailbox.Maildir(folder).remove(keys[0])
    assert [f.raw for f in inbox.fetch_new(Recorded())] == [message(2)]


def test_wait_wakes_on_delivery_and_times_out_otherwise(folder: Path, inbox: Inbox) -> None:
    recorded = Recorded()
    deliver(folder, 1)
    assert inbox.wait(0) is True  # not numbered yet: there is mail
    recorded.record(inbox.fetch_new(recorded))

    started = time.monotonic()
    assert inbox.wait(0.3) is False
    assert time.monotonic() - started >= 0.29

    delivery = threading.Timer(0.2, deliver, args=(folder, 2))
    started = time.monotonic()
    delivery.start()
    try:
        assert inbox.wait(10) is True
    finally:
        delivery.join()
    assert time.monotonic() - started < 2


def test_acknowledge_does_nothing_by_default(folder: Path, inbox: Inbox) -> None:
    deliver(folder, 1)
    before = snapshot(folder)
    for fetched in inbox.fetch_new(Recorded()):
        inbox.acknowledge(fetched)
    assert snapshot(folder) == before


def test_acknowledge_marks_seen_and_moves_when_configured(folder: Path) -> None:
    deliver(folder, 1)
    deliver(folder, 2)
    options = InboxOptions(mark_seen=True, move_to="Elaborati")
    with closing(open_inbox(f"maildir:{folder}", options=options)) as inbox:
        recorded = Recorded()
        first, second = recorded.record(inbox.fetch_new(recorded))
        inbox.acknowledge(first)
        assert inbox.fetch_new(recorded) == []  # moving does not make it new again

    moved = mailbox.Maildir(folder).get_folder("Elaborati")
    assert [m.get_flags() for m in moved] == ["S"]
    assert [bytes(m) for m in moved] == [message(1)]
    assert [bytes(m) for m in mailbox.Maildir(folder)] == [message(2)]


def test_maildir_url_forms(tmp_path: Path) -> None:
    absolute = open_inbox(f"maildir://{tmp_path}/a")
    assert absolute.source == f"maildir:{tmp_path}/a"
    assert (tmp_path / "a" / "new").is_dir()
    with pytest.raises(ConfigError, match="PECBOT_INBOX"):
        open_inbox("maildir:")
