<?php
/**
 * The results route: signature, dedupe, storing links, failures, relink notices, join link output.
 *
 * @package MeetBridge
 */

class ResultsTest extends MeetBridge_Test_Case {

	private function post( array $message, ?string $id = null, ?int $ts = null, ?string $secret = null ): WP_REST_Response {
		$body    = wp_json_encode( $message );
		$id      = $id ?? MeetBridge_Signer::new_id();
		$headers = MeetBridge_Signer::headers( $secret ?? self::SECRET, $id, $ts ?? time(), $body );
		$request = new WP_REST_Request( 'POST', '/meetbridge/v1/results' );
		$request->set_body( $body );
		$request->set_header( 'content-type', 'application/json' );
		foreach ( $headers as $name => $value ) {
			$request->set_header( $name, $value );
		}
		return rest_do_request( $request );
	}

	private function synced( string $booking_id, int $revision, string $join = 'https://zoom.example/j/1' ): array {
		return array(
			'type'      => 'booking.synced',
			'timestamp' => gmdate( 'Y-m-d\TH:i:s\Z' ),
			'data'      => array(
				'booking_id' => $booking_id,
				'revision'   => $revision,
				'state'      => 'synced',
				'zoom'       => array( 'meeting_id' => '8123', 'join_url' => $join ),
				'google'     => array( 'event_id' => 'abc123', 'html_link' => 'https://calendar.example/e/abc123' ),
			),
		);
	}

	public function test_synced_stores_the_links_for_the_filter_and_the_shortcode(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		$answer = $this->post( $this->synced( '123', 1 ) );
		$this->assertSame( 200, $answer->get_status() );
		$this->assertSame( 'applied', $answer->get_data()['status'] );
		$row = MeetBridge_Bookings::get( '123' );
		$this->assertSame( 'synced', $row['state'] );
		$this->assertSame( '8123', $row['meeting_id'] );
		$this->assertSame( 'https://calendar.example/e/abc123', $row['event_link'] );
		$this->assertSame( 'https://zoom.example/j/1', apply_filters( 'meetbridge_join_link', '', '123' ) );
		$this->assertSame( '', apply_filters( 'meetbridge_join_link', '', 'unknown' ) );
		wp_set_current_user( 1 ); // An administrator; who else may see it: JoinLinkTest.
		$this->assertSame(
			'<a class="meetbridge-join-link" href="https://zoom.example/j/1" rel="noopener noreferrer">Join</a>',
			do_shortcode( '[meetbridge_join_link booking="123" text="Join"]' )
		);
		$this->assertSame( '', do_shortcode( '[meetbridge_join_link booking="nope"]' ) );
	}

	public function test_shortcode_escapes(): void {
		$this->post( $this->synced( 'x', 1, 'https://zoom.example/j/1?pwd="><script>' ) );
		wp_set_current_user( 1 );
		$html = do_shortcode( '[meetbridge_join_link booking="x" text="<b>go</b>"]' );
		$this->assertStringNotContainsString( '<script>', $html );
		$this->assertStringNotContainsString( '<b>', $html );
	}

	public function test_a_duplicate_webhook_id_is_acknowledged_and_not_applied_again(): void {
		$this->post( $this->synced( '123', 2 ), 'msg_same' );
		$this->post( $this->synced( '123', 3, 'https://zoom.example/j/3' ), 'msg_other' );
		$again = $this->post( $this->synced( '123', 2 ), 'msg_same' );
		$this->assertSame( 200, $again->get_status() );
		$this->assertSame( 'duplicate', $again->get_data()['status'] );
		$this->assertSame( 'https://zoom.example/j/3', MeetBridge_Bookings::join_link( '123' ) );
	}

	public function test_an_older_result_never_overwrites_a_newer_one(): void {
		$this->post( array( 'type' => 'booking.cancelled', 'data' => array( 'booking_id' => '123', 'revision' => 3, 'state' => 'cancelled' ) ) );
		$this->post( $this->synced( '123', 2 ) );
		$row = MeetBridge_Bookings::get( '123' );
		$this->assertSame( 'cancelled', $row['state'] );
		$this->assertNull( $row['join_url'] );
		$this->assertSame( '', apply_filters( 'meetbridge_join_link', '', '123' ) );
	}

	public function test_failure_is_stored_with_the_reason(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		$this->post( array( 'type' => 'booking.sync_failed', 'data' => array( 'booking_id' => '123', 'revision' => 1, 'state' => 'failed', 'reason' => 'zoom: account not linked' ) ) );
		$row = MeetBridge_Bookings::get( '123' );
		$this->assertSame( 'failed', $row['state'] );
		$this->assertSame( 'zoom: account not linked', $row['last_error'] );
	}

	public function test_needs_relink_raises_an_admin_notice_with_a_relink_button(): void {
		$this->post( array( 'type' => 'account.needs_relink', 'data' => array( 'provider' => 'zoom', 'staff_id' => '7', 'reason' => 'invalid_grant' ) ) );
		$this->assertArrayHasKey( 'zoom:7', MeetBridge_Relink::all() );
		wp_set_current_user( 1 );
		ob_start();
		MeetBridge_Admin::notices();
		$html = ob_get_clean();
		wp_set_current_user( 0 );
		$this->assertStringContainsString( 'Relink Zoom', $html );
		$this->assertStringContainsString( 'name="action" value="meetbridge_connect"', $html );
		$this->assertStringContainsString( 'name="_wpnonce"', $html );
		MeetBridge_Relink::sync( array( array( 'provider' => 'zoom', 'staff_id' => '7', 'status' => 'active' ) ) );
		$this->assertSame( array(), MeetBridge_Relink::all() );
	}

	public function test_bad_signatures_and_stale_timestamps_are_401_and_change_nothing(): void {
		$wrong = 'whsec_' . base64_encode( str_repeat( 'x', 32 ) );
		$this->assertSame( 401, $this->post( $this->synced( '123', 1 ), null, null, $wrong )->get_status() );
		$this->assertSame( 401, $this->post( $this->synced( '123', 1 ), null, time() - 301 )->get_status() );
		$this->assertSame( 401, $this->post( $this->synced( '123', 1 ), null, time() + 301 )->get_status() );
		$request = new WP_REST_Request( 'POST', '/meetbridge/v1/results' );
		$request->set_body( wp_json_encode( $this->synced( '123', 1 ) ) );
		$this->assertSame( 401, rest_do_request( $request )->get_status() );
		$this->assertNull( MeetBridge_Bookings::get( '123' ) );
	}

	public function test_the_signature_covers_the_raw_body(): void {
		$body    = wp_json_encode( $this->synced( '123', 1 ) );
		$headers = MeetBridge_Signer::headers( self::SECRET, 'msg_raw', time(), $body );
		$request = new WP_REST_Request( 'POST', '/meetbridge/v1/results' );
		$request->set_body( str_replace( '"revision":1', '"revision":2', $body ) );
		foreach ( $headers as $name => $value ) {
			$request->set_header( $name, $value );
		}
		$this->assertSame( 401, rest_do_request( $request )->get_status() );
	}

	public function test_unknown_types_are_acknowledged_and_ignored(): void {
		$answer = $this->post( array( 'type' => 'booking.something_new', 'data' => array() ) );
		$this->assertSame( 200, $answer->get_status() );
		$this->assertSame( 'ignored', $answer->get_data()['status'] );
	}
}
