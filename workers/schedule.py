"""The cron schedule, loaded by RQ's cron scheduler (`flask --app service cron`, the Procfile's `cron`)."""

from rq import cron

from service.storage.queues import MAINTENANCE
from workers import cleanup, google_watch, heartbeat

cron.register(heartbeat.beat, queue_name=MAINTENANCE, interval=60, result_ttl=600)
# Every minute; a run that outlasts the minute holds the cleanup lock, so the next one returns at once.
cron.register(cleanup.run_job, queue_name=MAINTENANCE, interval=60, result_ttl=600, failure_ttl=7 * 24 * 3600)
# Every minute: Google watch channels due for renewal are replaced; unneeded ones are stopped.
cron.register(google_watch.renew_due, queue_name=MAINTENANCE, interval=60, result_ttl=600, failure_ttl=86400)
