"""Every Redis key MeetBridge writes, in one place. Everything that belongs to a site lives under
`mb:s:{site_id}:` (besides the site record itself, and its connect links and OAuth states, which the
browser reaches by token), and the site's indexes name every long-lived one, so erasing or exporting a
site reads what the site holds, never the whole keyspace."""

from __future__ import annotations

#: Set of all site ids.
SITES = "mb:sites"


def site(site_id: str) -> str:
    """Hash: the site's record (name, origin, callback URL, sealed signing secrets, version, settings)."""
    return f"mb:site:{site_id}"


def site_prefix(site_id: str) -> str:
    """Prefix of every other key of the site."""
    return f"mb:s:{site_id}:"


def idempotency(site_id: str, webhook_id: str) -> str:
    """String: the answer given to an event id, kept at least 72 hours."""
    return f"mb:s:{site_id}:idem:{webhook_id}"


def booking(site_id: str, booking_id: str) -> str:
    """Hash: a booking's metadata (revision, state, timestamps, provider ids)."""
    return f"mb:s:{site_id}:bk:{booking_id}"


def booking_index(site_id: str, booking_id: str) -> str:
    """Set (expires `JOB_INDEX_SECONDS` after its last addition): what erasing the booking must delete
    besides its record: `j:{job_id}` for each of its RQ jobs (sync, postponed sync, result delivery) and
    `w:{webhook_id}` for each idempotency record of its events. Ids only."""
    return f"mb:s:{site_id}:bkx:{booking_id}"


def booking_tombstone(site_id: str, booking_id: str) -> str:
    """String (expires `TOMBSTONE_SECONDS` after the erasure): the booking was erased; no event or job
    may bring it back. Holds the erasure time only."""
    return f"mb:s:{site_id}:erased:{booking_id}"


def site_bookings(site_id: str) -> str:
    """Set: every booking id of the site that has (or had, until its tombstone expires) a record, so
    export and site erasure read the site's bookings without scanning the keyspace. Written by the
    intake; ids whose record and tombstone are both gone are pruned by export and erasure."""
    return f"mb:s:{site_id}:bookings"


def site_jobs(site_id: str) -> str:
    """Set (expires `JOB_INDEX_SECONDS` after its last addition): ids of the site's jobs that belong to no
    booking (e.g. `account.needs_relink` results), for site erasure."""
    return f"mb:s:{site_id}:jobs"


def site_connect(site_id: str) -> str:
    """Set (expires with the longest connect link or OAuth state it names): the `connect_link` and
    `oauth_state` keys made for the site, so site erasure deletes them."""
    return f"mb:s:{site_id}:connect"


def rate_limit(site_id: str, name: str) -> str:
    """String (a counter expiring at the end of its fixed window): requests of one kind the site made
    in the current window (privacy endpoints)."""
    return f"mb:s:{site_id}:rate:{name}"


#: Rate-limited kinds of request of a site (`rate_limit`): the privacy endpoints.
RATE_LIMITED = ("export", "erase")


def site_level(site_id: str) -> list[str]:
    """Every fixed-name key of a site under its prefix (its indexes, its accounts' set, its counters)."""
    named = [site_bookings(site_id), site_jobs(site_id), site_connect(site_id), accounts(site_id),
             requests_seen(site_id), site_watches(site_id)]  # fmt: skip
    return named + [rate_limit(site_id, name) for name in RATE_LIMITED]


#: How long an erased booking's tombstone lives: longer than any event, retry or job of it could still
#: arrive (idempotency records live 73 h, failed jobs 7 days and may be requeued by hand meanwhile).
TOMBSTONE_SECONDS = 8 * 24 * 3600

#: How long a per-booking or per-site job index outlives its last addition: longer than any job it names
#: can live (delivery retries for about 32 h, then a failed job is kept 7 days).
JOB_INDEX_SECONDS = 9 * 24 * 3600


def account(site_id: str, provider: str, staff_id: str) -> str:
    """Hash: a linked account (status, scopes, sealed token, provider user id, timestamps).

    Written by service.accounts.vault."""
    return f"mb:s:{site_id}:acct:{provider}:{staff_id}"


def accounts(site_id: str) -> str:
    """Set: `{provider}:{staff_id}` of every account linked for the site."""
    return f"mb:s:{site_id}:accts"


def account_lock(site_id: str, provider: str, staff_id: str) -> str:
    """String: the per-account lock held while a token is refreshed or revoked (service.accounts.tokens)."""
    return f"mb:s:{site_id}:acctlock:{provider}:{staff_id}"


def zoom_user(zoom_user_id: str) -> str:
    """Set: the account keys linked to one Zoom user id. Global, not under a site's prefix, because
    Zoom's `app_deauthorized` webhook names only the user; members may outlive an erased site, so
    readers check that each member still exists."""
    return f"mb:zu:{zoom_user_id}"


def connect_link(token_hash: str) -> str:
    """String (JSON, at most 10 minutes): an unused connect link, by SHA-256 of its token. Global
    because the browser's URL carries only the token; it expires on its own."""
    return f"mb:connect:{token_hash}"


def oauth_state(state_hash: str) -> str:
    """String (JSON, at most 10 minutes): a started consent, by SHA-256 of its OAuth `state`."""
    return f"mb:oauth:{state_hash}"


def requests_seen(site_id: str) -> str:
    """Sorted set: signed request ids the site already used (connect links, settings), scored by when
    each may be forgotten (past the 5-minute tolerance); one key per site, so its erasure deletes it."""
    return f"mb:s:{site_id}:seen"


def booking_lock(site_id: str, booking_id: str) -> str:
    """String: held while one sync job works on the booking (one job at a time per booking)."""
    return f"mb:s:{site_id}:bklock:{booking_id}"


def availability(site_id: str, window_digest: str) -> str:
    """String (sealed, EX at most 60 s): a staff member's busy periods in one window, by a digest of
    (staff id, from, to); service.availability.availability_api."""
    return f"mb:s:{site_id}:fb:{window_digest}"


def availability_hold(site_id: str, staff_id: str) -> str:
    """String (EX = Google's Retry-After, at most 60 s): Google asked to slow down for this staff member's
    account; availability answers 503 without asking Google until it expires."""
    return f"mb:s:{site_id}:fbhold:{staff_id}"


#: Sorted set of `{site_id}|{booking_id}` scored by when the booking's cleanup is due (end plus the
#: site's grace period): its Zoom meeting is deleted, its join link dropped, and its record set to
#: expire at end plus the site's retention window (workers/cleanup.py). Members are removed once done.
MEETINGS_DUE = "mb:idx:meetings"

#: Sorted set of `{site_id}|{booking_id}` scored by when the booking's metadata must be purged. Only
#: read now (records written before the cleanup used key expiry); cleanup drains what is left.
RETENTION_DUE = "mb:idx:retention"

#: Hash: Zoom meeting id -> `{site_id}|{booking_id}`, for Zoom's `meeting.ended` webhook. Holds live
#: meetings only: the entry goes when the meeting is deleted.
ZOOM_MEETINGS = "mb:idx:zoom"

#: Sorted set of `{site_id}|{provider}|{staff_id}` scored by when the account's health is next checked.
ACCOUNTS_DUE = "mb:idx:acctcheck"

#: String: the cleanup run's lock (a lease renewed while the run works).
CLEANUP_LOCK = "mb:lock:cleanup"

#: String (expires after a day): the daily sweep that adds new accounts to `ACCOUNTS_DUE` ran.
ACCOUNTS_SWEPT = "mb:cleanup:acctsweep"

#: Hash of counters for /metrics (never reset, ids only): `bookings_<state>` for every settled booking
#: revision (synced, failed, cancelled), `accounts_needs_relink` for every account marked so.
STATS = "mb:stats"


# -- changes made outside (Google watch channels, incremental sync) ----------------------------------


def site_watches(site_id: str) -> str:
    """Set: staff ids of the site with a Google watch channel (`google_watch`), for site erasure."""
    return f"mb:s:{site_id}:gwatches"


def google_watch(site_id: str, staff_id: str) -> str:
    """Hash: the staff member's Google watch channel (channel id, resource id, expiration in ms) and the
    calendar's sealed sync token. Its token is never stored: it is derived from the channel id."""
    return f"mb:s:{site_id}:gwatch:{staff_id}"


def google_watched(site_id: str, staff_id: str) -> str:
    """Sorted set: booking ids of the staff member with a Google event, scored by their end (epoch s).
    An incremental sync acts on these bookings' events only; a channel with no booking ending in the
    future is stopped."""
    return f"mb:s:{site_id}:gbk:{staff_id}"


def google_watch_opening(site_id: str, staff_id: str) -> str:
    """String (expires within a minute): a job opening the staff member's channel is queued."""
    return f"mb:s:{site_id}:gwatchq:{staff_id}"


def google_sync_pending(site_id: str, staff_id: str) -> str:
    """String (expires): an incremental sync job of the staff member's calendar is queued (coalescing)."""
    return f"mb:s:{site_id}:gsyncq:{staff_id}"


def google_sync_lock(site_id: str, staff_id: str) -> str:
    """String: held while one incremental sync of the staff member's calendar runs."""
    return f"mb:s:{site_id}:gsynclock:{staff_id}"


def google_channel(channel_id: str) -> str:
    """String: `{site_id}|{staff_id}` of a live watch channel. Global: a notification names only its
    channel; readers check the member's watch still names the channel."""
    return f"mb:gch:{channel_id}"


#: Sorted set of `{site_id}|{staff_id}` scored by when the staff member's watch channel must be renewed
#: (some time before it expires), read by the cron's renewal run.
WATCHES_DUE = "mb:idx:gwatch"
