"""Queue names and how to reach them. Callers enqueue ids and primitives, never objects."""

from __future__ import annotations

import redis
from rq import Queue

#: Booking sync jobs (Google Calendar and Zoom).
SYNC = "sync"
#: Signed results delivered back to WordPress sites.
DELIVER = "deliver"
#: Cleanup, retention and account health, enqueued by cron.
MAINTENANCE = "maintenance"

#: In the order a worker serves them: a booking first, then its result, then housekeeping.
ALL = (SYNC, DELIVER, MAINTENANCE)

#: Redis key holding the time (epoch seconds) of the last cron heartbeat a worker ran.
HEARTBEAT_KEY = "meetbridge:cron:heartbeat"


def all_queues(connection: redis.Redis) -> list[Queue]:
    """Every MeetBridge queue on `connection`."""
    return [Queue(name, connection=connection) for name in ALL]
