"""Daemon figures against a real Dovecot and SMTP server on loopback.

    .venv/bin/python -m bench.bench_daemon [--text 400] [--ocr 100]

Prints: messages per minute for a backlog of text-layer and OCR submissions;
the OCR rate with one analysis worker and with one per core (and the ratio);
and, with IDLE, the seconds from APPEND to the reply of a text-layer
submission (the target is under 5 s).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fixtures import pec
from fixtures.documents import identity, order_forms, receipts
from tests.servers import Dovecot, SmtpServer

CSV = "csvassovoce@pec.it"
ROOT = Path(__file__).resolve().parent.parent


def text_submission(seed: int) -> bytes:
    form = order_forms.order_form("boxed", seed=seed % 50)
    mailbox = f"bench{seed}@pec.it"
    receipt = receipts.receipt("intesa", seed=seed % 50, causale=f"bench{seed}pec.it")
    when = pec.aware(2026, 7, 1 + seed % 28, 9, seed % 60)
    original = pec.build_original(mailbox, CSV, "Rinnovo PEC", "documenti", [
        (form.filename, form.content_type, form.data), (receipt.filename, receipt.content_type, receipt.data)],
        date=when, message_id=f"<bench-text-{seed}@pec.it>")
    return pec.build_envelope(original, date=when, pec_id=f"opec.bench.text.{seed}@pec.aruba.it")


def ocr_submission(seed: int, photo: tuple[str, str, bytes]) -> bytes:
    mailbox = f"ocr{seed}@pec.it"
    when = pec.aware(2026, 7, 1 + seed % 28, 10, seed % 60)
    original = pec.build_original(mailbox, CSV, "Documento", "documento", [photo], date=when,
                                  message_id=f"<bench-ocr-{seed}@pec.it>")
    return pec.build_envelope(original, date=when, pec_id=f"opec.bench.ocr.{seed}@pec.aruba.it")


def run_once(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot.cli", "run", "--once"], env=env, cwd=ROOT, check=True,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def environment(folder: Path, imap: Dovecot, smtp: SmtpServer, workers: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PECBOT_")}
    env.update(PECBOT_INBOX=imap.url(), PECBOT_OUTBOX=smtp.url(), PECBOT_TRUST=str(pec.trusted_pem()),
               PECBOT_DATABASE_URL=f"sqlite:///{folder / 'pecbot.db'}", PECBOT_STORE=str(folder / "store"),
               PECBOT_ANALYSIS_WORKERS=str(workers), PECBOT_POLL_SECONDS="1",
               PECBOT_REPLIES_PER_SENDER_PER_DAY="1000", OMP_THREAD_LIMIT="1")
    return env


def backlog(messages: list[bytes], workers: int) -> float:
    """Seconds for one pass over ``messages`` waiting in a fresh Dovecot."""
    with tempfile.TemporaryDirectory() as tmp, Dovecot() as imap, SmtpServer() as smtp:
        for raw in messages:
            imap.append(raw)
        seconds = run_once(environment(Path(tmp), imap, smtp, workers))
        assert len(smtp.received) == len(messages), (len(smtp.received), len(messages))
        return seconds


def idle_latency(samples: int = 5) -> list[float]:
    """Seconds from APPEND to the reply, with the daemon waiting in IDLE."""
    with tempfile.TemporaryDirectory() as tmp, Dovecot() as imap, SmtpServer() as smtp:
        env = environment(Path(tmp), imap, smtp, 0)
        env["PECBOT_POLL_SECONDS"] = "60"  # IDLE must wake it, not polling
        daemon = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=ROOT,
                                  stderr=subprocess.DEVNULL)
        try:
            time.sleep(4)
            latencies = []
            for n in range(samples):
                raw = text_submission(10_000 + n)
                before = len(smtp.received)
                started = time.perf_counter()
                imap.append(raw)
                while len(smtp.received) == before and time.perf_counter() - started < 60:
                    time.sleep(0.05)
                latencies.append(time.perf_counter() - started)
            return latencies
        finally:
            daemon.terminate()
            daemon.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", type=int, default=400, help="text-layer submissions in the backlog")
    parser.add_argument("--ocr", type=int, default=100, help="submissions with one ID photo (OCR)")
    args = parser.parse_args()
    sample = identity.identity_sample("cie", ("front",), "photo", seed=1)
    photo = (sample.filename, sample.content_type, sample.data)
    texts = [text_submission(n) for n in range(args.text)]
    ocrs = [ocr_submission(n, photo) for n in range(args.ocr)]
    cores = os.cpu_count() or 1

    mixed = backlog(texts + ocrs, 0)
    print(f"backlog of {len(texts) + len(ocrs)} ({len(texts)} text-layer, {len(ocrs)} OCR): "
          f"{mixed:.1f} s, {60 * (len(texts) + len(ocrs)) / mixed:.0f} messages/min")
    few = ocrs
    one = backlog(few, 1)
    many = backlog(few, cores)
    print(f"OCR backlog of {len(few)}: 1 worker {60 * len(few) / one:.1f}/min, "
          f"{cores} workers {60 * len(few) / many:.1f}/min, ratio {one / many:.2f}x (target >= 1.7)")
    latencies = idle_latency()
    print(f"IDLE: APPEND -> reply {', '.join(f'{s:.2f}' for s in latencies)} s "
          f"(max {max(latencies):.2f} s, target < 5 s)")


if __name__ == "__main__":
    main()
