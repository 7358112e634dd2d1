<?php
/**
 * PHPUnit bootstrap: loads a real, installed WordPress with the plugin active
 * (MEETBRIDGE_WP_ROOT, set by tests/wordpress/test_phpunit.py) and the test helpers.
 *
 * @package MeetBridge
 */

$meetbridge_root = getenv( 'MEETBRIDGE_WP_ROOT' );
if ( ! $meetbridge_root || ! file_exists( $meetbridge_root . '/wp-load.php' ) ) {
	fwrite( STDERR, "MEETBRIDGE_WP_ROOT must point at an installed WordPress with the plugin active.\n" );
	exit( 1 );
}
/**
 * Load WordPress inside a function: PHPUnit copies the bootstrap's local variables into $GLOBALS
 * afterwards, which would overwrite globals such as $shortcode_tags with wp-settings.php's stale
 * file-scope copies.
 *
 * @param string $root WordPress folder.
 */
function meetbridge_tests_load_wordpress( string $root ): void {
	require $root . '/wp-load.php';
}
meetbridge_tests_load_wordpress( $meetbridge_root );
require_once ABSPATH . 'wp-admin/includes/plugin.php';
if ( ! class_exists( 'MeetBridge_Plugin' ) ) {
	fwrite( STDERR, "The MeetBridge plugin is not active in that WordPress.\n" );
	exit( 1 );
}
require_once __DIR__ . '/class-meetbridge-test-case.php';
require_once __DIR__ . '/class-meetbridge-fake-client.php';
require_once __DIR__ . '/class-meetbridge-fake-http.php';
add_filter( 'meetbridge_spawn_sender', '__return_false' ); // No loopback requests from unit tests.
foreach ( glob( MEETBRIDGE_DIR . 'admin/class-*.php' ) as $meetbridge_admin_file ) {
	require_once $meetbridge_admin_file;
}
