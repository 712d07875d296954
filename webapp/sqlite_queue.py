"""The embedded task queue: a kombu transport on one SQLite file that needs no server and forgets nothing.

Used when ``REDIS_URL`` is unset (``broker_url = sqlite-queue:///<instance>/celery-queue.db``). Why not kombu's own
SQLAlchemy transport, which the embedded default used before (measured by ``benchmarks/embedded_queue.py``; the
figures are in the README):

- It marks a message invisible when a worker takes it and never looks at it again: when the worker dies (SIGKILL,
  power cut, OOM) the message is neither finished nor redelivered, and since acknowledged messages are never deleted
  either, nothing can tell the two apart afterwards.
- It polls once a second and, with the worker's prefetch of one message per thread, moves about one message per second.

Here a message is a row. Taking it marks the row *reserved* by the consumer (host, process id and a random token);
acknowledging deletes the row; a rejected or (at a warm shutdown) unacknowledged message is made ready again in
place. A row reserved by a process of this host that no longer exists is made ready again when a channel opens (so
a restarted worker redelivers what the dead one held) and every ``RESTORE_EVERY_S`` seconds while it polls. Polling
is a read of an indexed table, every ``polling_interval`` seconds (0.05 s by default); only taking a message writes.

One host only (the file is local), no fanout (Celery turns remote control off for such transports), no priorities.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from queue import Empty
from urllib.parse import urlsplit

from kombu.transport import virtual

log = logging.getLogger(__name__)

RESTORE_EVERY_S = 30.0
POLLING_INTERVAL_S = 0.05
BUSY_TIMEOUT_MS = 30_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    reserved_by TEXT,
    reserved_at REAL,
    deliveries INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_messages_ready ON messages (queue, id) WHERE reserved_by IS NULL;
CREATE INDEX IF NOT EXISTS ix_messages_reserved ON messages (reserved_by) WHERE reserved_by IS NOT NULL;
"""

_HOST = socket.gethostname()
# One consumer identity per process: "host pid token". The token tells a dead process from a new one that was given
# the same process id. A forked child makes its own.
_identity: dict[int, str] = {}
_restored_at: dict[str, float] = {}
_restore_lock = threading.Lock()


def consumer_id() -> str:
    pid = os.getpid()
    if pid not in _identity:
        _identity[pid] = f"{_HOST} {pid} {uuid.uuid4().hex[:12]}"
    return _identity[pid]


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_gone(owner: str) -> bool:
    """Whether the consumer ``owner`` ("host pid token") is a process of this host that no longer runs."""
    host, _, rest = owner.partition(" ")
    pid, _, token = rest.partition(" ")
    if host != _HOST or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return owner != consumer_id()  # this process reuses a dead one's id
    return not process_alive(int(pid))


def database_path(url: str) -> str:
    """``sqlite-queue:///abs/path.db`` → ``/abs/path.db``."""
    path = urlsplit(url).path
    if not path:
        raise ValueError(f"the embedded queue needs a file path: {url!r}")
    return path


class QoS(virtual.QoS):
    """Acknowledging deletes the row; rejecting or restoring makes it ready again where it was."""

    def ack(self, delivery_tag):
        self.channel._delete_message(delivery_tag)
        super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        if requeue:
            self.channel._release_message(delivery_tag)
        else:
            self.channel._delete_message(delivery_tag)
        self._quick_ack(delivery_tag)

    def restore_unacked(self):
        self._flush()
        errors = []
        while self._delivered:
            tag, message = self._delivered.popitem()
            try:
                self.channel._release_message(tag)
            except Exception as exc:  # noqa: BLE001 - reported to kombu, which logs and dumps the message
                errors.append((exc, message))
        self._delivered.clear()
        return errors


class Channel(virtual.Channel):
    QoS = QoS
    polling_interval = POLLING_INTERVAL_S

    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        self._path = database_path(connection.client.hostname)
        self._local = threading.local()
        self._restore_gone(force=True)

    # connections: one per thread, so the worker's pool threads can acknowledge their own messages
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            os.makedirs(os.path.dirname(self._path) or ".", exist_ok=True)
            conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode=WAL")
            # Durable when a process dies (the WAL is in the file system); only a power cut can lose the last
            # messages, and everything they stand for is found again by the sweeps (see webapp.jobs, nlp.pipeline).
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            self._local.conn = conn
        return conn

    def _restore_gone(self, force: bool = False) -> int:
        """Make the messages held by dead consumers of this host ready again."""
        now = time.monotonic()
        with _restore_lock:
            if not force and now - _restored_at.get(self._path, 0.0) < RESTORE_EVERY_S:
                return 0
            _restored_at[self._path] = now
        conn = self._conn()
        owners = [r[0] for r in conn.execute("SELECT DISTINCT reserved_by FROM messages WHERE reserved_by IS NOT NULL")]
        restored = 0
        for owner in owners:
            if is_gone(owner):
                restored += conn.execute(
                    "UPDATE messages SET reserved_by = NULL, reserved_at = NULL WHERE reserved_by = ?", (owner,)
                ).rowcount
        if restored:
            log.warning("redelivering %s message(s) held by a worker that stopped", restored)
        return restored

    def _put(self, queue, message, **kwargs):
        self._conn().execute("INSERT INTO messages (queue, payload) VALUES (?, ?)", (queue, json.dumps(message)))

    def _get(self, queue, timeout=None):
        self._restore_gone()
        conn = self._conn()
        # A read first: an empty poll never takes the write lock.
        row = conn.execute(
            "SELECT id FROM messages WHERE queue = ? AND reserved_by IS NULL ORDER BY id LIMIT 1", (queue,)
        ).fetchone()
        if row is None:
            raise Empty()
        taken = conn.execute(
            "UPDATE messages SET reserved_by = ?, reserved_at = ?, deliveries = deliveries + 1 "
            "WHERE id = ? AND reserved_by IS NULL RETURNING payload, deliveries",
            (consumer_id(), time.time(), row[0]),
        ).fetchone()
        if taken is None:  # another consumer took it between the read and the update
            raise Empty()
        payload = json.loads(taken[0])
        payload["properties"]["delivery_tag"] = row[0]
        if taken[1] > 1:
            payload["redelivered"] = True
        return payload

    def _delete_message(self, delivery_tag) -> None:
        self._conn().execute("DELETE FROM messages WHERE id = ?", (int(delivery_tag),))

    def _release_message(self, delivery_tag) -> None:
        self._conn().execute(
            "UPDATE messages SET reserved_by = NULL, reserved_at = NULL WHERE id = ?", (int(delivery_tag),)
        )

    def _size(self, queue):
        return (
            self._conn()
            .execute("SELECT count(*) FROM messages WHERE queue = ? AND reserved_by IS NULL", (queue,))
            .fetchone()[0]
        )

    def _purge(self, queue):
        return self._conn().execute("DELETE FROM messages WHERE queue = ? AND reserved_by IS NULL", (queue,)).rowcount

    def _delete(self, queue, *args, **kwargs):
        super()._delete(queue, *args, **kwargs)
        self._conn().execute("DELETE FROM messages WHERE queue = ?", (queue,))

    def _has_queue(self, queue, **kwargs):
        return True

    def _new_queue(self, queue, **kwargs):
        return None

    def close(self):
        super().close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class Transport(virtual.Transport):
    Channel = Channel
    can_parse_url = True
    default_port = 0  # type: ignore[assignment]  # kombu declares None; no port for a file
    driver_type = "sqlite"
    driver_name = "sqlite3"
    polling_interval = POLLING_INTERVAL_S
    connection_errors = (sqlite3.OperationalError,)
    channel_errors = (sqlite3.OperationalError,)

    def driver_version(self):
        return sqlite3.sqlite_version
