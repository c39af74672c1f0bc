"""The store's foundations: schema migrations, the schema gate, the blob store, dedup keys."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from bot.errors import StoreError
from bot.store.blobs import BlobStore
from bot.store.db import current_revision, ensure_schema, head_revision, make_engine, upgrade
from bot.store.dedup import dedup_key
from bot.store.models import Base

REPOSITORY = Path(__file__).resolve().parent.parent
TABLES = {
    "alembic_version",
    "audit",
    "cases",
    "daemon_state",
    "digests",
    "documents",
    "inbox_seen",
    "messages",
    "replies",
}


def schema_diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


# --- migrations and the schema gate -------------------------------------------------------


def test_upgrade_creates_every_table_from_empty(database_url: str) -> None:
    ensure_schema(database_url, upgrade=True)
    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
    ensure_schema(database_url, upgrade=False)  # now at head: passes without upgrading


def test_migrations_match_the_models(database_url: str) -> None:
    upgrade(database_url)
    assert schema_diff(database_url) == []


def test_drift_between_models_and_database_is_detected(database_url: str) -> None:
    # The comparison above must be able to fail: remove an index the models declare.
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_replies_recipient"))
    engine.dispose()
    diff = schema_diff(database_url)
    assert [entry[0] for entry in diff] == ["add_index"]  # type: ignore[index]


def test_old_schema_is_refused_without_upgrade(database_url: str) -> None:
    with pytest.raises(StoreError) as refused:
        ensure_schema(database_url, upgrade=False)
    message = str(refused.value)
    assert f"pecbot needs {head_revision()}" in message
    assert "run `pecbot run` to upgrade" in message
    engine = make_engine(database_url)
    assert current_revision(engine) is None  # refused means untouched
    engine.dispose()


def test_newer_schema_is_refused_even_with_upgrade(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    engine.dispose()
    with pytest.raises(StoreError, match="revision f00dcafe, newer than this pecbot knows"):
        ensure_schema(database_url, upgrade=True)


def test_a_database_holding_other_tables_is_refused(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(StoreError, match="holds tables but no pecbot schema"):
        ensure_schema(database_url, upgrade=True)


def test_two_daemons_upgrading_at_once_both_start(database_url: str) -> None:
    # Two processes (Alembic's context is process-global): both must come up at head.
    script = (
        "import sys; from bot.store.db import ensure_schema; "
        "ensure_schema(sys.argv[1], upgrade=True)"
    )
    daemons = [
        subprocess.Popen(
            [sys.executable, "-c", script, database_url], stderr=subprocess.PIPE, cwd=REPOSITORY
        )
        for _ in range(2)
    ]
    errors = [daemon.communicate(timeout=60)[1].decode() for daemon in daemons]
    assert [daemon.returncode for daemon in daemons] == [0, 0], errors
    assert schema_diff(database_url) == []


def test_migrations_are_found_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installed pecbot runs from anywhere: nothing may depend on the repository root.
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'pecbot.db'}"
    ensure_schema(url, upgrade=True)
    assert (tmp_path / "elsewhere" / "pecbot.db").exists()


def test_unreachable_server_gives_a_clear_error_without_the_password() -> None:
    url = "postgresql+psycopg://pecbot:s3cret@127.0.0.1:9/pecbot"
    with pytest.raises(StoreError) as refused:
        ensure_schema(url, upgrade=True)
    assert "cannot reach the database" in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_invalid_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="invalid database URL"):
        make_engine("not a url")


def test_sqlite_is_set_up_for_a_daemon(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'pecbot.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert (connection.execute(text("PRAGMA busy_timeout")).scalar() or 0) >= 1000
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text("INSERT INTO documents (message_id, kind) VALUES (999, 'other')")
            )
    finally:
        engine.dispose()


# --- the blob store -------------------------------------------------------------------------


def test_blobs_round_trip_and_are_stored_once(blob_store: BlobStore) -> None:
    first = blob_store.put(b"Subject: hello\r\n\r\nbody\r\n")
    second = blob_store.put(b"Subject: hello\r\n\r\nbody\r\n")
    assert first == second
    assert blob_store.get(first) == b"Subject: hello\r\n\r\nbody\r\n"
    assert blob_store.path_of(first).parent.parent.name == first[:2]
    assert len([p for p in blob_store.root.rglob("*") if p.is_file()]) == 1


def test_blobs_are_not_readable_by_others(blob_store: BlobStore) -> None:
    old_umask = os.umask(0o022)  # a permissive umask must not leak into the store
    try:
        sha = blob_store.put(b"personal data")
    finally:
        os.umask(old_umask)
    path = blob_store.path_of(sha)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    directory = path.parent
    while directory != blob_store.root.parent:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
        directory = directory.parent


def test_full_disk_is_a_clear_error_and_leaves_nothing(
    blob_store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = {"n": 0}

    def write_until_full(descriptor: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(descriptor, bytes(data)[:10])  # a short write, then the disk fills

    monkeypatch.setattr(os, "write", write_until_full)
    with pytest.raises(StoreError, match="disk holding .* is full"):
        blob_store.put(b"x" * 100_000)
    monkeypatch.undo()
    assert [p for p in blob_store.root.rglob("*") if p.is_file()] == []


def test_failed_fsync_leaves_no_blob(
    blob_store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_fsync(descriptor: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StoreError, match="cannot store a message"):
        sha = blob_store.put(b"never durable")
    monkeypatch.undo()
    sha = BlobStore(blob_store.root).put(b"other")  # the store still works afterwards
    assert [p.name for p in blob_store.root.rglob("*") if p.is_file()] == [sha]


def test_damaged_and_missing_blobs_are_store_errors(blob_store: BlobStore) -> None:
    sha = blob_store.put(b"original bytes")
    blob_store.path_of(sha).write_bytes(b"tampered bytes")
    with pytest.raises(StoreError, match="damaged"):
        blob_store.get(sha)
    assert blob_store.delete(sha) is True
    assert blob_store.delete(sha) is False
    with pytest.raises(StoreError, match="cannot read"):
        blob_store.get(sha)


def test_sweep_removes_only_stale_temporary_files(blob_store: BlobStore) -> None:
    blob_store.put(b"makes the tmp dir")
    stale = blob_store.root / "tmp" / "abc.1.1"
    fresh = blob_store.root / "tmp" / "abc.2.2"
    stale.write_bytes(b"torn")
    fresh.write_bytes(b"in progress")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    assert blob_store.sweep_temporary() == 1
    assert not stale.exists() and fresh.exists()


# --- dedup keys -----------------------------------------------------------------------------

ENVELOPE = (
    b"X-Trasporto: posta-certificata\r\n"
    b"Message-ID: <opec21010.20260714101532.12345.67.1.89@PEC.Aruba.it>\r\n"
    b"Subject: POSTA CERTIFICATA: Rinnovo PEC\r\n\r\nbody\r\n"
)


def test_dedup_key_of_a_pec_envelope_is_its_identificativo() -> None:
    assert dedup_key(ENVELOPE) == (
        "pec:posta-certificata:opec21010.20260714101532.12345.67.1.89@pec.aruba.it"
    )
    # The same item delivered again, with other transport headers on top: same key.
    assert dedup_key(b"Delivered-To: bot@pec.it\r\n" + ENVELOPE) == dedup_key(ENVELOPE)


def test_dedup_keys_of_receipts_never_collide_with_each_other() -> None:
    same_id = b"Message-ID: <opec1@pec.aruba.it>\r\n\r\n"
    acceptance = dedup_key(b"X-Ricevuta: accettazione\r\n" + same_id)
    delivery = dedup_key(b"X-Ricevuta: avvenuta-consegna\r\n" + same_id)
    assert acceptance != delivery


def test_dedup_key_falls_back_to_message_id_then_to_the_bytes() -> None:
    assert dedup_key(b"Message-ID: <Abc@Mail.Example>\r\n\r\nx") == "message-id:Abc@mail.example"
    no_id = dedup_key(b"Subject: a\r\n\r\nfirst")
    assert no_id.startswith("sha256:") and len(no_id) == len("sha256:") + 64
    assert dedup_key(b"Subject: a\r\n\r\nsecond") != no_id
