<?php
/**
 * "When a meeting is deleted in Google Calendar or Zoom": the choice is saved at MeetBridge with a
 * signed `PUT /v1/sites/{site_id}/settings` `{"external_delete": …}` (through the real client, the
 * HTTP layer faked), kept here only once MeetBridge took it, and shown on the settings page.
 *
 * @package MeetBridge
 */

class DeletePolicyTest extends MeetBridge_Test_Case {

	private ?MeetBridge_Fake_Http $http = null;

	protected function tearDown(): void {
		if ( $this->http ) {
			$this->http->stop();
		}
	}

	private function saved_answer( string $policy ): array {
		return array( 200, array( 'grace_minutes' => 60, 'retention_days' => 30, 'external_delete' => $policy ), array() );
	}

	public function test_report_is_the_default_and_sends_nothing(): void {
		$this->http = new MeetBridge_Fake_Http();
		$this->assertSame( 'report', MeetBridge_Settings::external_delete() );
		$out = MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'site_test', 'external_delete' => 'report' ) );
		$this->assertArrayNotHasKey( 'external_delete', $out );
		$this->assertSame( array(), $this->http->requests );
	}

	public function test_a_new_choice_is_put_to_meetbridge_signed_then_kept(): void {
		$this->http = new MeetBridge_Fake_Http( array( $this->saved_answer( 'cancel' ) ) );
		$out        = MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'site_test', 'external_delete' => 'cancel' ) );
		$this->assertSame( 'cancel', $out['external_delete'] );
		$this->assertCount( 1, $this->http->requests );
		$request = $this->http->requests[0];
		$this->assertSame( 'PUT', $request['method'] );
		$this->assertSame( 'https://meetbridge.test/v1/sites/site_test/settings', $request['url'] );
		$this->assertSame( '{"external_delete":"cancel"}', $request['body'] );
		$this->assertSame( 'application/json', $request['headers']['Content-Type'] );
		$headers = $request['headers'];
		$this->assertTrue( MeetBridge_Signer::verify( self::SECRET, $headers['webhook-id'], $headers['webhook-timestamp'], $headers['webhook-signature'], $request['body'] ) );
		update_option( MeetBridge_Settings::OPTION, $out );
		$this->assertSame( 'cancel', MeetBridge_Settings::external_delete() );
		// Saving the page again without a change asks MeetBridge nothing.
		MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'site_test', 'external_delete' => 'cancel' ) );
		$this->assertCount( 1, $this->http->requests );
		$this->assertSame( 'cancel', MeetBridge_Settings::sanitize_settings( array( 'site_id' => 'site_test' ) )['external_delete'], 'kept when not posted' );
	}

	public function test_a_refusal_keeps_the_previous_choice_and_says_why(): void {
		global $wp_settings_errors;
		require_once ABSPATH . 'wp-admin/includes/template.php';
		$wp_settings_errors = array(); // phpcs:ignore WordPress.WP.GlobalVariablesOverride
		$this->http         = new MeetBridge_Fake_Http( array( MeetBridge_Fake_Http::error( 422, 'invalid_settings' ), new WP_Error( 'http_request_failed', 'down' ) ) );
		$out                = MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'site_test', 'external_delete' => 'recreate' ) );
		$this->assertArrayNotHasKey( 'external_delete', $out );
		$this->assertStringContainsString( 'HTTP 422 invalid_settings', get_settings_errors( MeetBridge_Settings::OPTION )[0]['message'] );
		$out = MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'site_test', 'external_delete' => 'recreate' ) );
		$this->assertArrayNotHasKey( 'external_delete', $out );
		$out = MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'site_test', 'external_delete' => 'delete-everything' ) );
		$this->assertArrayNotHasKey( 'external_delete', $out );
		$this->assertCount( 2, $this->http->requests, 'an unknown choice is not sent' );
		$wp_settings_errors = array(); // phpcs:ignore WordPress.WP.GlobalVariablesOverride
	}

	public function test_the_settings_page_offers_the_choices(): void {
		global $wp_settings_sections, $wp_settings_fields;
		require_once ABSPATH . 'wp-admin/includes/template.php';
		$this->http = new MeetBridge_Fake_Http( array( $this->saved_answer( 'recreate' ) ) );
		update_option( MeetBridge_Settings::OPTION, MeetBridge_Settings::sanitize_settings( array( 'service_url' => 'https://meetbridge.test', 'site_id' => 'site_test', 'external_delete' => 'recreate', 'ea_apply_changes' => '1' ) ) );
		MeetBridge_Settings_Page::register();
		wp_set_current_user( 1 );
		ob_start();
		do_settings_sections( MeetBridge_Settings_Page::PAGE );
		$html = (string) ob_get_clean();
		wp_set_current_user( 0 );
		$wp_settings_sections = array(); // phpcs:ignore WordPress.WP.GlobalVariablesOverride
		$wp_settings_fields   = array(); // phpcs:ignore WordPress.WP.GlobalVariablesOverride
		unregister_setting( MeetBridge_Settings_Page::GROUP, MeetBridge_Settings::OPTION );
		unregister_setting( MeetBridge_Settings_Page::GROUP, MeetBridge_Settings::SECRET );
		$this->assertStringContainsString( 'When a meeting is deleted in Google Calendar or Zoom', $html );
		$this->assertStringContainsString( 'name="meetbridge_settings[external_delete]" value="recreate" checked=\'checked\'', $html );
		$this->assertStringContainsString( 'name="meetbridge_settings[external_delete]" value="cancel">', $html );
		$this->assertStringContainsString( 'Apply changes made in Google Calendar or Zoom', $html );
		$this->assertStringContainsString( 'id="meetbridge_ea_apply_changes" name="meetbridge_settings[ea_apply_changes]" value="1" checked=\'checked\'', $html );
	}
}
