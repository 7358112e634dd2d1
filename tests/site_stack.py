"""Driving the connect flow of a running Stack without a browser (requests keeps the cookies), plus
signed calls as a site and the sandbox's knobs. Used by the linking and token stack tests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from service.accounts import vault
from service.config import dev_secrets
from service.crypto import Keyring
from service.sites import registry
from tests import signing
from tests.processes import RedisServer, Stack, redis_dump
from tests.site_double import SiteDouble


class Linker:
    """One site of a running stack, seen from WordPress and from an admin's browser."""

    def __init__(self, stack: Stack, site: dict, return_url: str):
        self.stack = stack
        self.site = site
        self.return_url = return_url
        self.browser = self._session()

    def _session(self) -> requests.Session:
        return requests.Session()  # `verify` per call: requests prefers REQUESTS_CA_BUNDLE to Session.verify

    # -- as the site --------------------------------------------------------------------------------
    def post_link(self, provider: str, staff_id: str, return_url: str | None = None) -> requests.Response:
        body = json.dumps(
            {"provider": provider, "staff_id": staff_id, "return_url": return_url or self.return_url}
        ).encode()
        path = f"/v1/sites/{self.site['site_id']}/connect-links"
        headers = signing.headers(self.site["secret"], body)
        return requests.post(
            self.stack.base_url + path, data=body, headers=headers, verify=self.verify, timeout=10
        )

    def link_url(self, provider: str, staff_id: str) -> str:
        answer = self.post_link(provider, staff_id)
        assert answer.status_code == 201, answer.text
        return answer.json()["url"]

    def signed(self, method: str, path: str) -> requests.Response:
        headers = signing.request_headers(self.site["secret"], method, path)
        return requests.request(
            method, self.stack.base_url + path, headers=headers, verify=self.verify, timeout=15
        )

    def accounts(self) -> list[dict]:
        answer = self.signed("GET", f"/v1/sites/{self.site['site_id']}/accounts")
        assert answer.status_code == 200, answer.text
        return answer.json()["accounts"]

    def unlink(self, provider: str, staff_id: str) -> requests.Response:
        return self.signed("DELETE", f"/v1/sites/{self.site['site_id']}/accounts/{provider}/{staff_id}")

    # -- as the admin's browser -------------------------------------------------------------------
    def open(self, url: str) -> requests.Response:
        return self.browser.get(url, timeout=10, verify=self.verify)

    def press_continue(self, url: str, page: requests.Response | None = None, **options) -> requests.Response:
        """Submit the connect page's form (read from `page`, or opened now)."""
        page = page or self.open(url)
        match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert match, page.text
        return self.browser.post(
            url, data={"csrf": match.group(1)}, timeout=15, verify=self.verify, **options
        )

    def link(self, provider: str, staff_id: str) -> dict[str, str]:
        """The whole flow with the sandbox in `approve` mode; returns the return URL's query."""
        final = self.press_continue(self.link_url(provider, staff_id))
        return outcome(final.url)

    @property
    def verify(self) -> str:
        return str(self.stack.certs.bundle)


def outcome(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


class Sandbox:
    """The sandbox's knobs (`/_sandbox/…`)."""

    def __init__(self, stack: Stack):
        self.base = stack.sandbox_url + "/_sandbox"
        self.verify = str(stack.certs.bundle)

    def post(self, knob: str, body: dict | None = None) -> dict:
        answer = requests.post(f"{self.base}/{knob}", json=body or {}, verify=self.verify, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def state(self) -> dict:
        return requests.get(f"{self.base}/state", verify=self.verify, timeout=10).json()


def stack_keyring(stack: Stack) -> Keyring:
    """The vault keys the stack's processes use (development mode keeps them in the data folder)."""
    return Keyring.from_config(dev_secrets(Path(stack.env["MEETBRIDGE_DATA_DIR"]))["MEETBRIDGE_VAULT_KEYS"])


def stored_token(stack: Stack, r, site_id: str, provider: str, staff_id: str) -> dict:
    account = vault.load(r, stack_keyring(stack), site_id, provider, staff_id)
    assert account is not None
    return account.token


def account_keys(r) -> list[bytes]:
    """Every Redis key of a linked account or of its indexes (to show nothing was linked)."""
    found = []
    for pattern in ("mb:s:*:acct:*", "mb:s:*:accts", "mb:zu:*"):
        found += list(r.scan_iter(match=pattern))
    return found


def assert_not_in_the_clear(r, logs: str, needles: list[str]) -> None:
    """None of `needles` (tokens, secrets, e-mails) appears in Redis or in the stack's logs."""
    stored = redis_dump(r)
    assert stored, "Redis is empty: nothing was checked"
    for needle in needles:
        assert needle, "an empty needle proves nothing"
        assert needle.encode() not in stored, f"{needle[:6]}… is stored in the clear"
        assert needle not in logs, f"{needle[:6]}… appears in a log"


@dataclass
class SiteStack:
    """A running stack with one registered site, the stand-in WordPress site receiving its results,
    and the helpers to act as that site and on the sandbox."""

    stack: Stack
    redis: RedisServer
    double: SiteDouble
    site: dict
    linker: Linker
    sandbox: Sandbox

    @property
    def r(self):
        return self.redis.client()


@contextmanager
def site_stack(
    folder: Path,
    env_class: type[SiteStack] = SiteStack,
    *,
    consent: str | None = None,
    link: tuple[tuple[str, str], ...] = (),
    redis_fsync: str | None = None,
    **stack_options,
) -> Iterator[SiteStack]:
    """Redis (`redis_fsync`: its `appendfsync` policy, see `RedisServer`), the stack (`stack_options`
    as for `Stack`), a site "Example Shop" whose origin is a `SiteDouble`; the sandbox's consent mode
    set when given, and each `(provider, staff_id)` in `link` linked. Everything is stopped on exit."""
    redis = RedisServer(folder / "redis", fsync=redis_fsync)
    redis.start()
    stack = Stack(folder / "stack", redis.url, **stack_options)
    try:
        with SiteDouble() as double:
            stack.start()
            site = registry.create(redis.client(), stack_keyring(stack), "Example Shop", double.url)
            double.secret = site["secret"]
            env = env_class(
                stack, redis, double, site, Linker(stack, site, double.return_url()), Sandbox(stack)
            )
            if consent:
                env.sandbox.post("consent", {"mode": consent})
            for provider, staff_id in link:
                assert env.linker.link(provider, staff_id)["meetbridge_status"] == "connected"
            yield env
    finally:
        stack.stop()
        redis.stop()
