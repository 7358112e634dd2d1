"""The WordPress sites MeetBridge serves: the site registry and its signing secrets, site
authentication of `/v1/sites/...` requests, Standard Webhooks signing, signed results out, and the
per-site settings (model and API).
"""
