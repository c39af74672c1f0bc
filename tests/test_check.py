"""``pecbot check`` end to end on the generated PEC messages (fixtures/generate.py).

Each scenario is a real signed PEC message carrying generated documents;
the manifest says what a careful person would conclude. Every scenario must
get the right verdict, missing list and codes, and the fields it states.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.config import Settings
from bot.pipeline import analyse, make_context
from bot.report import to_json
from fixtures import pec
from tests.generated import MESSAGES, expected, generated_messages

pytestmark = pytest.mark.ocr


@pytest.fixture(scope="module")
def ctx():  # type: ignore[no-untyped-def]
    return make_context(Settings(), extra_trust=(str(pec.trusted_pem()),))


#: Scenarios we know we still get wrong (never wrongly complete): each must keep failing
#: until fixed, so fixing one shows up (strict xfail).
KNOWN_WRONG = {
    "013-ocr-form-photo.eml": "tesseract drops the value column of a photographed form with dotted"
    " leader lines, so the login is not read (verdict incomplete: fails safe)",
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(e["file"], marks=pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[e["file"]]))
        if e["file"] in KNOWN_WRONG else e["file"]
        for e in expected()
    ],
)
def test_scenario(name: str, ctx: Any) -> None:
    folder = generated_messages()
    want = next(e for e in expected() if e["file"] == name)
    got = to_json(analyse((folder / name).read_bytes(), ctx, source=name))
    assert got["verdict"] == want["verdict"], got
    for key, value in want["envelope"].items():
        assert got["envelope"][key] == value
    if want["verdict"] in ("ignored", "error"):
        return
    assert got["missing"] == want["missing"]
    assert sorted(p["code"] for p in got["problems"]) == want["problems"]
    assert sorted(w["code"] for w in got["warnings"]) == want["warnings"]
    wrong = {k: (got["fields"].get(k), v) for k, v in want["fields"].items() if got["fields"].get(k) != v}
    assert not wrong, f"fields read wrong (got, expected): {wrong}"


def test_cli_json_lines_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    folder = generated_messages()
    picks = [folder / e["file"] for e in expected() if e["verdict"] in ("ignored", "error")]
    code = main(["check", "--json", "--trust", str(pec.trusted_pem()), *map(str, picks)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # an error verdict is among them
    assert [Path(line["source"]).name for line in lines] == [p.name for p in picks]
    assert all(set(line) >= {"source", "verdict", "envelope", "documents", "fields", "missing", "problems", "warnings"}
               for line in lines)
    errors = [line for line in lines if line["verdict"] == "error"]
    assert errors and all(line["error"] for line in errors)


def test_cli_human_report_in_italian(capsys: pytest.CaptureFixture[str]) -> None:
    folder = generated_messages()
    name = next(e["file"] for e in expected() if e["file"].endswith("amount-without-vat.eml"))
    assert main(["check", "--trust", str(pec.trusted_pem()), str(folder / name)]) == 0
    out = capsys.readouterr().out
    assert "INCOMPLETA" in out and "9,90 €" in out and "12,08 €" in out


def test_cli_bad_usage() -> None:
    assert main(["check", "/no/such/file.eml"]) == 2
    with pytest.raises(SystemExit) as caught:
        main(["check", "--now", "30/07/2026", "x.eml"])
    assert caught.value.code == 2


def test_manifest_covers_every_kind_of_message() -> None:
    verdicts = {e["verdict"] for e in expected()}
    assert verdicts == {"complete", "incomplete", "ignored", "error"}
    assert len(expected()) == len(list(MESSAGES.glob("*.eml"))) if MESSAGES.exists() else True
