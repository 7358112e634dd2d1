<?php
/**
 * The Amelia adapter against what Amelia Lite 1.2.34 really did (tests/fixtures/ameliabooking-1.2.34.json,
 * recorded in WordPress 6.1.9 while a customer booked through `[ameliastepbooking]` in Chromium and an
 * admin worked in Amelia's screens): its tables as Amelia created them, and per step the hooks it fired
 * with their arguments and the rows at that moment. Each test replays steps, and checks what wp-bridge
 * queued for MeetBridge (the outbox) or what the slot filter and the e-mail placeholder return.
 *
 * @package MeetBridge
 */

require_once __DIR__ . '/class-meetbridge-adapter-test-case.php';

class AmeliaTest extends MeetBridge_Adapter_Test_Case {

	protected static function fixture(): string {
		return 'ameliabooking-1.2.34';
	}

	protected static function adapter(): string {
		return 'MeetBridge_Amelia';
	}

	protected function setUp(): void {
		parent::setUp();
		update_option( 'gmt_offset', 0 );
	}

	/** The appointment Amelia passed to amelia_after_booking_added in a step. */
	private function booked( string $step ): array {
		return self::recording()->args( $step, 'amelia_after_booking_added' )[0]['appointment'];
	}

	/** Amelia's own local time of an appointment (its hook arguments), as RFC 3339 in the site's zone. */
	private function local( string $time ): string {
		return ( new DateTimeImmutable( $time, new DateTimeZone( 'Europe/Berlin' ) ) )->format( DATE_RFC3339 );
	}

	public function test_only_loaded_with_amelia(): void {
		$this->assertFalse( defined( 'AMELIA_VERSION' ) );
		$this->assertSame( array(), MeetBridge_Integrations::active() );
	}

	public function test_a_front_end_booking_is_created_with_its_employee_customer_and_times(): void {
		$this->replay( 'booked_front_end' );
		$appointment = $this->booked( 'booked_front_end' );
		$sam         = get_user_by( 'email', 'sam.staff@example.com' );
		$this->assertSame(
			array(
				array(
					'type'    => 'booking.created',
					'booking' => array(
						'id'       => 'amelia-' . $appointment['id'],
						'revision' => 1,
						'title'    => 'Intro call',
						'start'    => $this->local( $appointment['bookingStart'] ),
						'end'      => $this->local( $appointment['bookingEnd'] ),
						'timezone' => 'Europe/Berlin',
						'staff'    => array( 'id' => (string) $sam->ID, 'email' => 'sam.staff@example.com', 'name' => 'Sam Staff' ),
						'customer' => array( 'email' => 'cat@example.com', 'name' => 'Cat Customer' ),
						'video'    => 'zoom',
						'location' => null,
					),
				),
			),
			$this->bodies()
		);
	}

	public function test_times_across_a_daylight_saving_change(): void {
		$this->replay( 'booked_front_end', 'booked_across_dst' );
		list( $winter, $summer ) = array_column( $this->bodies(), 'booking' );
		$this->assertSame( $this->local( $this->booked( 'booked_front_end' )['bookingStart'] ), $winter['start'] );
		$this->assertSame( $this->local( $this->booked( 'booked_across_dst' )['bookingStart'] ), $summer['start'] );
		$this->assertNotSame( substr( $winter['start'], -6 ), substr( $summer['start'], -6 ) ); // +01:00 and +02:00.
		// Amelia's table holds UTC: the offset changed, the wall-clock time did not.
		$this->assertSame( substr( $winter['start'], 11, 5 ), substr( $summer['start'], 11, 5 ) );
	}

	public function test_times_in_another_site_zone_are_the_same_instants(): void {
		update_option( 'timezone_string', 'America/New_York' );
		$this->replay( 'booked_front_end', 'booked_across_dst' );
		foreach ( array( 'booked_front_end', 'booked_across_dst' ) as $i => $step ) {
			$booking = $this->bodies()[ $i ]['booking'];
			$this->assertSame( 'America/New_York', $booking['timezone'] );
			$this->assertMatchesRegularExpression( '/-0[45]:00$/', $booking['start'] );
			$this->assertSame( strtotime( $this->local( $this->booked( $step )['bookingStart'] ) ), strtotime( $booking['start'] ) );
		}
		// A site set to a bare offset (no zone name): an Etc/GMT zone, same instants.
		update_option( 'timezone_string', '' );
		update_option( 'gmt_offset', -3 );
		$this->assertSame( 'Etc/GMT+3', MeetBridge_Amelia::map( MeetBridge_Amelia::load( (int) $this->booked( 'booked_front_end' )['id'] ) )['timezone'] );
	}

	public function test_admin_edit_moves_it_status_canceled_cancels_and_deleting_cancels(): void {
		$this->replay( 'booked_front_end', 'booked_across_dst', 'admin_edited_time', 'admin_status_canceled' );
		$bodies = $this->bodies();
		$this->assertSame( array( 'booking.created', 'booking.created', 'booking.updated', 'booking.cancelled' ), array_column( $bodies, 'type' ) );
		$winter = 'amelia-' . $this->booked( 'booked_front_end' )['id'];
		$this->assertSame( $winter, $bodies[2]['booking']['id'] );
		$this->assertSame( '11:30', substr( $bodies[2]['booking']['start'], 11, 5 ) );
		$this->assertSame( array( 'id', 'revision', 'staff' ), array_keys( $bodies[3]['booking'] ) );
		$this->assertSame( 'amelia-' . $this->booked( 'booked_across_dst' )['id'], $bodies[3]['booking']['id'] );

		$this->replay( 'admin_deleted' );
		$last = $this->bodies()[4];
		$this->assertSame( array( 'booking.cancelled', $winter, 3 ), array( $last['type'], $last['booking']['id'], $last['booking']['revision'] ) );
		// Deleted twice (a retried request): nothing more.
		$this->replay( 'admin_deleted' );
		$this->assertCount( 5, $this->outbox() );
	}

	public function test_pending_and_approved_again_send_nothing_new(): void {
		$this->replay( 'booked_for_pending', 'admin_status_pending', 'admin_status_approved' );
		$this->assertSame( array( 'booking.created' ), array_column( $this->bodies(), 'type' ) );
	}

	public function test_a_pending_booking_gets_no_meeting_unless_the_site_says_so(): void {
		// The rows of the "pending" step, with only that appointment: as if it had been booked pending.
		$calls   = self::recording()->calls( 'admin_status_pending' );
		$pending = self::recording()->args( 'admin_status_pending', 'amelia_after_appointment_status_updated' );
		self::recording()->set_tables( $calls[0]['tables'] );
		do_action_ref_array( 'amelia_after_appointment_status_updated', $pending );
		$this->assertSame( array(), $this->outbox() );
		$with_pending = static fn() => array( 'approved', 'pending' );
		add_filter( 'meetbridge_amelia_active_statuses', $with_pending );
		do_action_ref_array( 'amelia_after_appointment_status_updated', $pending );
		remove_filter( 'meetbridge_amelia_active_statuses', $with_pending );
		$this->assertSame( array( 'booking.created' ), array_column( $this->bodies(), 'type' ) );
	}

	public function test_a_customer_cancelling_by_the_email_link_is_caught_at_the_end_of_the_request(): void {
		$this->replay( 'booked_for_customer_cancel' );
		$calls = self::recording()->calls( 'customer_cancelled_by_link' );
		// Amelia fires only amelia_before_booking_canceled (no "after" without a success URL)...
		$this->assertSame( array( 'amelia_before_booking_canceled', '@shutdown' ), array_column( $calls, 'hook' ) );
		self::recording()->set_tables( $calls[0]['tables'] );
		do_action_ref_array( 'amelia_before_booking_canceled', $calls[0]['args'] );
		$this->assertCount( 1, $this->outbox() ); // ...before it saves the change.
		self::recording()->set_tables( $calls[1]['tables'] );
		MeetBridge_Integration::run_later();
		$this->assertSame( array( 'booking.created', 'booking.cancelled' ), array_column( $this->bodies(), 'type' ) );
	}

	public function test_admin_added_and_moved_in_the_calendar(): void {
		$this->replay( 'admin_added', 'calendar_moved' );
		$bodies = $this->bodies();
		$this->assertSame( array( 'booking.created', 'booking.updated' ), array_column( $bodies, 'type' ) );
		$added = self::recording()->args( 'admin_added', 'amelia_after_appointment_added' )[0];
		$moved = self::recording()->args( 'calendar_moved', 'amelia_after_booking_rescheduled' )[0];
		$this->assertSame( 'amelia-' . $added['id'], $bodies[0]['booking']['id'] );
		$this->assertSame( $this->local( $added['bookingStart'] ), $bodies[0]['booking']['start'] );
		$this->assertSame( $this->local( $moved['bookingStart'] ), $bodies[1]['booking']['start'] );
		$this->assertSame( 'cat@example.com', $bodies[1]['booking']['customer']['email'] );
	}

	public function test_approved_again_after_a_cancellation_is_created_again(): void {
		$this->replay( 'booked_across_dst', 'admin_status_canceled', 'booked_across_dst' );
		$this->assertSame( array( 'booking.created', 'booking.cancelled', 'booking.created' ), array_column( $this->bodies(), 'type' ) );
		$this->assertSame( array( 1, 2, 3 ), array_map( static fn( $b ) => $b['booking']['revision'], $this->bodies() ) );
	}

	public function test_no_show_changes_nothing(): void {
		$this->replay( 'booked_front_end' );
		$calls = self::recording()->calls( 'booked_front_end' );
		$rows  = end( $calls )['tables'];
		$id    = $this->booked( 'booked_front_end' )['id'];
		foreach ( $rows['amelia_appointments'] as $i => $row ) {
			if ( (string) $id === (string) $row['id'] ) {
				$rows['amelia_appointments'][ $i ]['status'] = 'no-show';
			}
		}
		self::recording()->set_tables( $rows );
		MeetBridge_Amelia::sync( (int) $id );
		$this->assertCount( 1, $this->outbox() );
	}

	public function test_staff_mapping_linked_user_then_email_then_filter(): void {
		$provider = array( 'id' => 1, 'externalId' => null, 'email' => 'sam.staff@example.com' );
		$sam      = (string) get_user_by( 'email', 'sam.staff@example.com' )->ID;
		$this->assertSame( $sam, MeetBridge_Amelia::staff_id( $provider ) );
		// Linked to a WordPress user ("WordPress User" in Amelia): that user, whatever the e-mail.
		$this->assertSame( '1', MeetBridge_Amelia::staff_id( array( 'externalId' => '1' ) + $provider ) );
		// A linked user that no longer exists falls back to the e-mail; no user at all: Amelia's id.
		$this->assertSame( $sam, MeetBridge_Amelia::staff_id( array( 'externalId' => '999999' ) + $provider ) );
		$this->assertSame( 'amelia-provider-1', MeetBridge_Amelia::staff_id( array( 'email' => 'nobody@example.com' ) + $provider ) );
		$override = static fn( $staff_id, $p ) => 'staff-' . $p['id'];
		add_filter( 'meetbridge_amelia_staff_id', $override, 10, 2 );
		$this->assertSame( 'staff-1', MeetBridge_Amelia::staff_id( $provider ) );
		remove_filter( 'meetbridge_amelia_staff_id', $override, 10 );
	}

	public function test_video_filter_and_an_unreadable_appointment_is_rejected(): void {
		$video = static fn() => 'none';
		add_filter( 'meetbridge_amelia_video', $video );
		$this->replay( 'booked_front_end' );
		remove_filter( 'meetbridge_amelia_video', $video );
		$this->assertSame( 'none', $this->bodies()[0]['booking']['video'] );

		$rejected = array();
		$catch    = static function ( $error ) use ( &$rejected ) {
			$rejected[] = $error->get_error_data()['field'];
		};
		add_action( 'meetbridge_booking_rejected', $catch );
		global $wpdb;
		$wpdb->update( $wpdb->prefix . 'amelia_appointments', array( 'bookingStart' => '0000-00-00 00:00:00' ), array( 'id' => $this->booked( 'booked_front_end' )['id'] ) );
		MeetBridge_Integration::reset();
		MeetBridge_Amelia::sync( (int) $this->booked( 'booked_front_end' )['id'] );
		remove_action( 'meetbridge_booking_rejected', $catch );
		$this->assertSame( array( 'start' ), $rejected );
		$this->assertCount( 1, $this->outbox() );
	}

	public function test_slots_busy_in_google_calendar_disappear_from_the_form(): void {
		list( $result, $props ) = self::recording()->args( 'slots_front_end', 'amelia_get_timeslots_filter' );
		$this->assertTrue( $props['isFrontEndBooking'] );
		$day   = array_keys( $result['slots'] )[1];
		$times = array_keys( $result['slots'][ $day ] );
		$busy  = new DateTimeImmutable( $day . ' ' . $times[2], new DateTimeZone( 'Europe/Berlin' ) ); // The third slot of the day.
		$http  = new MeetBridge_Fake_Http(
			array(),
			MeetBridge_Fake_Http::busy( array( array( gmdate( 'Y-m-d\TH:i:s\Z', $busy->getTimestamp() + 60 ), gmdate( 'Y-m-d\TH:i:s\Z', $busy->getTimestamp() + 120 ) ) ) )
		);
		try {
			$filtered = apply_filters( 'amelia_get_timeslots_filter', $result, $props );
			$this->assertSame( array_values( array_diff( $times, array( $times[2] ) ) ), array_keys( $filtered['slots'][ $day ] ) );
			$this->assertSame( array_keys( $result['slots'] ), array_keys( $filtered['slots'] ) );
			$this->assertSame( $result['occupied'], $filtered['occupied'] );
			// One question to MeetBridge for the employee, over the whole window the form shows.
			$this->assertCount( 1, $http->requests );
			$query = $http->query( 0 )[2];
			$this->assertSame( (string) get_user_by( 'email', 'sam.staff@example.com' )->ID, $query['staff_id'] );
			$first = array_keys( $result['slots'] )[0] . ' ' . array_keys( reset( $result['slots'] ) )[0];
			$this->assertSame( gmdate( 'Y-m-d\TH:i:s\Z', ( new DateTimeImmutable( $first, new DateTimeZone( 'Europe/Berlin' ) ) )->getTimestamp() ), $query['from'] );
			// The back end (an admin booking by hand) is left alone.
			$this->assertSame( $result, apply_filters( 'amelia_get_timeslots_filter', $result, array( 'isFrontEndBooking' => false ) + $props ) );
		} finally {
			$http->stop();
		}
	}

	public function test_slots_stay_when_meetbridge_cannot_say(): void {
		list( $result, $props ) = self::recording()->args( 'slots_front_end', 'amelia_get_timeslots_filter' );
		$http                   = new MeetBridge_Fake_Http( array(), MeetBridge_Fake_Http::error( 503, 'provider_unavailable', array( 'retry-after' => '5' ) ) );
		try {
			$this->assertSame( $result, apply_filters( 'amelia_get_timeslots_filter', $result, $props ) );
			$this->assertCount( 1, $http->requests );
		} finally {
			$http->stop();
		}
	}

	public function test_slot_times_are_utc_when_amelia_shows_the_customers_zone(): void {
		list( $result, $props ) = self::recording()->args( 'slots_front_end', 'amelia_get_timeslots_filter' );
		update_option( 'amelia_settings', wp_json_encode( array( 'general' => array( 'showClientTimeZone' => true ) ) ) );
		$day  = array_keys( $result['slots'] )[0];
		$time = array_keys( $result['slots'][ $day ] )[0];
		$http = new MeetBridge_Fake_Http( array(), MeetBridge_Fake_Http::busy( array( array( $day . 'T' . $time . ':00Z', $day . 'T' . $time . ':10Z' ) ) ) );
		try {
			$filtered = apply_filters( 'amelia_get_timeslots_filter', $result, $props );
			$this->assertSame( array_slice( array_keys( $result['slots'][ $day ] ), 1 ), array_keys( $filtered['slots'][ $day ] ) );
		} finally {
			$http->stop();
			delete_option( 'amelia_settings' );
		}
	}

	public function test_the_email_placeholder(): void {
		$this->replay( 'booked_front_end' );
		$id   = $this->booked( 'booked_front_end' )['id'];
		$data = array( 'appointment_id' => (string) $id, 'customer_email' => 'cat@example.com' );
		$page = function_exists( 'meetbridge_join_page_url' );
		// Before MeetBridge made the meeting (when Amelia sends its confirmation).
		$before = apply_filters( MeetBridge_Amelia::PLACEHOLDER, $data );
		$this->assertSame( $page ? meetbridge_join_page_url( 'amelia-' . $id, 'cat@example.com' ) : '', $before );
		MeetBridge_Bookings::apply_result(
			'booking.synced',
			array( 'booking_id' => 'amelia-' . $id, 'revision' => 1, 'state' => 'synced', 'zoom' => array( 'meeting_id' => '9', 'join_url' => 'https://zoom.us/j/9?pwd=x' ) )
		);
		$this->assertSame( $page ? $before : 'https://zoom.us/j/9?pwd=x', apply_filters( MeetBridge_Amelia::PLACEHOLDER, $data ) );
		$this->assertSame( '', apply_filters( MeetBridge_Amelia::PLACEHOLDER, array( 'customer_email' => 'cat@example.com' ) ) );
	}

	public function test_a_resend_sends_the_booking_again_past_the_nothing_changed_check(): void {
		$this->replay( 'booked_front_end' );
		$id = (int) $this->booked( 'booked_front_end' )['id'];
		$this->assert_a_resend_sends_it_again( $id, 'amelia-' . $id, 'zoom' );
	}
}
