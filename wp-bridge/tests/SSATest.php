<?php
/**
 * The Simply Schedule Appointments adapter against what SSA 1.6.12.21 really did
 * (tests/fixtures/simply-schedule-appointments-1.6.12.21.json, recorded in WordPress 6.1.9 while a
 * customer whose browser was in UTC booked through SSA's booking app in Chromium, rescheduled and
 * cancelled from the appointment's page, and an admin cancelled in SSA's admin): SSA's tables, and per
 * step the model hooks it fired with their arguments and the rows at that moment.
 *
 * @package MeetBridge
 */

require_once __DIR__ . '/class-meetbridge-adapter-test-case.php';

class SSATest extends MeetBridge_Adapter_Test_Case {

	protected static function fixture(): string {
		return 'simply-schedule-appointments-1.6.12.21';
	}

	protected static function adapter(): string {
		return 'MeetBridge_SSA';
	}

	/** The appointment SSA passed to ssa/appointment/after_insert in a step: [ id, data ]. */
	private function inserted( string $step ): array {
		return self::recording()->args( $step, 'ssa/appointment/after_insert' );
	}

	/** An SSA UTC date-time as RFC 3339 in Berlin. */
	private function local( string $utc ): string {
		return ( new DateTimeImmutable( $utc, new DateTimeZone( 'UTC' ) ) )->setTimezone( new DateTimeZone( 'Europe/Berlin' ) )->format( DATE_RFC3339 );
	}

	private function web_meeting_url( int $id ): string {
		global $wpdb;
		return (string) $wpdb->get_var( $wpdb->prepare( "SELECT web_meeting_url FROM {$wpdb->prefix}ssa_appointments WHERE id = %d", $id ) );
	}

	public function test_only_loaded_with_ssa(): void {
		$this->assertFalse( defined( 'SSA_PLUGIN_BASENAME' ) );
		$this->assertSame( array(), MeetBridge_Integrations::active() );
	}

	public function test_a_booking_is_created_with_the_type_owner_as_staff_and_the_customer_it_typed(): void {
		$this->replay( 'booked_front_end' );
		list( $id, $data ) = $this->inserted( 'booked_front_end' );
		$owner             = get_userdata( 1 );
		$this->assertSame(
			array(
				array(
					'type'    => 'booking.created',
					'booking' => array(
						'id'       => 'ssa-' . $id,
						'revision' => 1,
						'title'    => 'Intro call',
						'start'    => $this->local( $data['start_date'] ),
						'end'      => $this->local( $data['end_date'] ),
						'timezone' => 'Europe/Berlin',
						'staff'    => array( 'id' => '1', 'email' => $owner->user_email, 'name' => $owner->display_name ),
						'customer' => array( 'email' => 'cat@example.com', 'name' => 'Cat Customer' ),
						'video'    => 'zoom',
						'location' => null,
					),
				),
			),
			$this->bodies()
		);
	}

	public function test_times_across_a_daylight_saving_change_and_in_another_zone(): void {
		$this->replay( 'booked_front_end', 'booked_across_dst' );
		list( $winter, $summer ) = array_column( $this->bodies(), 'booking' );
		$this->assertSame( $this->local( $this->inserted( 'booked_across_dst' )[1]['start_date'] ), $summer['start'] );
		$this->assertNotSame( substr( $winter['start'], -6 ), substr( $summer['start'], -6 ) );

		update_option( 'timezone_string', 'America/New_York' );
		$ny = MeetBridge_SSA::map( MeetBridge_SSA::load( (int) $this->inserted( 'booked_across_dst' )[0] ) );
		$this->assertSame( 'America/New_York', $ny['timezone'] );
		$this->assertSame( strtotime( $summer['start'] ), strtotime( $ny['start'] ) );
		$this->assertMatchesRegularExpression( '/-04:00$/', $ny['start'] );
	}

	public function test_rescheduled_and_cancelled_from_the_appointment_page_and_by_the_admin(): void {
		$this->replay( 'booked_front_end', 'booked_across_dst', 'customer_rescheduled', 'customer_cancelled', 'booked_for_admin_cancel', 'admin_cancelled' );
		$bodies = $this->bodies();
		$this->assertSame( array( 'booking.created', 'booking.created', 'booking.updated', 'booking.cancelled', 'booking.created', 'booking.cancelled' ), array_column( $bodies, 'type' ) );
		$moved = self::recording()->args( 'customer_rescheduled', 'ssa/appointment/after_update' )[1];
		$this->assertSame( $this->local( $moved['start_date'] ), $bodies[2]['booking']['start'] );
	}

	public function test_the_web_meeting_url_follows_the_meeting_and_leaves_other_urls(): void {
		$this->replay( 'booked_front_end' );
		$id   = (int) $this->inserted( 'booked_front_end' )[0];
		$page = function_exists( 'meetbridge_join_page_url' );
		// The replay puts back the rows SSA left at each recorded step (recorded before join pages
		// existed, so with an empty URL); what the adapter writes at the end of the request is what
		// it writes when it syncs the appointment as it is now.
		MeetBridge_Integration::reset();
		MeetBridge_SSA::sync( $id );
		$this->assertSame( $page ? meetbridge_join_page_url( 'ssa-' . $id, 'cat@example.com' ) : '', $this->web_meeting_url( $id ) );
		$result = array( 'booking_id' => 'ssa-' . $id, 'revision' => 1, 'state' => 'synced', 'zoom' => array( 'meeting_id' => '9', 'join_url' => 'https://zoom.us/j/9?pwd=x' ) );
		MeetBridge_Bookings::apply_result( 'booking.synced', $result );
		do_action( 'meetbridge_result_received', 'booking.synced', $result );
		$url = $page ? meetbridge_join_page_url( 'ssa-' . $id, 'cat@example.com' ) : 'https://zoom.us/j/9?pwd=x';
		$this->assertSame( $url, $this->web_meeting_url( $id ) );

		// The customer cancels: the link goes.
		$this->replay( 'customer_cancelled' );
		$cancelled = self::recording()->args( 'customer_cancelled', 'ssa/appointment/after_update' );
		$this->assertSame( '', $this->web_meeting_url( (int) $cancelled[0] ) );

		// A web meeting URL set for another service (SSA's own integrations, an admin) is left alone.
		global $wpdb;
		$wpdb->update( $wpdb->prefix . 'ssa_appointments', array( 'web_meeting_url' => 'https://meet.example.com/abc', 'status' => 'booked' ), array( 'id' => $id ) );
		MeetBridge_Integration::reset();
		MeetBridge_SSA::sync( $id );
		do_action( 'meetbridge_result_received', 'booking.synced', $result );
		$this->assertSame( 'https://meet.example.com/abc', $this->web_meeting_url( $id ) );
	}

	public function test_held_times_get_no_meeting_abandoned_and_deleted_cancel(): void {
		global $wpdb;
		$table = $wpdb->prefix . 'ssa_appointments';
		$this->replay( 'booked_front_end' );
		list( $id ) = $this->inserted( 'booked_front_end' );
		// A time held while the customer fills in the form (or pays): nothing new; one already made stays.
		$wpdb->update( $table, array( 'status' => 'pending_form' ), array( 'id' => $id ) );
		do_action( 'ssa/appointment/after_update', $id, array( 'status' => 'pending_form' ), array(), null );
		$this->assertCount( 1, $this->outbox() );
		$wpdb->update( $table, array( 'status' => 'abandoned' ), array( 'id' => $id ) );
		do_action( 'ssa/appointment/after_update', $id, array( 'status' => 'abandoned' ), array(), null );
		$this->assertSame( array( 'booking.created', 'booking.cancelled' ), array_column( $this->bodies(), 'type' ) );

		// Booked again (SSA has no named action for it: the model's after_update is enough), then deleted.
		$wpdb->update( $table, array( 'status' => 'booked' ), array( 'id' => $id ) );
		do_action( 'ssa/appointment/after_update', $id, array( 'status' => 'booked' ), array( 'status' => 'abandoned' ), null );
		$wpdb->delete( $table, array( 'id' => $id ) );
		do_action( 'ssa/appointment/after_delete', $id, false, 1 );
		$this->assertSame( array( 'booking.created', 'booking.cancelled', 'booking.created', 'booking.cancelled' ), array_column( $this->bodies(), 'type' ) );

		// A brand-new held time: nothing at all.
		$held = self::recording()->calls( 'booked_front_end' )[0]['tables']['ssa_appointments'][0]; // As SSA stores one.
		$wpdb->insert( $table, array( 'id' => 999, 'status' => 'pending_form' ) + $held );
		do_action( 'ssa/appointment/after_insert', 999, array() );
		$this->assertCount( 4, $this->outbox() );
		$with_pending = static fn() => array( 'booked', 'pending_form' );
		add_filter( 'meetbridge_ssa_active_statuses', $with_pending );
		do_action( 'ssa/appointment/after_insert', 999, array() );
		remove_filter( 'meetbridge_ssa_active_statuses', $with_pending );
		$this->assertCount( 5, $this->outbox() );
	}

	public function test_staff_the_type_owner_else_the_type_and_a_filter(): void {
		$this->replay( 'booked_front_end' );
		$appointment = MeetBridge_SSA::load( (int) $this->inserted( 'booked_front_end' )[0] );
		$this->assertSame( '1', MeetBridge_SSA::staff( $appointment )['id'] );
		$appointment['type']['author_id'] = 999999; // An owner that no longer exists.
		$this->assertSame( array( 'id' => 'ssa-type-1', 'email' => '', 'name' => '' ), MeetBridge_SSA::staff( $appointment ) );
		$override = static fn( $staff_id, $a ) => 'staff-of-' . $a['appointment_type_id'];
		add_filter( 'meetbridge_ssa_staff_id', $override, 10, 2 );
		$this->assertSame( 'staff-of-1', MeetBridge_SSA::staff( $appointment )['id'] );
		remove_filter( 'meetbridge_ssa_staff_id', $override, 10 );
	}

	public function test_a_team_member_of_ssa_business_is_the_staff(): void {
		// Not observed (SSA Business is not free): its appointments' `staff_ids` and its `ssa_staff`
		// rows as SSA's code reads them (a JSON list of ids; rows with `user_id` and `email`).
		global $wpdb;
		$wpdb->query( "CREATE TABLE IF NOT EXISTS {$wpdb->prefix}ssa_staff (id int AUTO_INCREMENT PRIMARY KEY, user_id int, name varchar(255), email varchar(255))" );
		$wpdb->insert( $wpdb->prefix . 'ssa_staff', array( 'id' => 7, 'user_id' => 0, 'name' => 'Sam Staff', 'email' => 'sam.staff@example.com' ) );
		try {
			$sam = (string) get_user_by( 'email', 'sam.staff@example.com' )->ID;
			$this->assertSame( array( 'id' => $sam, 'email' => 'sam.staff@example.com', 'name' => 'Sam Staff' ), MeetBridge_SSA::staff( array( 'staff' => array( 'id' => 7, 'user_id' => 0, 'name' => 'Sam Staff', 'email' => 'sam.staff@example.com' ) ) ) );
			$this->assertSame( 'ssa-staff-7', MeetBridge_SSA::staff( array( 'staff' => array( 'id' => 7, 'email' => 'x@example.com' ) ) )['id'] );
		} finally {
			$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}ssa_staff" );
		}
	}

	public function test_a_time_busy_in_google_calendar_is_refused_when_ssa_reserves_it(): void {
		$this->replay( 'booked_front_end' ); // The appointment type.
		list( $data ) = self::recording()->args( 'busy_refused', 'ssa/appointment/before_insert' );
		$start        = strtotime( $data['start_date'] . ' UTC' );
		$http         = new MeetBridge_Fake_Http( array(), MeetBridge_Fake_Http::busy( array( array( gmdate( 'Y-m-d\TH:i:s\Z', $start - 600 ), gmdate( 'Y-m-d\TH:i:s\Z', $start + 600 ) ) ) ) );
		try {
			$refused = apply_filters( 'ssa/appointment/before_insert', $data, '' );
			$this->assertSame( 'meetbridge_busy', $refused['error']['code'] );
			$this->assertStringContainsString( 'no longer available', $refused['error']['message'] );
			$this->assertSame( array( 'staff_id' => '1', 'from' => gmdate( 'Y-m-d\TH:i:s\Z', $start ), 'to' => gmdate( 'Y-m-d\TH:i:s\Z', strtotime( $data['end_date'] . ' UTC' ) ) ), $http->query( 0 )[2] );
			// Starting when the busy time ends: free.
			$later = array( 'start_date' => gmdate( 'Y-m-d H:i:s', $start + 600 ), 'end_date' => gmdate( 'Y-m-d H:i:s', $start + 2400 ) ) + $data;
			$this->assertSame( $later, apply_filters( 'ssa/appointment/before_insert', $later, '' ) );
		} finally {
			$http->stop();
		}
	}

	public function test_a_reservation_goes_ahead_when_busy_times_cannot_be_checked(): void {
		$this->replay( 'booked_front_end' );
		list( $data ) = self::recording()->args( 'busy_refused', 'ssa/appointment/before_insert' );
		$http         = new MeetBridge_Fake_Http( array(), MeetBridge_Fake_Http::error( 404, 'not_linked' ) );
		try {
			$this->assertSame( $data, apply_filters( 'ssa/appointment/before_insert', $data, '' ) );
		} finally {
			$http->stop();
		}
	}

	public function test_a_resend_sends_the_booking_again_past_the_nothing_changed_check(): void {
		$this->replay( 'booked_front_end' );
		$id = (int) $this->inserted( 'booked_front_end' )[0];
		$this->assert_a_resend_sends_it_again( $id, 'ssa-' . $id, 'zoom' );
	}
}
