"""The sites' privacy rights and Zoom's webhooks: export, erasure of a booking or a whole site, and
Zoom's `endpoint.url_validation`, `app_deauthorized` and `meeting.ended`.
"""
