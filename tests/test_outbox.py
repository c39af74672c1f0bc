"""bot.outbox against a real SMTP server (aiosmtpd) on loopback, and the Maildir outbox."""

from __future__ import annotations

import email
import email.policy
import mailbox
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from bot.errors import ConfigError, OutboxError
from bot.outbox import OutboxOptions, open_outbox
from tests.servers import Certificates, SmtpServer, certificates, smtp_server  # noqa: F401  (fixtures)

FAST = OutboxOptions(timeout=5.0)

# aiosmtpd cannot tell implicit TLS from plain text, so it warns about AUTH without TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def reply(to: str = "ets@example.org") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "csvassovoce@example.org"
    message["To"] = to
    message["Bcc"] = "archivio@example.org"
    message["Subject"] = "Rinnovo PEC: documentazione ricevuta — è completa"
    message["Message-ID"] = make_msgid(domain="example.org")
    message["Auto-Submitted"] = "auto-replied"
    message.set_content("Gentile associazione,\nabbiamo ricevuto i documenti. Perché no?\n")
    return message


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


# --- SMTP --------------------------------------------------------------------------


@pytest.mark.integration
def test_send_over_plain_smtp_to_loopback(smtp_server: SmtpServer) -> None:  # noqa: F811
    sent = reply()
    open_outbox(smtp_server.url(), options=FAST).send(sent)

    [received] = smtp_server.received
    assert received.mail_from == "csvassovoce@example.org"
    assert set(received.rcpt_tos) == {"ets@example.org", "archivio@example.org"}
    delivered = parse(received.raw)
    assert delivered["Subject"] == sent["Subject"]
    assert delivered["Message-ID"] == sent["Message-ID"]
    assert delivered["Bcc"] is None  # Bcc reaches its recipient, not the headers
    assert "Perché no?" in delivered.get_content()


@pytest.mark.integration
def test_starttls_and_auth_with_the_test_ca(certificates: Certificates) -> None:  # noqa: F811
    with SmtpServer(starttls=True, auth=True, certificates=certificates) as server:
        open_outbox(server.url(), options=OutboxOptions(ca_file=certificates.ca_file)).send(reply())
        [received] = server.received
    assert received.tls is True
    assert received.authenticated_as == SmtpServer.user


@pytest.mark.integration
def test_implicit_tls_and_auth_with_the_test_ca(certificates: Certificates) -> None:  # noqa: F811
    with SmtpServer(implicit_tls=True, auth=True, certificates=certificates) as server:
        assert server.url().startswith("smtps://")
        open_outbox(server.url(), options=OutboxOptions(ca_file=certificates.ca_file)).send(reply())
        [received] = server.received
    assert received.tls is True
    assert received.authenticated_as == SmtpServer.user


@pytest.mark.integration
@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "smtps"])
def test_certificates_are_verified_by_default(certificates: Certificates, implicit: bool) -> None:  # noqa: F811
    with SmtpServer(
        starttls=not implicit, implicit_tls=implicit, auth=True, certificates=certificates
    ) as server:
        with pytest.raises(OutboxError, match="certificate verification failed") as caught:
            open_outbox(server.url(), options=FAST).send(reply())
        assert server.received == []
    assert caught.value.permanent is False
    assert SmtpServer.password not in str(caught.value)


@pytest.mark.integration
def test_wrong_password_is_transient_and_not_echoed(certificates: Certificates) -> None:  # noqa: F811
    with SmtpServer(starttls=True, auth=True, certificates=certificates) as server:
        url = server.url().replace("smtp%20p%40ss", "wrong-secret")
        assert "wrong-secret" in url
        with pytest.raises(OutboxError, match="login refused") as caught:
            open_outbox(url, options=OutboxOptions(ca_file=certificates.ca_file)).send(reply())
    assert caught.value.permanent is False
    assert "wrong-secret" not in str(caught.value)


@pytest.mark.integration
def test_server_down_is_transient_and_the_reply_goes_out_when_it_is_back(smtp_server: SmtpServer) -> None:  # noqa: F811
    outbox = open_outbox(smtp_server.url(), options=FAST)
    waiting = reply()
    smtp_server.stop()
    with pytest.raises(OutboxError, match="server unavailable") as caught:
        outbox.send(waiting)
    assert caught.value.permanent is False

    smtp_server.start()
    outbox.send(waiting)
    assert [parse(r.raw)["Message-ID"] for r in smtp_server.received] == [waiting["Message-ID"]]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("answer", "permanent"),
    [("550 5.1.1 No such mailbox", True), ("450 4.2.1 Mailbox busy, try later", False)],
)
def test_a_refused_recipient_is_permanent_only_for_5xx(
    smtp_server: SmtpServer, answer: str, permanent: bool  # noqa: F811
) -> None:
    smtp_server.refuse["nobody@example.org"] = answer
    message = reply(to="nobody@example.org")
    del message["Bcc"]
    with pytest.raises(OutboxError, match="refused") as caught:
        open_outbox(smtp_server.url(), options=FAST).send(message)
    assert caught.value.permanent is permanent
    assert smtp_server.received == []


@pytest.mark.parametrize(
    "url",
    [
        "smtps://user:hunter2@mail.example.org:notaport",
        "smtps://user:hun/ter2@mail.example.org:465",
        "smtps://user@mail.example.org:465",
        "smtps://user:hunter2@mail.example.org:465/INBOX",
        "ftp://user:hunter2@mail.example.org",
        "smtps://user:hunter2@:465",
    ],
)
def test_bad_outbox_urls_raise_config_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_outbox(url)
    assert "hunter2" not in str(caught.value)
    assert "ter2" not in str(caught.value)
    assert "PECBOT_OUTBOX" in str(caught.value)


# --- Maildir -----------------------------------------------------------------------


def test_maildir_outbox_writes_a_parseable_message(tmp_path: Path) -> None:
    sent = reply()
    open_outbox(f"maildir:{tmp_path / 'outbox'}").send(sent)

    [written] = list((tmp_path / "outbox" / "new").iterdir())
    parsed = parse(written.read_bytes())
    assert parsed["To"] == "ets@example.org"
    assert parsed["Subject"] == sent["Subject"]
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed.get_content() == sent.get_content()
    assert list((tmp_path / "outbox" / "tmp").iterdir()) == []


def test_maildir_outbox_writes_the_same_reply_once(tmp_path: Path) -> None:
    outbox = open_outbox(f"maildir:{tmp_path / 'outbox'}")
    sent, other = reply(), reply()
    outbox.send(sent)
    # A person's client reads it (new/ -> cur/ with flags); the same reply handed over again.
    store = mailbox.Maildir(tmp_path / "outbox")
    [key] = store.keys()
    seen = store.get_message(key)
    seen.set_subdir("cur")
    seen.add_flag("S")
    store[key] = seen
    outbox.send(sent)
    outbox.send(other)
    ids = sorted(str(m["Message-ID"]) for m in mailbox.Maildir(tmp_path / "outbox"))
    assert ids == sorted([str(sent["Message-ID"]), str(other["Message-ID"])])


def test_maildir_outbox_that_cannot_be_written_raises_outbox_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutboxError):
        open_outbox(f"maildir:{blocker}").send(reply())
