"""Leases held by a process of this machine that no longer exists.

A daemon killed mid-analysis (or mid-send) keeps its lease until it runs
out. When the same machine restarts, the dead process's leases are given
back at once, so nothing waits for the full lease to expire. Leases of other
machines are left alone: only time can tell whether those are dead.
"""

from __future__ import annotations

import os
import socket

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.store.atomic import changed_rows
from bot.store.models import Digest, Message, Reply, utcnow


def worker_name() -> str:
    """This process's name in lease columns: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_dead_local_leases(session: Session) -> int:
    """Expire the leases of dead processes on this host; returns how many rows were freed."""
    host = socket.gethostname()
    freed = 0
    now = utcnow()
    for model in (Message, Reply, Digest):
        owners = session.scalars(
            select(model.lease_owner).where(model.lease_owner.like(f"{host}:%")).distinct()
        ).all()
        for owner in owners:
            pid_text = (owner or "").rsplit(":", 1)[-1]
            pid = int(pid_text) if pid_text.isdigit() else None
            if pid is None or pid == os.getpid() or _alive(pid):
                continue
            freed += changed_rows(
                session, update(model).where(model.lease_owner == owner).values(lease_until=now)
            )
    session.commit()
    return freed
