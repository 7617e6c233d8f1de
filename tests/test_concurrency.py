"""Two processes at once against the same database."""

from __future__ import annotations

import multiprocessing

from sqlalchemy import func, select

from core import tracking
from core.db import make_engine
from core.models import InboxItem, Report
from tests import concurrency_worker


def run_two(target, args_a, args_b):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results))
             for args in (args_a, args_b)]
    for p in procs:
        p.start()
    out = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return out


def counts(url):
    engine = make_engine(url)
    with engine.connect() as conn:
        reports = conn.execute(select(func.count()).select_from(Report.__table__)).scalar_one()
        distinct = conn.execute(select(func.count(Report.__table__.c.tracking_id.distinct()))
                                ).scalar_one()
        inbox = conn.execute(select(func.count()).select_from(InboxItem.__table__)).scalar_one()
    engine.dispose()
    return reports, distinct, inbox


def test_tracking_ids_stay_unique_when_two_processes_issue_them_at_once(database_url,
                                                                        tmp_path):
    n = 40
    out = run_two(concurrency_worker.issue_reports,
                  (database_url, str(tmp_path), 1, n), (database_url, str(tmp_path), 2, n))
    all_ids = [tid for _, tids, _ in out for tid in tids]
    assert len(all_ids) == 2 * n and all(tracking.is_valid(t) for t in all_ids)
    assert len(set(all_ids)) == 2 * n
    assert counts(database_url) == (2 * n, 2 * n, 2 * n)
    # the space was tiny on purpose: clashes happened and were drawn again
    assert sum(c for _, _, c in out) > 0


def test_the_same_payload_delivered_to_two_processes_at_once_is_one_report(database_url,
                                                                          tmp_path):
    ids = [f"dup-{i}" for i in range(30)]
    out = run_two(concurrency_worker.deliver_same,
                  (database_url, str(tmp_path), 1, ids), (database_url, str(tmp_path), 2, ids))
    (_, a), (_, b) = out
    assert a == b and all(a.values())
    assert counts(database_url) == (30, 30, 30)
