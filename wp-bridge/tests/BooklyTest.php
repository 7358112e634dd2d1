<?php
/**
 * The Bookly adapter against what Bookly 27.4 really did (tests/fixtures/
 * bookly-responsive-appointment-booking-tool-27.4.json, recorded in WordPress 6.1.9 while customers
 * booked through `[bookly-form]` in Chromium, an admin worked in Bookly's Appointments screen and a
 * customer cancelled with the link in Bookly's e-mail): Bookly's tables as it created them, and per step
 * the statements it wrote to them (WordPress's `query` filter, before each ran) with the rows at that
 * moment.
 *
 * @package MeetBridge
 */

require_once __DIR__ . '/class-meetbridge-adapter-test-case.php';

class BooklyTest extends MeetBridge_Adapter_Test_Case {

	protected static function fixture(): string {
		return 'bookly-responsive-appointment-booking-tool-27.4';
	}

	protected static function adapter(): string {
		return 'MeetBridge_Bookly';
	}

	protected function setUp(): void {
		parent::setUp();
		self::recording()->set_tables( array_fill_keys( array_keys( self::recording()->data['schema'] ), array() ) );
	}

	protected function reset(): void {
		parent::reset();
		MeetBridge_Bookly::reset();
	}

	/** The end of a request: what the adapter left for it. */
	private function end_request(): void {
		MeetBridge_Integration::run_later();
		$this->reset();
	}

	/** The newest appointment as a step left Bookly's table. */
	private function appointment( string $step ): array {
		$calls = self::recording()->calls( $step );
		$rows  = end( $calls )['tables']['bookly_appointments'];
		usort( $rows, static fn( $a, $b ) => (int) $b['id'] <=> (int) $a['id'] );
		return $rows[0];
	}

	/** A Bookly date-time (the site's local time, Berlin when recorded) as RFC 3339. */
	private function local( string $local, string $zone = 'Europe/Berlin' ): string {
		return ( new DateTimeImmutable( $local, new DateTimeZone( $zone ) ) )->format( DATE_RFC3339 );
	}

	private function set_status( int $appointment, string $status ): void {
		global $wpdb;
		$wpdb->update( $wpdb->prefix . 'bookly_customer_appointments', array( 'status' => $status ), array( 'appointment_id' => $appointment ) );
		$this->end_request();
	}

	public function test_only_loaded_with_bookly(): void {
		$this->assertFalse( class_exists( 'Bookly\Lib\Boot', false ) );
		$this->assertSame( array(), MeetBridge_Integrations::active() );
	}

	public function test_a_booking_through_the_form_is_created_with_the_staff_members_user_and_the_customer(): void {
		$this->replay( 'booked_front_end' );
		$appointment = $this->appointment( 'booked_front_end' );
		$sam         = get_user_by( 'email', 'sam.staff@example.com' );
		$this->assertSame(
			array(
				array(
					'type'    => 'booking.created',
					'booking' => array(
						'id'       => 'bookly-' . $appointment['id'],
						'revision' => 1,
						'title'    => 'Intro call',
						'start'    => $this->local( $appointment['start_date'] ),
						'end'      => $this->local( $appointment['end_date'] ),
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

	public function test_local_times_across_a_daylight_saving_change_and_in_another_zone(): void {
		$this->replay( 'booked_front_end', 'booked_across_dst' );
		list( $winter, $summer ) = array_column( $this->bodies(), 'booking' );
		$this->assertSame( $this->local( $this->appointment( 'booked_across_dst' )['start_date'] ), $summer['start'] );
		$this->assertSame( '10:00', substr( $winter['start'], 11, 5 ) ); // Both booked at 10:00 site time ...
		$this->assertSame( '10:00', substr( $summer['start'], 11, 5 ) );
		$this->assertNotSame( substr( $winter['start'], -6 ), substr( $summer['start'], -6 ) ); // ... +01:00 and +02:00.

		// Bookly keeps the site's wall-clock time: in a site set to New York, 10:00 is 10:00 New York time.
		update_option( 'timezone_string', 'America/New_York' );
		$id = (int) $this->appointment( 'booked_across_dst' )['id'];
		$ny = MeetBridge_Bookly::map( MeetBridge_Bookly::load( $id ) );
		$this->assertSame( 'America/New_York', $ny['timezone'] );
		$this->assertSame( $this->local( $this->appointment( 'booked_across_dst' )['start_date'], 'America/New_York' ), $ny['start'] );
		$this->assertMatchesRegularExpression( '/T10:00:00-0[45]:00$/', $ny['start'] );
		// A site set to a bare UTC offset: sent with the Etc/ zone of that offset.
		update_option( 'timezone_string', '' );
		update_option( 'gmt_offset', 3 );
		$offset = MeetBridge_Bookly::map( MeetBridge_Bookly::load( $id ) );
		$this->assertSame( array( 'Etc/GMT-3', '+03:00' ), array( $offset['timezone'], substr( $offset['start'], -6 ) ) );
		update_option( 'gmt_offset', 0 );
	}

	public function test_moved_cancelled_held_approved_cancelled_by_the_customer_and_deleted(): void {
		$this->replay( ...self::recording()->steps() );
		$bodies = $this->bodies();
		$this->assertSame(
			array(
				array( 'booking.created', 'cat@example.com' ),   // booked_front_end
				array( 'booking.created', 'dan@example.com' ),   // booked_across_dst (busy_refused: nothing saved)
				array( 'booking.updated', 'cat@example.com' ),   // admin_edited_time
				array( 'booking.cancelled', null ),              // admin_status_cancelled (Dan)
				array( 'booking.created', 'eve@example.com' ),   // booked_for_customer_cancel (pending, approved: nothing)
				array( 'booking.cancelled', null ),              // customer_cancelled (Eve)
				array( 'booking.cancelled', null ),              // admin_deleted (Cat)
			),
			array_map( static fn( $body ) => array( $body['type'], $body['booking']['customer']['email'] ?? null ), $bodies )
		);
		$cat = $bodies[0]['booking']['id'];
		$this->assertSame( array( $cat, $cat, $cat ), array( $bodies[0]['booking']['id'], $bodies[2]['booking']['id'], $bodies[6]['booking']['id'] ) );
		$this->assertSame( strtotime( $bodies[0]['booking']['start'] ) + HOUR_IN_SECONDS, strtotime( $bodies[2]['booking']['start'] ) );
	}

	public function test_rejected_cancels_done_and_waitlisted_change_nothing_approved_again_books_again(): void {
		$this->replay( 'booked_front_end' );
		$id = (int) $this->appointment( 'booked_front_end' )['id'];
		$this->set_status( $id, 'done' );
		$this->set_status( $id, 'waitlisted' );
		$this->assertCount( 1, $this->outbox() );
		$this->set_status( $id, 'rejected' );
		$this->set_status( $id, 'approved' );
		$this->assertSame( array( 'booking.created', 'booking.cancelled', 'booking.created' ), array_column( $this->bodies(), 'type' ) );
		// A status a site lets have meetings too.
		$with_pending = static fn() => array( 'approved', 'pending' );
		add_filter( 'meetbridge_bookly_active_statuses', $with_pending );
		$this->set_status( $id, 'pending' );
		remove_filter( 'meetbridge_bookly_active_statuses', $with_pending );
		$this->assertCount( 3, $this->outbox() ); // Same booking, nothing changed for MeetBridge.
	}

	public function test_deleting_a_staff_member_or_a_service_cancels_their_coming_appointments(): void {
		global $wpdb;
		$this->replay( 'booked_front_end', 'booked_across_dst' );
		$p = $wpdb->prefix;
		// Coming appointments (the recording's dates may have passed when this runs).
		$wpdb->query( "UPDATE {$p}bookly_appointments SET start_date = DATE_ADD( NOW(), INTERVAL id DAY ), end_date = DATE_ADD( DATE_ADD( NOW(), INTERVAL id DAY ), INTERVAL 30 MINUTE )" );
		$this->end_request();
		$this->assertSame( array( 'booking.created', 'booking.created', 'booking.updated', 'booking.updated' ), array_column( $this->bodies(), 'type' ) );
		// Bookly deletes a staff member with one statement; the foreign keys delete their appointments.
		$staff = (int) $this->appointment( 'booked_front_end' )['staff_id'];
		$wpdb->query( $wpdb->prepare( "DELETE FROM `{$p}bookly_staff` WHERE `id` = %d", $staff ) );
		$this->end_request();
		$this->assertSame( '0', $wpdb->get_var( "SELECT COUNT(*) FROM {$p}bookly_appointments" ) );
		$this->assertSame( array( 'booking.cancelled', 'booking.cancelled' ), array_slice( array_column( $this->bodies(), 'type' ), 4 ) );

		// The same for a service (Eve's booking, put back as Bookly had it, then a week ahead).
		$this->replay( 'booked_for_customer_cancel' );
		$eve = (int) $this->appointment( 'booked_for_customer_cancel' )['id'];
		$wpdb->query( "UPDATE {$p}bookly_appointments SET start_date = DATE_ADD( NOW(), INTERVAL 7 DAY ), end_date = DATE_ADD( NOW(), INTERVAL 7 DAY ) + INTERVAL 30 MINUTE WHERE id = {$eve}" );
		$this->end_request();
		$wpdb->query( $wpdb->prepare( "DELETE FROM `{$p}bookly_services` WHERE `id` = %d", (int) $this->appointment( 'booked_for_customer_cancel' )['service_id'] ) );
		$this->end_request();
		$last = array_slice( $this->bodies(), -1 )[0];
		$this->assertSame( array( 'booking.cancelled', 'bookly-' . $eve ), array( $last['type'], $last['booking']['id'] ) );
	}

	public function test_statements_of_booklys_query_builder_with_an_alias(): void {
		// As Bookly's Lib\Query writes them (read in its source, not met in the recorded paths): removing a
		// customer from an appointment in its dialog, merging customers.
		global $wpdb;
		$this->replay( 'booked_front_end', 'booked_across_dst' );
		$p      = $wpdb->prefix;
		$winter = (int) $this->appointment( 'booked_front_end' )['id'];
		$summer = (int) $this->appointment( 'booked_across_dst' )['id'];
		$wpdb->query( "UPDATE `{$p}bookly_customer_appointments` AS `r` SET `r`.`status` = 'cancelled' WHERE `r`.`appointment_id` = {$summer}" );
		$this->end_request();
		$wpdb->query( $wpdb->prepare( "DELETE `r` FROM `{$p}bookly_customer_appointments` AS `r` WHERE `r`.`appointment_id` IN (%d)", $winter ) );
		$this->end_request();
		$this->assertSame(
			array( array( 'booking.cancelled', 'bookly-' . $summer ), array( 'booking.cancelled', 'bookly-' . $winter ) ),
			array_map( static fn( $body ) => array( $body['type'], $body['booking']['id'] ), array_slice( $this->bodies(), 2 ) )
		);
	}

	public function test_staff_the_linked_user_else_the_email_else_the_bookly_staff_member_and_a_filter(): void {
		$sam = (string) get_user_by( 'email', 'sam.staff@example.com' )->ID;
		$this->assertSame( $sam, MeetBridge_Bookly::staff_id( array( 'id' => 1, 'wp_user_id' => (int) $sam, 'email' => 'other@example.com' ) ) );
		$this->assertSame( $sam, MeetBridge_Bookly::staff_id( array( 'id' => 1, 'wp_user_id' => 999999, 'email' => 'sam.staff@example.com' ) ) );
		$this->assertSame( 'bookly-staff-4', MeetBridge_Bookly::staff_id( array( 'id' => 4, 'email' => 'nobody@example.com' ) ) );
		$override = static fn( $staff_id, $staff ) => 'staff-' . $staff['id'];
		add_filter( 'meetbridge_bookly_staff_id', $override, 10, 2 );
		$this->assertSame( 'staff-4', MeetBridge_Bookly::staff_id( array( 'id' => 4 ) ) );
		remove_filter( 'meetbridge_bookly_staff_id', $override, 10 );
	}

	public function test_the_join_link_in_bookly_emails_for_that_appointments_customer_only(): void {
		$this->replay( 'booked_front_end' );
		$id   = (int) $this->appointment( 'booked_front_end' )['id'];
		$url  = MeetBridge_Integration::join_url( 'bookly-' . $id, 'cat@example.com' );
		$mail = static fn( $to, $message, $type ) => apply_filters(
			'wp_mail',
			array(
				'to'      => $to,
				'subject' => 'Your appointment information',
				'message' => $message,
				'headers' => array( "Content-Type: {$type}; charset=utf-8" ),
			)
		)['message'];
		$this->assertNotSame( '', $url );
		// Bookly writes the code's value in bold in HTML e-mails.
		$this->assertSame( sprintf( 'Join: <a href="%1$s">%1$s</a>.', esc_url( $url ) ), $mail( 'cat@example.com', "Join: [meetbridge_join_url <b>{$id}</b>].", 'text/html' ) );
		$this->assertSame( "Join: {$url}.", $mail( 'Cat@Example.com', "Join: [meetbridge_join_url {$id}].", 'text/plain' ) );
		$this->assertSame( 'Join: .', $mail( 'sam.staff@example.com', "Join: [meetbridge_join_url {$id}].", 'text/plain' ) );
		$this->assertSame( 'Join: .', $mail( 'cat@example.com', 'Join: [meetbridge_join_url 999999].', 'text/plain' ) );
		$this->assertSame( 'No code here.', $mail( 'cat@example.com', 'No code here.', 'text/plain' ) );
		$this->set_status( $id, 'cancelled' );
		$this->assertSame( 'Join: .', $mail( 'cat@example.com', "Join: [meetbridge_join_url {$id}].", 'text/plain' ) );
	}

	public function test_a_time_busy_in_google_calendar_is_refused_before_bookly_saves(): void {
		$this->replay( 'booked_front_end' ); // Bookly's staff member and service.
		$appointment = $this->appointment( 'booked_front_end' );
		$day         = substr( $appointment['start_date'], 0, 10 );
		$slot        = array( (int) $appointment['service_id'], (int) $appointment['staff_id'], "{$day} 14:00:00", 0 ); // As Bookly's cart keeps it.
		$start       = ( new DateTimeImmutable( "{$day} 14:00:00", new DateTimeZone( 'Europe/Berlin' ) ) )->getTimestamp();
		$http        = new MeetBridge_Fake_Http( array(), MeetBridge_Fake_Http::busy( array( array( gmdate( 'Y-m-d\TH:i:s\Z', $start - 600 ), gmdate( 'Y-m-d\TH:i:s\Z', $start + 600 ) ) ) ) );
		try {
			$this->assertSame( 1, MeetBridge_Bookly::busy_cart_key( array( 0 => array(), 1 => array( $slot ) ) ) );
			$sam = (string) get_user_by( 'email', 'sam.staff@example.com' )->ID;
			$this->assertSame( array( 'staff_id' => $sam, 'from' => gmdate( 'Y-m-d\TH:i:s\Z', $start ), 'to' => gmdate( 'Y-m-d\TH:i:s\Z', $start + 1800 ) ), $http->query( 0 )[2] );
			// Starting when the busy time ends: free.
			$later = array( $slot[0], $slot[1], "{$day} 14:10:00", 0 );
			$this->assertNull( MeetBridge_Bookly::busy_cart_key( array( array( $later ) ) ) );
		} finally {
			$http->stop();
		}
		// Bookly's booking request with a busy time is answered before Bookly's own handler runs.
		$this->assertSame( 5, has_action( 'wp_ajax_nopriv_bookly_save_appointment', array( 'MeetBridge_Bookly', 'check_reservation' ) ) );
		$this->assertSame( 5, has_action( 'wp_ajax_bookly_save_appointment', array( 'MeetBridge_Bookly', 'check_reservation' ) ) );
	}

	public function test_a_booking_goes_ahead_when_busy_times_cannot_be_checked(): void {
		$this->replay( 'booked_front_end' );
		$appointment = $this->appointment( 'booked_front_end' );
		$http        = new MeetBridge_Fake_Http( array(), MeetBridge_Fake_Http::error( 404, 'not_linked' ) );
		try {
			$this->assertNull( MeetBridge_Bookly::busy_cart_key( array( array( array( (int) $appointment['service_id'], (int) $appointment['staff_id'], $appointment['start_date'] ) ) ) ) );
		} finally {
			$http->stop();
		}
	}

	public function test_a_resend_sends_the_booking_again_past_the_nothing_changed_check(): void {
		$this->replay( 'booked_front_end' );
		$id = (int) $this->appointment( 'booked_front_end' )['id'];
		$this->assert_a_resend_sends_it_again( $id, 'bookly-' . $id, 'google' );
	}
}
