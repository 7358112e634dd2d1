<?php
/**
 * The PHP booking API: validation and revisions.
 *
 * @package MeetBridge
 */

class BookingApiTest extends MeetBridge_Test_Case {

	public function test_revisions_grow_per_booking(): void {
		$this->assertSame( 1, MeetBridge_Booking_API::submit( 'booking.created', $this->booking() ) );
		$this->assertSame( 2, MeetBridge_Booking_API::submit( 'booking.updated', $this->booking() ) );
		$this->assertSame( 1, MeetBridge_Booking_API::submit( 'booking.created', $this->booking( array( 'id' => 'other' ) ) ) );
		$this->assertSame( 3, MeetBridge_Booking_API::submit( 'booking.cancelled', array( 'id' => '123' ) ) );
		$row = MeetBridge_Bookings::get( '123' );
		$this->assertSame( '3', $row['revision'] );
		$this->assertSame( 'queued', $row['state'] );
	}

	public function test_cancel_needs_only_the_id_and_finds_the_staff(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		do_action( 'meetbridge_booking_cancelled', '123' );
		$body = json_decode( $this->outbox()[1]['body'], true );
		$this->assertSame( array( 'type' => 'booking.cancelled', 'booking' => array( 'id' => '123', 'revision' => 2, 'staff' => array( 'id' => '7' ) ) ), $body );
	}

	/**
	 * @dataProvider invalid_bookings
	 */
	public function test_invalid_bookings_are_rejected_with_the_field( array $changes, string $field ): void {
		$rejected = array();
		$listener = static function ( $error ) use ( &$rejected ) {
			$rejected[] = $error->get_error_data()['field'];
		};
		add_action( 'meetbridge_booking_rejected', $listener );
		do_action( 'meetbridge_booking_created', $this->booking( $changes ) );
		remove_action( 'meetbridge_booking_rejected', $listener );
		$this->assertSame( array( $field ), $rejected );
		$this->assertSame( array(), $this->outbox() );
	}

	public function invalid_bookings(): array {
		return array(
			'id with a space'      => array( array( 'id' => 'a b' ), 'id' ),
			'no title'             => array( array( 'title' => '' ), 'title' ),
			'start without offset' => array( array( 'start' => '2026-12-01T10:00:00' ), 'start' ),
			'end before start'     => array( array( 'end' => '2026-12-01T09:00:00+01:00' ), 'end' ),
			'longer than a day'    => array( array( 'end' => '2026-12-02T10:00:01+01:00' ), 'end' ),
			'unknown zone'         => array( array( 'timezone' => 'Mars/Base' ), 'timezone' ),
			'bad customer e-mail'  => array( array( 'customer' => array( 'email' => 'nope' ) ), 'customer.email' ),
			'no staff id'          => array( array( 'staff' => array( 'email' => 'staff@example.com' ) ), 'staff.id' ),
			'video null'           => array( array( 'video' => 'teams' ), 'video' ),
		);
	}
}
