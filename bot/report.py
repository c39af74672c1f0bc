"""How a judged submission is shown: the contract's JSON object, or a short Italian report."""

from __future__ import annotations

from typing import Any

from bot.model import Document, Submission
from bot.texts import euro, italian_date

KIND_NAMES = {
    "order_form": "modulo d'ordine",
    "id_document": "documento d'identità",
    "payment_receipt": "ricevuta del bonifico",
    "other": "altro documento",
}
SIDE_NAMES = {"front": "fronte", "back": "retro", "passport": "pagina dati del passaporto"}
VERDICT_NAMES = {
    "complete": "COMPLETA",
    "incomplete": "INCOMPLETA",
    "ignored": "IGNORATO (non richiede risposta)",
    "error": "ERRORE",
}


def _document_json(doc: Document) -> dict[str, Any]:
    entry: dict[str, Any] = {"filename": doc.filename, "kind": doc.kind, "ocr": doc.ocr}
    if doc.kind == "id_document" or "id_document" in doc.kinds:
        entry["id_sides"] = list(doc.identity.sides) if doc.identity else []
    if len(doc.kinds) > 1:
        entry["also"] = doc.kinds[1:]
    if doc.unreadable is not None:
        entry["unreadable"] = doc.unreadable
    return entry


def to_json(sub: Submission) -> dict[str, Any]:
    """The object ``pecbot check --json`` prints for one message (CONTRACT.md)."""
    env = sub.envelope
    result: dict[str, Any] = {"source": sub.source, "verdict": sub.verdict}
    if sub.verdict == "error":
        result["error"] = sub.error
    result["envelope"] = {
        "type": env.type if env else "none",
        "sender": env.sender if env else None,
        "pec_id": env.pec_id if env else None,
        "date": env.date.isoformat() if env and env.date else None,
        "signature": env.signature if env else "absent",
    }
    result["documents"] = [_document_json(doc) for doc in sub.documents]
    f = sub.fields
    result["fields"] = {
        "iban": f.iban,
        "amount": f"{f.amount:.2f}" if f.amount is not None else None,
        "causale": f.causale,
        "mailbox": f.mailbox,
        "aruba_login": f.aruba_login,
        "tax_code": f.tax_code,
        "ets_name": f.ets_name,
        "id_expiry": f.id_expiry.isoformat() if f.id_expiry else None,
    }
    result["missing"] = list(sub.missing)
    result["problems"] = [{"code": p.code, "detail": p.detail} for p in sub.problems]
    result["warnings"] = [{"code": w.code, "detail": w.detail} for w in sub.warnings]
    return result


def _describe(doc: Document) -> str:
    if doc.unreadable is not None:
        return f"{doc.filename}: non leggibile ({doc.unreadable})"
    kinds = " + ".join(KIND_NAMES[k] for k in doc.kinds) or KIND_NAMES["other"]
    extra = []
    if doc.identity and doc.identity.sides:
        extra.append(", ".join(SIDE_NAMES[s] for s in doc.identity.sides))
    if doc.ocr:
        extra.append("letto con OCR")
    return f"{doc.filename}: {kinds}" + (f" ({'; '.join(extra)})" if extra else "")


def to_text(sub: Submission) -> str:
    """A short report in plain Italian words: found, missing, wrong."""
    lines = [f"{sub.source}: {VERDICT_NAMES.get(sub.verdict or 'error', sub.verdict)}"]
    if sub.verdict == "error":
        lines.append(f"  non è un messaggio leggibile: {sub.error}")
        return "\n".join(lines)
    env = sub.envelope
    if env is not None:
        when = env.date.strftime("%d/%m/%Y %H:%M") if env.date else "data sconosciuta"
        lines.append(f"  mittente: {env.sender or 'sconosciuto'} — {env.type}, {when}, firma {env.signature}")
    if sub.stop is not None:
        lines.append(f"  motivo: {sub.stop.reason}")
        return "\n".join(lines)
    lines.append("  documenti ricevuti:" if sub.documents else "  nessun documento allegato")
    lines.extend(f"    - {_describe(doc)}" for doc in sub.documents)
    f = sub.fields
    values = [
        ("casella", f.mailbox),
        ("associazione", f.ets_name),
        ("codice fiscale", f.tax_code),
        ("login Aruba", f.aruba_login),
        ("IBAN beneficiario", f.iban),
        ("importo", euro(f.amount) if f.amount is not None else None),
        ("causale", f.causale),
        ("scadenza documento", italian_date(f.id_expiry) if f.id_expiry else None),
    ]
    lines.extend(f"  {label}: {value}" for label, value in values if value)
    if sub.missing:
        lines.append("  mancano: " + ", ".join(KIND_NAMES[k] for k in sub.missing))
    lines.extend(f"  PROBLEMA: {p.detail}" for p in sub.problems)
    lines.extend(f"  avviso: {w.detail}" for w in sub.warnings)
    return "\n".join(lines)
