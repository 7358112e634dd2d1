"""RQ side of MeetBridge: queue names, jobs, the worker and cron commands, the cron schedule."""
