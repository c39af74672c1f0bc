"""How does a reply reach the SMTP server? Implicit TLS or STARTTLS, verified.

``smtps://`` speaks TLS from the first byte; ``smtp://`` upgrades with
STARTTLS whenever the server offers it and sends in clear only to loopback
(or when the options allow it). Certificates are verified against the system's
CAs, or only the ``ca_file`` given. One connection per reply: replies are few,
and a fresh session never inherits a half-dead one.

Errors are sorted by who is at fault. Only a 5xx given to *this message*
(sender, recipients or data refused) is permanent; everything about the
server — unreachable, timeout, TLS, login, a 4xx — is transient and the
reply should wait.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import structlog

from bot.errors import OutboxError
from bot.mailurl import ServerUrl
from bot.outbox import OutboxOptions

log = structlog.get_logger(__name__)


def _is_5xx(code: int) -> bool:
    return 500 <= code < 600


class SmtpOutbox:
    """Replies handed to an SMTP server, one verified session per reply."""

    def __init__(self, address: ServerUrl, options: OutboxOptions) -> None:
        self._address = address
        self._options = options
        self._where = address.redacted()

    def _connect(self) -> smtplib.SMTP:
        address, options = self._address, self._options
        context = ssl.create_default_context(cafile=options.ca_file)
        smtp: smtplib.SMTP
        if address.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(address.host, address.port, timeout=options.timeout, context=context)
        else:
            smtp = smtplib.SMTP(address.host, address.port, timeout=options.timeout)
        try:
            smtp.ehlo()
            if address.scheme == "smtp":
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                elif not (address.is_loopback or options.allow_plain_remote):
                    raise OutboxError(f"{self._where}: the server offers no STARTTLS; not sending in clear")
            if address.user is not None and address.password is not None:
                smtp.login(address.user, address.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` to its To/Cc/Bcc recipients; OutboxError says if retrying may help."""
        try:
            smtp = self._connect()
        except OutboxError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise OutboxError(f"{self._where}: login refused ({exc.smtp_code})") from exc
        except ssl.SSLCertVerificationError as exc:
            raise OutboxError(
                f"{self._where}: TLS certificate verification failed ({exc.verify_message})"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise OutboxError(f"{self._where}: server unavailable ({_describe(exc)})") from exc
        try:
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise OutboxError(
                f"{self._where}: every recipient refused ({', '.join(map(str, codes))})",
                permanent=bool(codes) and all(_is_5xx(c) for c in codes),
            ) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise OutboxError(
                f"{self._where}: message refused ({exc.smtp_code})", permanent=_is_5xx(exc.smtp_code)
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            # e.g. non-ASCII addresses to a server without SMTPUTF8: this message can never go.
            raise OutboxError(f"{self._where}: {exc}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise OutboxError(f"{self._where}: sending interrupted ({_describe(exc)})") from exc
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
        if refused:
            # Delivered to the others: retrying would send them a duplicate.
            log.warning("smtp_some_recipients_refused", refused=len(refused))


def _describe(exc: BaseException) -> str:
    """A short cause without server banners or addresses."""
    code = getattr(exc, "smtp_code", None)
    return f"{type(exc).__name__} {code}" if code else type(exc).__name__
