"""Redaction and embedding of a large import are shared by several workers: the NLP pipeline (nlp.pipeline) works
in leased batches of BATCH_SIZE, so workers that run at the same time take different batches, and a batch that
fails is tried again one observation at a time, not lost. (That a large import rings one doorbell per 2,000
observations, so that several workers wake, is tests/nlp/test_pipeline.py::test_a_large_import_rings_for_several_
workers; that a dead worker's leases are released, ::test_leases_of_a_worker_that_died_are_released_when_a_worker_
starts.) Real spaCy redaction and the real encoder, on a SQLite file the two worker threads share."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest
from sqlalchemy import func, select

from nlp import pipeline
from nlp.models import WorkLease
from submissions.models import Observation
from tests.webapp.test_reliability import _world_on_a_file
from webapp.extensions import db


@pytest.mark.timeout(900)
def test_two_workers_share_a_large_import_batch_by_batch_and_a_failed_batch_is_recovered(tmp_path, monkeypatch):
    app, _, ids = _world_on_a_file(tmp_path, 3 * pipeline.BATCH_SIZE + 20)
    real_process = pipeline._process
    taken: dict[int, list[list[int]]] = defaultdict(list)
    both_working = threading.Barrier(2)
    failed_once: list[list[int]] = []
    lock = threading.Lock()

    def process(batch, redactor):
        me = threading.get_ident()
        with lock:
            first = not taken[me]
            taken[me].append(list(batch))
            fail = len(batch) > 1 and not failed_once
            if fail:
                failed_once.append(list(batch))
        if first:
            both_working.wait(120)  # each worker holds a batch at the same moment
        if fail:
            raise RuntimeError("the worker's model broke on this batch")
        return real_process(batch, redactor)

    monkeypatch.setattr(pipeline, "_process", process)
    results: list = [None, None]

    def worker(i: int) -> None:
        with app.app_context():
            try:
                results[i] = pipeline.run()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    whole = {tid: [b for b in batches if len(b) > 1] for tid, batches in taken.items()}
    assert len(whole) == 2
    assert all(whole.values()), "one worker took no batch"
    firsts = [set(b) for batches in whole.values() for b in batches]
    assert sum(len(b) for b in firsts) == len(set().union(*firsts)), "two workers took the same observation"
    assert set().union(*firsts) == set(ids)
    # The failed batch was tried again one observation at a time by the worker that had it.
    singles = {b[0] for batches in taken.values() for b in batches if len(b) == 1}
    assert set(failed_once[0]) <= singles
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Observation.redacted_text.is_(None))) == 0
        assert db.session.scalar(select(func.count()).select_from(WorkLease)) == 0
        db.session.remove()
        db.engine.dispose()
    assert sum(r.get("redacted", 0) for r in results) == len(ids)
