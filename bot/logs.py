"""How pecbot logs: structlog, one JSON object per line on standard error.

Events carry ids (message, case, reply), verdicts and timings — never
addresses' owners, IBANs, codici fiscali, names or document text.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure(level: int = logging.INFO) -> None:
    """JSON lines on stderr with an ISO timestamp and the level."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
