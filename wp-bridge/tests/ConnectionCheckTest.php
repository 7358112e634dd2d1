<?php
/**
 * "Test connection" explains each outcome in plain words.
 *
 * @package MeetBridge
 */

class ConnectionCheckTest extends MeetBridge_Test_Case {

	private function answer( int $status, string $code = '', string $date = '', string $error = '' ): array {
		return array(
			'ok'     => false,
			'status' => $status,
			'body'   => '' === $code ? null : array( 'error' => $code, 'message' => 'x' ),
			'error'  => '' !== $error ? $error : "HTTP $status $code",
			'date'   => $date,
		);
	}

	public function test_unknown_booking_means_everything_is_right(): void {
		$verdict = MeetBridge_Connection_Check::explain( $this->answer( 404, 'unknown_booking' ), time() );
		$this->assertTrue( $verdict['ok'] );
		$this->assertStringStartsWith( 'Connected', $verdict['message'] );
	}

	public function test_unreachable(): void {
		$verdict = MeetBridge_Connection_Check::explain( $this->answer( 0, '', '', 'cURL error 7: Failed to connect' ), time() );
		$this->assertFalse( $verdict['ok'] );
		$this->assertStringContainsString( 'unreachable', $verdict['message'] );
		$this->assertStringContainsString( 'cURL error 7', $verdict['message'] );
	}

	public function test_bad_secret_versus_clock_skew(): void {
		$now     = time();
		$verdict = MeetBridge_Connection_Check::explain( $this->answer( 401, 'bad_signature', gmdate( 'D, d M Y H:i:s', $now ) . ' GMT' ), $now );
		$this->assertStringContainsString( 'Wrong secret', $verdict['message'] );
		$verdict = MeetBridge_Connection_Check::explain( $this->answer( 401, 'timestamp_out_of_tolerance', gmdate( 'D, d M Y H:i:s', $now - 900 ) . ' GMT' ), $now );
		$this->assertStringContainsString( 'Clock skew', $verdict['message'] );
		$this->assertStringContainsString( '900 seconds', $verdict['message'] );
	}

	public function test_unknown_site_and_wrong_url(): void {
		$this->assertStringContainsString( 'site id', MeetBridge_Connection_Check::explain( $this->answer( 404, 'unknown_site' ), time() )['message'] );
		$this->assertStringContainsString( 'not MeetBridge', MeetBridge_Connection_Check::explain( $this->answer( 404 ), time() )['message'] );
		$this->assertStringContainsString( 'unexpectedly', MeetBridge_Connection_Check::explain( $this->answer( 503, 'unavailable' ), time() )['message'] );
	}
}
