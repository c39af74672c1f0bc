"""Which documents does the sender's original message carry?

The stage :func:`collect_attachments` walks ``sub.envelope.original``,
unwraps signed ``.p7m`` files, ``.zip`` archives and forwarded messages, and
appends one :class:`~bot.model.Document` per file found, typed by its bytes
(never by the declared Content-Type or the extension). Files that cannot be
opened become Documents with an Italian ``unreadable`` reason.

Modules: :mod:`.walk` (the descent), :mod:`.parts` (which MIME parts are
files), :mod:`.sniff` (real types), :mod:`.p7m` (signed files),
:mod:`.archives` (zips, with bomb limits).
"""

from __future__ import annotations

from bot.attachments.walk import Collector
from bot.model import AnalysisContext, Submission

#: What the original is called in ``origin`` when it came out of a PEC envelope.
POSTACERT = "postacert.eml"


def collect_attachments(sub: Submission, ctx: AnalysisContext) -> None:
    """Append to ``sub.documents`` every document attached to the sender's original.

    Never raises for bad attachments: each becomes a Document with
    ``unreadable`` set. Does nothing when there is no original message.
    """
    original = sub.envelope.original if sub.envelope is not None else None
    if original is None:
        sub.trace.append("attachments: no original message")
        return
    extracted = sub.envelope is not None and sub.envelope.type != "none" and (
        sub.message is None or original is not sub.message
    )
    collector = Collector(ctx.limits)
    collector.walk_message(original, [POSTACERT] if extracted else [], depth=0)
    sub.documents.extend(collector.documents)
    unreadable = sum(1 for document in collector.documents if document.unreadable)
    sub.trace.append(
        f"attachments: {len(collector.documents)} documents, {unreadable} unreadable"
    )
    sub.trace.extend(f"attachments: {note}" for note in sorted(set(collector.notes)))
