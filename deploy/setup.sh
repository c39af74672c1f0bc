#!/usr/bin/env bash
# Everything pecbot needs on a fresh Debian 12 machine with Python 3.11:
# system packages (tesseract with Italian data, Dovecot for the integration
# tests, qpdf, fonts) and a virtualenv in .venv with pecbot and its test tools.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if command -v python3.11 >/dev/null 2>&1; then PY=python3.11; else PY=python3; fi
fi

packages=(tesseract-ocr tesseract-ocr-ita tesseract-ocr-eng tesseract-ocr-osd
          dovecot-imapd qpdf fonts-dejavu-core ca-certificates)
"$PY" -c 'import ensurepip' >/dev/null 2>&1 || packages+=(python3-venv)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PY"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
echo "setup: ready ($(.venv/bin/python --version), $(tesseract --version 2>&1 | head -1))"
