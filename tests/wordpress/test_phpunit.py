"""The plugin's PHP side on its own: `php -l` of every file, the PHPUnit suite (Debian's phpunit,
WordPress loaded in its bootstrap), activation/deactivation/uninstall, and no notice or warning
from the plugin in the debug log."""

from __future__ import annotations

import subprocess

import pytest

from tests.wordpress.conftest import require_wordpress
from tests.wordpress.wp import PLUGIN_SRC

pytestmark = pytest.mark.stack


def test_php_lint_of_every_plugin_file():
    require_wordpress()
    files = sorted(PLUGIN_SRC.rglob("*.php"))
    assert len(files) >= 20
    for path in files:
        done = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_phpunit(bare_wordpress):
    done = subprocess.run(
        ["phpunit", "--configuration", str(PLUGIN_SRC / "tests" / "phpunit.xml.dist")],
        capture_output=True,
        text=True,
        timeout=180,
        env={"MEETBRIDGE_WP_ROOT": str(bare_wordpress.root), "PATH": "/usr/bin:/bin"},
    )
    print(done.stdout[-3000:])
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "OK (" in done.stdout
    assert bare_wordpress.plugin_log_lines() == []


def test_deactivation_keeps_data_and_uninstall_removes_it(bare_wordpress):
    wp = bare_wordpress
    wp.php(  # a warning and a hold left by the busy-slot filter (nothing answers at meetbridge.test)
        "update_option( 'meetbridge_settings', array( 'service_url' => 'https://meetbridge.test',"
        " 'site_id' => 'site_x' ) );"
        " update_option( 'meetbridge_secret', 'whsec_' . base64_encode( str_repeat( 'k', 32 ) ) );"
        " add_filter( 'pre_http_request', fn() => new WP_Error( 'down', 'down' ) );"
        " return meetbridge_filter_slots( array( array( 'start' => 1, 'end' => 2 ) ), 1 );"
    )
    wp.php(
        "do_action( 'meetbridge_booking_created', array( 'id' => 'keep', 'title' => 'T', "
        "'start' => '2026-12-01T10:00:00+01:00', 'end' => '2026-12-01T10:30:00+01:00', "
        "'timezone' => 'Europe/Berlin', 'staff' => array( 'id' => '1', 'email' => 'a@example.com' ), "
        "'customer' => array( 'email' => 'c@example.com' ), 'video' => 'zoom' ) ); return true;"
    )
    state = (
        "global $wpdb; return array( 'tables' => $wpdb->get_col( \"SHOW TABLES LIKE 'wp_meetbridge_%'\" ),"
        " 'options' => $wpdb->get_col("
        " \"SELECT option_name FROM wp_options WHERE option_name LIKE 'meetbridge_%'"
        " OR option_name LIKE '%transient%meetbridge%'\" ),"
        " 'cron' => wp_next_scheduled( 'meetbridge_outbox_run' ) );"
    )
    before = wp.php(state)
    assert sorted(before["tables"]) == [
        "wp_meetbridge_bookings",
        "wp_meetbridge_inbox",
        "wp_meetbridge_outbox",
    ]
    assert {
        "meetbridge_settings",
        "meetbridge_secret",
        "meetbridge_db_version",
        "meetbridge_availability_warnings",
    } <= set(before["options"])
    assert any(name.startswith("_transient_meetbridge_hold_") for name in before["options"]), before
    assert before["cron"]

    plugin_api = "require_once ABSPATH . 'wp-admin/includes/plugin.php';"
    wp.php(plugin_api + "deactivate_plugins( 'wp-bridge/meetbridge.php' ); return true;")
    after_deactivation = wp.php(state)
    # The background sender's spawn marker comes and goes with the sender (it deletes it when it
    # finishes, which may fall between the two reads): runtime state, not data the site keeps.
    runtime = {"meetbridge_sender_spawned"}
    assert after_deactivation["tables"] == before["tables"] and set(
        after_deactivation["options"]
    ) - runtime == (set(before["options"]) - runtime)
    assert after_deactivation["cron"] is False
    assert (
        wp.php("global $wpdb; return (int) $wpdb->get_var( 'SELECT COUNT(*) FROM wp_meetbridge_outbox' );")
        == 1
    )

    wp.php(plugin_api + "uninstall_plugin( 'wp-bridge/meetbridge.php' ); return true;")
    gone = wp.php(state)
    assert gone == {"tables": [], "options": [], "cron": False}
    assert wp.plugin_log_lines() == []
