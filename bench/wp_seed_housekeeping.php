<?php
/**
 * Benchmark-only (bench/wordpress.py): fills a throwaway WordPress for the housekeeping measure.
 *
 *     php wp_seed_housekeeping.php WP_ROOT APPOINTMENTS OLD_ROWS due|done
 *
 * Easy Appointments 3.12.23's tables (tests/wordpress/fixtures) with APPOINTMENTS confirmed
 * appointments and their sent bookings (`ea-{id}`, last event created), of which the appointments
 * with ids above 1,200 ending in 0 are deleted; OLD_ROWS outbox rows 30 days old (one in ten failed
 * with its body, the others sent); the maintenance due or just done. Prints the outbox's row count.
 */

$meetbridge_args = $argv;
require $meetbridge_args[1] . '/wp-load.php';
$meetbridge_apps = (int) $meetbridge_args[2];
$meetbridge_old  = (int) $meetbridge_args[3];

MeetBridge_EA_Double::install( 'admin@example.com' );
global $wpdb;
$meetbridge_p    = $wpdb->prefix;
$meetbridge_t    = MeetBridge_Schema::tables();
$meetbridge_now  = time();
$meetbridge_hash = MeetBridge_Settings::customer_hash( 'cus@example.com' );
$meetbridge_body = wp_json_encode(
	array(
		'type'    => 'booking.created',
		'booking' => array(
			'id'       => 'x',
			'title'    => str_repeat( 'T', 40 ),
			'customer' => array( 'email' => 'cus@example.com', 'name' => 'Cat Customer' ),
			'padding'  => str_repeat( 'p', 500 ),
		),
	)
);

for ( $meetbridge_chunk = 0; $meetbridge_chunk < $meetbridge_apps / 500; $meetbridge_chunk++ ) {
	$meetbridge_rows     = array();
	$meetbridge_bookings = array();
	for ( $i = $meetbridge_chunk * 500 + 1; $i <= ( $meetbridge_chunk + 1 ) * 500; $i++ ) {
		$meetbridge_rows[]     = "( $i, 1, 1, 1, '2030-01-01', '10:00', '10:30', '2030-01-01', 'confirmed' )";
		$meetbridge_bookings[] = $wpdb->prepare( '( %s, 1, 1, %s, %s, %s, %s, %s, %s, %d )', "ea-$i", 'synced', 'Consultation', '1', '2030-01-01T10:00:00+01:00', 'booking.created', $meetbridge_hash, $meetbridge_now );
	}
	$wpdb->query( "INSERT INTO {$meetbridge_p}ea_appointments (id, location, service, worker, date, start, end, end_date, status) VALUES " . implode( ',', $meetbridge_rows ) );
	$wpdb->query( "INSERT INTO {$meetbridge_t['bookings']} (booking_id, revision, result_revision, state, title, staff_id, starts_at, last_event, customer_hash, updated_at) VALUES " . implode( ',', $meetbridge_bookings ) );
}
$wpdb->query( $wpdb->prepare( "DELETE FROM {$meetbridge_p}ea_appointments WHERE id %% 10 = 0 AND id > 1200 AND id <= %d", $meetbridge_apps ) );

for ( $meetbridge_chunk = 0; $meetbridge_chunk < $meetbridge_old / 1000; $meetbridge_chunk++ ) {
	$meetbridge_rows = array();
	for ( $i = $meetbridge_chunk * 1000; $i < ( $meetbridge_chunk + 1 ) * 1000; $i++ ) {
		$meetbridge_failed = 0 === $i % 10;
		$meetbridge_rows[] = $wpdb->prepare( '( %s, 1, %s, %s, %s, %s, %d, %d )', 'old-' . $i, 'booking.created', "msg_old_$i", $meetbridge_failed ? $meetbridge_body : '', $meetbridge_failed ? 'failed' : 'sent', $meetbridge_now - 30 * DAY_IN_SECONDS, $meetbridge_failed ? 422 : 202 );
	}
	$wpdb->query( "INSERT INTO {$meetbridge_t['outbox']} (booking_id, revision, event_type, webhook_id, body, status, created_at, last_status) VALUES " . implode( ',', $meetbridge_rows ) );
}

if ( 'due' === $meetbridge_args[4] ) {
	delete_option( MeetBridge_Settings::MAINTAINED );
} else {
	update_option( MeetBridge_Settings::MAINTAINED, time(), false );
}
echo (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$meetbridge_t['outbox']}" );
