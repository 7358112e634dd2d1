<?php
/**
 * The busy-slot filter: meetbridge_filter_slots() / apply_filters( 'meetbridge_filter_slots', … ),
 * with MeetBridge faked through `pre_http_request` (the real client signs and sends).
 *
 * @package MeetBridge
 */

class AvailabilityTest extends MeetBridge_Test_Case {

	/**
	 * Faked MeetBridge of the current test.
	 *
	 * @var MeetBridge_Fake_Http|null
	 */
	private ?MeetBridge_Fake_Http $http = null;

	protected function tearDown(): void {
		if ( $this->http ) {
			$this->http->stop();
		}
		wp_set_current_user( 0 );
	}

	private function fake( array $answers = array(), ?array $default = null ): MeetBridge_Fake_Http {
		$this->http = new MeetBridge_Fake_Http( $answers, $default );
		return $this->http;
	}

	/**
	 * A new request: the in-request cache is gone, transients stay.
	 */
	private function next_request(): void {
		MeetBridge_Availability::reset();
	}

	private function slot( string $start, string $end, string $id = '' ): array {
		return array( 'start' => $start, 'end' => $end ) + ( '' === $id ? array() : array( 'id' => $id ) );
	}

	public function test_overlapping_slots_go_touching_edges_stay(): void {
		$this->fake( array( MeetBridge_Fake_Http::busy( array( array( '2026-12-01T10:00:00Z', '2026-12-01T11:00:00Z' ) ) ) ) );
		$slots = array(
			$this->slot( '2026-12-01T10:00:00+01:00', '2026-12-01T11:00:00+01:00', 'ends-when-busy-starts' ),
			$this->slot( '2026-12-01T11:00:00+01:00', '2026-12-01T11:30:00+01:00', 'inside' ),
			$this->slot( '2026-12-01T10:30:00+01:00', '2026-12-01T11:00:01+01:00', 'one-second-in' ),
			$this->slot( '2026-12-01T11:59:59+01:00', '2026-12-01T13:00:00+01:00', 'last-second' ),
			$this->slot( '2026-12-01T09:00:00Z', '2026-12-01T12:00:00Z', 'around' ),
			$this->slot( '2026-12-01T12:00:00+01:00', '2026-12-01T12:30:00+01:00', 'starts-when-busy-ends' ),
		);
		$kept = meetbridge_filter_slots( $slots, 7 );
		$this->assertSame( array( 'ends-when-busy-starts', 'starts-when-busy-ends' ), array_column( $kept, 'id' ) );
		$this->assertSame( array( 0, 1 ), array_keys( $kept ), 'a list comes back as a list' );
		$this->assertCount( 1, $this->http->requests );
	}

	public function test_slots_in_every_form_and_keys_kept(): void {
		$this->fake( array( MeetBridge_Fake_Http::busy( array( array( '2026-12-01T09:00:00Z', '2026-12-01T10:00:00Z' ), array( '2026-12-01T14:00:00Z', '2026-12-01T14:30:00Z' ) ) ) ) );
		$berlin = new DateTimeZone( 'Europe/Berlin' );
		$slots  = array(
			'rfc'        => $this->slot( '2026-12-01T09:30:00Z', '2026-12-01T10:30:00Z' ),
			'datetime'   => array( 'start' => new DateTimeImmutable( '2026-12-01 15:00', $berlin ), 'end' => new DateTime( '2026-12-01 15:30', $berlin ) ),
			'unix'       => array( 'start' => strtotime( '2026-12-01T14:15:00Z' ), 'end' => strtotime( '2026-12-01T14:45:00Z' ) ),
			'numeric'    => array( 'start' => (string) strtotime( '2026-12-01T12:00:00Z' ), 'end' => (string) strtotime( '2026-12-01T12:30:00Z' ) ),
			'site-zone'  => $this->slot( '2026-12-01 11:00', '2026-12-01 11:30' ), // 10:00Z: touches
			'object'     => (object) $this->slot( '2026-12-01T08:30:00Z', '2026-12-01T09:30:00Z' ),
			'unreadable' => array( 'start' => 'tomorrow-ish', 'end' => '2026-12-01T09:30:00Z' ),
			'no-end'     => array( 'start' => '2026-12-01T09:30:00Z' ),
			'backwards'  => $this->slot( '2026-12-01T09:45:00Z', '2026-12-01T09:15:00Z' ),
		);
		$kept = apply_filters( 'meetbridge_filter_slots', $slots, '7' );
		$this->assertSame( array( 'numeric', 'site-zone', 'unreadable', 'no-end', 'backwards' ), array_keys( $kept ) );
		// The window is that of the readable slots, in UTC.
		list( , , $query ) = $this->http->query( 0 );
		$this->assertSame( array( 'staff_id' => '7', 'from' => '2026-12-01T08:30:00Z', 'to' => '2026-12-01T14:45:00Z' ), $query );
	}

	public function test_the_request_is_one_signed_get_over_the_path_and_query_as_sent(): void {
		$this->fake();
		update_option( MeetBridge_Settings::OPTION, array( 'service_url' => 'https://meetbridge.test:8443', 'site_id' => 'site_test' ) );
		meetbridge_filter_slots( array( $this->slot( '2026-12-01T09:00:00+01:00', '2026-12-01T09:30:00+01:00' ), $this->slot( '2026-12-02T17:00:00-05:00', '2026-12-02T18:00:00-05:00' ) ), 'ea-worker:4' );
		$this->assertCount( 1, $this->http->requests );
		$request = $this->http->requests[0];
		$this->assertSame( 'GET', $request['method'] );
		$this->assertSame(
			'https://meetbridge.test:8443/v1/sites/site_test/availability?staff_id=ea-worker%3A4&from=2026-12-01T08%3A00%3A00Z&to=2026-12-02T23%3A00%3A00Z',
			$request['url']
		);
		list( $path, $raw_query ) = $this->http->query( 0 );
		$headers                  = $request['headers'];
		$this->assertTrue(
			MeetBridge_Signer::verify( self::SECRET, $headers['webhook-id'], $headers['webhook-timestamp'], $headers['webhook-signature'], 'GET ' . $path . '?' . $raw_query )
		);
		$this->assertStringStartsWith( 'msg_', $headers['webhook-id'] );
		$this->assertSame( 'application/json', $headers['Accept'] );
		// Signed over the query as sent: over the decoded query it would not verify.
		$this->assertInstanceOf(
			WP_Error::class,
			MeetBridge_Signer::verify( self::SECRET, $headers['webhook-id'], $headers['webhook-timestamp'], $headers['webhook-signature'], 'GET ' . $path . '?' . rawurldecode( $raw_query ) )
		);
	}

	public function test_second_call_comes_from_the_request_cache_then_from_a_short_transient(): void {
		$this->fake( array( MeetBridge_Fake_Http::busy( array( array( '2026-12-01T09:00:00Z', '2026-12-01T10:00:00Z' ) ) ) ) );
		$slots = array( $this->slot( '2026-12-01T09:00:00Z', '2026-12-01T09:30:00Z' ), $this->slot( '2026-12-01T10:00:00Z', '2026-12-01T10:30:00Z' ) );
		$this->assertCount( 1, meetbridge_filter_slots( $slots, 7 ) );
		$this->assertCount( 1, meetbridge_filter_slots( $slots, 7 ) );
		$this->assertCount( 1, $this->http->requests, 'same request: no second call' );

		$this->next_request();
		$this->assertCount( 1, meetbridge_filter_slots( $slots, 7 ) );
		$this->assertCount( 1, $this->http->requests, 'next request: from the transient' );
		global $wpdb;
		$timeouts = $wpdb->get_col( "SELECT option_value FROM {$wpdb->options} WHERE option_name LIKE '\\_transient\\_timeout\\_meetbridge\\_busy\\_%'" ); // phpcs:ignore
		$this->assertCount( 1, $timeouts );
		$this->assertLessThanOrEqual( time() + 30, (int) $timeouts[0] );
		$this->assertGreaterThan( time(), (int) $timeouts[0] );

		// Another staff member or another window is another call.
		meetbridge_filter_slots( $slots, 8 );
		meetbridge_filter_slots( array( $slots[0] ), 7 );
		$this->assertCount( 3, $this->http->requests );
	}

	public function test_not_linked_keeps_every_slot_and_warns_the_admin_once(): void {
		$this->fake( array(), MeetBridge_Fake_Http::error( 404, 'not_linked' ) );
		$sam   = get_user_by( 'email', 'sam.staff@example.com' );
		$slots = array( $this->slot( '2026-12-01T09:00:00Z', '2026-12-01T09:30:00Z' ) );
		$this->assertSame( $slots, meetbridge_filter_slots( $slots, $sam->ID ) );
		$warnings = MeetBridge_Availability::warnings();
		$this->assertSame( array( 'not_linked:' . $sam->ID ), array_keys( $warnings ) );
		$this->assertSame( 404, $warnings[ 'not_linked:' . $sam->ID ]['status'] );

		// Shown to admins, with the way out.
		wp_set_current_user( 1 );
		ob_start();
		MeetBridge_Admin::notices();
		$html = ob_get_clean();
		$this->assertStringContainsString( 'meetbridge-availability', $html );
		$this->assertStringContainsString( 'Busy times of Sam Staff in Google Calendar could not be checked', $html );
		$this->assertStringContainsString( 'no Google Calendar connected', $html );
		$this->assertStringContainsString( 'page=meetbridge-staff', $html );
		wp_set_current_user( 0 );
		ob_start();
		MeetBridge_Admin::notices();
		$this->assertSame( '', ob_get_clean(), 'not to visitors' );

		// Rate-limited: the same reason is not written again for a while.
		$stamp = $warnings[ 'not_linked:' . $sam->ID ]['at'] - 60;
		$list  = get_option( MeetBridge_Settings::AVAILABILITY_WARNINGS );
		$list[ 'not_linked:' . $sam->ID ]['at'] = $stamp;
		update_option( MeetBridge_Settings::AVAILABILITY_WARNINGS, $list, false );
		delete_transient( 'meetbridge_hold_' . md5( 'site_test|' . $sam->ID ) );
		$this->next_request();
		meetbridge_filter_slots( $slots, $sam->ID );
		$this->assertCount( 2, $this->http->requests );
		$this->assertSame( $stamp, MeetBridge_Availability::warnings()[ 'not_linked:' . $sam->ID ]['at'] );

		// Once the busy times are read, the warning goes.
		$this->http->default = MeetBridge_Fake_Http::busy( array() );
		delete_transient( 'meetbridge_hold_' . md5( 'site_test|' . $sam->ID ) );
		$this->next_request();
		meetbridge_filter_slots( $slots, $sam->ID );
		$this->assertSame( array(), MeetBridge_Availability::warnings() );
	}

	public function test_needs_relink_keeps_the_slots_and_puts_the_account_on_the_relink_list(): void {
		$this->fake( array( MeetBridge_Fake_Http::error( 409, 'needs_relink' ) ) );
		$slots = array( $this->slot( '2026-12-01T09:00:00Z', '2026-12-01T09:30:00Z' ) );
		$this->assertSame( $slots, meetbridge_filter_slots( $slots, '7' ) );
		$this->assertSame( 'needs_relink', MeetBridge_Relink::all()['google:7']['reason'] );
		$this->assertArrayHasKey( 'needs_relink:7', MeetBridge_Availability::warnings() );
		wp_set_current_user( 1 );
		ob_start();
		MeetBridge_Admin::notices();
		$html = ob_get_clean();
		$this->assertStringContainsString( 'meetbridge-relink', $html );
		$this->assertStringNotContainsString( 'meetbridge-availability', $html, 'the relink notice says it once' );
	}

	public function test_a_503_is_not_retried_before_retry_after(): void {
		$this->fake( array( MeetBridge_Fake_Http::error( 503, 'rate_limited', array( 'retry-after' => '20' ) ) ) );
		$slots = array( $this->slot( '2026-12-01T09:00:00Z', '2026-12-01T09:30:00Z' ) );
		$this->assertSame( $slots, meetbridge_filter_slots( $slots, '7' ) );
		$hold = 'meetbridge_hold_' . md5( 'site_test|7' );
		$this->assertEqualsWithDelta( time() + 20, (int) get_transient( $hold ), 1 );
		$this->assertSame( 20, MeetBridge_Availability::warnings()['rate_limited:7']['retry_after'] );

		$this->next_request();
		$this->assertSame( $slots, meetbridge_filter_slots( $slots, '7' ) );
		$other = array( $this->slot( '2026-12-05T09:00:00Z', '2026-12-05T09:30:00Z' ) );
		$this->assertSame( $other, meetbridge_filter_slots( $other, '7' ), 'another window of the same staff member is held too' );
		$this->assertCount( 1, $this->http->requests, 'held: MeetBridge is not asked' );
		meetbridge_filter_slots( $slots, '8' );
		$this->assertCount( 2, $this->http->requests, 'another staff member is not held' );

		set_transient( $hold, time() - 1, 5 ); // Retry-After has passed.
		$this->next_request();
		meetbridge_filter_slots( $slots, '7' );
		$this->assertCount( 3, $this->http->requests );
	}

	public function test_unreachable_unknown_site_and_bad_answers_keep_every_slot(): void {
		$slots = array( $this->slot( '2026-12-01T09:00:00Z', '2026-12-01T09:30:00Z' ) );
		$cases = array(
			'unreachable'     => new WP_Error( 'http_request_failed', 'cURL error 7: Failed to connect' ),
			'unknown_site'    => MeetBridge_Fake_Http::error( 404, 'unknown_site' ),
			'bad_signature'   => MeetBridge_Fake_Http::error( 401, 'bad_signature' ),
			'invalid_request' => MeetBridge_Fake_Http::error( 422, 'invalid_request' ),
			'bad_answer'      => array( 200, array( 'busy' => array( array( 'start' => 'soon' ) ) ), array() ),
		);
		$staff = 10;
		foreach ( $cases as $code => $answer ) {
			$this->fake( array( $answer ) );
			$this->assertSame( $slots, meetbridge_filter_slots( $slots, $staff ), $code );
			$this->assertArrayHasKey( $code . ':' . $staff, MeetBridge_Availability::warnings(), $code );
			$this->assertNotFalse( get_transient( 'meetbridge_hold_' . md5( 'site_test|' . $staff ) ), $code );
			$this->http->stop();
			++$staff;
		}
	}

	public function test_nothing_is_asked_without_settings_a_staff_id_or_readable_slots(): void {
		$this->fake();
		$slots = array( $this->slot( '2026-12-01T09:00:00Z', '2026-12-01T09:30:00Z' ) );
		$this->assertSame( $slots, meetbridge_filter_slots( $slots, 'bad id' ) );
		$this->assertSame( array(), meetbridge_filter_slots( array(), 7 ) );
		$this->assertSame( 'not slots', meetbridge_filter_slots( 'not slots', 7 ) );
		$this->assertSame( array( array( 'start' => 'x', 'end' => 'y' ) ), meetbridge_filter_slots( array( array( 'start' => 'x', 'end' => 'y' ) ), 7 ) );
		update_option( MeetBridge_Settings::SECRET, '' );
		$this->assertSame( $slots, meetbridge_filter_slots( $slots, 7 ) );
		$this->assertSame( array(), $this->http->requests );
		$this->assertSame( array(), MeetBridge_Availability::warnings() );
	}

	public function test_a_window_over_90_days_is_asked_in_parts(): void {
		$this->fake(
			array(
				MeetBridge_Fake_Http::busy( array() ),
				MeetBridge_Fake_Http::busy( array( array( '2027-03-05T09:00:00Z', '2027-03-05T10:00:00Z' ) ) ),
			)
		);
		$slots = array( $this->slot( '2026-12-01T09:00:00Z', '2026-12-01T10:00:00Z' ), $this->slot( '2027-03-05T09:00:00Z', '2027-03-05T09:30:00Z' ) );
		$this->assertSame( array( $slots[0] ), meetbridge_filter_slots( $slots, 7 ) );
		$this->assertCount( 2, $this->http->requests );
		list( , , $first )  = $this->http->query( 0 );
		list( , , $second ) = $this->http->query( 1 );
		$this->assertSame( array( '2026-12-01T09:00:00Z', '2027-03-01T09:00:00Z' ), array( $first['from'], $first['to'] ) );
		$this->assertSame( array( '2027-03-01T09:00:00Z', '2027-03-05T09:30:00Z' ), array( $second['from'], $second['to'] ) );
	}
}
