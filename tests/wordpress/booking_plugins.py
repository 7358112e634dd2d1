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

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

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
            json.dumps({"file": str(self.file), "hooks": plugin.hooks, "tables": list(plugin.tables)})
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


def write_recording(plugin: BookingPlugin, wp: WordPress, steps: list[dict], note: str) -> None:
    """Write the plugin's recording (only with MEETBRIDGE_WRITE_FIXTURES=1)."""
    if os.environ.get(WRITE_ENV) != "1":
        return
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
