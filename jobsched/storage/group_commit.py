"""`GroupCommit`: many threads' writes, made in as few transactions as they can share.

Each caller submits one item and waits for its own result. A caller that finds no write in
flight becomes the writer: it writes every item waiting (its own among them) with one call
of `write_batch`, hands each caller its result and steps down; callers that arrived during
that write are the next batch. Nobody waits for a timer, so a lone caller writes at once,
and under load one transaction (one commit, one WAL flush) ends many attempts.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_BATCH = 256  # items per write: bounds one statement's size and one transaction's locks


class BatchFailed(Exception):
    """A batch of several items failed as a whole; each caller may retry its item alone
    (one bad item, or a deadlock, must not cost the others their write)."""


class _Slot(Generic[Item, Result]):
    __slots__ = ("item", "done", "result", "error")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = False
        self.result: Result | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Shares `write_batch(items) -> results` (one result per item, in order) among callers."""

    def __init__(self, write_batch: Callable[[list[Item]], list[Result]],
                 max_batch: int = MAX_BATCH) -> None:
        self._write_batch, self._max_batch = write_batch, max_batch
        self._cond = threading.Condition()
        self._waiting: list[_Slot[Item, Result]] = []
        self._writing = False

    def submit(self, item: Item) -> Result:
        """Write `item` (alone or with others) and return its result.

        Raises the write's exception when the batch was this item alone, `BatchFailed` (from
        that exception) when it held several.
        """
        slot: _Slot[Item, Result] = _Slot(item)
        with self._cond:
            self._waiting.append(slot)
        while True:
            batch = self._turn(slot)
            if batch is None:
                break
            self._write(batch)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _turn(self, slot: _Slot[Item, Result]) -> list[_Slot[Item, Result]] | None:
        """Wait until `slot` is written (None) or no write is in flight (the batch to write)."""
        with self._cond:
            while not slot.done and self._writing:
                self._cond.wait()
            if slot.done:
                return None
            self._writing = True
            batch = self._waiting[:self._max_batch]
            del self._waiting[:self._max_batch]
            return batch

    def _write(self, batch: list[_Slot[Item, Result]]) -> None:
        """Write one batch and hand out its results; the writer steps down whatever happens."""
        results: list[Result] = []
        error: BaseException | None = None
        try:
            results = self._write_batch([slot.item for slot in batch])
            if len(results) != len(batch):
                error = RuntimeError(f"write_batch returned {len(results)} results for "
                                     f"{len(batch)} items")
        except BaseException as exc:  # handed to every caller; a green kill is re-raised
            error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            self._hand_out(batch, results, error)

    def _hand_out(self, batch: list[_Slot[Item, Result]], results: list[Result],
                  error: BaseException | None) -> None:
        if error is not None and len(batch) > 1:
            shared = BatchFailed(f"a write of {len(batch)} items failed: {error!r}")
            shared.__cause__ = error
            error = shared
        with self._cond:
            for index, slot in enumerate(batch):
                if error is not None:
                    slot.error = error
                else:
                    slot.result = results[index]
                slot.done = True
            self._writing = False
            self._cond.notify_all()
