"""gunicorn settings for the sandbox: one process (its state is in memory), many threads."""

import os

workers = 1
worker_class = "gthread"
threads = int(os.environ.get("SANDBOX_THREADS", "16"))
accesslog = None
loglevel = "warning"
# Like Google's and Zoom's front ends, keep idle client connections open for a while.
keepalive = 60
