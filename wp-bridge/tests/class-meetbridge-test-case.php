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
}
