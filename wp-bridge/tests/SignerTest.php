<?php
/**
 * Standard Webhooks signing, as service/webhooks.py does it.
 *
 * @package MeetBridge
 */

use PHPUnit\Framework\TestCase;

class SignerTest extends TestCase {

	const SECRET  = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
	const ID      = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
	const TS      = 1614265330;
	const PAYLOAD = '{"test": 2432232314}';
	const VECTOR  = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

	public function test_published_test_vector(): void {
		$headers = MeetBridge_Signer::headers( self::SECRET, self::ID, self::TS, self::PAYLOAD );
		$this->assertSame( self::VECTOR, $headers['webhook-signature'] );
		$this->assertSame( self::ID, $headers['webhook-id'] );
		$this->assertSame( '1614265330', $headers['webhook-timestamp'] );
	}

	public function test_verify_accepts_the_vector_within_tolerance_only(): void {
		$this->assertTrue( MeetBridge_Signer::verify( self::SECRET, self::ID, (string) self::TS, self::VECTOR, self::PAYLOAD, self::TS + 299 ) );
		$late = MeetBridge_Signer::verify( self::SECRET, self::ID, (string) self::TS, self::VECTOR, self::PAYLOAD, self::TS + 301 );
		$this->assertSame( 'timestamp_out_of_tolerance', $late->get_error_code() );
		$early = MeetBridge_Signer::verify( self::SECRET, self::ID, (string) self::TS, self::VECTOR, self::PAYLOAD, self::TS - 301 );
		$this->assertSame( 'timestamp_out_of_tolerance', $early->get_error_code() );
	}

	public function test_verify_rejects_a_changed_body_id_or_secret(): void {
		$now = self::TS;
		$this->assertSame( 'bad_signature', MeetBridge_Signer::verify( self::SECRET, self::ID, (string) $now, self::VECTOR, '{"test": 2432232315}', $now )->get_error_code() );
		$this->assertSame( 'bad_signature', MeetBridge_Signer::verify( self::SECRET, 'msg_other', (string) $now, self::VECTOR, self::PAYLOAD, $now )->get_error_code() );
		$other = 'whsec_' . base64_encode( str_repeat( 'k', 32 ) );
		$this->assertSame( 'bad_signature', MeetBridge_Signer::verify( $other, self::ID, (string) $now, self::VECTOR, self::PAYLOAD, $now )->get_error_code() );
	}

	public function test_verify_takes_any_of_several_entries_and_skips_unknown_versions(): void {
		$header = 'v1a,xyz v1,AAAA ' . self::VECTOR;
		$this->assertTrue( MeetBridge_Signer::verify( self::SECRET, self::ID, (string) self::TS, $header, self::PAYLOAD, self::TS ) );
	}

	public function test_verify_rejects_missing_and_malformed_headers(): void {
		$this->assertSame( 'missing_headers', MeetBridge_Signer::verify( self::SECRET, '', (string) self::TS, self::VECTOR, self::PAYLOAD, self::TS )->get_error_code() );
		$this->assertSame( 'malformed_headers', MeetBridge_Signer::verify( self::SECRET, self::ID, '16142653.5', self::VECTOR, self::PAYLOAD, self::TS )->get_error_code() );
		$this->assertSame( 'malformed_headers', MeetBridge_Signer::verify( self::SECRET, 'msg.1', (string) self::TS, self::VECTOR, self::PAYLOAD, self::TS )->get_error_code() );
	}

	public function test_ids_follow_the_service_rules(): void {
		$id = MeetBridge_Signer::new_id();
		$this->assertMatchesRegularExpression( '/^msg_[0-9a-f]{32}$/', $id );
		$this->assertNotSame( $id, MeetBridge_Signer::new_id() );
		$this->assertFalse( MeetBridge_Signer::valid_id( 'has space' ) );
		$this->assertFalse( MeetBridge_Signer::valid_id( 'has.dot' ) );
		$this->assertFalse( MeetBridge_Signer::valid_id( str_repeat( 'a', 257 ) ) );
		$this->assertTrue( MeetBridge_Signer::valid_id( str_repeat( 'a', 256 ) ) );
		$this->expectException( InvalidArgumentException::class );
		MeetBridge_Signer::headers( self::SECRET, 'bad.id', self::TS, '' );
	}

	public function test_secret_decoding(): void {
		$this->assertSame( 24, strlen( MeetBridge_Signer::secret_bytes( self::SECRET ) ) );
		$this->assertSame( 24, strlen( MeetBridge_Signer::secret_bytes( 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' ) ) );
		$this->assertNull( MeetBridge_Signer::secret_bytes( 'whsec_c2hvcnQ=' ) ); // 5 bytes: too short.
		$this->assertNull( MeetBridge_Signer::secret_bytes( 'whsec_not base64!' ) );
		$this->assertNull( MeetBridge_Signer::secret_bytes( '' ) );
	}

	public function test_bodiless_requests_sign_the_method_and_path_line(): void {
		$headers = MeetBridge_Signer::headers( self::SECRET, self::ID, self::TS, 'GET /v1/sites/site_abc/bookings/123' );
		$expected = 'v1,' . base64_encode( hash_hmac( 'sha256', self::ID . '.' . self::TS . '.GET /v1/sites/site_abc/bookings/123', base64_decode( 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' ), true ) );
		$this->assertSame( $expected, $headers['webhook-signature'] );
	}

	public function test_paths_are_signed_in_the_canonical_form_the_service_verifies(): void {
		// The same string MeetBridge builds from the decoded path (tests/sites/test_site_auth.py).
		$this->assertSame( '/v1/sites/site_abc/bookings/ea%3A5~x', MeetBridge_Signer::canonical_target( '/v1/sites/site_abc/bookings/ea:5~x' ) );
		$this->assertSame( '/v1/sites/site_abc/bookings/ea%3A5', MeetBridge_Signer::canonical_target( '/v1/sites/site_abc/bookings/ea%3a5' ) );
		$this->assertSame( '/a/b%20c?staff_id=a%3Ab&x=1', MeetBridge_Signer::canonical_target( '/a/b c?staff_id=a%3Ab&x=1' ) );
		$this->assertSame( 'DELETE /v1/sites/s/bookings/a%3Ab', MeetBridge_Signer::request_line( 'delete', '/v1/sites/s/bookings/a:b' ) );
	}
}
