"""Google Calendar and Zoom: thin clients that raise the project's exceptions, and the one way to
call them with a linked account's fresh token (a single refresh after a 401, retries of 429/5xx).
"""
