"""What every HTTP answer shares: request ids, JSON logs and errors, security headers and metrics
(`web`), the WSGI fast paths in front of Flask, the operations endpoints (`/healthz`, `/readyz`,
`/metrics`), and the server's TLS settings.
"""
