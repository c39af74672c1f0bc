"""``pecbot run`` against a real Dovecot and a real SMTP server: exactly one reply per submission.

The messages are real signed PEC envelopes whose documents all have a text
layer (plus submissions with nothing attached), so the daemon's own logic is
what these tests time, not OCR.
"""

from __future__ import annotations

import email
import json
import os
import random
import signal
import subprocess
import sys
import time
from email import policy
from pathlib import Path

import pytest

from fixtures import pec
from fixtures.documents import order_forms, receipts
from tests.servers import Dovecot, SmtpServer, dovecot, smtp_server  # noqa: F401

pytestmark = pytest.mark.integration

CSV = "csvassovoce@pec.it"
ROOT = Path(__file__).resolve().parent.parent


def submission(seed: int, *, with_form: bool = True, day: int = 10) -> tuple[bytes, str]:
    """A PEC envelope from one association, with text-layer documents only."""
    form = order_forms.order_form("boxed", seed=seed)
    mailbox = str(form.truth["mailbox"])
    receipt = receipts.receipt("intesa", seed=seed, causale=receipts.causale_for(mailbox, "plain"))
    files = [(form.filename, form.content_type, form.data)] if with_form else []
    files.append((receipt.filename, receipt.content_type, receipt.data))
    when = pec.aware(2026, 7, day, 9, seed % 60)
    original = pec.build_original(mailbox, CSV, "Rinnovo PEC", "In allegato i documenti.", files, date=when)
    return pec.build_envelope(original, date=when, pec_id=f"opec.{seed}.{day}@pec.aruba.it"), mailbox


def environment(tmp: Path, imap: Dovecot, smtp: SmtpServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PECBOT_")}
    env.update(
        PECBOT_INBOX=imap.url(),
        PECBOT_OUTBOX=smtp.url(),
        PECBOT_DATABASE_URL=f"sqlite:///{tmp / 'pecbot.db'}",
        PECBOT_STORE=str(tmp / "store"),
        PECBOT_TRUST=str(pec.trusted_pem()),
        PECBOT_ADDRESS=CSV,
        PECBOT_POLL_SECONDS="0.5",
        OMP_THREAD_LIMIT="1",
    )
    return env


def pecbot(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def replies(smtp: SmtpServer) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(r.raw, policy=policy.default) for r in smtp.received]  # type: ignore[misc]


def test_full_loop(dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path) -> None:  # noqa: F811
    complete, box_a = submission(1)
    no_form, box_b = submission(2, with_form=False)
    for raw in (complete, no_form):
        dovecot.append(raw)
    ours = pec.build_original(CSV, box_a, "Rinnovo PEC", "risposta", date=pec.aware(2026, 7, 10),
                              message_id="<pecbot.00aa@pec.it>", extra_headers=[("Auto-Submitted", "auto-replied")])
    dovecot.append(pec.build_receipt("accettazione", original=ours, sender=CSV, recipient=box_a,
                                     date=pec.aware(2026, 7, 10), pec_id="opec.acc.1@pec.aruba.it"))
    dovecot.append(pec.build_envelope(ours, date=pec.aware(2026, 7, 10)))
    away = pec.build_original(box_b, CSV, "Fuori ufficio", "Sono in ferie", date=pec.aware(2026, 7, 11),
                              extra_headers=[("Auto-Submitted", "auto-replied")])
    dovecot.append(pec.build_envelope(away, date=pec.aware(2026, 7, 11)))
    dovecot.append(b"this is not an e-mail message at all\x00\x01")
    flags_before = dovecot.flags()

    env = environment(tmp_path, dovecot, smtp_server)
    run = pecbot(env, "run", "--once")
    assert run.returncode == 0, run.stderr

    got = replies(smtp_server)
    assert sorted(str(m["To"]) for m in got) == sorted([box_a, box_b])
    for message in got:
        assert message["From"] == CSV
        assert message["Auto-Submitted"] == "auto-replied"
        assert message["In-Reply-To"] and message["References"]
        assert message["Message-ID"].startswith("<pecbot.")
    by_box = {str(m["To"]): m.get_body(("plain",)).get_content() for m in got}  # type: ignore[union-attr]
    assert "manca ancora" in by_box[box_a] and "la copia del documento d'identità" in by_box[box_a]
    assert "il modulo d'ordine PEC" not in by_box[box_a]
    assert "il modulo d'ordine PEC" in by_box[box_b]
    assert dovecot.flags() == flags_before  # the shared inbox is left as people left it

    cases = pecbot(env, "cases", "--json")
    rows = {row["mailbox"]: row for row in map(json.loads, cases.stdout.splitlines())}
    assert set(rows) == {box_a, box_b}
    assert rows[box_a]["status"] == "incomplete" and rows[box_a]["missing"] == ["id_document"]
    assert rows[box_b]["missing"] == ["order_form", "id_document"]
    assert rows[box_a]["messages"] == 1

    digest = pecbot(env, "digest")
    assert digest.returncode == 0, digest.stderr
    assert "0 completi, 2 incompleti" in digest.stdout
    assert box_a in digest.stdout and "la copia del documento d'identità" in digest.stdout
    assert "non è un messaggio leggibile" in digest.stdout  # the garbage message needs a person

    again = pecbot(env, "run", "--once")
    assert again.returncode == 0 and len(smtp_server.received) == 2  # nothing answered twice

    # Personal data never reaches the logs.
    logs = run.stderr + again.stderr
    assert "IT67D0538771336000042125809" not in logs
    for raw_box in (box_a, box_b):
        assert raw_box not in logs


def test_smtp_down_then_up(dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path) -> None:  # noqa: F811
    raw, box = submission(3)
    dovecot.append(raw)
    env = environment(tmp_path, dovecot, smtp_server)
    smtp_server.stop()
    assert pecbot(env, "run", "--once").returncode == 0
    smtp_server.start()
    assert smtp_server.received == []
    # The failed attempt waits out its retry delay; a fresh database row would be a bug.
    env["PECBOT_DATABASE_URL"] = env["PECBOT_DATABASE_URL"]
    import sqlalchemy

    engine = sqlalchemy.create_engine(env["PECBOT_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("UPDATE replies SET not_before = NULL, lease_until = NULL"))
    assert pecbot(env, "run", "--once").returncode == 0
    assert [str(m["To"]) for m in replies(smtp_server)] == [box]


def test_kill_at_any_moment_loses_nothing_and_repeats_nothing(
    dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path  # noqa: F811
) -> None:
    boxes = []
    for seed in range(10, 22):
        raw, box = submission(seed, with_form=seed % 3 != 0)
        dovecot.append(raw)
        boxes.append(box)
    env = environment(tmp_path, dovecot, smtp_server)
    rng = random.Random(7)
    kills = 0
    for _ in range(8):
        daemon = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.8, 4.0))
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
        kills += 1
        if len(smtp_server.received) >= len(boxes):
            break
    final = pecbot(env, "run", "--once")
    assert final.returncode == 0, final.stderr
    sent_to = sorted(str(m["To"]) for m in replies(smtp_server))
    assert kills >= 1
    assert sent_to == sorted(boxes), f"after {kills} kills: {len(sent_to)} replies for {len(boxes)} messages"


def test_digest_sent_once_per_period(dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path) -> None:  # noqa: F811
    raw, box = submission(40)
    dovecot.append(raw)
    env = environment(tmp_path, dovecot, smtp_server)
    env["PECBOT_OPERATORS"] = "segreteria@csvassovoce.it, operatore@csvassovoce.it"
    for _ in range(2):
        assert pecbot(env, "run", "--once").returncode == 0
    digests = [m for m in replies(smtp_server) if "segreteria@csvassovoce.it" in str(m["To"])]
    assert len(digests) == 1  # never twice for the same period
    html = digests[0].get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Riepilogo rinnovi PEC" in html and box in html and "<html" in html
    others = [str(m["To"]) for m in replies(smtp_server) if "segreteria@" not in str(m["To"])]
    assert others == [box]
