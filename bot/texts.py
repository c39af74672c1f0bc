"""How values are written for Italian readers, and the Jinja2 texts in ``rules/``.

Every sentence an ETS or an operator reads comes from ``rules/`` through this
module: the ``detail`` of each finding and the templates of replies and digests.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.sandbox

from bot.errors import RulesError

if TYPE_CHECKING:
    from bot.rules import Rules

MONTHS = (
    "gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno",
    "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre",
)


def euro(amount: Decimal | None) -> str:
    """``Decimal("1234.5")`` → ``"1.234,50 €"``."""
    if amount is None:
        return "—"
    whole, cents = f"{amount.quantize(Decimal('0.01')):,.2f}".split(".")
    return f"{whole.replace(',', '.')},{cents} €"


def italian_date(value: date | datetime | None) -> str:
    """``date(2031, 1, 5)`` → ``"5 gennaio 2031"``."""
    if value is None:
        return "—"
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def italian_list(items: list[str] | tuple[str, ...]) -> str:
    """``["a", "b", "c"]`` → ``"a, b e c"``; ``["a", "b"]`` → ``"a o b"`` is not our business."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " e " + items[-1]


def _environment(folder: Path | None) -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(str(folder)) if folder else None
    env = jinja2.sandbox.SandboxedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(euro=euro, data=italian_date, elenco=italian_list)
    return env


@lru_cache(maxsize=8)
def templates(folder: Path) -> jinja2.Environment:
    """The Jinja2 environment of ``folder/templates`` (cached per folder)."""
    return _environment(folder / "templates")


def finding_detail(rules: Rules, code: str, **values: Any) -> str:
    """The Italian ``detail`` of finding ``code``, filled with ``values``."""
    text = rules.findings[code].template
    return _environment(None).from_string(text).render(**values).strip()


#: Values every template can be rendered with when the rules are validated.
SAMPLE_VALUES: dict[str, Any] = {
    "sides": "il fronte",
    "expiry": "1 marzo 2026",
    "expected_iban": "IT00X0000000000000000000000",
    "iban": "IT00X0000000000000000000000",
    "expected_amounts": "99,99 €",
    "amount": "9,90 €",
    "mailbox": "esempio@pec.it",
    "mailbox_without_at": "esempiopec.it",
    "causale": "rinnovo",
    "date": "31 luglio 2026",
    "deadline": "1 gennaio 2000",
    "signer": "CN=esempio",
    "filename": "documento.pdf",
    "reason": "il file è danneggiato",
    "tax_code": "00000000000",
    "status": "in attesa",
}


def validate_templates(rules: Rules) -> None:
    """Render every finding text and compile every template; raise RulesError on the first fault."""
    findings_file = str(rules.folder / "findings.toml")
    for code in rules.findings:
        try:
            finding_detail(rules, code, **SAMPLE_VALUES)
        except jinja2.TemplateError as exc:
            raise RulesError(findings_file, getattr(exc, "lineno", None), f"[{code}] {exc}") from None
    folder = rules.folder / "templates"
    if not folder.is_dir():
        return
    env = templates(folder.parent)
    for path in sorted(folder.glob("*.j2")):
        try:
            env.get_template(path.name)
        except jinja2.TemplateSyntaxError as exc:
            raise RulesError(str(path), exc.lineno, exc.message or "template error") from None
