"""Durable acknowledgement: a write counts as stored only once a replica, or an append-only file on
disk, has it (`MEETBRIDGE_DURABLE_ACK`), so a failover to a replica cannot lose what was answered 202.

Redis answers a write as soon as it is in the primary's memory; replication follows asynchronously,
and a primary that dies a moment later takes the newest writes with it. `WAIT n timeout` returns once
n replicas confirmed everything this connection wrote (or the timeout passed, with how many did);
`WAITAOF local n timeout` (Redis 7.2 and newer) does the same for the append-only files fsynced on the
primary and on n replicas. Sent once after each batch of the group commit (service.storage.group_commit),
on the connection that wrote the batch, it covers every write of the batch with one round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import redis


class NotDurable(redis.exceptions.RedisError):
    """Redis has the write, but too few replicas or append-only files confirmed it in time (or the
    check itself failed): the caller must not acknowledge it. A retry with the same id is safe."""


@dataclass(frozen=True)
class DurableAck:
    """The check sent after a batch of writes, and how to read its answer.

    Args:
        mode: `replica` (WAIT) or `aof` (WAITAOF: the primary's file and `replicas` replicas' files).
        replicas: how many replicas must confirm.
        timeout_ms: how long Redis may wait for them before the write counts as not durable.
    """

    mode: str
    replicas: int
    timeout_ms: int

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> DurableAck | None:
        """The check configured in service.config's settings, or None for `off`."""
        mode = str(settings.get("DURABLE_ACK") or "off")
        if mode == "off":
            return None
        return cls(mode, int(settings["DURABLE_ACK_REPLICAS"]), int(settings["DURABLE_ACK_TIMEOUT_MS"]))

    @property
    def command(self) -> tuple:
        if self.mode == "replica":
            return ("WAIT", self.replicas, self.timeout_ms)
        return ("WAITAOF", 1, self.replicas, self.timeout_ms)

    def failure(self, reply) -> NotDurable | None:
        """None when `reply` (Redis's answer to `command`) confirms the writes, else the error to raise."""
        if isinstance(reply, redis.exceptions.ResponseError):
            return NotDurable(f"{self.command[0]} refused: {reply}")
        if self.mode == "replica":
            confirmed = int(reply) >= self.replicas
        else:
            local, remote = (int(count) for count in reply)
            confirmed = local >= 1 and remote >= self.replicas
        if confirmed:
            return None
        name = self.command[0]
        return NotDurable(f"{name}: not confirmed by {self.replicas} replica(s) in {self.timeout_ms} ms")
