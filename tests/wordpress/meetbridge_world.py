"""MeetBridge (redis-server, gunicorn, an RQ worker, the sandbox) next to a real WordPress with the
plugin configured for it: the site is made with `flask --app service sites create --url <wp origin>`,
so MeetBridge's results go to the plugin's REST route."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests import processes
from tests.site_stack import Linker, Sandbox
from tests.wordpress.wp import WordPress


@dataclass
class World:
    redis: processes.RedisServer
    stack: processes.Stack
    wp: WordPress
    site: dict
    sandbox: Sandbox
    linker: Linker

    def send_result(self, event_type: str, data: dict) -> str:
        """Have MeetBridge send the site a result as it sends every result: queued with
        `service.sites.results.enqueue_result` (sealed in the job), then signed with the site's secret
        and posted to the plugin's results route by the stack's RQ worker, retried until acknowledged.
        Returns the webhook-id."""
        argv = [str(processes.BIN / "python"), "-c", _SEND_RESULT, self.site["site_id"], event_type]
        done = subprocess.run(
            [*argv, json.dumps(data)],
            env=self.stack.env,
            cwd=processes.ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        for step in (self.wp.stop, self.stack.stop, self.redis.stop):
            try:
                step()
            except Exception:  # noqa: BLE001,S112 - stop everything even if one part fails
                continue


_SEND_RESULT = """
import json, sys
from service import create_app
from service.sites import results
from service.storage import redis_client
site_id, event_type, data = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
booking_id = data.get("booking_id")
with create_app().app_context():
    print(results.enqueue_result(redis_client.get(), site_id, event_type, data, booking_id=booking_id))
"""


def sites_create(stack: processes.Stack, name: str, url: str) -> dict:
    done = subprocess.run(
        [str(processes.BIN / "flask"), "--app", "service", "sites", "create", "--name", name, "--url", url],
        env=stack.env,
        cwd=processes.ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def configure_plugin(wp: WordPress, service_url: str, site: dict) -> None:
    """The plugin's settings for `site`, trusting the stack's private CA through its CA bundle setting."""
    settings = {"service_url": service_url, "site_id": site["site_id"]}
    if wp.ca_bundle:
        settings["ca_bundle"] = str(wp.ca_bundle)
    settings = json.dumps(settings)
    wp.php(
        f"update_option( 'meetbridge_settings', json_decode( '{settings}', true ) );"
        f"update_option( 'meetbridge_secret', '{site['secret']}' ); return true;"
    )


def start_world(folder: Path, *, configure: bool = True) -> World:
    redis = processes.RedisServer(folder / "redis")
    stack = processes.Stack(folder / "stack", redis.url, workers=1, MEETBRIDGE_WORKER_PROCESSES="2")
    wp = WordPress(folder / "wp", ca_bundle=stack.certs.ca)
    world = None
    try:
        redis.start()
        stack.start()
        wp.start()
        site = sites_create(stack, "MeetBridge test shop", wp.url)
        if configure:
            configure_plugin(wp, stack.base_url, site)
        linker = Linker(stack, site, wp.url + "/wp-admin/admin.php?page=meetbridge-staff")
        world = World(redis, stack, wp, site, Sandbox(stack), linker)
        return world
    finally:
        if world is None:
            wp.stop()
            stack.stop()
            redis.stop()
