<?php
/**
 * The LatePoint adapter against what LatePoint 5.6.5 really did (tests/fixtures/latepoint-5.6.5.json,
 * recorded in WordPress 6.1.9 while a customer booked through `[latepoint_book_form]` in Chromium and an
 * admin worked in LatePoint's screens): its tables as LatePoint created them, and per step the hooks it
 * fired with their arguments (its booking models, as their fields) and the rows at that moment.
 *
 * @package MeetBridge
 */

require_once __DIR__ . '/class-meetbridge-adapter-test-case.php';
require_once __DIR__ . '/latepoint-booked-period.php';

class LatePointTest extends MeetBridge_Adapter_Test_Case {

	protected static function fixture(): string {
		return 'latepoint-5.6.5';
	}

	protected static function adapter(): string {
		return 'MeetBridge_LatePoint';
	}

	/** The booking LatePoint passed to latepoint_booking_created in a step. */
	private function created( string $step ): array {
		return self::recording()->args( $step, 'latepoint_booking_created' )[0];
	}

	/** LatePoint's own site-time fields of a booking (date, minutes after midnight) as RFC 3339. */
	private function local( array $booking, string $date, string $minutes ): string {
		$day = new DateTimeImmutable( $booking[ $date ], new DateTimeZone( 'Europe/Berlin' ) );
		return $day->modify( '+' . (int) $booking[ $minutes ] . ' minutes' )->format( DATE_RFC3339 );
	}

	public function test_only_loaded_with_latepoint(): void {
		$this->assertFalse( defined( 'LATEPOINT_VERSION' ) );
		$this->assertSame( array(), MeetBridge_Integrations::active() );
	}

	public function test_a_front_end_booking_is_created_with_its_agent_customer_and_times(): void {
		$this->replay( 'booked_front_end' );
		$booking = $this->created( 'booked_front_end' );
		$sam     = get_user_by( 'email', 'sam.staff@example.com' );
		$this->assertSame(
			array(
				array(
					'type'    => 'booking.created',
					'booking' => array(
						'id'       => 'latepoint-' . $booking['id'],
						'revision' => 1,
						'title'    => 'Intro call',
						'start'    => $this->local( $booking, 'start_date', 'start_time' ),
						'end'      => $this->local( $booking, 'end_date', 'end_time' ),
						'timezone' => 'Europe/Berlin',
						'staff'    => array( 'id' => (string) $sam->ID, 'email' => 'sam.staff@example.com', 'name' => 'Sam Staff' ),
						'customer' => array( 'email' => 'cat@example.com', 'name' => 'Cat Customer' ),
						'video'    => 'zoom',
						'location' => 'Main Location',
					),
				),
			),
			$this->bodies()
		);
	}

	public function test_times_across_a_daylight_saving_change_and_in_another_zone(): void {
		$this->replay( 'booked_front_end', 'booked_across_dst' );
		list( $winter, $summer ) = array_column( $this->bodies(), 'booking' );
		$this->assertSame( $this->local( $this->created( 'booked_across_dst' ), 'start_date', 'start_time' ), $summer['start'] );
		$this->assertNotSame( substr( $winter['start'], -6 ), substr( $summer['start'], -6 ) );
		$this->assertSame( substr( $winter['start'], 11, 5 ), substr( $summer['start'], 11, 5 ) );

		update_option( 'timezone_string', 'America/New_York' );
		$id = (int) $this->created( 'booked_across_dst' )['id'];
		$ny = MeetBridge_LatePoint::map( MeetBridge_LatePoint::load( $id ) );
		$this->assertSame( 'America/New_York', $ny['timezone'] );
		$this->assertMatchesRegularExpression( '/-04:00$/', $ny['start'] );
		$this->assertSame( strtotime( $summer['start'] ), strtotime( $ny['start'] ) );
	}

	public function test_admin_edit_status_cancelled_and_a_deleted_order_cancel(): void {
		$this->replay( 'booked_front_end', 'booked_across_dst', 'admin_edited_time', 'admin_status_cancelled' );
		$bodies = $this->bodies();
		$this->assertSame( array( 'booking.created', 'booking.created', 'booking.updated', 'booking.cancelled' ), array_column( $bodies, 'type' ) );
		$winter = 'latepoint-' . $this->created( 'booked_front_end' )['id'];
		$moved  = self::recording()->args( 'admin_edited_time', 'latepoint_booking_updated' )[0];
		$this->assertSame( $this->local( $moved, 'start_date', 'start_time' ), $bodies[2]['booking']['start'] );
		$this->assertSame( 'latepoint-' . $this->created( 'booked_across_dst' )['id'], $bodies[3]['booking']['id'] );

		// Deleting the order: only latepoint_booking_will_be_deleted, before; read back at the end.
		$calls = self::recording()->calls( 'admin_deleted_order' );
		$this->assertSame( array( 'latepoint_booking_will_be_deleted', '@shutdown' ), array_column( $calls, 'hook' ) );
		self::recording()->set_tables( $calls[0]['tables'] );
		do_action_ref_array( 'latepoint_booking_will_be_deleted', $calls[0]['args'] );
		$this->assertCount( 4, $this->outbox() );
		self::recording()->set_tables( $calls[1]['tables'] );
		MeetBridge_Integration::run_later();
		$last = $this->bodies()[4];
		$this->assertSame( array( 'booking.cancelled', $winter ), array( $last['type'], $last['booking']['id'] ) );
	}

	public function test_pending_and_approved_again_send_nothing_new_and_a_new_pending_booking_gets_no_meeting(): void {
		$this->replay( 'booked_for_pending', 'admin_status_pending', 'admin_status_approved' );
		$this->assertSame( array( 'booking.created' ), array_column( $this->bodies(), 'type' ) );

		global $wpdb;
		$wpdb->query( "TRUNCATE TABLE {$wpdb->prefix}meetbridge_outbox" );
		$wpdb->query( "TRUNCATE TABLE {$wpdb->prefix}meetbridge_bookings" );
		MeetBridge_Integration::reset();
		$calls = self::recording()->calls( 'admin_status_pending' );
		self::recording()->set_tables( end( $calls )['tables'] );
		do_action_ref_array( 'latepoint_booking_updated', $calls[0]['args'] );
		$this->assertSame( array(), $this->outbox() );
		$with_pending = static fn() => array( 'approved', 'pending' );
		add_filter( 'meetbridge_latepoint_active_statuses', $with_pending );
		do_action_ref_array( 'latepoint_booking_updated', $calls[0]['args'] );
		remove_filter( 'meetbridge_latepoint_active_statuses', $with_pending );
		$this->assertSame( array( 'booking.created' ), array_column( $this->bodies(), 'type' ) );
	}

	public function test_a_customer_cancelling_on_the_manage_page(): void {
		$this->replay( 'booked_for_customer_cancel', 'customer_cancelled' );
		$this->assertSame( array( 'booking.created', 'booking.cancelled' ), array_column( $this->bodies(), 'type' ) );
	}

	public function test_completed_and_no_show_change_nothing(): void {
		$this->replay( 'booked_front_end' );
		$id = (int) $this->created( 'booked_front_end' )['id'];
		global $wpdb;
		foreach ( array( 'completed', 'no_show' ) as $status ) {
			$wpdb->update( $wpdb->prefix . 'latepoint_bookings', array( 'status' => $status ), array( 'id' => $id ) );
			do_action( 'latepoint_booking_updated', array( 'id' => $id ), array( 'id' => $id ) );
		}
		$this->assertCount( 1, $this->outbox() );
	}

	public function test_staff_mapping_linked_user_then_email_then_filter(): void {
		$agent = array( 'id' => 1, 'wp_user_id' => null, 'email' => 'sam.staff@example.com' );
		$sam   = (string) get_user_by( 'email', 'sam.staff@example.com' )->ID;
		$this->assertSame( $sam, MeetBridge_LatePoint::staff_id( $agent ) );
		$this->assertSame( '1', MeetBridge_LatePoint::staff_id( array( 'wp_user_id' => '1' ) + $agent ) );
		$this->assertSame( 'latepoint-agent-1', MeetBridge_LatePoint::staff_id( array( 'email' => 'nobody@example.com' ) + $agent ) );
		$override = static fn( $staff_id, $a ) => 'agent-' . $a['id'];
		add_filter( 'meetbridge_latepoint_staff_id', $override, 10, 2 );
		$this->assertSame( 'agent-1', MeetBridge_LatePoint::staff_id( $agent ) );
		remove_filter( 'meetbridge_latepoint_staff_id', $override, 10 );
	}

	/** LatePoint's Filter as it reached latepoint_get_booked_periods (a plain object will do). */
	private function slot_query( int $i = 0 ): array {
		list( $periods, $filter ) = self::recording()->calls( 'slots_front_end' )[ $i ]['args'];
		self::recording()->set_tables( self::recording()->calls( 'slots_front_end' )[ $i ]['tables'] );
		return array( array_map( static fn( $p ) => new \LatePoint\Misc\BookedPeriod( $p ), $periods ), (object) $filter );
	}

	public function test_busy_times_in_google_calendar_become_booked_periods_of_the_agent(): void {
		list( $periods, $filter ) = $this->slot_query();
		$day  = date_create_immutable( $filter->date_from, new DateTimeZone( 'Europe/Berlin' ) )->modify( '+3 days' );
		$busy = array( $day->setTime( 23, 0 ), $day->modify( '+1 day' )->setTime( 1, 30 ) ); // Across midnight.
		$own  = self::recording()->calls( 'slots_front_end' )[0]['tables']['latepoint_bookings'][0]; // Cat's booking, its own event.
		$http = new MeetBridge_Fake_Http(
			array(),
			MeetBridge_Fake_Http::busy(
				array(
					array( gmdate( 'Y-m-d\TH:i:s\Z', $busy[0]->getTimestamp() ), gmdate( 'Y-m-d\TH:i:s\Z', $busy[1]->getTimestamp() ) ),
					array( str_replace( ' ', 'T', $own['start_datetime_utc'] ) . 'Z', str_replace( ' ', 'T', $own['end_datetime_utc'] ) . 'Z' ),
				)
			)
		);
		try {
			$result = apply_filters( 'latepoint_get_booked_periods', $periods, $filter );
		} finally {
			$http->stop();
		}
		$added = array_map( 'get_object_vars', array_slice( $result, count( $periods ) ) );
		$base  = array( 'service_id' => 1, 'agent_id' => 1, 'location_id' => 1, 'buffer_before' => 0, 'buffer_after' => 0, 'total_attendees' => 100000 );
		$this->assertSame(
			array(
				array( 'start_date' => $day->format( 'Y-m-d' ), 'end_date' => $day->format( 'Y-m-d' ), 'start_time' => 23 * 60, 'end_time' => 24 * 60 ) + $base,
				array( 'start_date' => $day->modify( '+1 day' )->format( 'Y-m-d' ), 'end_date' => $day->modify( '+1 day' )->format( 'Y-m-d' ), 'start_time' => 0, 'end_time' => 90 ) + $base,
			),
			array_map( static fn( $p ) => array_intersect_key( $p, array_flip( array( 'start_date', 'end_date', 'start_time', 'end_time' ) ) ) + array_intersect_key( $p, $base ), $added )
		);
		// One question to MeetBridge for the agent, over the days LatePoint asked about (site time).
		$this->assertCount( 1, $http->requests );
		$query = $http->query( 0 )[2];
		$this->assertSame( (string) get_user_by( 'email', 'sam.staff@example.com' )->ID, $query['staff_id'] );
		$this->assertSame( gmdate( 'Y-m-d\TH:i:s\Z', date_create_immutable( $filter->date_from . ' 00:00', new DateTimeZone( 'Europe/Berlin' ) )->getTimestamp() ), $query['from'] );
	}

	public function test_booked_periods_stay_when_meetbridge_cannot_say(): void {
		list( $periods, $filter ) = $this->slot_query();
		$http = new MeetBridge_Fake_Http( array(), MeetBridge_Fake_Http::error( 404, 'not_linked' ) );
		try {
			$this->assertSame( $periods, apply_filters( 'latepoint_get_booked_periods', $periods, $filter ) );
			$this->assertSame( $periods, apply_filters( 'latepoint_get_booked_periods', $periods, (object) array( 'date_from' => '' ) ) );
		} finally {
			$http->stop();
		}
	}

	public function test_join_link_variable_and_summary_action(): void {
		$this->replay( 'booked_front_end' );
		$id      = (int) $this->created( 'booked_front_end' )['id'];
		$booking = (object) array( 'id' => $id );
		$page    = function_exists( 'meetbridge_join_page_url' );
		ob_start();
		do_action( 'latepoint_booking_summary_after_booking_actions', $booking );
		$before = ob_get_clean();
		$this->assertSame( $page ? 1 : 0, substr_count( $before, 'meetbridge-join-link' ) ); // Nothing yet to show, without a join page.
		MeetBridge_Bookings::apply_result(
			'booking.synced',
			array( 'booking_id' => 'latepoint-' . $id, 'revision' => 1, 'state' => 'synced', 'zoom' => array( 'meeting_id' => '9', 'join_url' => 'https://zoom.us/j/9?pwd=x&y=1' ) )
		);
		$url = $page ? meetbridge_join_page_url( 'latepoint-' . $id, 'cat@example.com' ) : 'https://zoom.us/j/9?pwd=x&y=1';
		ob_start();
		do_action( 'latepoint_booking_summary_after_booking_actions', $booking );
		$this->assertStringContainsString( 'href="' . esc_url( $url ) . '"', ob_get_clean() );
		$this->assertSame( 'Join: ' . esc_url( $url ), apply_filters( 'latepoint_replace_booking_vars', 'Join: {{meetbridge_join_url}}', $booking ) );
		$this->assertSame( 'No variable', apply_filters( 'latepoint_replace_booking_vars', 'No variable', $booking ) );
	}

	public function test_a_resend_sends_the_booking_again_past_the_nothing_changed_check(): void {
		$this->replay( 'booked_front_end' );
		$id = (int) $this->created( 'booked_front_end' )['id'];
		$this->assert_a_resend_sends_it_again( $id, 'latepoint-' . $id, 'zoom' );
	}
}
