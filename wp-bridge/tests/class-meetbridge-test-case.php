<?php
/**
 * Base test case: empty plugin tables and settings for a known site before each test.
 *
 * @package MeetBridge
 */

use PHPUnit\Framework\TestCase;

/**
 * Shared set-up.
 */
abstract class MeetBridge_Test_Case extends TestCase {

	const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

	protected function setUp(): void {
		global $wpdb;
		foreach ( MeetBridge_Schema::tables() as $table ) {
			$wpdb->query( "TRUNCATE TABLE {$table}" ); // phpcs:ignore
		}
		update_option(
			MeetBridge_Settings::OPTION,
			array(
				'service_url' => 'https://meetbridge.test',
				'site_id'     => 'site_test',
			)
		);
		update_option( MeetBridge_Settings::SECRET, self::SECRET );
		update_option( MeetBridge_Settings::RELINK, array() );
		// Busy-slot answers, holds and warnings of earlier tests.
		$wpdb->query( "DELETE FROM {$wpdb->options} WHERE option_name LIKE '\\_transient\\_%meetbridge\\_%' OR option_name = 'meetbridge_availability_warnings'" ); // phpcs:ignore
		wp_cache_flush();
		MeetBridge_Availability::reset();
		wp_set_current_user( 0 );
	}

	/**
	 * A valid booking array.
	 *
	 * @param array $changes Overrides.
	 */
	protected function booking( array $changes = array() ): array {
		return array_merge(
			array(
				'id'       => '123',
				'title'    => 'Intro call',
				'start'    => '2026-12-01T10:00:00+01:00',
				'end'      => '2026-12-01T10:30:00+01:00',
				'timezone' => 'Europe/Berlin',
				'staff'    => array(
					'id'    => '7',
					'email' => 'staff@example.com',
					'name'  => 'Sam Staff',
				),
				'customer' => array(
					'email' => 'cus@example.com',
					'name'  => 'Cat Customer',
				),
				'video'    => 'zoom',
				'location' => null,
			),
			$changes
		);
	}

	/**
	 * Outbox rows, oldest first.
	 */
	protected function outbox(): array {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['outbox'];
		return $wpdb->get_results( "SELECT * FROM {$table} ORDER BY id", ARRAY_A ); // phpcs:ignore
	}

	/**
	 * POST a result to the real results route, signed as MeetBridge signs it.
	 *
	 * @param array       $message Result.
	 * @param string|null $id      Webhook id (new one when null).
	 */
	public static function post_result( array $message, ?string $id = null ): WP_REST_Response {
		$body    = wp_json_encode( $message );
		$headers = MeetBridge_Signer::headers( self::SECRET, $id ?? MeetBridge_Signer::new_id(), time(), $body );
		$request = new WP_REST_Request( 'POST', '/meetbridge/v1/results' );
		$request->set_body( $body );
		$request->set_header( 'content-type', 'application/json' );
		foreach ( $headers as $name => $value ) {
			$request->set_header( $name, $value );
		}
		return rest_do_request( $request );
	}

	/**
	 * A `booking.changed` message as MeetBridge sends it (the contract's fields).
	 */
	public static function changed_result( array $data = array() ): array {
		return array(
			'type'      => 'booking.changed',
			'timestamp' => gmdate( 'Y-m-d\TH:i:s\Z' ),
			'data'      => array_merge(
				array(
					'booking_id' => '123',
					'revision'   => 1,
					'change_id'  => 'chg_AAAAAAAAAAAAAAAAAAAAAA',
					'sequence'   => 1,
					'provider'   => 'google',
					'kind'       => 'moved',
					'start'      => '2026-12-03T09:00:00Z',
					'end'        => '2026-12-03T09:30:00Z',
					'policy'     => 'report',
					'state'      => 'synced',
					'resend'     => false,
					'zoom'       => array( 'meeting_id' => '8123', 'join_url' => 'https://zoom.example/j/1' ),
					'google'     => array( 'event_id' => 'abc123', 'html_link' => 'https://calendar.example/e/abc123' ),
					'changed_at' => '2026-12-01T08:00:00Z',
				),
				$data
			),
		);
	}
}
