"""Google Calendar emulation driven by the real google-api-python-client (static discovery)."""

from __future__ import annotations

import json

import google_auth_httplib2
import httplib2
import pytest
import requests
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from tests.sandbox.conftest import CAL_SCOPE, GOOGLE_ID, GOOGLE_SECRET, STAFF

EVENT = {
    "summary": "Intro call",
    "start": {"dateTime": "2030-12-01T10:00:00+01:00", "timeZone": "Europe/Berlin"},
    "end": {"dateTime": "2030-12-01T10:30:00+01:00", "timeZone": "Europe/Berlin"},
    "attendees": [{"email": "cus@example.com"}],
}


def calendar(sb, token: dict, *, refresh: bool = False):
    credentials = Credentials(
        token["access_token"],
        refresh_token=token.get("refresh_token") if refresh else None,
        token_uri=sb.url("/google/token"),
        client_id=GOOGLE_ID,
        client_secret=GOOGLE_SECRET,
    )
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http())
    return build(
        "calendar",
        "v3",
        http=http,
        static_discovery=True,
        client_options={"api_endpoint": sb.url("/google/calendar/v3/")},
    )


def reason(error: HttpError) -> str:
    return json.loads(error.content)["error"]["errors"][0]["reason"]


@pytest.fixture
def cal(sb):
    service = calendar(sb, sb.google_token())
    yield service
    service.close()


def test_insert_get_patch_update_delete_list(sb, cal):
    created = (
        cal.events()
        .insert(calendarId="primary", body={**EVENT, "id": "mb0123456789"}, sendUpdates="none")
        .execute()
    )
    assert created["id"] == "mb0123456789" and created["status"] == "confirmed" and created["sequence"] == 0
    assert created["htmlLink"].startswith("https://www.google.com/calendar/event?eid=")
    assert (
        created["organizer"] == {"email": STAFF, "self": True}
        and created["iCalUID"] == "mb0123456789@google.com"
    )
    assert created["attendees"][0]["responseStatus"] == "needsAction"
    got = cal.events().get(calendarId=STAFF, eventId="mb0123456789").execute()
    assert got == created
    patched = (
        cal.events().patch(calendarId="primary", eventId="mb0123456789", body={"summary": "Moved"}).execute()
    )
    assert patched["summary"] == "Moved" and patched["sequence"] == 1 and patched["etag"] != created["etag"]
    assert patched["start"] == EVENT["start"]
    replaced = (
        cal.events()
        .update(calendarId="primary", eventId="mb0123456789", body={**EVENT, "summary": "New"})
        .execute()
    )
    assert (
        replaced["summary"] == "New"
        and replaced["sequence"] == 2
        and replaced["created"] == created["created"]
    )
    cal.events().insert(calendarId="primary", body={**EVENT, "summary": "second"}).execute()
    assert len(cal.events().list(calendarId="primary").execute()["items"]) == 2
    cal.events().delete(calendarId="primary", eventId="mb0123456789").execute()
    items = cal.events().list(calendarId="primary").execute()["items"]
    assert [e["summary"] for e in items] == ["second"]
    with_deleted = cal.events().list(calendarId="primary", showDeleted=True).execute()["items"]
    assert sorted(e["status"] for e in with_deleted) == ["cancelled", "confirmed"]


def test_list_time_window_and_paging(sb, cal):
    for day in (1, 2, 3):
        body = {
            "summary": f"d{day}",
            "start": {"dateTime": f"2030-12-0{day}T10:00:00Z"},
            "end": {"dateTime": f"2030-12-0{day}T11:00:00Z"},
        }
        cal.events().insert(calendarId="primary", body=body).execute()
    window = (
        cal.events()
        .list(
            calendarId="primary",
            timeMin="2030-12-02T00:00:00Z",
            timeMax="2030-12-04T00:00:00Z",
            singleEvents=True,
            orderBy="startTime",
        )
        .execute()
    )
    assert [e["summary"] for e in window["items"]] == ["d2", "d3"]
    page = cal.events().list(calendarId="primary", maxResults=2).execute()
    assert len(page["items"]) == 2 and "nextPageToken" in page
    rest = cal.events().list(calendarId="primary", maxResults=2, pageToken=page["nextPageToken"]).execute()
    assert [e["summary"] for e in rest["items"]] == ["d3"] and "nextPageToken" not in rest
    with pytest.raises(HttpError) as info:
        cal.events().list(calendarId="primary", orderBy="startTime").execute()
    assert info.value.resp.status == 400


@pytest.mark.parametrize("bad_id", ["abc", "UPPERCASE1", "has-dash-123", "wxyz0123"])
def test_bad_id_is_400_invalid(cal, bad_id):
    with pytest.raises(HttpError) as info:
        cal.events().insert(calendarId="primary", body={**EVENT, "id": bad_id}).execute()
    assert info.value.resp.status == 400 and reason(info.value) == "invalid"
    assert json.loads(info.value.content)["error"]["message"] == "Invalid resource id value."


def test_duplicate_and_deleted_ids_are_409_and_double_delete_410(cal):
    cal.events().insert(calendarId="primary", body={**EVENT, "id": "dup00001"}).execute()
    with pytest.raises(HttpError) as info:
        cal.events().insert(calendarId="primary", body={**EVENT, "id": "dup00001"}).execute()
    assert info.value.resp.status == 409 and reason(info.value) == "duplicate"
    cal.events().delete(calendarId="primary", eventId="dup00001").execute()
    with pytest.raises(HttpError) as info:
        cal.events().insert(calendarId="primary", body={**EVENT, "id": "dup00001"}).execute()
    assert info.value.resp.status == 409 and reason(info.value) == "duplicate"
    with pytest.raises(HttpError) as info:
        cal.events().delete(calendarId="primary", eventId="dup00001").execute()
    assert info.value.resp.status == 410 and reason(info.value) == "deleted"
    assert cal.events().get(calendarId="primary", eventId="dup00001").execute()["status"] == "cancelled"
    with pytest.raises(HttpError) as info:
        cal.events().get(calendarId="primary", eventId="never0000").execute()
    assert info.value.resp.status == 404 and reason(info.value) == "notFound"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({**EVENT, "summary": 5}, "invalid"),
        ({**EVENT, "start": "2030-12-01T10:00:00Z"}, "invalid"),
        ({**EVENT, "attendees": [{"displayName": "x"}]}, "required"),
        ({"summary": "no times"}, "required"),
        ({**EVENT, "end": {"dateTime": "2030-12-01T09:00:00+01:00"}}, "timeRangeEmpty"),
        ({**EVENT, "start": {"dateTime": "2030-12-01T10:00:00+01:00", "timeZone": "Mars/Base"}}, "invalid"),
        ({**EVENT, "start": {"dateTime": "2030-12-01T10:00:00"}}, "required"),
        ({**EVENT, "start": {"dateTime": "tomorrow", "timeZone": "UTC"}}, "invalid"),
    ],
)
def test_bad_bodies_are_400(cal, body, expected):
    with pytest.raises(HttpError) as info:
        cal.events().insert(calendarId="primary", body=body).execute()
    assert info.value.resp.status == 400 and reason(info.value) == expected


def test_unknown_fields_ignored_bad_send_updates_and_foreign_calendar(sb, cal):
    token = sb.google_token()
    created = cal.events().insert(calendarId="primary", body={**EVENT, "someFutureField": 1}).execute()
    assert created["id"]
    bad_enum = requests.post(
        sb.url("/google/calendar/v3/calendars/primary/events"),
        params={"sendUpdates": "sometimes"},
        json=EVENT,
        headers={"Authorization": "Bearer " + token["access_token"]},
        timeout=10,
    )
    assert (
        bad_enum.status_code == 400 and bad_enum.json()["error"]["errors"][0]["reason"] == "invalidParameter"
    )
    not_json = requests.post(
        sb.url("/google/calendar/v3/calendars/primary/events"),
        data="{not json",
        headers={"Authorization": "Bearer " + token["access_token"], "Content-Type": "application/json"},
        timeout=10,
    )
    assert not_json.status_code == 400 and not_json.json()["error"]["errors"][0]["reason"] == "parseError"
    with pytest.raises(HttpError) as info:
        cal.events().list(calendarId="someone.else@example.com").execute()
    assert info.value.resp.status == 404
    response = requests.post(
        sb.url("/google/calendar/v3/calendars/primary/events"),
        data="{not json",
        headers={"Authorization": "Bearer x", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")


def test_patch_time_range_checked_after_merge(cal):
    created = cal.events().insert(calendarId="primary", body=EVENT).execute()
    with pytest.raises(HttpError) as info:
        cal.events().patch(
            calendarId="primary",
            eventId=created["id"],
            body={"end": {"dateTime": "2030-12-01T08:00:00+01:00"}},
        ).execute()
    assert reason(info.value) == "timeRangeEmpty"


def test_auth_errors_401_and_insufficient_scope_403(sb):
    readonly = calendar(sb, sb.google_token(scope="https://www.googleapis.com/auth/calendar.readonly"))
    assert readonly.events().list(calendarId="primary").execute()["items"] == []
    with pytest.raises(HttpError) as info:
        readonly.events().insert(calendarId="primary", body=EVENT).execute()
    assert info.value.resp.status == 403 and reason(info.value) == "insufficientPermissions"
    freebusy_only = calendar(sb, sb.google_token(scope="https://www.googleapis.com/auth/calendar.freebusy"))
    with pytest.raises(HttpError) as info:
        freebusy_only.events().list(calendarId="primary").execute()
    assert info.value.resp.status == 403
    response = requests.get(sb.url("/google/calendar/v3/calendars/primary/events"), timeout=10)
    assert response.status_code == 401 and response.json()["error"]["status"] == "UNAUTHENTICATED"


def test_expired_access_token_is_refreshed_by_the_client(sb):
    token = sb.google_token()
    service = calendar(sb, token, refresh=True)
    sb.knob("expire-access-tokens")
    assert service.events().list(calendarId="primary").execute()["kind"] == "calendar#events"
    statuses = [c["status"] for c in sb.state()["calls"] if c["path"].endswith("/events")]
    assert statuses == [401, 200]
    assert sb.state()["token_refreshes"]["google"] == 1


def test_revoke_all_makes_api_calls_401_and_refresh_invalid_grant(sb):
    service = calendar(sb, sb.google_token(), refresh=True)
    sb.knob("revoke-all")
    with pytest.raises(RefreshError, match="invalid_grant"):
        service.events().list(calendarId="primary").execute()
    assert [(c["path"], c["status"]) for c in sb.state()["calls"]][-2:] == [
        ("/google/calendar/v3/calendars/primary/events", 401),
        ("/google/token", 400),
    ]


def test_freebusy_needs_a_freebusy_capable_scope(cal):
    body = {
        "timeMin": "2030-12-01T00:00:00Z",
        "timeMax": "2030-12-02T00:00:00Z",
        "items": [{"id": "primary"}],
    }
    with pytest.raises(HttpError) as info:  # calendar.events alone does not cover freebusy.query
        cal.freebusy().query(body=body).execute()
    assert info.value.resp.status == 403 and reason(info.value) == "insufficientPermissions"


def test_freebusy(sb):
    cal = calendar(
        sb, sb.google_token(scope=CAL_SCOPE + " https://www.googleapis.com/auth/calendar.freebusy")
    )
    busy = [
        ("09:00", "10:00", {}),
        ("09:30", "11:00", {}),
        ("13:00", "14:00", {"transparency": "transparent"}),
    ]
    for start, end, extra in busy:
        body = {
            "start": {"dateTime": f"2030-12-01T{start}:00Z"},
            "end": {"dateTime": f"2030-12-01T{end}:00Z"},
            **extra,
        }
        cal.events().insert(calendarId="primary", body=body).execute()
    gone = (
        cal.events()
        .insert(
            calendarId="primary",
            body={"start": {"dateTime": "2030-12-01T15:00:00Z"}, "end": {"dateTime": "2030-12-01T16:00:00Z"}},
        )
        .execute()
    )
    cal.events().delete(calendarId="primary", eventId=gone["id"]).execute()
    body = {
        "timeMin": "2030-12-01T00:00:00Z",
        "timeMax": "2030-12-02T00:00:00Z",
        "items": [{"id": "primary"}, {"id": "other@example.com"}],
    }
    result = cal.freebusy().query(body=body).execute()
    assert result["calendars"]["primary"]["busy"] == [
        {"start": "2030-12-01T09:00:00Z", "end": "2030-12-01T11:00:00Z"}
    ]
    assert result["calendars"]["other@example.com"]["errors"][0]["reason"] == "notFound"
    with pytest.raises(HttpError) as info:
        cal.freebusy().query(body={**body, "timeMax": "2031-06-01T00:00:00Z"}).execute()
    assert reason(info.value) == "timeRangeTooLong"
    with pytest.raises(HttpError) as info:
        cal.freebusy().query(body={**body, "timeMax": "2030-11-01T00:00:00Z"}).execute()
    assert reason(info.value) == "timeRangeEmpty"
