"""Real mail servers on loopback for integration tests — no mocks.

* :class:`Dovecot` runs Debian's ``dovecot`` from a configuration of its own in
  a private temporary folder: an unprivileged port on 127.0.0.1, a
  passwd-file passdb, a static userdb as the ``dovecot`` user, Maildir storage,
  optionally implicit TLS with a certificate made by :func:`make_certificates`.
* :class:`SmtpServer` is an aiosmtpd server that keeps every message it
  accepts; ``stop()``/``start()`` simulate an outage; STARTTLS, implicit TLS
  and AUTH are optional.

The fixtures at the bottom (``dovecot``, ``dovecot_tls``, ``smtp_server``,
``certificates``) are imported by the test modules that need them, so the
harness is reusable without touching a shared ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import grp
import imaplib
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, *, up: bool = True, timeout: float = 10.0) -> None:
    """Block until the port accepts connections (``up``) or refuses them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                answering = True
        except OSError:
            answering = False
        if answering == up:
            return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} still {'closed' if up else 'open'} after {timeout}s")


def _running_in_group(group: int) -> bool:
    """Whether a process of ``group`` still runs (zombies waiting for init do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


def _end_group(group: int, first: signal.Signals) -> None:
    """Signal every process left in ``group``; SIGKILL whatever still runs 1 s later."""
    for signum in (first, signal.SIGKILL):
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if not _running_in_group(group):
                return
            time.sleep(0.02)


# --- certificates ----------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    """A throw-away CA and a server certificate it signed for 127.0.0.1/localhost."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context presenting the test certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificates(folder: Path) -> Certificates:
    """Write a test CA and a server certificate (SAN 127.0.0.1, localhost) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pecbot test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    certs = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    certs.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    certs.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    certs.key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certs


# --- Dovecot ---------------------------------------------------------------------

_CONFIG = """\
# Written by tests/servers.py for one test run; nothing here is shared.
protocols = imap
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
instance_name = pecbot-test-{port}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {login_user}
first_valid_uid = 1
first_valid_gid = 1
disable_plaintext_auth = no
auth_failure_delay = 0
auth_mechanisms = plain login
ssl = {ssl}
{ssl_files}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
{capability}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {imaps_port}
  }}
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
"""


class Dovecot:
    """A real Dovecot IMAP server on loopback, living in a private temporary folder.

    ``with Dovecot() as server:`` starts it and removes everything on exit.
    ``tls=True`` also opens an implicit-TLS port (:attr:`imaps_port`) whose
    certificate is signed by :attr:`certificates`' CA. ``capabilities`` replaces
    the advertised capability list (e.g. to hide IDLE).
    """

    user = "pecbot"
    password = "s3cret p@ss/word"

    def __init__(self, *, tls: bool = False, capabilities: str | None = None) -> None:
        self.port = free_port()
        self.imaps_port = free_port() if tls else 0
        self.root = Path(tempfile.mkdtemp(prefix="pecbot-dovecot-"))
        # Dovecot's unprivileged processes must traverse the folder.
        self.root.chmod(0o755)
        self.certificates = make_certificates(self.root / "tls") if tls else None
        self._capabilities = capabilities
        self._process: subprocess.Popen[bytes] | None = None
        self._write_config()

    # -- life cycle

    def _accounts(self) -> tuple[str, str, str]:
        """Who runs the mail processes: the dovecot user as root, else ourselves."""
        if os.geteuid() == 0:
            return "dovecot", "dovecot", "dovenull"
        me = pwd.getpwuid(os.getuid()).pw_name
        return me, grp.getgrgid(os.getgid()).gr_name, me

    def _write_config(self) -> None:
        user, group, login_user = self._accounts()
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir(mode=0o755)
        home = self.root / "home" / self.user
        home.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(home, user, group)
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        ssl_files = ""
        if self.certificates:
            ssl_files = (
                f"ssl_cert = <{self.certificates.cert_file}\n"
                f"ssl_key = <{self.certificates.key_file}"
            )
        capability = f"imap_capability = {self._capabilities}" if self._capabilities else ""
        self.config = self.root / "dovecot.conf"
        self.config.write_text(
            _CONFIG.format(
                host=LOOPBACK,
                root=self.root,
                port=self.port,
                imaps_port=self.imaps_port,
                user=user,
                group=group,
                login_user=login_user,
                ssl="yes" if self.certificates else "no",
                ssl_files=ssl_files,
                capability=capability,
            )
        )

    def start(self) -> None:
        """Start the server and return once its IMAP port answers."""
        if self._process is not None:
            return
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # so stop() can kill the whole server, children included
        )
        try:
            wait_for_port(self.port)
            if self.imaps_port:
                wait_for_port(self.imaps_port)
        except TimeoutError as exc:
            self.stop()
            raise RuntimeError(f"dovecot did not start:\n{self.log()}") from exc

    def stop(self, *, graceful: bool = True) -> None:
        """Stop the server; connected clients are cut off, the mail stays on disk.

        ``graceful`` sends SIGTERM (clients get BYE) and waits up to 2 s;
        otherwise, or when that is not enough, every process of the server is
        killed at once — Dovecot can take seconds to finish a shutdown begun
        while it was still starting.
        """
        process, self._process = self._process, None
        if process is None:
            return
        if graceful:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=2)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # its own process group: see start()
            process.wait()
        # The master does not take the IMAP sessions down with it: end them as an init
        # system stopping the service would (SIGTERM lets them say BYE).
        _end_group(process.pid, signal.SIGTERM if graceful else signal.SIGKILL)
        if process.stderr:
            process.stderr.close()
        wait_for_port(self.port, up=False)

    def restart(self, *, graceful: bool = True) -> None:
        """Stop and start again on the same port, keeping the mailboxes."""
        self.stop(graceful=graceful)
        self.start()

    def close(self) -> None:
        """Kill the server and delete its folder."""
        self.stop(graceful=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- helpers for tests

    def url(self, folder: str = "INBOX", *, tls: bool = False) -> str:
        """The PECBOT_INBOX URL of this server (password percent-encoded)."""
        from urllib.parse import quote

        scheme, port = ("imaps", self.imaps_port) if tls else ("imap", self.port)
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"{scheme}://{credentials}@{LOOPBACK}:{port}/{quote(folder)}"

    def client(self) -> imaplib.IMAP4:
        """A logged-in stdlib IMAP session, independent of the code under test."""
        session = imaplib.IMAP4(LOOPBACK, self.port, timeout=10)
        session.login(self.user, self.password)
        return session

    def append(self, raw: bytes, *, folder: str = "INBOX", flags: str = "") -> int:
        """Deliver ``raw`` into ``folder`` with IMAP APPEND; returns its UID."""
        session = self.client()
        try:
            if folder != "INBOX":
                session.create(folder)  # harmless NO when it exists
            typ, data = session.append(folder, f"({flags})" if flags else None, None, raw)
            assert typ == "OK", data
            # "[APPENDUID <uidvalidity> <uid>] Append completed."
            code = data[0].decode() if data and isinstance(data[0], bytes) else ""
            return int(code.split("]")[0].split()[-1]) if "APPENDUID" in code else 0
        finally:
            session.logout()

    def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        """Every message's flags by UID, read without touching them (EXAMINE)."""
        session = self.client()
        try:
            typ, _ = session.select(folder, readonly=True)
            assert typ == "OK"
            typ, data = session.uid("FETCH", "1:*", "(FLAGS)")
            result: dict[int, set[str]] = {}
            for item in data:
                if not isinstance(item, bytes):
                    continue
                parsed = imaplib.ParseFlags(item)
                uid = int(item.split(b"UID ")[1].split()[0].rstrip(b")"))
                result[uid] = {flag.decode() for flag in parsed}
            return result
        finally:
            session.logout()

    def uids(self, folder: str = "INBOX") -> list[int]:
        """The UIDs in ``folder``."""
        return sorted(self.flags(folder))

    def set_uidvalidity(self, value: int, folder: str = "INBOX") -> None:
        """Give ``folder`` a new UIDVALIDITY, as a server rebuilding its index would."""
        subprocess.run(
            [DOVEADM, "-c", str(self.config), "mailbox", "update", "-u", self.user,
             "--uid-validity", str(value), folder],
            check=True, capture_output=True, timeout=20,
        )

    def log(self) -> str:
        """The server's log so far (for failure messages and byte counts)."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


# --- SMTP ------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    authenticated_as: str | None
    tls: bool


@dataclass
class _Keeper:
    """aiosmtpd handler: keeps what it receives, refuses configured recipients."""

    implicit_tls: bool = False
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        raw = envelope.original_content or b""
        self.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=raw,
                authenticated_as=login.decode() if login else None,
                tls=self.implicit_tls or session.ssl is not None,
            )
        )
        return "250 Message accepted"


class SmtpServer:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it accepts.

    ``starttls`` offers STARTTLS with a test certificate; ``implicit_tls``
    speaks TLS from the first byte (smtps); with ``auth`` the server requires
    that login/password. ``refuse[address] = "550 …"`` rejects a recipient.
    """

    user = "bot@example.org"
    password = "smtp p@ss:word"

    def __init__(
        self,
        *,
        starttls: bool = False,
        implicit_tls: bool = False,
        auth: bool = False,
        certificates: Certificates | None = None,
    ) -> None:
        self.port = free_port()
        self._root: Path | None = None
        if (starttls or implicit_tls) and certificates is None:
            self._root = Path(tempfile.mkdtemp(prefix="pecbot-smtp-"))
            certificates = make_certificates(self._root)
        self.certificates = certificates
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.auth = auth
        self._keeper = _Keeper(implicit_tls=implicit_tls)
        self._controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        """Messages accepted so far, oldest first (kept across stop/start)."""
        return self._keeper.received

    @property
    def refuse(self) -> dict[str, str]:
        """Recipients (lower case) to refuse, with the SMTP reply to give."""
        return self._keeper.refuse

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.user
            and data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    def start(self) -> None:
        """Listen (again) on the same port."""
        if self._controller is not None:
            return
        parameters: dict[str, Any] = {}
        if self.starttls:
            assert self.certificates
            parameters["tls_context"] = self.certificates.server_context()
            parameters["require_starttls"] = self.auth
        if self.auth:
            parameters["authenticator"] = self._authenticate
            parameters["auth_required"] = True
            # aiosmtpd only knows of STARTTLS: with implicit TLS every byte is encrypted anyway.
            parameters["auth_require_tls"] = self.starttls
        ssl_context = None
        if self.implicit_tls:
            assert self.certificates
            ssl_context = self.certificates.server_context()
        controller = Controller(
            self._keeper,
            hostname=LOOPBACK,
            port=self.port,
            ssl_context=ssl_context,
            loop=asyncio.new_event_loop(),
            **parameters,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening: connections are refused until :meth:`start`."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
            controller.loop.close()
            wait_for_port(self.port, up=False)

    def url(self) -> str:
        """The PECBOT_OUTBOX URL of this server (credentials only with ``auth``)."""
        from urllib.parse import quote

        scheme = "smtps" if self.implicit_tls else "smtp"
        credentials = ""
        if self.auth:
            credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}@"
        return f"{scheme}://{credentials}{LOOPBACK}:{self.port}"

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._root:
            shutil.rmtree(self._root, ignore_errors=True)


# --- fixtures --------------------------------------------------------------------


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A fresh plain-IMAP Dovecot with an empty INBOX."""
    with Dovecot() as server:
        yield server


@pytest.fixture
def dovecot_tls() -> Iterator[Dovecot]:
    """A fresh Dovecot that also listens with implicit TLS (test CA in ``.certificates``)."""
    with Dovecot(tls=True) as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on loopback, no AUTH."""
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """One test CA and server certificate for the whole run."""
    return make_certificates(tmp_path_factory.mktemp("certificates"))
