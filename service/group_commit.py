"""Group commit: the intake's script calls from concurrent threads, sent to Redis together.

Every booking event costs one Redis round trip, and on a busy web worker most of that cost is the
round trip itself, not the script: the system calls on both ends, Redis waking up to read, write and
append to its log. Here one thread at a time (the leader) owns the connection. Calls that arrive
while the leader waits for Redis queue up; when the leader has its answers it hands the queue to the
first of them, who sends it as one pipeline. Nothing waits for a batch to fill: an idle process sends
each call at once, a busy one sends what piled up during the previous round trip.

Each call is still its own EVALSHA, atomic on its own and answered on its own; a Redis error answer
(out of memory, a lost script) belongs to its call. A broken connection fails every call of the
batch it was sending (the callers then answer or retry as they would after any Redis error: an event
either reached Redis whole or not at all) and is made again for the next batch.
"""

from __future__ import annotations

import os
import threading

import redis


class _Call:
    __slots__ = ("command", "reply", "error", "lead", "ready")

    def __init__(self, command: list):
        self.command = command
        self.reply = None
        self.error: BaseException | None = None
        self.lead = False
        self.ready = threading.Lock()  # released when answered, or when it is this call's turn to lead
        self.ready.acquire()


class GroupCommit:
    """One connection per process, shared by turns; `run` sends a script call and returns its reply.

    Args:
        client: the process's Redis client; its connection settings are reused.
        script: the registered script (its `sha` and its source, loaded again if Redis lost it).
    """

    def __init__(self, client: redis.Redis, script):
        self._client = client
        self._script = script
        self._lock = threading.Lock()
        self._queue: list[_Call] = []
        self._leading = False
        self._connection = None
        self._pid = 0
        pool = client.connection_pool
        self._packer = pool.connection_class(**pool.connection_kwargs)  # never connected: packs commands

    def run(self, script_keys: tuple, args: list):
        """EVALSHA the script with `script_keys` and `args`; its reply, or the Redis error it met."""
        call = _Call(
            self._packer.pack_command("EVALSHA", self._script.sha, len(script_keys), *script_keys, *args)
        )
        with self._lock:
            self._queue.append(call)
            lead = not self._leading
            self._leading = True
        if not lead:
            call.ready.acquire()
            lead = call.lead
        if lead:
            self._lead()
        if call.error is not None:
            raise call.error
        return call.reply

    def _lead(self) -> None:
        """Send everything queued (this thread's call first), answer it, hand over to the next."""
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._send(batch)
        except BaseException as exc:  # a broken connection: every call not yet answered shares it
            for call in batch:
                if call.reply is None and call.error is None:
                    call.error = exc
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                self._leading = successor is not None
            for call in batch[1:]:  # batch[0] is the leader's own call: it is not waiting
                call.ready.release()
            if successor is not None:
                successor.lead = True
                successor.ready.release()

    def _send(self, batch: list[_Call]) -> None:
        connection = self._conn()
        try:
            pending = batch
            for attempt in range(2):
                connection.send_packed_command(
                    [part for call in pending for part in call.command], check_health=False
                )
                lost = []
                for call in pending:
                    try:
                        call.reply = connection.read_response()
                    except redis.exceptions.NoScriptError as exc:
                        call.error = exc
                        lost.append(call)
                    except redis.exceptions.ResponseError as exc:
                        call.error = exc  # Redis answered (out of memory, ...): the connection is fine
                if not lost or attempt:
                    return
                connection.send_command("SCRIPT", "LOAD", self._script.script, check_health=False)
                connection.read_response()
                for call in lost:
                    call.error = None
                pending = lost
        except BaseException:
            connection.disconnect()
            raise

    def _conn(self):
        """The process's connection, made with the client's settings (and again after a fork)."""
        if self._connection is None or self._pid != os.getpid():
            pool = self._client.connection_pool
            self._connection = pool.connection_class(**pool.connection_kwargs)
            self._pid = os.getpid()
        return self._connection
