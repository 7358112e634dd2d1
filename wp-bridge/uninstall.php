<?php
/**
 * Removes everything the plugin stored: its options, its tables and its scheduled events.
 * Deactivation keeps all of it; only deleting the plugin from the Plugins screen runs this.
 *
 * @package MeetBridge
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

require_once __DIR__ . '/includes/class-meetbridge-settings.php';
require_once __DIR__ . '/includes/class-meetbridge-schema.php';

MeetBridge_Schema::drop();
foreach ( MeetBridge_Settings::OPTION_NAMES as $meetbridge_option ) {
	delete_option( $meetbridge_option );
}
wp_clear_scheduled_hook( 'meetbridge_outbox_run' );
wp_clear_scheduled_hook( 'meetbridge_maintenance' );
// A pasted CA bundle written for WordPress's HTTP API (see MeetBridge_CA).
$meetbridge_uploads = wp_upload_dir( null, false );
foreach ( (array) glob( trailingslashit( $meetbridge_uploads['basedir'] ) . 'meetbridge/*' ) as $meetbridge_file ) {
	wp_delete_file( $meetbridge_file );
}
if ( is_dir( trailingslashit( $meetbridge_uploads['basedir'] ) . 'meetbridge' ) ) {
	rmdir( trailingslashit( $meetbridge_uploads['basedir'] ) . 'meetbridge' ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_rmdir
}
// Busy-slot answers and holds (transients; they would expire within the hour anyway).
global $wpdb;
$wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s", $wpdb->esc_like( '_transient_meetbridge_' ) . '%', $wpdb->esc_like( '_transient_timeout_meetbridge_' ) . '%' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery

