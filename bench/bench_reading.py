"""How fast and how big is reading a message's documents? Prints figures, asserts nothing.

    .venv/bin/python bench/bench_reading.py [--repeat N] [--skip-memory]

1. A scanned A4 page of dense Italian prose (300 dpi, degraded like a flatbed
   scan): bare ``tesseract img out -l ita+eng`` (OMP_THREAD_LIMIT=1) against the
   whole analysis of a message carrying that scan as a JPEG and as a scanned
   PDF. Target: ratio ≤ 1.15.
2. A message whose documents all have a text layer: analysis seconds
   (target < 0.15 s) and tesseract processes started (target 0).
3. Peak memory of a fresh process analysing a message with a ~25 MB scan:
   the process's ``VmHWM`` and its largest tesseract child's peak (measured by
   ``/usr/bin/time``). Target < 400 MB. Not ``getrusage().ru_maxrss``: Linux
   carries it across exec, so a child started by a big parent — and every
   tesseract started by us — would report the parent's size.

Times are the best of ``--repeat`` runs, bare and ours interleaved: the
machine is shared, and the minimum is the least disturbed measurement.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pytesseract  # noqa: E402
from PIL import Image  # noqa: E402

from bot.model import AnalysisContext, Envelope, Submission  # noqa: E402
from bot.rules import load_rules  # noqa: E402
from fixtures import degrade  # noqa: E402
from fixtures import p7m as samples  # noqa: E402


def analyse(raw: bytes, ctx: AnalysisContext) -> Submission:
    """The lead's whole pipeline when it imports; else parse → attachments → reading."""
    try:
        from bot.pipeline import analyse as pipeline_analyse
    except ImportError:
        from email import message_from_bytes, policy

        from bot.attachments import collect_attachments
        from bot.reading import read_documents

        message = message_from_bytes(raw, policy=policy.default)
        sub = Submission(source="bench", raw=raw, message=message,  # type: ignore[arg-type]
                         envelope=Envelope(type="none", original=message))  # type: ignore[arg-type]
        collect_attachments(sub, ctx)
        read_documents(sub, ctx)
        return sub
    return pipeline_analyse(raw, ctx, "bench")


def message_with(*files: tuple[str, str, bytes]) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Associazione Prova <prova@pec.it>"
    msg["To"] = "csvassovoce@pec.it"
    msg["Subject"] = "Rinnovo casella PEC"
    msg["Date"] = "Mon, 14 Jul 2025 10:00:00 +0200"
    msg["Message-ID"] = "<bench@prova.pec.it>"
    msg.set_content("Buongiorno, in allegato i documenti per il rinnovo.")
    for filename, mime, data in files:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def bare_tesseract(image: Path, folder: Path) -> float:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    started = time.perf_counter()
    subprocess.run(["tesseract", str(image), str(folder / "out"), "-l", "ita+eng"],
                   check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def timed(raw: bytes, ctx: AnalysisContext) -> tuple[float, Submission]:
    started = time.perf_counter()
    sub = analyse(raw, ctx)
    return time.perf_counter() - started, sub


def scanned_page() -> Image.Image:
    page = degrade.render_pdf(samples.dense_page_pdf(1), dpi=300)[0]
    return degrade.scan(page, random.Random(3))


def bench_scan(ctx: AnalysisContext, folder: Path, repeat: int) -> list[tuple[str, str, str, str]]:
    scan = scanned_page()
    png, jpg = folder / "scan.png", folder / "scan.jpg"
    scan.save(png)
    jpeg_bytes = degrade.to_jpeg(scan, quality=90)
    jpg.write_bytes(jpeg_bytes)
    cases = {
        "JPEG": (jpg, message_with(("scansione.jpg", "image/jpeg", jpeg_bytes))),
        "scanned PDF": (png, message_with(("scansione.pdf", "application/pdf",
                                           degrade.to_pdf([scan], dpi=300)))),
    }
    rows = []
    for label, (image, raw) in cases.items():
        bare, ours = [], []
        for _ in range(repeat):
            bare.append(bare_tesseract(image, folder))
            seconds, sub = timed(raw, ctx)
            ours.append(seconds)
        assert sub.documents and sub.documents[0].ocr, "the scan was not OCR'd"
        ratio = min(ours) / min(bare)
        rows.append((f"scan as {label}: bare tesseract on {image.suffix[1:]} / ours",
                     f"{min(bare):.2f} s / {min(ours):.2f} s", f"ratio {ratio:.3f}", "≤ 1.15"))
    return rows


def text_layer_documents() -> list[tuple[str, str, bytes]]:
    receipt = samples.text_pdf([
        "Banca Esempio S.p.A. - Ricevuta di bonifico SEPA", "Data esecuzione: 14/07/2025",
        "Ordinante: Associazione Amici del Parco ODV", "IBAN ordinante: IT60X0542811101000000123456",
        "Beneficiario: Aruba S.p.A.", "IBAN beneficiario: IT67D0538771336000042125809",
        "BIC: BPMOIT22XXX", "Importo: 12,08 EUR", "Commissioni: 1,00 EUR",
        "Causale: rinnovo amicidelparcopec.it", "Stato: eseguito", "CRO: 1234567890123",
    ])
    form_lines = ["Modulo ordine PEC - Aruba PEC S.p.A.", "Ragione sociale: Amici del Parco ODV",
                  "Codice fiscale: 97123450154", "Casella PEC: amicidelparco@pec.it",
                  "Login Aruba: 1234567@aruba.it", "Legale rappresentante: Mario Rossi"]
    form_lines += [f"Condizione {n}: il cliente accetta le condizioni generali di servizio "
                   "e l'informativa sul trattamento dei dati personali." for n in range(1, 36)]
    identity = samples.text_pdf(["REPUBBLICA ITALIANA", "CARTA D'IDENTITÀ", "Cognome: ROSSI",
                                 "Nome: MARIO", "Scadenza: 01/05/2030"])
    return [("ricevuta.pdf", "application/pdf", receipt),
            ("modulo.pdf", "application/pdf", samples.text_pdf(form_lines, size=9)),
            ("documento.pdf", "application/pdf", identity)]


def bench_text_layer(ctx: AnalysisContext, repeat: int) -> list[tuple[str, str, str, str]]:
    raw = message_with(*text_layer_documents())
    calls: list[object] = []
    real = pytesseract.pytesseract.run_tesseract

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)

    pytesseract.pytesseract.run_tesseract = counting
    try:
        timed(raw, ctx)  # warm-up: imports and caches are not the message's cost
        runs = [timed(raw, ctx) for _ in range(max(repeat, 5))]
    finally:
        pytesseract.pytesseract.run_tesseract = real
    seconds = [s for s, _ in runs]
    reading = [_stage_seconds(sub, "reading") for _, sub in runs]
    return [
        ("text-layer message: analysis (median / best)",
         f"{statistics.median(seconds):.3f} s / {min(seconds):.3f} s", "", "< 0.15 s"),
        ("text-layer message: of which reading (median)", f"{statistics.median(reading):.3f} s",
         "", ""),
        ("text-layer message: tesseract processes", str(len(calls)), "", "0"),
    ]


def _stage_seconds(sub: Submission, stage: str) -> float:
    for line in sub.trace:
        if line.startswith(f"{stage}: ") and line.endswith("s") and line[len(stage) + 2:-1].replace(".", "").isdigit():
            return float(line[len(stage) + 2:-1])
    return float("nan")


def _noisy_scan(seed: int, dpi: int) -> Image.Image:
    """A colour scan of a dense page with sensor noise, which JPEG cannot squeeze."""
    page = degrade.render_pdf(samples.dense_page_pdf(seed), dpi=dpi)[0]
    scan = degrade.scan(page, random.Random(seed))
    noise = Image.merge("RGB", [Image.effect_noise(scan.size, 40) for _ in range(3)])
    return Image.blend(scan, noise, 0.3)


def big_scan(kind: str) -> tuple[str, str, bytes]:
    """About 25 MB of scan: one 600 dpi JPEG page, or a PDF of four 300 dpi pages."""
    out = io.BytesIO()
    if kind == "jpeg":
        _noisy_scan(3, 600).save(out, format="JPEG", quality=97)
        return "scansione-600dpi.jpg", "image/jpeg", out.getvalue()
    first, *rest = [_noisy_scan(seed, 300) for seed in range(4)]
    first.save(out, format="PDF", save_all=True, append_images=rest, resolution=300, quality=95)
    return "scansione-4-pagine.pdf", "application/pdf", out.getvalue()


def bench_memory(folder: Path) -> list[tuple[str, str, str, str]]:
    rows = []
    for kind in ("jpeg", "pdf"):
        eml = folder / f"big-{kind}.eml"
        # made in a child too, so that this process stays small while the next one runs
        subprocess.run([sys.executable, __file__, "--make-big-scan", kind, str(eml)], check=True)
        child = subprocess.run([sys.executable, __file__, "--memory-child", str(eml)],
                               check=True, capture_output=True, text=True)
        size, own, tesseract, together, seconds = child.stdout.split()
        label = "one JPEG page" if kind == "jpeg" else "a 4-page scanned PDF"
        rows += [
            (f"{int(size) / 1e6:.1f} MB scan, {label}: peak of process / largest tesseract",
             f"{int(own) / 1024:.0f} MB / {int(tesseract) / 1024:.0f} MB",
             f"{float(seconds):.1f} s", "< 400 MB"),
            ("  process and its tesseracts together (sampled every 10 ms)",
             f"{int(together) / 1024:.0f} MB", "", "< 400 MB"),
        ]
    return rows


def make_big_scan(kind: str, path: str) -> None:
    Path(path).write_bytes(message_with(big_scan(kind)))


def memory_child(path: str) -> None:
    """Analyse the message at ``path``; print its scan's size, peak kB of this process
    and of the largest tesseract, and the seconds taken."""
    folder = tempfile.TemporaryDirectory(prefix="pecbot-bench-")
    log = Path(folder.name) / "tesseract-peaks"
    wrapper = log.with_name("tesseract")
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/time -a -o "{log}" -f %M tesseract "$@"\n')
    wrapper.chmod(0o755)
    pytesseract.pytesseract.tesseract_cmd = str(wrapper)
    ctx = AnalysisContext(rules=load_rules())
    raw = Path(path).read_bytes()
    sampler = TreeSampler()
    sampler.start()
    started = time.perf_counter()
    sub = analyse(raw, ctx)
    seconds = time.perf_counter() - started
    sampler.stop()
    assert sub.documents and sub.documents[0].ocr, "the big scan was not OCR'd"
    own = _status_kb(os.getpid(), "VmHWM")
    peaks = [int(line) for line in log.read_text().split() if line.isdigit()]
    print(len(sub.documents[0].data), own, max(peaks, default=0), sampler.peak, seconds)
    folder.cleanup()


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass  # the process ended between listing and reading
    return 0


class TreeSampler(threading.Thread):
    """Samples the resident memory of this process plus all its descendants every 10 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        own = os.getpid()
        while not self._done.wait(0.01):
            # a child not yet past exec still shows our own pages: count only real programs
            pids = [own, *(pid for pid in _tree(own)[1:] if not _still_us(pid))]
            self.peak = max(self.peak, sum(_status_kb(pid, "VmRSS") for pid in pids))

    def stop(self) -> None:
        self._done.set()
        self.join()


def _still_us(pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/exe") == os.readlink("/proc/self/exe")
    except OSError:
        return True  # gone already: nothing to count


def _tree(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            for child in task.read_text().split():
                found += _tree(int(child))
        except OSError:
            continue
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--make-big-scan", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_big_scan:
        make_big_scan(*args.make_big_scan)
        return
    if args.memory_child:
        memory_child(args.memory_child)
        return
    ctx = AnalysisContext(rules=load_rules())
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="pecbot-bench-") as name:
        folder = Path(name)
        rows += bench_text_layer(ctx, args.repeat)
        rows += bench_scan(ctx, folder, args.repeat)
        if not args.skip_memory:
            rows += bench_memory(folder)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(f"cores: {os.cpu_count()}, OCR workers: {ctx.ocr.workers or os.cpu_count()}")
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
