"""From the sender's original message to a flat list of documents.

The walk descends MIME multiparts, forwarded messages (``message/rfc822``
parts and ``.eml`` files, a forwarded PEC envelope included), signed
``.p7m`` files and ``.zip`` archives, each container adding one step to the
document's ``origin`` and one level to the depth limit. Every file either
becomes a :class:`~bot.model.Document` or, when it cannot be opened, a
Document with ``unreadable`` set: nothing raises out of the walk.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import hashlib
import re

from bot.attachments import archives, p7m, parts, sniff
from bot.errors import AttachmentUnreadable
from bot.model import Document, DocumentLimits

EMPTY = "il file è vuoto"
TOO_DEEP = "troppi livelli di allegati annidati (inoltri, archivi o firme)"
WINMAIL = "allegato winmail.dat di Outlook: i file al suo interno non sono leggibili"
MESSAGE_CORRUPT = "il messaggio allegato è danneggiato"
FORWARDED = "messaggio-inoltrato.eml"

_P7M_SUFFIX = re.compile(r"\.p7m$", re.IGNORECASE)


class Collector:
    """Walks one message and keeps the documents found, in message order."""

    def __init__(self, limits: DocumentLimits) -> None:
        self.limits = limits
        self.documents: list[Document] = []
        self.notes: list[str] = []
        """What was left out and why, without names (for the trace)."""
        self._budget = archives.Budget(limits.max_total_bytes)
        self._seen: set[bytes] = set()
        self._files = 0

    def walk_message(self, message: email.message.Message, path: list[str], depth: int) -> None:
        """Collect the files attached to ``message`` (its own bodies excluded)."""
        self._walk_part(message, path, depth, parts.referenced_cids(message))

    def _walk_part(
        self, part: email.message.Message, path: list[str], depth: int, cids: set[str]
    ) -> None:
        if part.get_content_type() == "message/rfc822" or (
            part.is_multipart() and part.get_content_maintype() == "message"
        ):
            self._walk_forwarded(part, path, depth)
            return
        if part.is_multipart():
            payload = part.get_payload()
            for child in payload if isinstance(payload, list) else []:
                if isinstance(child, email.message.Message):
                    self._walk_part(child, path, depth, cids)
            return
        try:
            data = part.get_payload(decode=True)
        except Exception:  # a broken transfer encoding: treat as no bytes
            data = b""
        data = data if isinstance(data, bytes) else b""
        role = parts.role(part, data)
        if role != "file":
            return
        shown_inline = parts.inline(part, cids)
        self.add_file(parts.filename(part), data, path, depth, shown_inline=shown_inline)

    def _walk_forwarded(self, part: email.message.Message, path: list[str], depth: int) -> None:
        name = parts.filename(part) or FORWARDED
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if not isinstance(inner, email.message.Message):
            self._unreadable(name, path, MESSAGE_CORRUPT)
            return
        self._enter_message(inner, name, path, depth)

    def _enter_message(
        self, message: email.message.Message, name: str, path: list[str], depth: int
    ) -> None:
        if depth + 1 > self.limits.max_depth:
            self._unreadable(name, path, TOO_DEEP)
            return
        self.walk_message(message, [*path, name], depth + 1)

    def add_file(
        self,
        name: str | None,
        data: bytes,
        path: list[str],
        depth: int,
        *,
        shown_inline: bool = False,
    ) -> None:
        """Turn one file into documents: unwrap it if it is a container, else keep it."""
        if len(self.documents) >= self.limits.max_documents:
            self.notes.append("document limit reached, later files ignored")
            return
        self._files += 1
        kind = sniff.sniff(data) if data else sniff.UNKNOWN
        # a file without a name is called after its place in the message and its real type
        name = name or f"allegato-{self._files}.{kind.extension}"
        if not data:
            self._unreadable(name, path, EMPTY)
            return
        if kind in (sniff.CMS, sniff.ZIP, sniff.MESSAGE) and depth + 1 > self.limits.max_depth:
            self._unreadable(name, path, TOO_DEEP, kind)
        elif kind == sniff.CMS:
            self._add_signed(name, data, path, depth)
        elif kind == sniff.ZIP:
            self._add_archive(name, data, path, depth)
        elif kind == sniff.MESSAGE:
            self._add_message(name, data, path, depth)
        elif kind == sniff.TNEF:
            self._unreadable(name, path, WINMAIL, kind)
        elif parts.decoration(data, kind, shown_inline, self.limits.min_document_pixels):
            self.notes.append("inline image left out as decoration")
        else:
            self._keep(Document(name, kind.mime, data, origin=_origin(path, name)))

    def _add_signed(self, name: str, data: bytes, path: list[str], depth: int) -> None:
        # every signature layer (a file signed twice) is peeled here: one step in the origin
        content = data
        layers = 0
        try:
            while sniff.sniff(content) == sniff.CMS:
                layers += 1
                if depth + layers > self.limits.max_depth:
                    raise AttachmentUnreadable(TOO_DEEP)
                content = p7m.signed_content(content)
        except AttachmentUnreadable as exc:
            self._unreadable(name, path, str(exc), sniff.CMS)
            return
        if sniff.sniff(content) == sniff.MESSAGE:
            # an S/MIME signed mail (smime.p7m): its parts are the sender's files
            self._add_message(name, content, path, depth + layers - 1)
            return
        inner_name = name
        while _P7M_SUFFIX.search(inner_name):
            inner_name = _P7M_SUFFIX.sub("", inner_name)
        if inner_name == name or "." not in inner_name:
            inner_kind = sniff.sniff(content)
            if inner_kind != sniff.UNKNOWN and not inner_name.lower().endswith(
                "." + inner_kind.extension
            ):
                inner_name = f"{inner_name}.{inner_kind.extension}"
        self.add_file(inner_name, content, [*path, name], depth + layers)

    def _add_archive(self, name: str, data: bytes, path: list[str], depth: int) -> None:
        try:
            members = archives.zip_members(data, self.limits, self._budget)
        except AttachmentUnreadable as exc:
            self._unreadable(name, path, str(exc), sniff.ZIP)
            return
        for member in members:
            if member.data is None:
                self._unreadable(member.name, [*path, name], member.unreadable or EMPTY)
            else:
                self.add_file(member.name, member.data, [*path, name], depth + 1)

    def _add_message(self, name: str, data: bytes, path: list[str], depth: int) -> None:
        try:
            message = email.parser.BytesParser(policy=email.policy.default).parsebytes(data)
        except Exception:  # the parser is lenient; this is belt and braces
            self._unreadable(name, path, MESSAGE_CORRUPT)
            return
        self._enter_message(message, name, path, depth)

    def _keep(self, document: Document) -> None:
        digest = hashlib.sha256(document.data).digest()
        if digest in self._seen:
            self.notes.append("identical file attached twice, kept once")
            return
        self._seen.add(digest)
        self.documents.append(document)

    def _unreadable(
        self, name: str, path: list[str], reason: str, kind: sniff.FileType = sniff.UNKNOWN
    ) -> None:
        self.documents.append(
            Document(
                name,
                kind.mime,
                b"",
                origin=_origin(path, name),
                kind="other",
                unreadable=reason,
            )
        )


def _origin(path: list[str], name: str) -> str:
    return "/".join([*path, name])
