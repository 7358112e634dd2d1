<?php
/**
 * Outbox retention: a body only until MeetBridge acknowledged it, sent and failed rows deleted after
 * the retention days (pending ones never), maintenance at most every 15 minutes, and the upgrade of
 * schema 1 data.
 *
 * @package MeetBridge
 */

class RetentionTest extends MeetBridge_Test_Case {

	protected function setUp(): void {
		parent::setUp();
		delete_option( MeetBridge_Settings::MAINTAINED );
	}

	private function age( int $days ): void {
		global $wpdb;
		$wpdb->query( $wpdb->prepare( 'UPDATE ' . MeetBridge_Schema::tables()['outbox'] . ' SET created_at = %d', time() - $days * DAY_IN_SECONDS ) ); // phpcs:ignore
	}

	public function test_a_body_is_kept_only_until_acknowledged(): void {
		do_action( 'meetbridge_booking_created', $this->booking( array( 'id' => 'ok' ) ) );
		do_action( 'meetbridge_booking_created', $this->booking( array( 'id' => 'refused' ) ) );
		do_action( 'meetbridge_booking_created', $this->booking( array( 'id' => 'later' ) ) );
		MeetBridge_Outbox::run( new MeetBridge_Fake_Client( array( 202, 422, 503 ) ) );
		$rows = array_column( $this->outbox(), null, 'booking_id' );
		$this->assertSame( array( 'sent', '' ), array( $rows['ok']['status'], $rows['ok']['body'] ) );
		$this->assertSame( 'failed', $rows['refused']['status'] );
		$this->assertStringContainsString( 'cus@example.com', $rows['refused']['body'], 'kept for "Retry now"' );
		$this->assertSame( 'pending', $rows['later']['status'] );
		$this->assertStringContainsString( 'cus@example.com', $rows['later']['body'], 'still owed' );
	}

	public function test_old_sent_and_failed_rows_are_pruned_pending_ones_never(): void {
		do_action( 'meetbridge_booking_created', $this->booking( array( 'id' => 'ok' ) ) );
		do_action( 'meetbridge_booking_created', $this->booking( array( 'id' => 'refused' ) ) );
		do_action( 'meetbridge_booking_created', $this->booking( array( 'id' => 'owed' ) ) );
		MeetBridge_Outbox::run( new MeetBridge_Fake_Client( array( 202, 422, 503 ) ) );
		$this->age( 6 );
		$this->assertSame( 0, MeetBridge_Outbox::prune(), 'the default keeps 7 days' );
		$this->age( 8 );
		$this->assertSame( 2, MeetBridge_Outbox::prune() );
		$this->assertSame( array( 'owed' ), array_column( $this->outbox(), 'booking_id' ) );
		$this->assertNotNull( MeetBridge_Bookings::get( 'ok' ), 'bookings rows are not pruned' );
	}

	public function test_the_retention_setting_and_large_backlogs(): void {
		global $wpdb;
		$settings                   = get_option( MeetBridge_Settings::OPTION );
		$settings['retention_days'] = 2;
		update_option( MeetBridge_Settings::OPTION, $settings );
		$table  = MeetBridge_Schema::tables()['outbox'];
		$values = array();
		foreach ( range( 1, 1200 ) as $n ) {
			$values[] = $wpdb->prepare( '(%s, 1, %s, %s, %s, %s, %d)', "b$n", 'booking.created', "msg_$n", '', 'sent', time() - 3 * DAY_IN_SECONDS );
		}
		$wpdb->query( "INSERT INTO {$table} (booking_id, revision, event_type, webhook_id, body, status, created_at) VALUES " . implode( ',', $values ) ); // phpcs:ignore
		$this->assertSame( 1200, MeetBridge_Outbox::prune(), 'in batches of 500, all of them' );
		$this->assertSame( array(), $this->outbox() );
	}

	public function test_settings_refuse_odd_retention_and_sync_values(): void {
		foreach ( array( '0', '91', '7.5', 'x', '-1' ) as $bad ) {
			$out = MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'site_test', 'retention_days' => $bad ) );
			$this->assertSame( 7, $out['retention_days'], $bad );
		}
		$out = MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'site_test', 'retention_days' => '30', 'ea_sync' => 'pending' ) );
		$this->assertSame( array( 30, 'pending' ), array( $out['retention_days'], $out['ea_sync'] ) );
		$out = MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'site_test', 'ea_sync' => 'always' ) );
		$this->assertSame( 'confirmed', $out['ea_sync'] );
	}

	public function test_maintenance_runs_at_most_every_15_minutes_from_the_sender(): void {
		do_action( 'meetbridge_booking_created', $this->booking( array( 'id' => 'old' ) ) );
		MeetBridge_Outbox::run( new MeetBridge_Fake_Client() ); // Its maintenance ran: nothing was old.
		$this->age( 30 );
		$this->assertNull( MeetBridge_Maintenance::maybe_run() );
		delete_option( MeetBridge_Settings::MAINTAINED );
		$this->assertSame( 1, MeetBridge_Maintenance::maybe_run()['pruned'] );
		$this->assertNull( MeetBridge_Maintenance::maybe_run() );
		update_option( MeetBridge_Settings::MAINTAINED, time() - 16 * MINUTE_IN_SECONDS, false );
		$this->assertSame( 0, MeetBridge_Maintenance::maybe_run()['pruned'] );
		$this->assertArrayHasKey( MeetBridge_Maintenance::SCHEDULE, wp_get_schedules() );
		$this->assertNotFalse( wp_next_scheduled( MeetBridge_Maintenance::HOOK ) );
	}

	public function test_schema_1_data_is_upgraded(): void {
		global $wpdb;
		$t = MeetBridge_Schema::tables();
		do_action( 'meetbridge_booking_created', $this->booking( array( 'id' => 'u' ) ) );
		MeetBridge_Outbox::run( new MeetBridge_Fake_Client() );
		do_action( 'meetbridge_booking_cancelled', array( 'id' => 'u' ) );
		// What schema 1 left: sent bodies, no last event, no customer hash.
		$body = wp_json_encode( array( 'type' => 'booking.created', 'booking' => $this->booking( array( 'id' => 'u' ) ) ) );
		$wpdb->query( $wpdb->prepare( "UPDATE {$t['outbox']} SET body = %s WHERE event_type = 'booking.created'", $body ) ); // phpcs:ignore
		$wpdb->query( "UPDATE {$t['bookings']} SET last_event = '', customer_hash = ''" ); // phpcs:ignore
		update_option( MeetBridge_Settings::DB_VERSION, '1' );
		MeetBridge_Schema::install();
		$row = MeetBridge_Bookings::get( 'u' );
		$this->assertSame( array( 'booking.cancelled', MeetBridge_Settings::customer_hash( 'cus@example.com' ) ), array( $row['last_event'], $row['customer_hash'] ) );
		$this->assertSame( array( '' ), array_values( array_unique( array_column( array_filter( $this->outbox(), static fn( $r ) => 'sent' === $r['status'] ), 'body' ) ) ) );
		$this->assertSame( MeetBridge_Schema::VERSION, get_option( MeetBridge_Settings::DB_VERSION ) );
	}
}
