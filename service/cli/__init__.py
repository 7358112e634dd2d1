"""Operator commands under `flask --app service`: `sites ...` and `vault rotate`. The worker-side
commands (`worker`, `cron`, `cleanup --once`, `failed-jobs`) live in workers.commands.
"""
