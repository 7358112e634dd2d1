"""Booking plugins in the test WordPress, for the adapters under wp-bridge/integrations/.

Two ways to meet a booking plugin:

- **The real plugin.** Its source is never downloaded by the tests (`make test` has no internet): it is
  taken from the folder named by `MEETBRIDGE_WP_PLUGINS` (one sub-folder per plugin, named by its
  wordpress.org slug, e.g. `ameliabooking/`), copied into WordPress and activated. Without it the
  real-plugin tests skip and say where to put it. A mu-plugin records the plugin's hook calls with the
  rows of its tables at each call (fixtures/meetbridge-hook-recorder.php), another catches e-mails.
- **Its recording.** `wp-bridge/tests/fixtures/{slug}-{version}.json` holds what a real run recorded:
  the plugin's table definitions, and step by step the hooks it fired with their arguments and the
  table rows at that moment. PHPUnit replays it; so does a stack test, through the real MeetBridge.
  A real run with `MEETBRIDGE_WRITE_FIXTURES=1` writes the file again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.wordpress.wp import FIXTURES, PLUGIN_SRC, WordPress

PLUGINS_ENV = "MEETBRIDGE_WP_PLUGINS"
WRITE_ENV = "MEETBRIDGE_WRITE_FIXTURES"
RECORDINGS = PLUGIN_SRC / "tests" / "fixtures"
THEME = Path("/usr/share/wordpress/wp-content/themes/twentytwentyone")  # apt: wordpress-theme-twentytwentyone


@dataclass(frozen=True)
class BookingPlugin:
    slug: str  # wordpress.org slug, the plugin's folder
    main_file: str  # relative to the folder
    version: str  # the version the adapter was observed with
    hooks: str  # regular expression of the hooks to record
    tables: tuple[str, ...]  # its tables (without the prefix) to record
    first_arg: tuple[tuple[str, str], ...] = ()  # (hook, regular expression its first argument must match)

    @property
    def recording(self) -> Path:
        return RECORDINGS / f"{self.slug}-{self.version}.json"


def plugin_source(plugin: BookingPlugin) -> Path | None:
    """The plugin's folder under MEETBRIDGE_WP_PLUGINS, when it is there."""
    folder = os.environ.get(PLUGINS_ENV, "")
    source = Path(folder) / plugin.slug if folder else None
    return source if source and (source / plugin.main_file).exists() else None


def plugin_version(source: Path, plugin: BookingPlugin) -> str:
    header = (source / plugin.main_file).read_text(errors="replace")[:8192]
    match = re.search(r"^\s*\*?\s*Version:\s*(\S+)", header, re.MULTILINE)
    return match.group(1) if match else ""


def require_plugin(plugin: BookingPlugin) -> Path:
    """The real plugin's source, or a skip saying how to provide it (the tests never download it)."""
    source = plugin_source(plugin)
    if source is None:
        pytest.skip(
            f"the real {plugin.slug} {plugin.version} is not on this machine: set {PLUGINS_ENV} to a folder "
            f"holding {plugin.slug}/ (its wordpress.org release); make test cannot download it, and the "
            f"adapter is tested from its recording ({plugin.recording.name}) instead"
        )
    found = plugin_version(source, plugin)
    if found != plugin.version:
        pytest.skip(f"{source} is {plugin.slug} {found}; these tests observed {plugin.version}")
    return source


def install(wp: WordPress, plugin: BookingPlugin, source: Path) -> None:
    """Copy the plugin in and activate it as WordPress does (its activation hook runs)."""
    shutil.copytree(source, wp.root / "wp-content" / "plugins" / plugin.slug, symlinks=True)
    activated = wp.php(
        "require_once ABSPATH . 'wp-admin/includes/plugin.php';"
        f" $r = activate_plugin( '{plugin.slug}/{plugin.main_file}' );"
        " return is_wp_error( $r ) ? $r->get_error_message() : 'ok';",
        timeout=180,
    )
    assert activated == "ok", activated


def use_theme(wp: WordPress) -> None:
    """A theme that prints pages (Debian's WordPress ships none, so a shortcode page would be empty)."""
    if not THEME.exists():
        pytest.skip(f"{THEME} is missing: apt-get install -y wordpress-theme-twentytwentyone")
    shutil.copytree(THEME, wp.root / "wp-content" / "themes" / THEME.name, dirs_exist_ok=True)
    assert wp.php(f"switch_theme( '{THEME.name}' ); return get_stylesheet();") == THEME.name


def page(wp: WordPress, slug: str, content: str) -> str:
    """Publish a page (e.g. with the plugin's booking shortcode); its URL."""
    return wp.php(
        "$id = wp_insert_post( array( 'post_type' => 'page', 'post_status' => 'publish',"
        f" 'post_title' => '{slug.title()}', 'post_name' => '{slug}', 'post_content' => '{content}' ) );"
        " return get_permalink( $id );"
    )


class Recorder:
    """The hook recorder mu-plugin, writing to a file in the WordPress folder."""

    def __init__(self, wp: WordPress, plugin: BookingPlugin):
        self.file = wp.folder / "hooks.jsonl"
        self.plugin = plugin
        mu = wp.root / "wp-content" / "mu-plugins"
        shutil.copy(FIXTURES / "meetbridge-hook-recorder.php", mu)
        (mu / "meetbridge-hook-recorder.json").write_text(
            json.dumps(
                {
                    "file": str(self.file),
                    "hooks": plugin.hooks,
                    "tables": list(plugin.tables),
                    "first_arg": dict(plugin.first_arg),
                }
            )
        )

    def lines(self) -> list[dict]:
        if not self.file.exists():
            return []
        return [json.loads(line) for line in self.file.read_text().splitlines() if line.strip()]

    def mark(self) -> int:
        """Where the recording is now (to take what one step did)."""
        return len(self.lines())

    def since(self, mark: int, settle: float = 0.5) -> list[dict]:
        """What was recorded after `mark`, once nothing new arrived for `settle` seconds."""
        count = -1
        while True:
            lines = self.lines()
            if len(lines) == count:
                return lines[mark:]
            count = len(lines)
            time.sleep(settle)


class Mailbox:
    """The mail catcher mu-plugin: every wp_mail() goes to a file."""

    def __init__(self, wp: WordPress):
        self.file = wp.root / "wp-content" / "meetbridge-mail.jsonl"
        shutil.copy(FIXTURES / "meetbridge-mail-catcher.php", wp.root / "wp-content" / "mu-plugins")

    def mails(self, to: str = "") -> list[dict]:
        if not self.file.exists():
            return []
        mails = [json.loads(line) for line in self.file.read_text().splitlines() if line.strip()]
        return [m for m in mails if not to or to in json.dumps(m["to"])]


def table_schema(wp: WordPress, tables: tuple[str, ...]) -> dict[str, str]:
    """`SHOW CREATE TABLE` of each table, with the prefix replaced by `{prefix}`."""
    schema = {}
    for name in tables:
        create = wp.db.sql(f"SHOW CREATE TABLE wp_{name}", "wordpress").split("\t", 1)[1].strip()
        schema[name] = create.replace("\\n", "\n").replace(f"`wp_{name}`", f"`{{prefix}}{name}`")
    return schema


def step(name: str, lines: list[dict], actions: set[str], filters: set[str] = frozenset()) -> dict:
    """One step of a recording: the calls of `actions` and `filters` it made, and the end of each
    request that fired one of the actions (`@shutdown`, with the rows as the request left them)."""
    requests = {line["request"] for line in lines if line["hook"] in actions}
    calls = [
        line
        for line in lines
        if line["hook"] in actions | filters or (line["hook"] == "@shutdown" and line["request"] in requests)
    ]
    return {"step": name, "calls": [{k: line[k] for k in ("hook", "args", "tables")} for line in calls]}


# Blanked in recordings, with every column named *_token.
SECRET_COLUMNS = {"password", "activation_key", "account_nonse", "token"}


def _scrubbed(steps: list[dict]) -> list[dict]:
    """The steps with the tables' password hashes, keys and tokens of the throwaway run blanked, in the
    rows and wherever the hooks' arguments repeat them (a recorded SQL statement that writes one)."""
    secrets: set[str] = set()
    for recorded in steps:
        for call in recorded["calls"]:
            for rows in call["tables"].values():
                for row in rows:
                    for column in SECRET_COLUMNS & row.keys() | {c for c in row if c.endswith("_token")}:
                        if isinstance(row[column], str) and len(row[column]) >= 8:
                            secrets.add(row[column])
                        row[column] = None if row[column] is None else ""
    for recorded in steps:
        for call in recorded["calls"]:
            call["args"] = _without(call["args"], secrets)
    return steps


def _without(value, secrets: set[str]):
    """`value` (JSON) with every secret in its strings blanked."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "")
        return value
    if isinstance(value, list):
        return [_without(item, secrets) for item in value]
    if isinstance(value, dict):
        return {key: _without(item, secrets) for key, item in value.items()}
    return value


def write_recording(plugin: BookingPlugin, wp: WordPress, steps: list[dict], note: str) -> None:
    """Write the plugin's recording (only with MEETBRIDGE_WRITE_FIXTURES=1)."""
    if os.environ.get(WRITE_ENV) != "1":
        return
    steps = _scrubbed(steps)
    recording = {
        "plugin": plugin.slug,
        "version": plugin.version,
        "observed": note,
        "timezone": wp.php("return wp_timezone_string();"),
        "schema": table_schema(wp, plugin.tables),
        "steps": steps,
    }
    plugin.recording.parent.mkdir(parents=True, exist_ok=True)
    plugin.recording.write_text(json.dumps(recording, indent=1, ensure_ascii=False) + "\n")


def load_recording(plugin: BookingPlugin) -> dict:
    return json.loads(plugin.recording.read_text())


def shape(value, depth: int = 3):
    """The keys (recursively, a few levels) of a hook argument: what a plugin update could change."""
    if isinstance(value, dict) and depth > 0:
        return {key: shape(item, depth - 1) for key, item in sorted(value.items())}
    if isinstance(value, list) and value and depth > 0:
        return [shape(value[0], depth - 1)]
    return None


# -- shared by the real-plugin tests -------------------------------------------------------------------

BERLIN = ZoneInfo("Europe/Berlin")  # the test WordPress's zone (fixtures/install.php)


def weekday_ahead(start: dt.date, days: int, weekday: int = 1) -> dt.date:
    """The first `weekday` (0 = Monday) at least `days` after `start`."""
    day = start + dt.timedelta(days=days)
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


def dates(weekday: int = 1) -> tuple[dt.date, dt.date]:
    """Two days (a week ahead, and 20-44 weeks later) on either side of a daylight-saving change."""
    first = weekday_ahead(dt.date.today(), 7, weekday)
    offset = dt.datetime.combine(first, dt.time(10), BERLIN).utcoffset()
    for weeks in range(20, 45):
        second = first + dt.timedelta(weeks=weeks)
        if dt.datetime.combine(second, dt.time(10), BERLIN).utcoffset() != offset:
            return first, second
    raise AssertionError("no daylight-saving change within a year")


def local(day: dt.date, hour: int, minute: int = 0) -> str:
    """RFC 3339 of `day` `hour`:`minute` in Berlin."""
    return dt.datetime.combine(day, dt.time(hour, minute), BERLIN).isoformat()


def utc(day: dt.date, hour: int, minute: int = 0) -> str:
    """Zoom's start_time for `day` `hour`:`minute` in Berlin."""
    moment = dt.datetime.combine(day, dt.time(hour, minute), BERLIN).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def offset(day: dt.date) -> str:
    """Berlin's UTC offset on `day` at noon, `+01:00` or `+02:00`."""
    return dt.datetime.combine(day, dt.time(12), BERLIN).isoformat()[-6:]


class Run:
    """A real booking plugin next to MeetBridge, and what the run recorded step by step."""

    def __init__(self, world, plugin: BookingPlugin, adapter: str, shots: Path):
        self.world = world
        self.wp = world.wp
        self.plugin = plugin
        self.adapter = adapter
        self.shots = shots
        self.recorder = Recorder(world.wp, plugin)
        self.mailbox = Mailbox(world.wp)
        self.steps: list[dict] = []
        self.first, self.second = dates()
        self.ids: dict[str, int] = {}
        self.sam = ""
        self.book_url = ""

    def actions(self) -> set[str]:
        return set(self.wp.php(f"return {self.adapter}::actions();"))

    def record(self, name: str, mark: int, filters: frozenset = frozenset()) -> list[dict]:
        """Keep what a step fired (filters' calls only where the step names them)."""
        lines = self.recorder.since(mark)
        self.steps.append(step(name, lines, self.actions(), set(filters)))
        return lines

    def shoot(self, page, name: str, selector: str = "") -> None:
        """A screenshot as a test artifact (of one element only, when `selector` names it)."""
        self.shots.mkdir(parents=True, exist_ok=True)
        target = page.locator(selector).first if selector else page
        target.screenshot(path=str(self.shots / f"{name}.png"))

    def link_sam(self) -> None:
        """Sam (sam.staff@example.com, the staff member of every booking plugin's set-up) links his
        Google and Zoom accounts."""
        self.sam = str(self.wp.php("return get_user_by( 'login', 'sam' )->ID;"))
        link_staff(self.world, self.sam, "sam.staff@example.com")

    def check_recording(self) -> None:
        """The committed recording has the same steps, hooks and argument shapes as this run."""
        if os.environ.get(WRITE_ENV) == "1":
            return  # this run writes it
        recorded = load_recording(self.plugin)
        for now in self.steps:
            [then] = [s for s in recorded["steps"] if s["step"] == now["step"]]
            assert [c["hook"] for c in now["calls"]] == [c["hook"] for c in then["calls"]], now["step"]
            for call, kept in zip(now["calls"], then["calls"], strict=True):
                assert shape(call["args"]) == shape(kept["args"]), (now["step"], call["hook"])


def link_staff(world, staff_id: str, email: str) -> None:
    """A staff member's Google and Zoom accounts, linked with the sandbox's consent in approve mode."""
    world.sandbox.post("consent", {"mode": "approve", "email": email})
    for provider in ("google", "zoom"):
        world.linker.press_continue(world.linker.link_url(provider, staff_id))


def stand_in(wp: WordPress, plugin: BookingPlugin, constant: str) -> None:
    """Replay set-up: the plugin reduced to the constant its main file defines (so wp-bridge loads its
    adapter), and its tables as the recording has them."""
    (wp.root / "wp-content" / "mu-plugins" / f"{plugin.slug}-stand-in.php").write_text(
        f"<?php\n// Test-only: {plugin.slug} {plugin.version} reduced to what makes wp-bridge load its"
        f" adapter.\ndefine( '{constant}', '{plugin.version}' );\n"
    )
    wp.php(
        f"require_once '{PLUGIN_SRC}/tests/class-meetbridge-recording.php';"
        f" ( new MeetBridge_Recording( '{plugin.recording}' ) )->install_tables(); return 1;"
    )


def replay(wp: WordPress, plugin: BookingPlugin, step_name: str, adapter: str) -> None:
    """One step of the recording as its own PHP process (a request)."""
    done = subprocess.run(
        ["php", str(FIXTURES / "replay-recording.php"), str(wp.root), str(plugin.recording), step_name,
         adapter],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0 and "replayed" in done.stdout, done.stdout + done.stderr


@contextmanager
def real_world(folder: Path, plugin: BookingPlugin, adapter: str, shots: Path, note: str) -> Iterator[Run]:
    """The real plugin (skipped when it is not on this machine) in a real WordPress with the real
    MeetBridge, the theme its pages need and the hook recorder: yields the run; when the module is done,
    writes the recording (`note` says what was run; only with MEETBRIDGE_WRITE_FIXTURES=1) and stops
    everything."""
    from tests import browser
    from tests.wordpress.conftest import require_wordpress
    from tests.wordpress.meetbridge_world import start_world

    require_wordpress()
    browser.require_chromium()
    source = require_plugin(plugin)
    world = start_world(folder)
    try:
        use_theme(world.wp)
        run = Run(world, plugin, adapter, shots)
        install(world.wp, plugin, source)
        yield run
        write_recording(plugin, world.wp, run.steps, note)
    finally:
        world.stop()


@contextmanager
def replay_world(folder: Path):
    """A real WordPress with the real MeetBridge, for a recording replayed through the real stack."""
    from tests.wordpress.conftest import require_wordpress
    from tests.wordpress.meetbridge_world import start_world

    require_wordpress()
    world = start_world(folder)
    try:
        yield world
    finally:
        world.stop()


def newest_id(world, query: str, email: str) -> int:
    """The first column of the first row of `query` (SQL with `{$wpdb->prefix}` and one `%s`, the
    customer's e-mail), e.g. a customer's newest booking in the plugin's tables."""
    php = f"global $wpdb; return $wpdb->get_var( $wpdb->prepare( \"{query}\", '{email}' ) );"
    return int(world.wp.php(php))
