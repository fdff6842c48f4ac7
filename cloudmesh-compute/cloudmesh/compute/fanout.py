"""Fan-out: one function over many items (VMs, keys, groups, clouds) on daemon threads,
with one :class:`Outcome` per item, so that one failure does not hide the others.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

MAX_WORKERS = 16


class Outcome:
    """What happened to one item of a fan-out: a result or an error, never both.
    (A plain class: dataclasses costs 5 ms of start-up on every command.)"""

    __slots__ = ("item", "result", "error")

    def __init__(self, item: str, result: Any = None,
                 error: BaseException | None = None) -> None:
        self.item, self.result, self.error = item, result, error

    def __repr__(self) -> str:
        return f"Outcome({self.item!r}, result={self.result!r}, error={self.error!r})"

    @property
    def ok(self) -> bool:
        return self.error is None

    def get(self) -> Any:
        """The result; raises the error (a CmsError) if this item failed."""
        if self.error is not None:
            raise self.error
        return self.result


def fan_out(function: Callable[[str], Any], items: Iterable[str],
            workers: int = MAX_WORKERS) -> list[Outcome]:
    """Run ``function`` for each item concurrently; one failure does not hide the other
    results. Outcomes keep the order of ``items``.

    The workers are daemon threads, not a ThreadPoolExecutor: on Ctrl-C the waiting main
    thread gets KeyboardInterrupt at once and the command exits (130) while calls are
    still running; an executor's threads are joined first, at shutdown too, which took
    up to a wait's whole --timeout."""
    items = list(items)

    def one(item: str) -> Outcome:
        try:
            return Outcome(item, result=function(item))
        except Exception as error:  # reported per item by the caller
            return Outcome(item, error=error)

    if len(items) <= 1:
        return [one(item) for item in items]
    import queue
    import threading

    outcomes: list[Outcome | None] = [None] * len(items)
    todo: queue.SimpleQueue = queue.SimpleQueue()
    finished: queue.SimpleQueue = queue.SimpleQueue()
    stopping = threading.Event()  # set on Ctrl-C: items not started yet are not started
    for entry in enumerate(items):
        todo.put(entry)

    def work() -> None:
        while not stopping.is_set():
            try:
                index, item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                outcomes[index] = one(item)
            except BaseException as error:  # (SystemExit): still an outcome, never a hang
                outcomes[index] = Outcome(item, error=error)
            finished.put(index)

    for _ in range(min(workers, len(items))):
        threading.Thread(target=work, name="cms-fan-out", daemon=True).start()
    try:
        for _ in items:
            finished.get()  # Ctrl-C interrupts this wait in the main thread
    except BaseException:
        stopping.set()
        raise
    return outcomes  # type: ignore[return-value]  (every slot is filled)
