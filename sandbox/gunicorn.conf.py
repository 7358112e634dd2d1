"""gunicorn settings for the sandbox: one process (its state is in memory), many threads."""

workers = 1
worker_class = "gthread"
threads = 16
accesslog = None
loglevel = "warning"
