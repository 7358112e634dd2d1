"""The cron schedule, loaded by RQ's cron scheduler (`flask --app service cron`, the Procfile's `cron`)."""

from rq import cron

from workers import heartbeat
from workers.queues import MAINTENANCE

cron.register(heartbeat.beat, queue_name=MAINTENANCE, interval=60, result_ttl=600)
