"""What did the user ask for? Parses the command line, calls the library, prints.

Exit codes: 0 done, 1 something could not be processed (a file that is not a
message, an unhealthy daemon), 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

from bot.config import Settings, load_settings
from bot.errors import ConfigError, PecbotError, RulesError


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-07-30") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pecbot",
        description="Legge le PEC di rinnovo inviate dalle associazioni al CSV e risponde.",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML file with the PECBOT_* settings in lower case")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="analyse .eml files offline (no network, no database)")
    check.add_argument("paths", nargs="+", metavar="PATH", help=".eml file or folder of .eml files")
    check.add_argument("--json", action="store_true", help="one JSON object per message (JSON Lines)")
    check.add_argument("--rules", metavar="DIR", help="rules folder (default: PECBOT_RULES or the shipped one)")
    check.add_argument("--trust", metavar="PEM", action="append", default=[], help="trusted PEC provider/CA certificates")
    check.add_argument("--now", metavar="DATE", type=_day, help="judge deadline and expiry against this day (YYYY-MM-DD)")

    run = commands.add_parser("run", help="the daemon: process the inbox, reply, send the digest")
    run.add_argument("--once", action="store_true", help="one pass over what is waiting, then exit")

    cases = commands.add_parser("cases", help="the cases and where each stands")
    cases.add_argument("--json", action="store_true", help="one JSON object per case")

    digest = commands.add_parser("digest", help="the operators' digest")
    digest.add_argument("--send", action="store_true", help="mail it to PECBOT_OPERATORS")

    commands.add_parser("rules", help="validate the rules folder and say what is wrong")
    return parser


def _messages(paths: Sequence[str]) -> Iterator[Path]:
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix.lower() == ".eml" and p.is_file())
        else:
            yield path


def _check(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from bot.pipeline import analyse, make_context
    from bot.report import to_json, to_text

    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"pecbot check: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    ctx = make_context(settings, rules_folder=args.rules, extra_trust=tuple(args.trust), now=args.now)
    files = list(_messages(args.paths))
    status = 0
    progress = tqdm(files, unit="msg", disable=None if len(files) > 1 else True, file=sys.stderr, leave=False)
    for path in progress:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raw = None
            reason = f"cannot read the file: {exc.strerror}"
        if raw is None:
            print(json.dumps({"source": str(path), "verdict": "error", "error": reason}) if args.json
                  else f"{path}: ERRORE\n  {reason}")
            status = 1
            continue
        sub = analyse(raw, ctx, source=str(path))
        if sub.verdict == "error":
            status = 1
        line = json.dumps(to_json(sub), ensure_ascii=False) if args.json else to_text(sub) + "\n"
        progress.clear()
        print(line, flush=True)
    return status


def _rules(args: argparse.Namespace, settings: Settings) -> int:
    from bot.rules import load_rules

    rules = load_rules(settings.rules or None)
    print(f"{rules.folder}: regole valide")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pecbot`` console script."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
        if args.command == "check":
            return _check(args, settings)
        if args.command == "rules":
            return _rules(args, settings)
        from bot.commands import dispatch

        return dispatch(args, settings)
    except (RulesError, ConfigError) as exc:
        print(f"pecbot: {exc}", file=sys.stderr)
        return 2
    except PecbotError as exc:
        print(f"pecbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
