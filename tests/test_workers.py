"""The dispatcher and media workers of ``kanal serve``: woken by committed work."""

import threading

from gateway.workers import Worker


def test_a_worker_runs_while_there_is_work_and_sleeps_until_woken():
    rounds, woke = [], threading.Event()
    work = [3, 2, 1, 0]

    def step():
        rounds.append(work[0] if work else 0)
        if len(rounds) == 5:
            woke.set()
        return work.pop(0) if work else 0

    worker = Worker("test", step, interval=3600)
    worker.start()
    # after the fourth round (0 done) it sleeps: only wake() brings the fifth
    worker.wake()
    assert woke.wait(10)
    worker.stop()
    assert rounds[:4] == [3, 2, 1, 0]


def test_a_failing_round_does_not_stop_the_worker():
    calls, done = [], threading.Event()

    def step():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        done.set()
        return 0

    worker = Worker("test", step, interval=0.01)
    worker.start()
    assert done.wait(10)
    worker.stop()
