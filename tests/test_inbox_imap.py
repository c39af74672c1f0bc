"""bot.inbox.imap against a real Dovecot on loopback, and the inbox URL forms."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import closing

import pytest

from bot.errors import ConfigError, InboxError, StoreError
from bot.inbox import Fetched, Inbox, InboxOptions, open_inbox
from tests.servers import Dovecot, dovecot, dovecot_tls  # noqa: F401  (fixtures)

FAST = InboxOptions(
    timeout=5.0, idle_renew=1.0, reconnect_within=4.0, backoff_initial=0.1, backoff_max=0.4
)


def message(n: int, padding: int = 0) -> bytes:
    """A small distinct message (CRLF, as IMAP stores it)."""
    body = f"Messaggio numero {n}\r\n" + ("x" * 76 + "\r\n") * (padding // 78)
    return (
        f"From: ets{n}@example.org\r\nTo: bot@example.org\r\nSubject: prova {n}\r\n"
        f"Message-ID: <m{n}@example.org>\r\n\r\n{body}"
    ).encode()


class Recorded:
    """What a store would remember: the highest UID per UIDVALIDITY."""

    def __init__(self) -> None:
        self.highest: dict[int, int] = {}
        self.asked: list[int] = []

    def __call__(self, uidvalidity: int) -> int:
        self.asked.append(uidvalidity)
        return self.highest.get(uidvalidity, 0)

    def record(self, fetched: list[Fetched]) -> list[Fetched]:
        for item in fetched:
            self.highest[item.uidvalidity] = max(self.highest.get(item.uidvalidity, 0), item.uid)
        return fetched


@pytest.fixture
def inbox(dovecot: Dovecot) -> Iterator[Inbox]:  # noqa: F811
    with closing(open_inbox(dovecot.url(), options=FAST)) as opened:
        yield opened


def logged_out_bytes(server: Dovecot, sessions_before: int) -> list[int]:
    """Bytes sent by the server to each IMAP session that logged out after ``sessions_before``."""
    deadline = time.monotonic() + 3
    while True:
        outs = [int(n) for n in re.findall(r"Logged out in=\d+ out=(\d+)", server.log())]
        if len(outs) > sessions_before or time.monotonic() > deadline:
            return outs[sessions_before:]
        time.sleep(0.05)


@pytest.mark.integration
def test_fetch_downloads_whole_messages_and_leaves_flags_alone(dovecot: Dovecot, inbox: Inbox) -> None:  # noqa: F811
    dovecot.append(message(1), flags="\\Flagged")
    dovecot.append(message(2))
    before = dovecot.flags()

    fetched = inbox.fetch_new(Recorded())

    assert [f.raw for f in fetched] == [message(1), message(2)]
    assert [f.uid for f in fetched] == dovecot.uids()
    assert fetched[0].source == f"imap://{Dovecot.user}@127.0.0.1:{dovecot.port}/INBOX"
    assert dovecot.flags() == before
    assert all("\\Seen" not in flags for flags in dovecot.flags().values())


@pytest.mark.integration
def test_only_new_uids_are_fetched_and_old_ones_are_not_downloaded_again(dovecot: Dovecot) -> None:  # noqa: F811
    recorded = Recorded()
    dovecot.append(message(1, padding=300_000))
    dovecot.append(message(2, padding=300_000))
    with closing(open_inbox(dovecot.url(), options=FAST)) as first:
        assert len(recorded.record(first.fetch_new(recorded))) == 2
        assert first.fetch_new(recorded) == []
    sessions = len(logged_out_bytes(dovecot, 0))

    dovecot.append(message(3))
    with closing(open_inbox(dovecot.url(), options=FAST)) as second:
        new = recorded.record(second.fetch_new(recorded))
    assert [f.raw for f in new] == [message(3)]
    # The server's own byte count for that session: the two 300 kB messages stayed there.
    assert logged_out_bytes(dovecot, sessions)[-1] < 20_000


@pytest.mark.integration
def test_limit_returns_oldest_first_and_the_rest_on_the_next_call(dovecot: Dovecot, inbox: Inbox) -> None:  # noqa: F811
    for n in range(5):
        dovecot.append(message(n))
    recorded = Recorded()
    batches = []
    while batch := recorded.record(inbox.fetch_new(recorded, limit=2)):
        batches.append([f.raw for f in batch])
    assert batches == [[message(0), message(1)], [message(2), message(3)], [message(4)]]


@pytest.mark.integration
def test_uidvalidity_change_starts_again_from_zero(dovecot: Dovecot, inbox: Inbox) -> None:  # noqa: F811
    dovecot.append(message(1))
    dovecot.append(message(2))
    recorded = Recorded()
    first = recorded.record(inbox.fetch_new(recorded))
    old = first[0].uidvalidity

    dovecot.set_uidvalidity(old + 1000)
    again = recorded.record(inbox.fetch_new(recorded))

    assert recorded.asked[-1] == old + 1000
    assert [(f.uidvalidity, f.raw) for f in again] == [(old + 1000, message(1)), (old + 1000, message(2))]
    assert inbox.fetch_new(recorded) == []


@pytest.mark.integration
def test_idle_wakes_the_caller_soon_after_a_delivery(dovecot: Dovecot) -> None:  # noqa: F811
    # IDLE renewed every 0.3 s, mail after 1.2 s: the wake-up must survive renewals.
    options = InboxOptions(timeout=5.0, idle_renew=0.3, reconnect_within=4.0, backoff_initial=0.1)
    with closing(open_inbox(dovecot.url(), options=options)) as inbox:
        recorded = Recorded()
        assert inbox.fetch_new(recorded) == []
        delivery = threading.Timer(1.2, dovecot.append, args=(message(7),))
        started = time.monotonic()
        delivery.start()
        try:
            woke = inbox.wait(15)
        finally:
            delivery.join()
        elapsed = time.monotonic() - started
        assert woke is True
        assert 1.1 < elapsed < 3.5
        assert [f.raw for f in inbox.fetch_new(recorded)] == [message(7)]


@pytest.mark.integration
def test_wait_without_mail_returns_false_at_the_timeout(inbox: Inbox) -> None:
    inbox.fetch_new(Recorded())
    started = time.monotonic()
    assert inbox.wait(1.5) is False
    assert 1.4 < time.monotonic() - started < 3.0


@pytest.mark.integration
def test_server_without_idle_is_polled() -> None:
    with Dovecot(capabilities="IMAP4rev1 LITERAL+ SASL-IR ID ENABLE") as server, closing(
        open_inbox(server.url(), options=FAST)
    ) as inbox:
        recorded = Recorded()
        inbox.fetch_new(recorded)
        server.append(message(1))
        started = time.monotonic()
        assert inbox.wait(1.0) is False  # no IDLE: a plain sleep, the caller polls
        assert time.monotonic() - started >= 0.95
        assert [f.raw for f in inbox.fetch_new(recorded)] == [message(1)]


@pytest.mark.integration
def test_server_restart_mid_run_reconnects_and_continues(dovecot: Dovecot, inbox: Inbox) -> None:  # noqa: F811
    recorded = Recorded()
    dovecot.append(message(1))
    assert len(recorded.record(inbox.fetch_new(recorded))) == 1

    dovecot.restart()
    dovecot.append(message(2))
    assert [f.raw for f in recorded.record(inbox.fetch_new(recorded))] == [message(2)]

    # A restart during IDLE: the wait ends (mail may have come meanwhile) and fetching goes on.
    restart = threading.Timer(0.5, dovecot.restart, kwargs={"graceful": False})
    restart.start()
    try:
        assert inbox.wait(20) is True
    finally:
        restart.join()
    dovecot.append(message(3))
    assert [f.raw for f in recorded.record(inbox.fetch_new(recorded))] == [message(3)]


@pytest.mark.integration
def test_server_down_surfaces_as_inbox_error_after_a_bounded_wait(dovecot: Dovecot) -> None:  # noqa: F811
    options = InboxOptions(timeout=2.0, reconnect_within=1.0, backoff_initial=0.1, backoff_max=0.3)
    with closing(open_inbox(dovecot.url(), options=options)) as inbox:
        recorded = Recorded()
        inbox.fetch_new(recorded)
        dovecot.stop(graceful=False)
        started = time.monotonic()
        with pytest.raises(InboxError, match="unreachable"):
            inbox.fetch_new(recorded)
        assert time.monotonic() - started < 3.0

        dovecot.start()
        dovecot.append(message(1))
        assert [f.raw for f in inbox.fetch_new(recorded)] == [message(1)]


@pytest.mark.integration
def test_imaps_with_the_test_ca_works(dovecot_tls: Dovecot) -> None:  # noqa: F811
    assert dovecot_tls.certificates
    dovecot_tls.append(message(1))
    options = InboxOptions(ca_file=dovecot_tls.certificates.ca_file, timeout=5.0)
    with closing(open_inbox(dovecot_tls.url(tls=True), options=options)) as inbox:
        fetched = inbox.fetch_new(Recorded())
    assert [f.raw for f in fetched] == [message(1)]
    assert fetched[0].source.startswith("imaps://")


@pytest.mark.integration
def test_imaps_verifies_certificates_by_default(dovecot_tls: Dovecot) -> None:  # noqa: F811
    with closing(open_inbox(dovecot_tls.url(tls=True), options=FAST)) as inbox:
        started = time.monotonic()
        with pytest.raises(InboxError, match="certificate verification failed") as caught:
            inbox.fetch_new(Recorded())
    assert time.monotonic() - started < 2.0  # not retried: waiting cannot fix it
    assert Dovecot.password not in str(caught.value)


@pytest.mark.integration
def test_wrong_password_is_refused_at_once_without_echoing_it(dovecot: Dovecot) -> None:  # noqa: F811
    url = dovecot.url().replace("s3cret", "wrong")
    with closing(open_inbox(url, options=FAST)) as inbox, pytest.raises(InboxError) as caught:
        inbox.fetch_new(Recorded())
    assert "login refused" in str(caught.value)
    assert "wrong" not in str(caught.value)


@pytest.mark.integration
def test_an_error_of_the_callers_store_passes_through_unwrapped(dovecot: Dovecot, inbox: Inbox) -> None:  # noqa: F811
    def broken_store(uidvalidity: int) -> int:
        raise StoreError("database is locked")

    dovecot.append(message(1))
    with pytest.raises(StoreError):
        inbox.fetch_new(broken_store)
    assert len(inbox.fetch_new(Recorded())) == 1


@pytest.mark.integration
def test_acknowledge_does_nothing_by_default(dovecot: Dovecot, inbox: Inbox) -> None:  # noqa: F811
    dovecot.append(message(1))
    before = dovecot.flags()
    for fetched in inbox.fetch_new(Recorded()):
        inbox.acknowledge(fetched)
    assert dovecot.flags() == before


@pytest.mark.integration
def test_acknowledge_marks_seen_and_moves_when_configured(dovecot: Dovecot) -> None:  # noqa: F811
    dovecot.append(message(1))
    dovecot.append(message(2))
    options = InboxOptions(timeout=5.0, mark_seen=True, move_to="Elaborati")
    with closing(open_inbox(dovecot.url(), options=options)) as inbox:
        first, second = inbox.fetch_new(Recorded())
        assert all("\\Seen" not in f for f in dovecot.flags().values())  # PEEK even when writable
        inbox.acknowledge(first)
    assert dovecot.uids() == [second.uid]
    assert [flags - {"\\Recent"} for flags in dovecot.flags("Elaborati").values()] == [{"\\Seen"}]


# --- URL forms (no server) ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "imaps://user:hunter2@mail.example.org:notaport/INBOX",
        "imaps://user:hun/ter2@mail.example.org:993/INBOX",
        "imaps://user:hunter2#@mail.example.org/INBOX",
        "pop3://user:hunter2@mail.example.org/",
        "imaps://:hunter2@mail.example.org/INBOX",
        "imaps://mail.example.org/INBOX",
        "imap://user:hunter2@mail.example.org/INBOX",
        "hunter2",
    ],
)
def test_bad_inbox_urls_raise_config_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_inbox(url)
    assert "hunter2" not in str(caught.value)
    assert "ter2" not in str(caught.value)
    assert "PECBOT_INBOX" in str(caught.value)


def test_inbox_url_parts_are_percent_decoded_and_defaults_applied() -> None:
    inbox = open_inbox("imaps://ets%40example.org:p%40ss%2Fw@mail.example.org/Posta%20PEC")
    assert inbox.source == "imaps://ets@example.org@mail.example.org:993/Posta PEC"
    assert open_inbox("imaps://u:p@mail.example.org").source.endswith(":993/INBOX")


def test_plain_imap_to_a_remote_host_needs_an_explicit_option() -> None:
    inbox = open_inbox(
        "imap://u:p@mail.example.org/INBOX", options=InboxOptions(allow_plain_remote=True)
    )
    assert inbox.source == "imap://u@mail.example.org:143/INBOX"
    assert open_inbox("imap://u:p@localhost:1143/INBOX").source.startswith("imap://u@localhost")
