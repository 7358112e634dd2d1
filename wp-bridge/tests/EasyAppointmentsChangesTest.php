<?php
/**
 * Easy Appointments and changes staff made in Google Calendar or Zoom: with the setting on, a moved
 * meeting moves the appointment (site time, across DST, in a zone other than UTC) and a booking
 * MeetBridge cancelled cancels it, and what the adapter then sends matches the change (no loop); with
 * the setting off (the default) nothing but the report; a resend sends the appointment again.
 *
 * @package MeetBridge
 */

class EasyAppointmentsChangesTest extends MeetBridge_Test_Case {

	/**
	 * The site's zone before the test.
	 *
	 * @var string
	 */
	private string $zone = '';

	public static function tearDownAfterClass(): void {
		MeetBridge_EA_Double::uninstall();
	}

	protected function setUp(): void {
		parent::setUp();
		global $wpdb;
		$this->zone = (string) get_option( 'timezone_string' );
		update_option( 'timezone_string', 'America/New_York' );
		MeetBridge_EA_Double::install( 'admin@example.com' );
		$wpdb->update( "{$wpdb->prefix}ea_services", array( 'duration' => 45 ), array( 'id' => 1 ) );
	}

	protected function tearDown(): void {
		update_option( 'timezone_string', $this->zone );
	}

	/**
	 * MeetBridge → Settings → Easy Appointments → "Apply changes made in Google Calendar or Zoom".
	 *
	 * @param bool $on On or off.
	 */
	private function apply_changes( bool $on ): void {
		$settings                     = get_option( MeetBridge_Settings::OPTION );
		$settings['ea_apply_changes'] = $on;
		update_option( MeetBridge_Settings::OPTION, $settings );
	}

	/**
	 * A confirmed appointment booked through the form, sent and synced at MeetBridge.
	 *
	 * @param string $date  Date.
	 * @param string $start Start (site time).
	 * @param string $end   End (site time).
	 * @return int Appointment id.
	 */
	private function synced_appointment( string $date = '2027-03-12', string $start = '10:00', string $end = '10:45' ): int {
		global $wpdb;
		$p   = $wpdb->prefix;
		$app = array( 'location' => 1, 'service' => 1, 'worker' => 1, 'date' => $date, 'start' => $start, 'end' => $end, 'end_date' => $date, 'status' => 'confirmed', 'price' => '0' );
		$wpdb->insert( "{$p}ea_appointments", $app );
		$id = (int) $wpdb->insert_id;
		$wpdb->insert( "{$p}ea_fields", array( 'app_id' => $id, 'field_id' => 1, 'value' => 'cus@example.com' ) );
		$wpdb->insert( "{$p}ea_fields", array( 'app_id' => $id, 'field_id' => 2, 'value' => 'Cat Customer' ) );
		do_action( 'easy_ea_new_app', (string) $id, $app, true );
		self::post_result(
			array(
				'type' => 'booking.synced',
				'data' => array(
					'booking_id' => 'ea-' . $id,
					'revision'   => 1,
					'state'      => 'synced',
					'zoom'       => array( 'meeting_id' => '81', 'join_url' => 'https://zoom.example/j/81' ),
					'google'     => array( 'event_id' => 'ev81', 'html_link' => 'https://calendar.example/e/ev81' ),
				),
			)
		);
		return $id;
	}

	/**
	 * Deliver a `booking.changed` for an appointment through the results route.
	 *
	 * @param int   $id   Appointment id.
	 * @param array $data Overrides.
	 */
	private function change( int $id, array $data ): string {
		$answer = self::post_result( self::changed_result( array_merge( array( 'booking_id' => 'ea-' . $id, 'zoom' => array( 'meeting_id' => '81', 'join_url' => 'https://zoom.example/j/81' ) ), $data ) ) );
		$this->assertSame( 200, $answer->get_status() );
		return (string) $answer->get_data()['status'];
	}

	private function sent(): array {
		return array_map( static fn( $row ) => json_decode( $row['body'], true ), $this->outbox() );
	}

	private function times( int $id ): array {
		$row = MeetBridge_EA_Double::row( $id );
		return array( $row['date'], $row['start'], $row['end'], $row['end_date'], $row['status'] );
	}

	public function test_off_by_default_a_move_is_only_reported(): void {
		$this->assertFalse( MeetBridge_Settings::ea_apply_changes() );
		$id = $this->synced_appointment();
		$this->assertSame( 'applied', $this->change( $id, array( 'start' => '2027-03-16T14:00:00Z', 'end' => '2027-03-16T14:45:00Z' ) ) );
		$this->assertSame( array( '2027-03-12', '10:00:00', '10:45:00', '2027-03-12', 'confirmed' ), $this->times( $id ) );
		$this->assertSame( array( 'booking.created' ), array_column( $this->sent(), 'type' ) );
		$this->assertSame( 'Moved in Google Calendar to 16 Mar 10:00–10:45 (site time)', MeetBridge_Changes::describe( MeetBridge_Bookings::get( 'ea-' . $id ) ) );
		$this->change( $id, array( 'sequence' => 2, 'kind' => 'deleted', 'state' => 'cancelled', 'policy' => 'cancel', 'zoom' => null, 'google' => null ) );
		$this->assertSame( 'confirmed', $this->times( $id )[4] );
		$this->assertCount( 1, $this->outbox() );
	}

	public function test_on_a_move_across_dst_moves_the_appointment_and_sends_the_same_times_back(): void {
		$this->apply_changes( true );
		$id = $this->synced_appointment(); // 12 Mar 2027 10:00 EST (UTC-5).
		// Staff drag it to Tuesday 16 Mar, 10:00 EDT (UTC-4, after the switch on 14 Mar).
		$this->assertSame( 'applied', $this->change( $id, array( 'start' => '2027-03-16T14:00:00Z', 'end' => '2027-03-16T14:45:00Z' ) ) );
		$this->assertSame( array( '2027-03-16', '10:00:00', '10:45:00', '2027-03-16', 'confirmed' ), $this->times( $id ) );
		$sent = $this->sent();
		$this->assertSame( array( 'booking.created', 'booking.updated' ), array_column( $sent, 'type' ) );
		$this->assertSame( '2027-03-16T10:00:00-04:00', $sent[1]['booking']['start'] );
		$this->assertSame( strtotime( '2027-03-16T14:00:00Z' ), strtotime( $sent[1]['booking']['start'] ), 'the same instant as the change: MeetBridge has nothing to write' );
		$this->assertSame( strtotime( '2027-03-16T14:45:00Z' ), strtotime( $sent[1]['booking']['end'] ) );
		$this->assertSame( 2, $sent[1]['booking']['revision'] );
		// MeetBridge's next report of the same times (and the same change delivered again) sends nothing.
		$this->change( $id, array( 'sequence' => 2, 'revision' => 2, 'start' => '2027-03-16T14:00:00Z', 'end' => '2027-03-16T14:45:00Z' ) );
		$this->change( $id, array( 'sequence' => 1, 'start' => '2027-03-16T14:00:00Z', 'end' => '2027-03-16T14:45:00Z' ) );
		$this->assertCount( 2, $this->outbox() );
	}

	public function test_on_a_move_into_the_dst_night_keeps_the_length(): void {
		$this->apply_changes( true );
		$id = $this->synced_appointment( '2027-03-13', '09:00', '10:00' );
		// 14 Mar 2027 01:30 EST to 03:30 EDT: one hour, across the switch.
		$this->change( $id, array( 'provider' => 'zoom', 'start' => '2027-03-14T06:30:00Z', 'end' => '2027-03-14T07:30:00Z' ) );
		$this->assertSame( array( '2027-03-14', '01:30:00', '03:30:00', '2027-03-14', 'confirmed' ), $this->times( $id ) );
		$booking = $this->sent()[1]['booking'];
		$this->assertSame( array( '2027-03-14T01:30:00-05:00', '2027-03-14T03:30:00-04:00' ), array( $booking['start'], $booking['end'] ) );
	}

	public function test_on_a_move_past_midnight_sets_the_end_date(): void {
		$this->apply_changes( true );
		$id = $this->synced_appointment( '2026-11-20', '10:00', '11:00' );
		$this->change( $id, array( 'start' => '2026-11-21T04:30:00Z', 'end' => '2026-11-21T05:30:00Z' ) ); // 23:30–00:30 EST.
		$this->assertSame( array( '2026-11-20', '23:30:00', '00:30:00', '2026-11-21', 'confirmed' ), $this->times( $id ) );
		$booking = $this->sent()[1]['booking'];
		$this->assertSame( array( '2026-11-20T23:30:00-05:00', '2026-11-21T00:30:00-05:00' ), array( $booking['start'], $booking['end'] ) );
	}

	public function test_on_a_booking_meetbridge_cancelled_is_cancelled_once(): void {
		$this->apply_changes( true );
		$id = $this->synced_appointment();
		$this->change( $id, array( 'kind' => 'deleted', 'provider' => 'zoom', 'state' => 'cancelled', 'policy' => 'cancel', 'zoom' => null, 'google' => null ) );
		$this->assertSame( 'canceled', $this->times( $id )[4], "Easy Appointments' own status" );
		$this->assertSame( array( 'booking.created', 'booking.cancelled' ), array_column( $this->sent(), 'type' ) );
		// A later change of a cancelled appointment moves nothing and sends nothing.
		$this->change( $id, array( 'sequence' => 2, 'start' => '2027-03-16T14:00:00Z', 'end' => '2027-03-16T14:45:00Z' ) );
		$this->assertSame( array( '2027-03-12', '10:00:00', '10:45:00', '2027-03-12', 'canceled' ), $this->times( $id ) );
		$this->assertCount( 2, $this->outbox() );
	}

	public function test_on_a_reported_delete_changes_nothing(): void {
		$this->apply_changes( true );
		$id = $this->synced_appointment();
		$this->change( $id, array( 'kind' => 'deleted', 'provider' => 'zoom', 'state' => 'partial', 'zoom' => null ) );
		$this->assertSame( 'confirmed', $this->times( $id )[4] );
		$this->assertCount( 1, $this->outbox() );
		$this->assertSame( '', MeetBridge_Bookings::join_link( 'ea-' . $id ) );
	}

	public function test_resend_sends_the_appointment_again_as_an_update(): void {
		$id = $this->synced_appointment();
		$this->change( $id, array( 'kind' => 'deleted', 'provider' => 'zoom', 'state' => 'recreating', 'policy' => 'recreate', 'resend' => true, 'zoom' => null ) );
		$sent = $this->sent();
		$this->assertSame( array( 'booking.created', 'booking.updated' ), array_column( $sent, 'type' ) );
		$this->assertSame( 2, $sent[1]['booking']['revision'] );
		$this->assertSame( $sent[0]['booking']['start'], $sent[1]['booking']['start'] );
		$this->assertSame( 'cus@example.com', $sent[1]['booking']['customer']['email'] );
		$this->assertSame( 'Zoom meeting deleted in Zoom — being recreated', MeetBridge_Changes::describe( MeetBridge_Bookings::get( 'ea-' . $id ) ) );
		// Only when asked.
		$this->change( $id, array( 'sequence' => 2, 'kind' => 'deleted', 'provider' => 'zoom', 'state' => 'partial', 'zoom' => null ) );
		$this->assertCount( 2, $this->outbox() );
	}

	public function test_the_setting_is_saved_through_the_settings_sanitizer(): void {
		$saved = MeetBridge_Settings::sanitize_settings( array( 'ea_apply_changes' => '1' ) );
		$this->assertTrue( $saved['ea_apply_changes'] );
		update_option( MeetBridge_Settings::OPTION, $saved );
		$this->assertTrue( MeetBridge_Settings::ea_apply_changes() );
		$this->assertTrue( MeetBridge_Settings::sanitize_settings( array( 'site_id' => 'x' ) )['ea_apply_changes'], 'kept when not posted' );
		$this->assertFalse( MeetBridge_Settings::sanitize_settings( array( 'ea_apply_changes' => '0' ) )['ea_apply_changes'], 'the unchecked box' );
	}
}
