<?php
/**
 * Benchmark-only mu-plugin (bench/wordpress.py copies it into a throwaway WordPress): a "booking
 * request" at `/?meetbridge_bench=MODE&id=ID`, answered at `init` the way a booking form's handler
 * would, and the time the plugin adds to it written to a log file, one JSON line per request.
 *
 * MODE `async`: the plugin's API (`do_action( 'meetbridge_booking_created', … )`, outbox + background
 *   sender). Added time = the do_action plus the plugin's shutdown work (spawning the sender).
 * MODE `sync`: what most booking plugins do today: the signed POST to MeetBridge inside the request.
 * MODE `none`: the same request without any booking work (the floor).
 * MODE `ea_delete`: Easy Appointments' Delete request for appointment `id`: the row deleted (Easy
 *   Appointments' own work, not timed), the plugin's early hook noting it; added time = that note plus
 *   the plugin's shutdown work (reconciling the noted appointment, cancelling its booking, spawning
 *   the sender).
 */

if ( ! isset( $_GET['meetbridge_bench'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended
	return;
}

add_action(
	'init',
	static function () {
		$mode    = sanitize_key( wp_unslash( $_GET['meetbridge_bench'] ) ); // phpcs:ignore WordPress.Security.NonceVerification.Recommended
		$id      = sanitize_text_field( wp_unslash( $_GET['id'] ?? 'b' ) ); // phpcs:ignore WordPress.Security.NonceVerification.Recommended
		$booking = array(
			'id'       => $id,
			'title'    => 'Intro call',
			'start'    => '2026-12-01T10:00:00+01:00',
			'end'      => '2026-12-01T10:30:00+01:00',
			'timezone' => 'Europe/Berlin',
			'staff'    => array( 'id' => '1', 'email' => 'admin@example.com', 'name' => 'Ada Admin' ),
			'customer' => array( 'email' => 'cus@example.com', 'name' => 'Cat Customer' ),
			'video'    => 'zoom',
			'location' => null,
		);
		$GLOBALS['meetbridge_bench'] = array( 'mode' => $mode, 'in_request' => 0.0, 'shutdown_from' => 0.0 );
		$start                       = hrtime( true );
		if ( 'ea_delete' === $mode ) {
			global $wpdb;
			$app = (int) $id;
			$wpdb->delete( "{$wpdb->prefix}ea_appointments", array( 'id' => $app ) ); // Easy Appointments' part.
			$wpdb->delete( "{$wpdb->prefix}ea_fields", array( 'app_id' => $app ) );
			$start = hrtime( true );
			MeetBridge_EA_Watch::note( array( $app ) );
		} elseif ( 'async' === $mode ) {
			do_action( 'meetbridge_booking_created', $booking );
		} elseif ( 'sync' === $mode ) {
			$booking['revision'] = 1;
			$body                = wp_json_encode( array( 'type' => 'booking.created', 'booking' => $booking ) );
			$answer              = ( new MeetBridge_Client() )->post_event( $body, MeetBridge_Signer::new_id() );
			$GLOBALS['meetbridge_bench']['status'] = $answer['status'];
		}
		$GLOBALS['meetbridge_bench']['in_request'] = ( hrtime( true ) - $start ) / 1e6;
		add_action( 'shutdown', static function () {
			$GLOBALS['meetbridge_bench']['shutdown_from'] = hrtime( true );
		}, 0 );
		add_action( 'shutdown', static function () {
			$bench = $GLOBALS['meetbridge_bench'];
			$bench['at_shutdown'] = ( hrtime( true ) - $bench['shutdown_from'] ) / 1e6;
			unset( $bench['shutdown_from'] );
			file_put_contents( WP_CONTENT_DIR . '/meetbridge-bench.jsonl', wp_json_encode( $bench ) . "\n", FILE_APPEND | LOCK_EX ); // phpcs:ignore WordPress.WP.AlternativeFunctions
		}, PHP_INT_MAX );
		header( 'Content-Type: text/plain' );
		echo 'booked';
		exit;
	},
	999
);
