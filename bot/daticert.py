"""What does the provider's certification data (``daticert.xml``) say?

``daticert.xml`` travels inside the signed part of every PEC envelope and
receipt. It comes from outside, so it is parsed with a hardened parser (no
DTD, no entities, no network, no huge trees), and leniently: providers have
been seen writing files that are not well-formed — typically an unescaped
``<msgid>`` — or declaring UTF-8 while writing Latin-1. Element names are the
ones fixed by the PEC technical rules (DM 2 November 2005).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parseaddr

from lxml import etree

#: The leaves whose text providers sometimes write without escaping ``<``, ``>`` or ``&``.
_LEAVES = (
    "mittente", "destinatari", "risposte", "oggetto", "gestore-emittente", "giorno", "ora",
    "identificativo", "msgid", "consegna", "errore-esteso",
)
_LEAF = re.compile(
    rb"(<(" + b"|".join(name.encode() for name in _LEAVES) + rb")(?:\s[^<>]*)?>)(.*?)(</\2\s*>)",
    re.DOTALL,
)
_BARE_AMPERSAND = re.compile(rb"&(?!#?\w+;)")
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")
_ZONE = re.compile(r"([+-])(\d{2}):?(\d{2})")


@dataclass(frozen=True)
class Daticert:
    """The certification data of one PEC message, as the provider wrote them."""

    kind: str | None
    """``tipo``: posta-certificata, accettazione, avvenuta-consegna …"""
    error: str | None
    """``errore``: nessuno, no-dest, no-dominio, virus, altro."""
    error_detail: str | None
    """``errore-esteso``: the provider's own words about the error."""
    sender: str | None
    """``mittente``: lower case, address only."""
    recipients: tuple[str, ...]
    reply_to: str | None
    subject: str | None
    provider: str | None
    date: datetime | None
    pec_id: str | None
    msgid: str | None
    receipt_kind: str | None
    """``ricevuta tipo``: completa, breve, sintetica."""
    delivered_to: str | None


def parse_daticert(data: bytes, default_zone: tzinfo) -> Daticert | None:
    """Read ``data`` as daticert.xml; None when it holds no ``postacert`` document.

    Never resolves the DTD or any entity, never touches the network, never
    raises on malformed input. ``default_zone`` is used only when the date has
    no ``zona``.
    """
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, recover=True, huge_tree=False
    )
    try:
        root = etree.fromstring(_repair(_as_declared(data)), parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root is None or _local(root) != "postacert":
        return None
    first: dict[str, etree._Element] = {}
    recipients: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments, processing instructions, unresolved entities
        name = _local(element)
        first.setdefault(name, element)
        if name == "destinatari" and (address := _address(_text(element))):
            recipients.append(address)

    def text(name: str) -> str | None:
        element = first.get(name)
        return (_text(element) or None) if element is not None else None

    data_element = first.get("data")
    receipt = first.get("ricevuta")
    return Daticert(
        kind=_attribute(root, "tipo"),
        error=_attribute(root, "errore"),
        error_detail=text("errore-esteso"),
        sender=_address(text("mittente")),
        recipients=tuple(recipients),
        reply_to=_address(text("risposte")),
        subject=text("oggetto"),
        provider=text("gestore-emittente"),
        date=_date(text("giorno"), text("ora"),
                   _attribute(data_element, "zona") if data_element is not None else None,
                   default_zone),
        pec_id=text("identificativo"),
        msgid=text("msgid"),
        receipt_kind=_attribute(receipt, "tipo") if receipt is not None else None,
        delivered_to=_address(text("consegna")),
    )


def _as_declared(data: bytes) -> bytes:
    """The bytes re-encoded as UTF-8 when they do not decode in the declared charset."""
    match = _DECLARED_ENCODING.match(data)
    declared = match.group(1).decode("ascii") if match else "utf-8"
    try:
        data.decode(declared)
        return data
    except (UnicodeDecodeError, LookupError):
        pass
    # Providers declaring UTF-8 while writing Latin-1: cp1252 decodes every byte.
    text = data.decode("cp1252", errors="replace")
    if match:
        text = text[: match.start(1)] + "UTF-8" + text[match.end(1):]
    return text.encode("utf-8")


def _repair(data: bytes) -> bytes:
    """Escape markup characters written raw inside leaf elements (e.g. ``<msgid><a@b></msgid>``)."""

    def escape(match: re.Match[bytes]) -> bytes:
        inner = match.group(3)
        inner = _BARE_AMPERSAND.sub(b"&amp;", inner).replace(b"<", b"&lt;").replace(b">", b"&gt;")
        return match.group(1) + inner + match.group(4)

    return _LEAF.sub(escape, data)


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname.lower()


def _text(element: etree._Element) -> str:
    """The element's own character data; unresolved entity references contribute nothing."""
    pieces = [element.text or ""]
    pieces += [child.tail or "" for child in element]
    return " ".join("".join(pieces).split())


def _attribute(element: etree._Element, name: str) -> str | None:
    value = element.get(name)
    return value.strip().lower() or None if value else None


def _address(value: str | None) -> str | None:
    if not value:
        return None
    address = parseaddr(value)[1] or value
    return address.strip().lower() or None


def _date(day: str | None, time: str | None, zone: str | None, default: tzinfo) -> datetime | None:
    """``giorno`` dd/mm/yyyy + ``ora`` hh:mm:ss + ``zona`` ±hhmm as an aware datetime."""
    if not day:
        return None
    try:
        naive = datetime.strptime(f"{day} {time or '00:00:00'}", "%d/%m/%Y %H:%M:%S")
    except ValueError:
        return None
    match = _ZONE.fullmatch(zone.strip()) if zone else None
    if match:
        sign = -1 if match.group(1) == "-" else 1
        offset = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
        return naive.replace(tzinfo=timezone(sign * offset))
    if zone and zone.strip().upper() in ("Z", "UTC", "GMT"):
        return naive.replace(tzinfo=UTC)
    return naive.replace(tzinfo=default)
