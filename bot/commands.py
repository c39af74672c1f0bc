"""The commands that work on the database: ``run``, ``cases``, ``digest``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.config import Settings
from bot.store import models as db
from bot.store.db import ensure_schema, make_engine, session_factory


def _cases(args: argparse.Namespace, settings: Settings) -> int:
    ensure_schema(settings.database_url, upgrade=False)
    sessions = session_factory(make_engine(settings.database_url))
    with sessions() as session:
        from bot.digest import case_rows

        for case, count in case_rows(session):
            row: dict[str, Any] = {
                "mailbox": case.mailbox,
                "ets_name": case.ets_name,
                "status": case.effective_status,
                "missing": list(case.missing or []),
                "problems": list(case.problems or []),
                "warnings": list(case.warnings or []),
                "messages": count,
                "updated": case.updated_at.isoformat(),
            }
            if args.json:
                print(json.dumps(row, ensure_ascii=False))
            else:
                lacks = ", ".join(row["missing"] + row["problems"]) or "—"
                status = "COMPLETA  " if row["status"] == "complete" else "INCOMPLETA"
                name = f" ({case.ets_name})" if case.ets_name else ""
                print(f"{status} {case.mailbox}{name}: {count} messaggi; da sistemare: {lacks}")
    return 0


def _digest(args: argparse.Namespace, settings: Settings) -> int:
    from bot.digest import as_email, build_digest
    from bot.outbox import open_outbox
    from bot.pipeline import make_context
    from bot.store.digests import last_digest_sent_at

    ctx = make_context(settings)
    ensure_schema(settings.database_url, upgrade=False)
    sessions = session_factory(make_engine(settings.database_url))
    with sessions() as session:
        digest = build_digest(session, ctx, now=db.utcnow(), since=last_digest_sent_at(session))
    if not args.send:
        print(digest.text)
        return 0
    if not settings.operators:
        print("pecbot digest: PECBOT_OPERATORS is empty: nobody to send the digest to", file=sys.stderr)
        return 2
    open_outbox(settings.outbox).send(as_email(digest, sender=settings.address, operators=settings.operators))
    print(f"riepilogo inviato a {', '.join(settings.operators)}")
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot import daemon, logs

    logs.configure()
    return daemon.run(settings, once=args.once)


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    """Run the database command named in ``args``."""
    handlers = {"run": _run, "cases": _cases, "digest": _digest}
    return handlers[args.command](args, settings)


__all__ = ["dispatch"]
