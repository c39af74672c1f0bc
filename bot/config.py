"""Where are the inbox, the outbox, the database and the rules?

Settings come from ``PECBOT_*`` environment variables, or from a TOML file
given with ``--config`` holding the same keys in lower case without the
prefix; the environment wins over the file. The defaults run on one machine
with no server at all: a local maildir inbox and outbox and a SQLite file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bot.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    inbox: str = "maildir:var/inbox"
    outbox: str = "maildir:var/outbox"
    database_url: str = "sqlite:///var/pecbot.db"
    address: str = "csvassovoce@pec.it"
    operators: tuple[str, ...] = ()
    rules: str = ""
    """The rules folder; empty means the one shipped with pecbot."""
    trust: tuple[str, ...] = ()
    store: str = "var/store"
    """Where raw messages and documents are kept (content-addressed, 0600)."""
    poll_seconds: float = 60.0
    """How often to look for new mail when the server offers no IDLE."""
    idle_seconds: float = 1500.0
    """How long one IDLE lasts before it is renewed (servers drop it at 29 min)."""
    replies_per_sender_per_day: int = 5
    """Backstop against loops: at most this many replies to one address a day."""
    max_attempts: int = 3
    """Analysis attempts before a message is quarantined for good."""
    analysis_workers: int = 0
    """Messages analysed at once; 0 means one per core."""
    imap_ca_file: str = ""
    """Extra CA bundle for the IMAP server (tests, self-signed servers)."""
    smtp_ca_file: str = ""

    @property
    def operator_list(self) -> list[str]:
        return list(self.operators)


def _split(value: Any, separator: str) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(part.strip() for part in str(value).split(separator) if part.strip())


def _coerce(name: str, value: Any, default: Any) -> Any:
    if name == "operators":
        return _split(value, ",")
    if name == "trust":
        return _split(value, ":")
    try:
        if isinstance(default, float):
            return float(value)
        if isinstance(default, int):
            return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name!r} must be a number, not {value!r}") from None
    return str(value)


def load_settings(config_file: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the defaults, then ``config_file``, then the environment."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    known = {f.name: f.default for f in fields(Settings)}
    if config_file is not None:
        try:
            data = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{config_file}: configuration file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_file}: not valid TOML: {exc}") from None
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"{config_file}: unknown setting {key!r}")
            values[key] = _coerce(key, value, known[key])
    for key, default in known.items():
        env_value = environ.get(f"PECBOT_{key.upper()}")
        if env_value is not None:
            values[key] = _coerce(key, env_value, default)
    return Settings(**values)
