"""Which files does a ``.zip`` hold — without letting a zip bomb hold us?

Archives are never extracted to disk, so path tricks (``../``, absolute
names) only matter for the names we report: members are named by their last
path component. Sizes declared in the headers can lie, so every member is
read in chunks against three caps at once: the member cap, the ratio to its
compressed size, and the message's remaining :class:`Budget`.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from dataclasses import dataclass

from bot.errors import AttachmentUnreadable
from bot.model import DocumentLimits

CORRUPT = "l'archivio zip è danneggiato"
TOO_BIG = "l'archivio supera i limiti di dimensione"
TOO_MANY = "l'archivio contiene troppi file"
ENCRYPTED = "l'archivio zip è protetto da password"
MEMBER_CORRUPT = "il file nell'archivio zip è danneggiato"
UNSUPPORTED = "il file nell'archivio usa una compressione non supportata"

_CHUNK = 1 << 20
#: Operating-system litter that is never a document.
_LITTER = {".ds_store", "thumbs.db", "desktop.ini"}
_ENCRYPTED_FLAG = 0x1
_UTF8_FLAG = 0x800


class Budget:
    """Bytes that one message may still unpack, shared by every archive in it."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, size: int) -> None:
        """Record ``size`` unpacked bytes; refuse when the message's budget is gone."""
        self.left -= size
        if self.left < 0:
            raise AttachmentUnreadable(TOO_BIG)


@dataclass
class Member:
    """One file of an archive: its bytes, or why they could not be had."""

    name: str
    data: bytes | None
    unreadable: str | None = None


def zip_members(data: bytes, limits: DocumentLimits, budget: Budget) -> list[Member]:
    """Every file in the zip ``data`` (directories and OS litter left out).

    Raises :class:`AttachmentUnreadable` when the archive as a whole cannot
    be trusted: corrupt, too many entries, or over a size or ratio limit (a
    bomb). A member that alone cannot be read (encrypted, damaged) is
    returned with ``unreadable`` set, so its siblings still count.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise AttachmentUnreadable(CORRUPT) from exc
    files = [entry for entry in entries if not entry.is_dir() and member_name(entry)]
    if len(entries) > limits.zip_max_entries:
        raise AttachmentUnreadable(TOO_MANY)
    if sum(entry.file_size for entry in files) > limits.max_total_bytes:
        raise AttachmentUnreadable(TOO_BIG)
    members = []
    with archive:
        for entry in files:
            if entry.flag_bits & _ENCRYPTED_FLAG:
                members.append(Member(member_name(entry), None, ENCRYPTED))
                continue
            members.append(_read_member(archive, entry, limits, budget))
    return members


def member_name(entry: zipfile.ZipInfo) -> str:
    """The member's file name without its folders, or "" for litter to skip."""
    name = entry.filename
    if not entry.flag_bits & _UTF8_FLAG:
        # zipfile decoded the raw name as cp437; many tools wrote UTF-8 without the flag
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("utf-8")
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".", "..")]
    if not parts or parts[0] == "__MACOSX":
        return ""
    base = "".join(ch for ch in parts[-1] if ch.isprintable())
    if base.startswith("._") or base.lower() in _LITTER:
        return ""
    return base


def _read_member(
    archive: zipfile.ZipFile, entry: zipfile.ZipInfo, limits: DocumentLimits, budget: Budget
) -> Member:
    name = member_name(entry)
    # Caps on what is actually inflated, whatever the header claims.
    ratio_cap = int(max(entry.compress_size, 1) * limits.zip_max_ratio)
    cap = min(limits.max_file_bytes, ratio_cap)
    if entry.file_size > cap:
        raise AttachmentUnreadable(TOO_BIG)
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise AttachmentUnreadable(TOO_BIG)
                budget.spend(len(chunk))
                chunks.append(chunk)
    except AttachmentUnreadable:
        raise
    except NotImplementedError:
        return Member(name, None, UNSUPPORTED)
    except RuntimeError:  # zipfile: "File is encrypted, password required"
        return Member(name, None, ENCRYPTED)
    except Exception:  # a bad CRC (BadZipFile), zlib.error, a truncated stream (EOFError) …
        return Member(name, None, MEMBER_CORRUPT)
    return Member(name, b"".join(chunks))
