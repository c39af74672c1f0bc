"""The initial schema: inbox, messages, cases, documents, outbox, digests, audit.

Written by hand to match bot/store/models.py; tests/test_store.py checks with
Alembic's autogenerate that the two never drift apart, on SQLite and PostgreSQL.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

MESSAGE_STATES = (
    "'fetched', 'analysing', 'analysed', 'reply_queued', 'ignored', 'done', 'quarantined'"
)
SEND_STATES = "'pending', 'sent', 'failed'"


def instant(name: str, nullable: bool = True) -> sa.Column[object]:
    """A timezone-aware instant (stored in UTC)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def lease_columns() -> list[sa.Column[object]]:
    """Who holds a row while working on it, and until when (see bot/store/leases.py)."""
    return [sa.Column("lease_owner", sa.String(200)), instant("lease_until")]


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mailbox", sa.String(320), nullable=False),
        sa.Column("ets_name", sa.Text()),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        instant("created_at", nullable=False),
        instant("updated_at", nullable=False),
        instant("completed_at"),
        sa.Column("manual_status", sa.String(20)),
        sa.Column("manual_note", sa.Text()),
        sa.Column("manual_by", sa.String(200)),
        instant("manual_at"),
        instant("closed_at"),
        instant("purged_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("mailbox", name=op.f("uq_cases_mailbox")),
        sa.CheckConstraint("status IN ('complete', 'incomplete')", name=op.f("ck_cases_status")),
        sa.CheckConstraint(
            "manual_status IS NULL OR manual_status IN ('complete', 'incomplete')",
            name=op.f("ck_cases_manual_status"),
        ),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dedup_key", sa.String(1000), nullable=False),
        sa.Column("raw_sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        instant("received_at", nullable=False),
        instant("raw_purged_at"),
        sa.Column("envelope_type", sa.String(40)),
        sa.Column("certified_sender", sa.String(320)),
        instant("certified_at"),
        sa.Column("pec_id", sa.String(500)),
        sa.Column("message_id_header", sa.String(1000)),
        sa.Column("subject", sa.Text()),
        sa.Column("verdict", sa.String(20)),
        sa.Column("analysis", sa.JSON()),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        instant("retry_after"),
        *lease_columns(),
        instant("quarantined_at"),
        sa.Column("case_id", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_messages_dedup_key")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_messages_case_id_cases")),
        sa.CheckConstraint(f"state IN ({MESSAGE_STATES})", name=op.f("ck_messages_state")),
    )
    op.create_index(op.f("ix_messages_state"), "messages", ["state"])
    op.create_index(op.f("ix_messages_case_id"), "messages", ["case_id"])
    op.create_table(
        "inbox_seen",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        instant("seen_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_seen")),
        sa.UniqueConstraint(
            "source", "uidvalidity", "uid", name=op.f("uq_inbox_seen_source_uidvalidity_uid")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_inbox_seen_message_id_messages")
        ),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer()),
        sa.Column("filename", sa.Text()),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("fields", sa.JSON()),
        sa.Column("id_sides", sa.JSON()),
        sa.Column("unreadable", sa.Text()),
        instant("purged_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_documents_message_id_messages")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_documents_case_id_cases")),
    )
    op.create_index(op.f("ix_documents_message_id"), "documents", ["message_id"])
    op.create_index(op.f("ix_documents_case_id"), "documents", ["case_id"])
    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer()),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text()),
        sa.Column("message_id_header", sa.String(1000), nullable=False),
        sa.Column("mime", sa.LargeBinary()),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        instant("not_before"),
        *lease_columns(),
        instant("created_at", nullable=False),
        instant("sent_at"),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replies")),
        # One message, one reply: the database itself refuses a second one.
        sa.UniqueConstraint("message_id", name=op.f("uq_replies_message_id")),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_replies_message_id_messages")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_replies_case_id_cases")),
        sa.CheckConstraint(f"state IN ({SEND_STATES})", name=op.f("ck_replies_state")),
    )
    op.create_index(op.f("ix_replies_state"), "replies", ["state"])
    op.create_index(op.f("ix_replies_recipient"), "replies", ["recipient"])
    op.create_index(op.f("ix_replies_case_id"), "replies", ["case_id"])
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("period", sa.String(100), nullable=False),
        instant("created_at", nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        *lease_columns(),
        instant("sent_at"),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digests")),
        sa.UniqueConstraint("period", name=op.f("uq_digests_period")),
        sa.CheckConstraint(f"state IN ({SEND_STATES})", name=op.f("ck_digests_state")),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), primary_key=True),
        instant("at", nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("case_id", sa.Integer()),
        sa.Column("message_id", sa.Integer()),
        sa.Column("note", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_audit_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_audit_message_id_messages")
        ),
    )
    op.create_index(op.f("ix_audit_at"), "audit", ["at"])
    op.create_index(op.f("ix_audit_action"), "audit", ["action"])
    op.create_index(op.f("ix_audit_case_id"), "audit", ["case_id"])
    op.create_table(
        "daemon_state",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        instant("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_daemon_state")),
    )


def downgrade() -> None:
    for table in (
        "daemon_state",
        "audit",
        "digests",
        "replies",
        "documents",
        "inbox_seen",
        "messages",
        "cases",
    ):
        op.drop_table(table)
