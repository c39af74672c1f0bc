"""Leases held by a process of this machine that no longer exists.

A daemon killed mid-analysis (or mid-send) keeps its lease until it runs
out. When the same machine restarts, the dead process's leases are given
back at once, so nothing waits for the full lease to expire. Leases of other
machines are left alone: only time can tell whether those are dead.

A kill is not the message's fault, so the analysis attempt it cost is given
back — up to :data:`MAX_REFUNDS` times per message: a message that keeps
taking the daemon down with it (say, a scan that exhausts memory) then runs
out of attempts and is quarantined for a person, as it should.
"""

from __future__ import annotations

import os
import socket

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.store import audit
from bot.store.atomic import changed_rows
from bot.store.models import AuditEntry, Digest, Message, Reply, utcnow

MAX_REFUNDS = 5


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


def _dead_owners(session: Session, model: type[Message] | type[Reply] | type[Digest]) -> list[str]:
    host = socket.gethostname()
    owners = session.scalars(
        select(model.lease_owner).where(model.lease_owner.like(f"{host}:%")).distinct()
    ).all()
    dead = []
    for owner in owners:
        # host:pid, or host:pid/n for the n-th analysis thread of that process
        pid_text = (owner or "").rsplit(":", 1)[-1].split("/")[0]
        pid = int(pid_text) if pid_text.isdigit() else None
        if pid is not None and pid != os.getpid() and not _alive(pid):
            dead.append(str(owner))
    return dead


def _refund(session: Session, owner: str) -> None:
    """Give back the attempt a kill cost to each message ``owner`` was analysing."""
    for message_id in session.scalars(
        select(Message.id).where(Message.lease_owner == owner, Message.state == "analysing")
    ).all():
        refunds = session.scalar(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.message_id == message_id, AuditEntry.action == "lease_released"
            )
        ) or 0
        if refunds >= MAX_REFUNDS:
            continue
        changed_rows(
            session,
            update(Message).where(Message.id == message_id, Message.attempts > 0)
            .values(attempts=Message.attempts - 1),
        )
        audit.record(session, actor=audit.DAEMON, action="lease_released", message_id=message_id,
                     note=f"the daemon ({owner}) stopped while analysing it")


def release_dead_local_leases(session: Session) -> int:
    """Expire the leases of dead processes on this host; returns how many rows were freed."""
    freed = 0
    now = utcnow()
    for model in (Message, Reply, Digest):
        for owner in _dead_owners(session, model):
            if model is Message:
                _refund(session, owner)
            freed += changed_rows(
                session, update(model).where(model.lease_owner == owner).values(lease_until=now)
            )
    session.commit()
    return freed
