<?php
/**
 * WordPress's privacy tools: the exporter lists a customer's bookings with what this site and
 * MeetBridge hold; the eraser deletes their outbox rows (pending ones too), calls MeetBridge's booking
 * erasure and forgets the booking, keeps (stripped) what MeetBridge could not erase and says so; the
 * policy text says what is kept and for how long. MeetBridge is faked through `pre_http_request`.
 *
 * @package MeetBridge
 */

class PrivacyTest extends MeetBridge_Test_Case {

	private function book( string $id, string $email ): void {
		MeetBridge_Booking_API::submit( 'booking.created', $this->booking( array( 'id' => $id, 'customer' => array( 'email' => $email, 'name' => 'Cat Customer' ) ) ) );
	}

	private function status_answer( string $id ): array {
		return array(
			200,
			array(
				'booking_id' => $id,
				'state'      => 'synced',
				'revision'   => 1,
				'last_event' => 'booking.created',
				'zoom'       => array( 'meeting_id' => '8123', 'join_url' => 'https://zoom.example/j/8123' ),
				'google'     => array( 'event_id' => 'evt1', 'html_link' => 'https://calendar.example/evt1' ),
				'last_error' => null,
				'start'      => 1796112000,
				'end'        => 1796113800,
				'created_at' => 1796000000,
				'updated_at' => 1796000100,
			),
			array(),
		);
	}

	/**
	 * Every value stored in the plugin's tables, as one string.
	 */
	private function everything_stored(): string {
		global $wpdb;
		$all = '';
		foreach ( MeetBridge_Schema::tables() as $table ) {
			$all .= wp_json_encode( $wpdb->get_results( "SELECT * FROM {$table}", ARRAY_A ) ); // phpcs:ignore
		}
		return $all;
	}

	public function test_exporter_and_eraser_are_registered_with_wordpress(): void {
		$this->assertSame( array( 'MeetBridge_Privacy', 'export' ), apply_filters( 'wp_privacy_personal_data_exporters', array() )['meetbridge']['callback'] );
		$this->assertSame( array( 'MeetBridge_Privacy', 'erase' ), apply_filters( 'wp_privacy_personal_data_erasers', array() )['meetbridge']['callback'] );
	}

	public function test_no_email_is_kept_once_acknowledged_only_a_keyed_hash(): void {
		$this->book( 'a', 'Cus@Example.com' );
		$this->assertStringContainsString( 'Cus@Example.com', $this->everything_stored(), 'waiting to be sent' );
		MeetBridge_Outbox::run( new MeetBridge_Fake_Client() );
		$this->assertStringNotContainsString( 'xample.com', $this->everything_stored() );
		$this->assertStringNotContainsString( 'Cat Customer', $this->everything_stored() );
		$row = MeetBridge_Bookings::get( 'a' );
		$this->assertSame( MeetBridge_Settings::customer_hash( 'cus@example.com' ), $row['customer_hash'] );
		$this->assertNotSame( hash( 'sha256', 'cus@example.com' ), $row['customer_hash'], 'keyed, not a plain hash' );
	}

	public function test_export_lists_the_customers_bookings_with_what_meetbridge_holds(): void {
		$this->book( 'a', 'cus@example.com' );
		$this->book( 'b', 'CUS@example.com' );
		$this->book( 'other', 'someone@example.com' );
		MeetBridge_Outbox::run( new MeetBridge_Fake_Client() );
		$http = new MeetBridge_Fake_Http( array( $this->status_answer( 'a' ), MeetBridge_Fake_Http::error( 404, 'unknown_booking' ) ) );
		try {
			$export = MeetBridge_Privacy::export( 'cus@example.com', 1 );
		} finally {
			$http->stop();
		}
		$this->assertTrue( $export['done'] );
		$this->assertSame( array( 'meetbridge-a', 'meetbridge-b' ), array_column( $export['data'], 'item_id' ) );
		$a = array_column( $export['data'][0]['data'], 'value', 'name' );
		$this->assertSame( 'a', $a['Booking'] );
		$this->assertSame( 'Intro call', $a['Title'] );
		$this->assertSame( 'synced', $a['MeetBridge state'] );
		$this->assertSame( 'https://zoom.example/j/8123', $a['MeetBridge join link'] );
		$this->assertSame( 'nothing', array_column( $export['data'][1]['data'], 'value', 'name' )['Held by MeetBridge'] );
		$this->assertSame( array( 'GET', 'GET' ), array_column( $http->requests, 'method' ) );
		$this->assertStringEndsWith( '/v1/sites/site_test/bookings/a', $http->requests[0]['url'] );
		$this->assertSame( array(), MeetBridge_Privacy::export( 'nobody@example.com', 1 )['data'] );
	}

	public function test_erase_deletes_rows_calls_meetbridge_and_forgets_the_booking(): void {
		$this->book( 'ea:1', 'cus@example.com' );
		MeetBridge_Outbox::run( new MeetBridge_Fake_Client() );
		MeetBridge_Booking_API::submit( 'booking.updated', $this->booking( array( 'id' => 'ea:1' ) ) ); // Not sent yet.
		$this->book( 'other', 'someone@example.com' );
		$http = new MeetBridge_Fake_Http( array( array( 200, array( 'booking_id' => 'ea:1', 'deleted' => true ), array() ) ) );
		try {
			$result = MeetBridge_Privacy::erase( 'cus@example.com', 1 );
		} finally {
			$http->stop();
		}
		$this->assertSame( array( 'items_removed' => true, 'items_retained' => false, 'messages' => array(), 'done' => true ), $result );
		$this->assertSame( 'DELETE', $http->requests[0]['method'] );
		$this->assertStringEndsWith( '/v1/sites/site_test/bookings/ea%3A1', $http->requests[0]['url'] );
		$this->assertNull( MeetBridge_Bookings::get( 'ea:1' ) );
		$this->assertSame( array( 'other' ), array_column( $this->outbox(), 'booking_id' ), 'the pending update is gone too' );
		$this->assertStringNotContainsString( 'cus@example.com', $this->everything_stored() );
		$this->assertNotNull( MeetBridge_Bookings::get( 'other' ) );
	}

	public function test_what_meetbridge_could_not_erase_is_reported_and_finished_by_a_second_run(): void {
		$this->book( 'a', 'cus@example.com' );
		$this->book( 'b', 'cus@example.com' );
		MeetBridge_Outbox::run( new MeetBridge_Fake_Client() );
		MeetBridge_Bookings::apply_result( 'booking.synced', array( 'booking_id' => 'a', 'revision' => 1, 'zoom' => array( 'meeting_id' => '1', 'join_url' => 'https://zoom.example/j/1' ) ) );
		$http = new MeetBridge_Fake_Http( array( MeetBridge_Fake_Http::error( 503, 'busy' ), MeetBridge_Fake_Http::error( 404, 'unknown_booking' ) ) );
		try {
			$first = MeetBridge_Privacy::erase( 'cus@example.com', 1 );
		} finally {
			$http->stop();
		}
		$this->assertTrue( $first['items_removed'] && $first['items_retained'] && $first['done'] );
		$this->assertCount( 1, $first['messages'] );
		$this->assertStringContainsString( 'MeetBridge booking a', $first['messages'][0] );
		$this->assertStringContainsString( 'HTTP 503 busy', $first['messages'][0] );
		$kept = MeetBridge_Bookings::get( 'a' );
		$this->assertSame( array( '', null ), array( $kept['title'], $kept['join_url'] ), 'stripped to its ids' );
		$this->assertNull( MeetBridge_Bookings::get( 'b' ) );

		$http = new MeetBridge_Fake_Http( array( array( 200, array( 'deleted' => true ), array() ) ) );
		try {
			$second = MeetBridge_Privacy::erase( 'cus@example.com', 1 );
		} finally {
			$http->stop();
		}
		$this->assertSame( array( true, false ), array( $second['items_removed'], $second['items_retained'] ) );
		$this->assertNull( MeetBridge_Bookings::get( 'a' ) );
	}

	public function test_erase_pages_through_many_bookings_without_retrying_a_failure_in_the_same_run(): void {
		foreach ( range( 1, 7 ) as $n ) {
			$this->book( "b$n", 'cus@example.com' );
		}
		MeetBridge_Outbox::run( new MeetBridge_Fake_Client() );
		$http = new MeetBridge_Fake_Http( array( MeetBridge_Fake_Http::error( 503, 'busy' ) ), array( 200, array( 'deleted' => true ), array() ) );
		try {
			$pages = array();
			$page  = 1;
			do {
				$pages[] = MeetBridge_Privacy::erase( 'cus@example.com', $page++ );
			} while ( ! end( $pages )['done'] && $page < 10 );
		} finally {
			$http->stop();
		}
		$this->assertCount( 2, $pages );
		$this->assertCount( 7, $http->requests, 'b1 failed once and was not tried again in this run' );
		$this->assertSame( array( 'b1' ), array_column( MeetBridge_Bookings::of_customer( MeetBridge_Settings::customer_hash( 'cus@example.com' ), 10 ), 'booking_id' ) );
	}

	public function test_without_meetbridge_configured_nothing_is_claimed_erased(): void {
		$this->book( 'a', 'cus@example.com' );
		update_option( MeetBridge_Settings::SECRET, '' );
		$result = MeetBridge_Privacy::erase( 'cus@example.com', 1 );
		$this->assertTrue( $result['items_retained'] );
		$this->assertFalse( $result['items_removed'] );
		$this->assertStringContainsString( 'not configured', $result['messages'][0] );
		$this->assertSame( array(), $this->outbox(), 'its events are not sent any more' );
	}

	public function test_the_policy_text_says_what_is_kept_and_how_long(): void {
		$settings                   = get_option( MeetBridge_Settings::OPTION );
		$settings['retention_days'] = 3;
		update_option( MeetBridge_Settings::OPTION, $settings );
		$text = MeetBridge_Privacy::policy_html();
		$this->assertStringContainsString( 'for 3 days', $text );
		$this->assertStringContainsString( 'keyed hash of your e-mail address', $text );
		$this->assertStringContainsString( 'Erasing it deletes the Zoom meeting', $text );
	}
}
