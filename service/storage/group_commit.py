"""Group commit: Redis calls from concurrent threads of a web process, sent to Redis together.

Every booking event costs one Redis round trip, and on a busy web worker most of that cost is the
round trip itself, not the script: the system calls on both ends, Redis waking up to read, write and
append to its log. Here one thread at a time (the leader) owns the connection. Calls that arrive
while the leader waits for Redis queue up; when the leader has its answers it hands the queue to the
first of them, who sends it as one pipeline. Nothing waits for a batch to fill: an idle process sends
each call at once, a busy one sends what piled up during the previous round trip.

With a durable acknowledgement configured (service.storage.durability), the check (`WAIT` or
`WAITAOF`) follows each batch on the same connection, and a batch it does not confirm fails every
call in it with `NotDurable`: one round trip to the replicas covers the whole batch, and a check can
never land on a newer connection (to a new primary) that did not make the writes.

A call is one or more commands of one thread (the intake's EVALSHA; availability's reads), answered
on its own: a Redis error answer (out of memory, a lost script) belongs to its command. A broken
connection fails every call of the batch it was sending (the callers then answer or retry as they
would after any Redis error: an event either reached Redis whole or not at all) and is made again
for the next batch.
"""

from __future__ import annotations

import os
import threading

import redis

from service.storage.durability import DurableAck


class _Call:
    __slots__ = ("commands", "count", "replies", "error", "lead", "ready")

    def __init__(self, commands: list, count: int):
        self.commands = commands  # packed
        self.count = count
        self.replies: list | None = None
        self.error: BaseException | None = None
        self.lead = False
        self.ready = threading.Lock()  # released when answered, or when it is this call's turn to lead
        self.ready.acquire()


class GroupCommit:
    """One connection per process, used by one thread at a time, for calls from every thread.

    Args:
        client: the process's Redis client; its connection settings are reused.
        script: a registered script that `run` calls (its source is loaded again if Redis lost it).
        durable: the check that must confirm each batch before its calls are answered (None: none).
    """

    def __init__(self, client: redis.Redis, script=None, durable: DurableAck | None = None):
        self._client = client
        self._script = script
        self._durable = durable
        self._lock = threading.Lock()
        self._queue: list[_Call] = []
        self._leading = False
        self._connection = None
        self._pid = 0
        self._packer = self._new_connection()  # never connected: packs commands

    def run(self, script_keys: tuple, args: list):
        """EVALSHA the script with `script_keys` and `args`: its reply, or the Redis error it met raised."""
        (reply,) = self.call(("EVALSHA", self._script.sha, len(script_keys), *script_keys, *args))
        if isinstance(reply, redis.exceptions.ResponseError):
            raise reply
        return reply

    def call(self, *commands: tuple) -> list:
        """Send `commands` (in order, with other threads' calls around them but never between them).

        Returns:
            One reply per command; a command that Redis refused has its `ResponseError` as its reply.

        Raises:
            redis.RedisError: the connection failed (whether Redis ran the commands is unknown).
            NotDurable: Redis ran the commands, but the durable acknowledgement did not confirm them.
        """
        call = _Call(self._packer.pack_commands(commands), len(commands))
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
        return call.replies

    def _lead(self) -> None:
        """Send everything queued (this thread's call first), answer it, hand over to the next."""
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._send(batch)
        except BaseException as exc:  # a broken connection: every call not yet answered shares it
            for call in batch:
                if call.replies is None:
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
        check = [] if self._durable is None else self._packer.pack_commands([self._durable.command])
        try:
            connection.connect()  # a Sentinel-managed connection asks the Sentinels where the primary is
            connection.send_packed_command(
                [part for call in batch for part in call.commands] + check, check_health=False
            )
            for call in batch:
                call.replies = [self._read(connection) for _ in range(call.count)]
            verdict = self._read(connection) if check else None
            lost = [call for call in batch if _lost_script(call.replies)]
            if lost and self._script is not None:
                connection.send_command("SCRIPT", "LOAD", self._script.script, check_health=False)
                connection.read_response()
                connection.send_packed_command(
                    [part for call in lost for part in call.commands] + check, check_health=False
                )
                for call in lost:
                    call.replies = [self._read(connection) for _ in range(call.count)]
                verdict = self._read(connection) if check else None
        except BaseException:
            connection.disconnect()
            raise
        failure = self._durable.failure(verdict) if check else None
        if failure is not None:
            for call in batch:
                call.error = failure

    @staticmethod
    def _read(connection):
        try:
            return connection.read_response()
        except redis.exceptions.ResponseError as exc:  # Redis answered: the connection is fine
            return exc

    def _conn(self):
        """The process's connection, made with the client's settings (and again after a fork)."""
        if self._connection is None or self._pid != os.getpid():
            self._connection = self._new_connection()
            self._pid = os.getpid()
        return self._connection

    def _new_connection(self):
        """An unconnected connection with the client's settings (it connects on first use)."""
        pool = self._client.connection_pool
        return pool.connection_class(**pool.connection_kwargs)


def _lost_script(replies: list) -> bool:
    return any(isinstance(reply, redis.exceptions.NoScriptError) for reply in replies)
