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


def run_ahead(make_items: Callable[[], Iterable[T]], name: str) -> Iterator[T]:
    """Yield what `make_items()` yields, produced in a thread named `name` one item ahead.

    An exception in the producer is raised in the consumer, where the item would have come. A
    consumer that stops early (break, exception, close) stops the producer after its current item,
    and waits for it, so no thread outlives the iteration.
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
            item = ready.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
