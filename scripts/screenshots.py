"""`make screenshots`: the connect screens as a site admin sees them, written to docs/screenshots/.

Starts a throwaway stack (redis-server, gunicorn, a worker, the sandbox) and a stand-in WordPress
page, then drives Debian's Chromium (Playwright) through linking a Zoom account: the connect screen,
the sandbox's consent screen, the site's page afterwards, and the page for a link that was already
used. Needs `/usr/bin/chromium` (`apt-get install -y chromium`).
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

from service.sites import registry
from tests import browser, processes
from tests.site_double import SiteDouble
from tests.site_stack import Linker, Sandbox, stack_keyring

log = logging.getLogger("screenshots")

OUT = processes.ROOT / "docs" / "screenshots"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not Path(browser.CHROMIUM).exists():
        log.error("%s is missing: apt-get install -y chromium", browser.CHROMIUM)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="meetbridge-shots-") as tmp:
        folder = Path(tmp)
        redis = processes.RedisServer(folder / "redis")
        redis.start()
        stack = processes.Stack(folder / "stack", redis.url, workers=1)
        try:
            with SiteDouble() as double:
                stack.start()
                site = registry.create(redis.client(), stack_keyring(stack), "Example Shop", double.url)
                Sandbox(stack).post("consent", {"mode": "ask"})
                _shoot(Linker(stack, site, double.return_url()).link_url("zoom", "7"), stack, double)
        finally:
            stack.stop()
            redis.stop()
    return 0


def _shoot(url: str, stack: processes.Stack, double: SiteDouble) -> None:
    with browser.page(width=760, height=720) as page:
        page.goto(url)
        _save(page, "1-connect-screen")
        page.get_by_role("button", name="Continue to Zoom").click()
        page.wait_for_url(stack.sandbox_url + "/**")
        _save(page, "2-provider-consent-sandbox")
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(double.url + "/**")
        _save(page, "3-back-on-the-site")
        page.goto(url)
        _save(page, "4-link-already-used")


def _save(page, name: str) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path))
    log.info("wrote %s", path.relative_to(processes.ROOT))


if __name__ == "__main__":
    sys.exit(main())
