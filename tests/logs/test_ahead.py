"""run_ahead: the items in order, the producer's exception where its item would have come, and no thread
or open generator left behind when the consumer stops early."""

from __future__ import annotations

import threading

import pytest

from proxygen.logs.ahead import run_ahead


def _threads(name):
    return [t for t in threading.enumerate() if t.name == name]


def test_items_come_in_order_from_another_thread():
    seen = []

    def items():
        for i in range(50):
            seen.append(threading.current_thread().name)
            yield i

    assert list(run_ahead(items, "t-order")) == list(range(50))
    assert set(seen) == {"t-order"} and _threads("t-order") == []


def test_an_exception_in_the_producer_is_raised_in_the_consumer_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in run_ahead(items, "t-error"):
            got.append(item)
    assert got == [1, 2] and _threads("t-error") == []


def test_a_consumer_that_stops_early_stops_and_closes_the_producer():
    produced, closed = [], threading.Event()

    def items():
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.set()  # a reader's `with open(...)` would close its file here

    for item in run_ahead(items, "t-early"):
        if item == 3:
            break
    assert closed.is_set() and _threads("t-early") == []
    assert len(produced) <= 6  # one item ahead (and one in hand), not the whole input


def test_a_producer_blocked_on_input_does_not_hold_up_the_consumer(monkeypatch):
    """A producer stuck reading (an endless pipe) cannot be stopped: the consumer leaves it behind (a daemon
    thread) after STOP_WAIT_SECONDS instead of waiting forever."""
    import time

    from proxygen.logs import ahead

    monkeypatch.setattr(ahead, "STOP_WAIT_SECONDS", 0.3)
    never = threading.Event()

    def items():
        yield 1
        never.wait()  # blocked, as in a read() of a pipe nobody writes to
        yield 2

    started = time.monotonic()
    for item in run_ahead(items, "t-blocked"):
        assert item == 1
        break
    assert time.monotonic() - started < 3
    (left,) = _threads("t-blocked")
    assert left.daemon
    never.set()
    left.join(timeout=5)
