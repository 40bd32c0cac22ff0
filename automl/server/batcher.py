"""Server-side dynamic batching: concurrent requests to one model run as one batch.

Each request's prepared examples wait in a queue; a worker takes what is queued, waits
up to `max_wait_ms` for more while the batch holds fewer than `max_batch_size`
examples, runs the model once on the lot in its own thread, and hands each request
its rows. A request larger than `max_batch_size` runs as a batch of its own; a
request whose caller gave up (its time limit passed) is left out of the next batch.
"""

import asyncio
import concurrent.futures
import dataclasses

import numpy as np


@dataclasses.dataclass
class _Pending:
    batch: np.ndarray
    future: asyncio.Future


class Batcher:
    """Batches calls to `run(batch) -> outputs` (rows in the order of `batch`)."""

    def __init__(self, run, max_batch_size=32, max_wait_ms=5.0):
        self.run = run
        self.max_batch_size = max(1, int(max_batch_size))
        self.max_wait = max(0.0, float(max_wait_ms)) / 1000.0
        self.batches = 0
        self.examples = 0
        self._queue = None
        self._worker = None
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="automl-batch")

    def start(self):
        """Start the worker on the running event loop."""
        self._queue = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self):
        """Answer what is queued, then stop the worker and its thread."""
        if self._worker is not None:
            await self._queue.join()
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        self._thread.shutdown(wait=True)

    async def predict(self, batch):
        """The outputs of `batch` (prepared examples), computed with other requests' rows."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(batch, future))
        return await future

    async def _work(self):
        held = None
        while True:
            first = held or await self._queue.get()
            held = None
            taken, size = [first], len(first.batch)
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while size < self.max_batch_size:
                try:
                    wait = deadline - asyncio.get_running_loop().time()
                    item = self._queue.get_nowait() if wait <= 0 else \
                        await asyncio.wait_for(self._queue.get(), wait)
                except (asyncio.QueueEmpty, asyncio.TimeoutError):
                    break
                if size + len(item.batch) > self.max_batch_size:
                    held = item
                    break
                taken.append(item)
                size += len(item.batch)
            await self._answer([p for p in taken if not p.future.done()])
            for _ in taken:
                self._queue.task_done()

    async def _answer(self, pending):
        if not pending:
            return
        batch = np.concatenate([p.batch for p in pending])
        try:
            outputs = await asyncio.get_running_loop().run_in_executor(self._thread, self.run,
                                                                       batch)
        except Exception as error:  # every waiting request hears of it
            for p in pending:
                if not p.future.done():
                    p.future.set_exception(error)
            return
        self.batches += 1
        self.examples += len(batch)
        start = 0
        for p in pending:
            if not p.future.done():
                p.future.set_result(outputs[start:start + len(p.batch)])
            start += len(p.batch)
