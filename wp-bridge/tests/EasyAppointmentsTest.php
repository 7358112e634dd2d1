<?php
/**
 * The Easy Appointments adapter, driven by firing its hooks with the arguments Easy Appointments
 * passes (3.12+: easy_ea_new_app( $id, $app_data, $is_final ), easy_ea_edit_app( $id );
 * before: ea_new_app / ea_edit_app), against tables shaped like Easy Appointments' own; and the busy-slot
 * check, by applying easy_ea_can_make_reservation( $result, $data ) (ea_can_make_reservation before
 * 3.12) as EALogic::can_make_reservation() does from ajax_res_appointment().
 *
 * @package MeetBridge
 */

class EasyAppointmentsTest extends MeetBridge_Test_Case {

	public static function tearDownAfterClass(): void {
		MeetBridge_EA_Double::uninstall();
	}

	protected function setUp(): void {
		parent::setUp();
		global $wpdb;
		$p = $wpdb->prefix;
		// Easy Appointments 3.12.23's tables and defaults (tests/wordpress/fixtures), plus the rows
		// these tests use.
		MeetBridge_EA_Double::install( 'admin@example.com' );
		$wpdb->update( "{$p}ea_services", array( 'duration' => 45 ), array( 'id' => 1 ) );
		$wpdb->insert( "{$p}ea_staff", array( 'id' => 3, 'name' => 'Sam Staff', 'email' => 'sam.staff@example.com' ) );
		$wpdb->insert( "{$p}ea_staff", array( 'id' => 4, 'name' => 'Nobody', 'email' => 'not-a-user@example.com' ) );
		$wpdb->insert( "{$p}ea_locations", array( 'id' => 2, 'name' => 'Main office', 'address' => 'Street 1' ) );
		// These tests predate the setting; the confirmed-only default has tests of its own below.
		$this->ea_sync( 'pending' );
	}

	/**
	 * MeetBridge → Settings → Easy Appointments.
	 *
	 * @param string $mode `confirmed` or `pending`.
	 */
	private function ea_sync( string $mode ): void {
		$settings            = get_option( MeetBridge_Settings::OPTION );
		$settings['ea_sync'] = $mode;
		update_option( MeetBridge_Settings::OPTION, $settings );
	}

	/**
	 * Store an appointment as Easy Appointments does (row + custom fields); returns its $app_data.
	 */
	private function appointment( array $changes = array() ): array {
		global $wpdb;
		$p   = $wpdb->prefix;
		$app = array_merge(
			array( 'location' => 2, 'service' => 1, 'worker' => 3, 'date' => '2026-12-01', 'start' => '10:00', 'end' => '10:45', 'status' => 'confirmed', 'price' => '0' ),
			$changes
		);
		if ( isset( $app['id'] ) ) {
			$wpdb->replace( "{$p}ea_appointments", $app );
		} else {
			$wpdb->insert( "{$p}ea_appointments", $app );
			$app['id'] = $wpdb->insert_id;
			$wpdb->insert( "{$p}ea_fields", array( 'app_id' => $app['id'], 'field_id' => 1, 'value' => 'cus@example.com' ) );
			$wpdb->insert( "{$p}ea_fields", array( 'app_id' => $app['id'], 'field_id' => 2, 'value' => 'Cat Customer' ) );
		}
		return $app;
	}

	private function sent_bodies(): array {
		return array_map( static fn( $row ) => json_decode( $row['body'], true ), $this->outbox() );
	}

	public function test_new_appointment_from_the_booking_form_is_created(): void {
		$app = $this->appointment();
		do_action( 'easy_ea_new_app', $app['id'], $app, true );
		$bodies = $this->sent_bodies();
		$this->assertCount( 1, $bodies );
		$staff = get_user_by( 'email', 'sam.staff@example.com' );
		$this->assertSame(
			array(
				'type'    => 'booking.created',
				'booking' => array(
					'id'       => 'ea-' . $app['id'],
					'revision' => 1,
					'title'    => 'Consultation',
					'start'    => '2026-12-01T10:00:00+01:00',
					'end'      => '2026-12-01T10:45:00+01:00',
					'timezone' => 'Europe/Berlin',
					'staff'    => array( 'id' => (string) $staff->ID, 'email' => 'sam.staff@example.com', 'name' => 'Sam Staff' ),
					'customer' => array( 'email' => 'cus@example.com', 'name' => 'Cat Customer' ),
					'video'    => 'zoom',
					'location' => 'Main office, Street 1',
				),
			),
			$bodies[0]
		);
	}

	public function test_admin_edit_is_an_update_and_status_canceled_cancels(): void {
		$app = $this->appointment();
		do_action( 'easy_ea_new_app', $app['id'], $app, false );
		$this->appointment( array( 'id' => $app['id'], 'start' => '14:00', 'end' => '14:45' ) );
		do_action( 'easy_ea_edit_app', $app['id'] );
		// The customer cancels through the e-mail link: easy_ea_new_app with status 'canceled'.
		$cancelled = $this->appointment( array( 'id' => $app['id'], 'start' => '14:00', 'end' => '14:45', 'status' => 'canceled' ) );
		do_action( 'easy_ea_new_app', $app['id'], $cancelled );
		$bodies = $this->sent_bodies();
		$this->assertSame( array( 'booking.created', 'booking.updated', 'booking.cancelled' ), array_column( $bodies, 'type' ) );
		$this->assertSame( '2026-12-01T14:00:00+01:00', $bodies[1]['booking']['start'] );
		$this->assertSame( array( 1, 2, 3 ), array_map( static fn( $b ) => $b['booking']['revision'], $bodies ) );
		// Cancelling again sends nothing more.
		do_action( 'easy_ea_edit_app', $app['id'] );
		$this->assertCount( 3, $this->outbox() );
	}

	public function test_legacy_hook_names_and_a_worker_without_a_user(): void {
		$app = $this->appointment( array( 'worker' => 4 ) );
		do_action( 'ea_new_app', $app['id'], $app, true );
		do_action( 'ea_edit_app', $app['id'] );
		$bodies = $this->sent_bodies();
		$this->assertSame( array( 'booking.created', 'booking.updated' ), array_column( $bodies, 'type' ) );
		$this->assertSame( 'ea-worker-4', $bodies[0]['booking']['staff']['id'] );
	}

	public function test_a_cancelled_appointment_that_was_never_sent_sends_nothing_and_abandoned_cancels(): void {
		$app = $this->appointment( array( 'status' => 'canceled' ) );
		do_action( 'easy_ea_new_app', $app['id'], $app, false );
		$this->assertSame( array(), $this->outbox() );
		$other = $this->appointment();
		do_action( 'easy_ea_new_app', $other['id'], $other, true );
		$this->appointment( array( 'id' => $other['id'], 'status' => 'abandoned' ) );
		do_action( 'easy_ea_edit_app', $other['id'] );
		$this->assertSame( array( 'booking.created', 'booking.cancelled' ), array_column( $this->sent_bodies(), 'type' ) );
	}

	public function test_overnight_appointment_and_filters(): void {
		$video = static fn() => 'none';
		add_filter( 'meetbridge_ea_video', $video );
		$app = $this->appointment( array( 'start' => '23:30', 'end' => '00:15' ) );
		do_action( 'easy_ea_new_app', $app['id'], $app, true );
		remove_filter( 'meetbridge_ea_video', $video );
		$booking = $this->sent_bodies()[0]['booking'];
		$this->assertSame( '2026-12-02T00:15:00+01:00', $booking['end'] );
		$this->assertSame( 'none', $booking['video'] );
	}

	/**
	 * What ajax_res_appointment() passes: the reservation with its computed end, site time.
	 */
	private function reservation( array $changes = array() ): array {
		return array_merge(
			array( 'location' => '2', 'service' => '1', 'worker' => '3', 'date' => '2026-12-01', 'start' => '10:30', 'end' => '11:15', 'status' => 'reservation', 'price' => '0', 'ip' => '127.0.0.1', 'session' => '' ),
			$changes
		);
	}

	public function test_a_reservation_in_a_slot_the_worker_is_busy_in_is_refused(): void {
		$http = new MeetBridge_Fake_Http( array(), MeetBridge_Fake_Http::busy( array( array( '2026-12-01T09:00:00Z', '2026-12-01T10:00:00Z' ) ) ) );
		try {
			$allowed = array( 'status' => true, 'message' => '' );
			$busy    = apply_filters( 'easy_ea_can_make_reservation', $allowed, $this->reservation() );
			$this->assertFalse( $busy['status'] );
			$this->assertStringContainsString( 'no longer available', $busy['message'] );
			$staff = get_user_by( 'email', 'sam.staff@example.com' );
			$this->assertSame( array( 'staff_id' => (string) $staff->ID, 'from' => '2026-12-01T09:30:00Z', 'to' => '2026-12-01T10:15:00Z' ), $http->query( 0 )[2] );

			// 11:00-11:45 Berlin starts when the busy period ends: free.
			$this->assertSame( $allowed, apply_filters( 'easy_ea_can_make_reservation', $allowed, $this->reservation( array( 'start' => '11:00', 'end' => '11:45' ) ) ) );
			// Older Easy Appointments; a worker without a WordPress user is `ea-worker-{id}`, as in bookings.
			$this->assertFalse( apply_filters( 'ea_can_make_reservation', $allowed, $this->reservation( array( 'worker' => '4' ) ) )['status'] );
			$this->assertSame( 'ea-worker-4', $http->query( 2 )[2]['staff_id'] );
			// Already refused by Easy Appointments: nothing asked.
			$refused = array( 'status' => false, 'message' => 'Daily limit' );
			$this->assertSame( $refused, apply_filters( 'easy_ea_can_make_reservation', $refused, $this->reservation( array( 'date' => '2026-12-09' ) ) ) );
			$this->assertCount( 3, $http->requests );
		} finally {
			$http->stop();
		}
	}

	public function test_a_reservation_goes_ahead_when_busy_times_cannot_be_checked(): void {
		$http = new MeetBridge_Fake_Http( array(), MeetBridge_Fake_Http::error( 503, 'provider_unavailable', array( 'retry-after' => '3' ) ) );
		try {
			$allowed = array( 'status' => true, 'message' => '' );
			$this->assertSame( $allowed, apply_filters( 'easy_ea_can_make_reservation', $allowed, $this->reservation() ) );
			$this->assertSame( $allowed, apply_filters( 'easy_ea_can_make_reservation', $allowed, $this->reservation( array( 'date' => 'garbage' ) ) ) );
			$this->assertCount( 1, $http->requests );
			$this->assertArrayHasKey( 'provider_unavailable:' . get_user_by( 'email', 'sam.staff@example.com' )->ID, MeetBridge_Availability::warnings() );
		} finally {
			$http->stop();
		}
	}
}
