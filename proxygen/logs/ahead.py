"""An iterator run one item ahead of its consumer, in a background thread.

Reading a log is a chain of steps that release the GIL (zlib decompressing, polars parsing and
grouping): with each step in its own thread, decompressing the next block overlaps parsing this
one, and parsing the next batch overlaps aggregating this one, on both cores.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")

#: How long a consumer that stops waits for its producer to end (its current item: one batch).
STOP_WAIT_SECONDS = 1.0


def run_ahead(make_items: Callable[[], Iterable[T]], name: str) -> Iterator[T]:
    """Yield what `make_items()` yields, produced in a thread named `name` one item ahead.

    An exception in the producer is raised in the consumer, where the item would have come. A
    consumer that stops early (break, exception, close) stops the producer after its current item,
    and waits for it (up to `STOP_WAIT_SECONDS`: a producer blocked on input that never comes, such
    as a pipe still open, must not hold up a Ctrl-C).
    """
    done = object()
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item) -> bool:
        """Put `item` in the queue unless the consumer has stopped; False when it has."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        items = iter(())
        try:
            items = iter(make_items())
            for item in items:
                if not hand_over(item):
                    return
            last = done
        except BaseException as err:  # handed to the consumer, raised there
            last = err
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator stopped early closes its files here, in its own thread
                close()
        hand_over(last)

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            try:
                # in short waits: a Ctrl-C the kernel hands to a producer thread (blocked reading) is only
                # seen by this one when it wakes up, and an endless wait would never wake
                item = ready.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        try:
            # a finished producer is gone at once, one stopped early ends after its current item; one
            # blocked reading (an endless stdin pipe, Ctrl-C pressed) is a daemon thread left to the exit
            worker.join(timeout=STOP_WAIT_SECONDS)
        except KeyboardInterrupt:
            # Ctrl-C again while an interrupted run unwinds (polars also raises it from the query it
            # cancels): the first interrupt is on its way up already
            pass
