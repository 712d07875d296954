"""The embedded task queue (webapp.sqlite_queue): delivered once, acknowledged by deleting, and delivered again when
the worker that held a message is gone."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from kombu import Connection, Exchange, Queue

from webapp import sqlite_queue

EXCHANGE = Exchange("tasks", type="direct")


def _connection(path) -> Connection:
    return Connection(f"sqlite-queue://{path}", transport="webapp.sqlite_queue:Transport")


def _publish(conn: Connection, body: dict, queue: Queue) -> None:
    with conn.Producer() as producer:
        producer.publish(body, exchange=EXCHANGE, routing_key=queue.routing_key, declare=[queue], serializer="json")


def _rows(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT payload, reserved_by, deliveries FROM messages ORDER BY id").fetchall()
    db.close()
    return rows


def test_a_message_is_delivered_once_and_deleted_when_acknowledged(tmp_path):
    path, queue = tmp_path / "queue.db", Queue("work", EXCHANGE, routing_key="work")
    with _connection(path) as conn:
        _publish(conn, {"n": 1}, queue)
        _publish(conn, {"n": 2}, queue)
        channel = conn.channel()
        first = channel.basic_get("work")
        assert first.payload == {"n": 1}
        assert channel.basic_get("work").payload == {"n": 2}
        assert channel.basic_get("work") is None, "a reserved message is not delivered twice"
        assert [r[1] is not None for r in _rows(path)] == [True, True]
        first.ack()
        assert len(_rows(path)) == 1, "acknowledging deletes the message"
        channel.close()


def test_a_rejected_message_is_ready_again(tmp_path):
    path, queue = tmp_path / "queue.db", Queue("work", EXCHANGE, routing_key="work")
    with _connection(path) as conn:
        _publish(conn, {"n": 1}, queue)
        channel = conn.channel()
        message = channel.basic_get("work")
        message.reject(requeue=True)
        again = channel.basic_get("work")
        assert again.payload == {"n": 1}
        assert again.delivery_info.get("redelivered") or again._raw.get("redelivered")
        again.ack()
        assert _rows(path) == []
        channel.close()


def test_a_message_held_by_a_dead_worker_is_delivered_again(tmp_path):
    """What SIGKILL leaves behind: a reserved message whose consumer no longer exists. Kombu's SQLAlchemy transport
    (the embedded queue before) kept such a message invisible for ever."""
    path, queue = tmp_path / "queue.db", Queue("work", EXCHANGE, routing_key="work")
    with _connection(path) as conn:
        _publish(conn, {"n": 1}, queue)
    # Another process takes the message and dies without acknowledging it.
    script = (
        "import os, sys\n"
        "from kombu import Connection\n"
        f"conn = Connection('sqlite-queue://{path}', transport='webapp.sqlite_queue:Transport')\n"
        "assert conn.channel().basic_get('work') is not None\n"
        "os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    [(_, holder, deliveries)] = _rows(path)
    assert holder is not None
    assert deliveries == 1
    assert sqlite_queue.is_gone(holder)
    with _connection(path) as conn:
        channel = conn.channel()  # a new worker's channel makes the dead one's messages ready again
        message = channel.basic_get("work")
        assert message is not None
        assert message.payload == {"n": 1}
        message.ack()
        channel.close()
    assert _rows(path) == []


def test_a_live_workers_message_is_not_taken_from_it(tmp_path):
    path, queue = tmp_path / "queue.db", Queue("work", EXCHANGE, routing_key="work")
    with _connection(path) as conn:
        _publish(conn, {"n": 1}, queue)
        held = conn.channel().basic_get("work")
        assert held is not None
        with _connection(path) as other:
            assert other.channel().basic_get("work") is None
        held.ack()


@pytest.mark.parametrize(
    ("owner", "gone"),
    [
        (sqlite_queue.consumer_id(), False),
        (f"{sqlite_queue._HOST} {__import__('os').getpid()} another-token", True),  # our pid, reused
        ("some-other-host 1 token", False),  # never judged from here
    ],
    # Ids that do not hold this process's id: the suite's workers (pytest-xdist) must collect the same test names.
    ids=["this-process", "our-pid-another-token", "another-host"],
)
def test_who_is_gone(owner, gone):
    assert sqlite_queue.is_gone(owner) is gone
