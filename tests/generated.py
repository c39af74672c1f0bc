"""The generated messages, built once per source version and shared by test workers."""

from __future__ import annotations

import fcntl
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = ROOT / "fixtures" / "build" / "messages"


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "fixtures").rglob("*")):
        if path.is_file() and "build" not in path.parts and path.suffix in (".py", ".pem", ".key"):
            digest.update(path.read_bytes())
    return digest.hexdigest()


@cache
def generated_messages() -> Path:
    """The folder of generated messages, regenerated when a fixture source changed."""
    from fixtures.generate import write

    MESSAGES.parent.mkdir(parents=True, exist_ok=True)
    stamp = MESSAGES / ".sources"
    with open(MESSAGES.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        wanted = _sources_digest()
        if not (stamp.exists() and stamp.read_text() == wanted):
            for old in MESSAGES.glob("*.eml"):
                old.unlink()
            write(MESSAGES)
            stamp.write_text(wanted)
    return MESSAGES


@cache
def expected() -> list[dict[str, Any]]:
    """The manifest of the generated messages."""
    manifest = generated_messages() / "expected.jsonl"
    return [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]
