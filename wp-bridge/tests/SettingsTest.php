<?php
/**
 * Settings sanitizing and storage.
 *
 * @package MeetBridge
 */

class SettingsTest extends MeetBridge_Test_Case {

	public function test_https_url_is_kept_without_trailing_slash(): void {
		$out = MeetBridge_Settings::sanitize_settings( array( 'service_url' => ' https://mb.example.com:8443/ ', 'site_id' => 'site_abc' ) );
		$this->assertSame( 'https://mb.example.com:8443', $out['service_url'] );
		$this->assertSame( 'site_abc', $out['site_id'] );
	}

	public function test_non_https_or_odd_urls_keep_the_old_value(): void {
		foreach ( array( 'http://mb.example.com', 'javascript:alert(1)', 'https://user:pw@mb.example.com', 'https://mb.example.com/?x=1', 'mb.example.com' ) as $bad ) {
			$out = MeetBridge_Settings::sanitize_settings( array( 'service_url' => $bad, 'site_id' => 'site_test' ) );
			$this->assertSame( 'https://meetbridge.test', $out['service_url'], $bad );
		}
	}

	public function test_site_id_pattern(): void {
		$out = MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'bad/id' ) );
		$this->assertSame( 'site_test', $out['site_id'] );
		$out = MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'a b' ) );
		$this->assertSame( 'site_test', $out['site_id'] );
		$out = MeetBridge_Settings::sanitize_settings( 'not an array' );
		$this->assertSame( array( 'service_url' => '', 'site_id' => '', 'ca_bundle' => '', 'retention_days' => 7, 'ea_sync' => 'confirmed' ), $out );
	}

	public function test_empty_secret_keeps_the_stored_one_and_a_bad_one_is_refused(): void {
		$this->assertSame( self::SECRET, MeetBridge_Settings::sanitize_secret( '' ) );
		$this->assertSame( self::SECRET, MeetBridge_Settings::sanitize_secret( 'hunter2' ) );
		$new = 'whsec_' . base64_encode( random_bytes( 32 ) );
		$this->assertSame( $new, MeetBridge_Settings::sanitize_secret( " $new " ) );
	}

	public function test_the_secret_is_not_autoloaded(): void {
		global $wpdb;
		$autoload = $wpdb->get_var( $wpdb->prepare( "SELECT autoload FROM {$wpdb->options} WHERE option_name = %s", MeetBridge_Settings::SECRET ) );
		$this->assertSame( 'no', $autoload );
		$this->assertArrayNotHasKey( MeetBridge_Settings::SECRET, wp_load_alloptions() );
	}

	public function test_the_settings_page_never_prints_the_secret(): void {
		ob_start();
		MeetBridge_Settings_Page::field_secret();
		$html = ob_get_clean();
		$this->assertStringNotContainsString( 'MfKQ9r8G', $html );
		$this->assertStringContainsString( 'value=""', $html );
	}

	public function test_only_the_configured_host_is_let_through(): void {
		$this->assertTrue( MeetBridge_Client::allow_service_host( false, 'meetbridge.test' ) );
		$this->assertTrue( MeetBridge_Client::allow_service_host( false, 'MEETBRIDGE.test' ) );
		$this->assertFalse( MeetBridge_Client::allow_service_host( false, '127.0.0.1' ) );
		$this->assertFalse( MeetBridge_Client::allow_service_host( false, 'localhost' ) );
	}

	public function test_only_the_configured_port_of_the_configured_host_is_allowed(): void {
		update_option( MeetBridge_Settings::OPTION, array( 'service_url' => 'https://localhost:8443', 'site_id' => 'site_test' ) );
		$this->assertSame( array( 80, 443, 8080, 8443 ), MeetBridge_Client::allow_service_port( array( 80, 443, 8080 ), 'localhost' ) );
		$this->assertSame( array( 80, 443, 8080 ), MeetBridge_Client::allow_service_port( array( 80, 443, 8080 ), 'evil.example' ) );
		$this->assertTrue( (bool) wp_http_validate_url( 'https://localhost:8443/v1/sites' ) );
		$this->assertFalse( wp_http_validate_url( 'https://localhost:8444/v1/sites' ) );
		$this->assertFalse( wp_http_validate_url( 'https://127.0.0.1:8443/v1/sites' ) );
	}
}
