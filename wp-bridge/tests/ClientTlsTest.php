<?php
/**
 * The client: the CA bundle setting (a path or pasted PEM, checked on save, handed to WordPress's
 * HTTP API for MeetBridge's requests only, explained by "Test connection"), paths signed in their
 * canonical form, and the staff member's display name in connect-link requests.
 *
 * @package MeetBridge
 */

class ClientTlsTest extends MeetBridge_Test_Case {

	private static string $pem     = '';
	private static string $key_pem = '';
	private static string $dir     = '';

	public static function setUpBeforeClass(): void {
		$key = openssl_pkey_new( array( 'private_key_type' => OPENSSL_KEYTYPE_EC, 'curve_name' => 'prime256v1' ) );
		$csr = openssl_csr_new( array( 'commonName' => 'MeetBridge Test Private CA' ), $key, array( 'digest_alg' => 'sha256' ) );
		openssl_x509_export( openssl_csr_sign( $csr, null, $key, 30, array( 'digest_alg' => 'sha256' ) ), self::$pem );
		openssl_pkey_export( $key, self::$key_pem );
		self::$dir = get_temp_dir() . 'meetbridge-ca-' . wp_generate_password( 8, false );
		wp_mkdir_p( self::$dir );
		file_put_contents( self::$dir . '/ca.pem', self::$pem );
		file_put_contents( self::$dir . '/junk.pem', "not a certificate\n" );
	}

	public static function tearDownAfterClass(): void {
		array_map( 'unlink', glob( self::$dir . '/*' ) );
		rmdir( self::$dir );
	}

	private function set_ca( string $value ): void {
		$settings              = get_option( MeetBridge_Settings::OPTION );
		$settings['ca_bundle'] = $value;
		update_option( MeetBridge_Settings::OPTION, $settings );
	}

	public function test_a_ca_bundle_is_checked_before_it_is_saved(): void {
		$this->assertTrue( MeetBridge_CA::validate( self::$dir . '/ca.pem' ) );
		$this->assertTrue( MeetBridge_CA::validate( self::$pem ) );
		$refused = array(
			'relative/ca.pem'              => 'meetbridge_ca_not_absolute',
			self::$dir . '/missing.pem'    => 'meetbridge_ca_unreadable',
			self::$dir . '/junk.pem'       => 'meetbridge_ca_no_certificate',
			self::$pem . self::$key_pem    => 'meetbridge_ca_private_key',
			'-----BEGIN CERTIFICATE-----x' => 'meetbridge_ca_no_certificate',
		);
		foreach ( $refused as $value => $code ) {
			$this->assertSame( $code, MeetBridge_CA::validate( $value )->get_error_code(), $value );
		}
		$this->set_ca( self::$dir . '/ca.pem' );
		$out = MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'site_test', 'ca_bundle' => 'relative/ca.pem' ) );
		$this->assertSame( self::$dir . '/ca.pem', $out['ca_bundle'], 'a bad value keeps the stored one' );
		$out = MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'site_test', 'ca_bundle' => " \r\n" . str_replace( "\n", "\r\n", self::$pem ) ) );
		$this->assertSame( trim( self::$pem ), $out['ca_bundle'] );
		$out = MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'site_test', 'ca_bundle' => '' ) );
		$this->assertSame( '', $out['ca_bundle'] );
	}

	public function test_the_bundle_is_handed_to_meetbridge_requests_only(): void {
		$http = new MeetBridge_Fake_Http( array(), MeetBridge_Fake_Http::error( 404, 'unknown_booking' ) );
		try {
			( new MeetBridge_Client() )->booking( 'x' );
			$this->assertStringEndsWith( '.crt', $http->requests[0]['args']['sslcertificates'], 'none set: WordPress\'s own bundle' );
			$this->set_ca( self::$dir . '/ca.pem' );
			( new MeetBridge_Client() )->booking( 'x' );
			$this->assertSame( self::$dir . '/ca.pem', $http->requests[1]['args']['sslcertificates'] );
			$this->set_ca( trim( self::$pem ) );
			( new MeetBridge_Client() )->booking( 'x' );
			$file = $http->requests[2]['args']['sslcertificates'];
			$this->assertStringStartsWith( wp_upload_dir()['basedir'] . '/meetbridge/ca-', $file );
			$this->assertSame( trim( self::$pem ) . "\n", file_get_contents( $file ) );
			unlink( $file ); // Gone (a cleaned-up uploads folder): written again.
			( new MeetBridge_Client() )->booking( 'x' );
			$this->assertFileExists( $file );
			wp_remote_get( 'https://elsewhere.example/' );
			$this->assertSame( $http->requests[0]['args']['sslcertificates'], $http->requests[4]['args']['sslcertificates'] );
		} finally {
			$http->stop();
		}
		$this->assertStringContainsString( 'MeetBridge Test Private CA (valid until ' . gmdate( 'Y-m-d', time() + 30 * DAY_IN_SECONDS ), MeetBridge_CA::describe() );
	}

	public function test_test_connection_explains_tls_trust(): void {
		$http = new MeetBridge_Fake_Http( array( new WP_Error( 'http_request_failed', 'cURL error 60: SSL certificate problem: unable to get local issuer certificate' ) ), MeetBridge_Fake_Http::error( 404, 'unknown_booking' ) );
		try {
			$verdict = MeetBridge_Connection_Check::run();
			$this->assertFalse( $verdict['ok'] );
			$this->assertStringContainsString( 'TLS certificate at https://meetbridge.test is not trusted', $verdict['message'] );
			$this->assertStringContainsString( 'put its CA certificate', $verdict['message'] );
			$this->set_ca( self::$dir . '/ca.pem' );
			$verdict = MeetBridge_Connection_Check::run();
			$this->assertTrue( $verdict['ok'] );
			$this->assertStringContainsString( 'trusted through the CA bundle', $verdict['message'] );
			$this->set_ca( self::$dir . '/missing.pem' ); // Saved while readable, then removed.
			$verdict = MeetBridge_Connection_Check::run();
			$this->assertFalse( $verdict['ok'] );
			$this->assertStringStartsWith( 'CA bundle: The CA bundle file', $verdict['message'] );
			$this->assertCount( 2, $http->requests, 'nothing sent without the bundle it should trust' );
		} finally {
			$http->stop();
		}
	}

	public function test_a_booking_id_with_a_colon_is_sent_and_signed_in_the_canonical_form(): void {
		$http = new MeetBridge_Fake_Http( array(), MeetBridge_Fake_Http::error( 404, 'unknown_booking' ) );
		try {
			( new MeetBridge_Client() )->booking( 'ea:5' );
			( new MeetBridge_Client() )->erase_booking( 'ea:5' );
		} finally {
			$http->stop();
		}
		foreach ( array( 'GET', 'DELETE' ) as $i => $method ) {
			$request = $http->requests[ $i ];
			$this->assertSame( 'https://meetbridge.test/v1/sites/site_test/bookings/ea%3A5', $request['url'] );
			$headers = $request['headers'];
			$this->assertTrue( MeetBridge_Signer::verify( self::SECRET, $headers['webhook-id'], $headers['webhook-timestamp'], $headers['webhook-signature'], "$method /v1/sites/site_test/bookings/ea%3A5" ) );
		}
	}

	public function test_connect_links_carry_the_staff_members_display_name(): void {
		$http = new MeetBridge_Fake_Http( array(), array( 201, array( 'url' => 'https://meetbridge.test/connect/x' ), array() ) );
		try {
			( new MeetBridge_Client() )->connect_link( 'zoom', '7', 'https://shop.example/wp-admin/', " Sam\tStaff\u{00A0}" );
			( new MeetBridge_Client() )->connect_link( 'zoom', '7', 'https://shop.example/wp-admin/', '' );
		} finally {
			$http->stop();
		}
		$this->assertSame( array( 'provider' => 'zoom', 'staff_id' => '7', 'return_url' => 'https://shop.example/wp-admin/', 'staff_name' => 'Sam Staff' ), json_decode( $http->requests[0]['body'], true ) );
		$this->assertArrayNotHasKey( 'staff_name', json_decode( $http->requests[1]['body'], true ) );
	}
}
