<?php
/**
 * The outbox: ordering per booking, backoff, verdicts, stable webhook ids.
 *
 * @package MeetBridge
 */

class OutboxTest extends MeetBridge_Test_Case {

	public function test_backoff_grows_and_caps_at_an_hour(): void {
		$waits = array_map( array( 'MeetBridge_Outbox', 'backoff' ), range( 1, 12 ) );
		$this->assertSame( array( 10, 30, 60, 120, 300, 600, 1800, 3600, 3600, 3600, 3600, 3600 ), $waits );
	}

	public function test_verdicts(): void {
		$verdict = static fn( int $status ) => MeetBridge_Outbox::verdict( array( 'status' => $status ) );
		$this->assertSame( 'ack', $verdict( 200 ) );
		$this->assertSame( 'ack', $verdict( 202 ) );
		foreach ( array( 0, 429, 500, 502, 503 ) as $status ) {
			$this->assertSame( 'retry', $verdict( $status ), (string) $status );
		}
		foreach ( array( 400, 401, 404, 413, 415, 422 ) as $status ) {
			$this->assertSame( 'fail', $verdict( $status ), (string) $status );
		}
	}

	public function test_one_event_per_booking_leaves_at_a_time_in_revision_order(): void {
		do_action( 'meetbridge_booking_created', $this->booking( array( 'id' => 'a' ) ) );
		do_action( 'meetbridge_booking_created', $this->booking( array( 'id' => 'b' ) ) );
		do_action( 'meetbridge_booking_updated', $this->booking( array( 'id' => 'a', 'title' => 'Moved' ) ) );
		do_action( 'meetbridge_booking_cancelled', array( 'id' => 'a' ) );
		$due = MeetBridge_Outbox::due();
		$this->assertSame( array( array( 'a', '1' ), array( 'b', '1' ) ), array_map( static fn( $r ) => array( $r['booking_id'], $r['revision'] ), $due ) );

		$client = new MeetBridge_Fake_Client();
		MeetBridge_Outbox::run( $client );
		$sent = array_map( static fn( $s ) => array( $s[1]['booking']['id'], $s[1]['booking']['revision'], $s[1]['type'] ), $client->sent );
		$this->assertSame(
			array( array( 'a', 1, 'booking.created' ), array( 'b', 1, 'booking.created' ), array( 'a', 2, 'booking.updated' ), array( 'a', 3, 'booking.cancelled' ) ),
			$sent
		);
		$this->assertSame( array( 'sent' ), array_values( array_unique( array_column( $this->outbox(), 'status' ) ) ) );
	}

	public function test_a_later_revision_waits_while_an_earlier_one_is_retried(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		do_action( 'meetbridge_booking_updated', $this->booking( array( 'title' => 'Second' ) ) );
		$client = new MeetBridge_Fake_Client( array( 503 ) );
		$stats  = MeetBridge_Outbox::run( $client );
		$this->assertSame( 1, $stats['retry'] );
		$this->assertCount( 1, $client->sent, 'rev 2 must not overtake rev 1' );
		$rows = $this->outbox();
		$this->assertSame( 'pending', $rows[0]['status'] );
		$this->assertSame( '1', $rows[0]['attempts'] );
		$this->assertEqualsWithDelta( time() + 10, (int) $rows[0]['next_attempt_at'], 2 );
		$this->assertSame( array(), MeetBridge_Outbox::due(), 'nothing is due during the backoff' );
		$this->assertNotNull( MeetBridge_Bookings::get( '123' )['last_error'] );

		// Later: the retry carries the same webhook-id, then rev 2 follows.
		MeetBridge_Outbox::retry_now();
		MeetBridge_Outbox::run( $client );
		$this->assertCount( 3, $client->sent );
		$this->assertSame( $client->sent[0][0], $client->sent[1][0], 'a retry keeps its webhook-id' );
		$this->assertSame( $rows[0]['webhook_id'], $client->sent[0][0] );
		$this->assertSame( 2, $client->sent[2][1]['booking']['revision'] );
		$this->assertNotSame( $client->sent[0][0], $client->sent[2][0] );
		$this->assertSame( 'pending', MeetBridge_Bookings::get( '123' )['state'] );
	}

	public function test_a_4xx_fails_for_good_with_the_reason_and_does_not_block_later_revisions(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		do_action( 'meetbridge_booking_updated', $this->booking() );
		$client = new MeetBridge_Fake_Client( array( 422, 202 ) );
		$stats  = MeetBridge_Outbox::run( $client );
		$this->assertSame( 1, $stats['failed'] );
		$this->assertSame( 1, $stats['sent'] );
		$rows = $this->outbox();
		$this->assertSame( array( 'failed', 'sent' ), array_column( $rows, 'status' ) );
		$this->assertStringContainsString( 'HTTP 422', $rows[0]['last_error'] );
		MeetBridge_Outbox::run( $client );
		$this->assertCount( 2, $client->sent, 'a failed event is never retried on its own' );
	}

	public function test_429_honours_retry_after(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		$client = new class() extends MeetBridge_Fake_Client {
			public function post_event( string $body, string $webhook_id ): array {
				return array( 'ok' => false, 'status' => 429, 'body' => null, 'error' => 'HTTP 429', 'date' => '', 'retry_after' => 120 );
			}
		};
		MeetBridge_Outbox::run( $client );
		$this->assertEqualsWithDelta( time() + 120, (int) $this->outbox()[0]['next_attempt_at'], 2 );
	}

	public function test_settings_change_requeues_events_refused_for_the_settings(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		MeetBridge_Outbox::run( new MeetBridge_Fake_Client( array( 401 ) ) );
		$this->assertSame( 'failed', $this->outbox()[0]['status'] );
		$this->assertSame( 'failed', MeetBridge_Bookings::get( '123' )['state'] );
		update_option( MeetBridge_Settings::SECRET, 'whsec_' . base64_encode( random_bytes( 32 ) ) );
		$this->assertSame( 'pending', $this->outbox()[0]['status'] );
		$client = new MeetBridge_Fake_Client();
		MeetBridge_Outbox::run( $client );
		$this->assertCount( 1, $client->sent );
		$this->assertSame( 'pending', MeetBridge_Bookings::get( '123' )['state'] );
	}

	public function test_one_sender_at_a_time(): void {
		global $wpdb;
		do_action( 'meetbridge_booking_created', $this->booking() );
		$name  = 'meetbridge_outbox_' . substr( md5( DB_NAME . '|' . $wpdb->prefix ), 0, 12 );
		$other = new wpdb( DB_USER, DB_PASSWORD, DB_NAME, DB_HOST );
		$this->assertSame( '1', $other->get_var( $other->prepare( 'SELECT GET_LOCK(%s, 0)', $name ) ) );
		$client = new MeetBridge_Fake_Client();
		$this->assertTrue( MeetBridge_Outbox::run( $client )['locked'] );
		$this->assertCount( 0, $client->sent );
		$other->query( $other->prepare( 'SELECT RELEASE_LOCK(%s)', $name ) );
		$this->assertFalse( MeetBridge_Outbox::run( $client )['locked'] );
		$this->assertCount( 1, $client->sent );
	}

	public function test_the_stored_body_is_what_the_service_expects(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		$body = json_decode( $this->outbox()[0]['body'], true );
		$this->assertSame( 'booking.created', $body['type'] );
		$this->assertSame(
			array( 'id', 'revision', 'title', 'start', 'end', 'timezone', 'staff', 'customer', 'video', 'location' ),
			array_keys( $body['booking'] )
		);
		$this->assertSame( 1, $body['booking']['revision'] );
		$this->assertNull( $body['booking']['location'] );
		$this->assertNotFalse( wp_next_scheduled( MeetBridge_Outbox::HOOK ), 'WP-Cron is the safety net' );
	}

	public function test_spawn_writes_one_keyed_loopback_request_while_no_sender_runs(): void {
		$server = stream_socket_server( 'tcp://127.0.0.1:0' );
		$where  = stream_socket_get_name( $server, false );
		$url    = static fn() => "http://{$where}/wp-json/meetbridge/v1/outbox-run";
		remove_filter( 'meetbridge_spawn_sender', '__return_false' );
		add_filter( 'meetbridge_spawn_url', $url );
		try {
			delete_option( MeetBridge_Settings::SPAWNED );
			( new ReflectionProperty( 'MeetBridge_Outbox', 'spawn_pending' ) )->setValue( null, false ); // Left over from earlier tests.
			$this->assertFalse( MeetBridge_Outbox::spawn_at_shutdown(), 'nothing stored, nothing spawned' );
			do_action( 'meetbridge_booking_created', $this->booking() );
			$started = microtime( true );
			$this->assertTrue( MeetBridge_Outbox::spawn_at_shutdown() );
			$this->assertLessThan( 0.05, microtime( true ) - $started, 'the request never waits for the sender' );
			$connection = stream_socket_accept( $server, 2 );
			$request    = stream_get_contents( $connection );
			fclose( $connection );
			$this->assertStringStartsWith( 'POST /wp-json/meetbridge/v1/outbox-run HTTP/1.1', $request );
			parse_str( substr( $request, strpos( $request, "\r\n\r\n" ) + 4 ), $form );
			$rest = new WP_REST_Request( 'POST', '/meetbridge/v1/outbox-run' );
			$rest->set_param( 't', $form['t'] );
			$rest->set_param( 'key', $form['key'] );
			$this->assertTrue( MeetBridge_Outbox::spawn_allowed( $rest ) );
			$rest->set_param( 'key', str_repeat( '0', 64 ) );
			$this->assertFalse( MeetBridge_Outbox::spawn_allowed( $rest ) );
			$this->assertSame( 401, rest_do_request( new WP_REST_Request( 'POST', '/meetbridge/v1/outbox-run' ) )->get_status() );

			// While that sender runs, more bookings spawn nothing; once it has finished, they do again.
			do_action( 'meetbridge_booking_updated', $this->booking() );
			$this->assertFalse( MeetBridge_Outbox::spawn_at_shutdown() );
			MeetBridge_Outbox::run( new MeetBridge_Fake_Client() );
			do_action( 'meetbridge_booking_updated', $this->booking() );
			$this->assertTrue( MeetBridge_Outbox::spawn_at_shutdown() );
			fclose( stream_socket_accept( $server, 2 ) );

			// A sender spawned while the settings were incomplete stops at once; the next booking,
			// once they are complete, spawns one again (not after the 30 s a running sender gets).
			update_option( MeetBridge_Settings::SECRET, '' );
			MeetBridge_Outbox::run();
			update_option( MeetBridge_Settings::SECRET, self::SECRET );
			do_action( 'meetbridge_booking_updated', $this->booking() );
			$this->assertTrue( MeetBridge_Outbox::spawn_at_shutdown() );
			fclose( stream_socket_accept( $server, 2 ) );
		} finally {
			remove_filter( 'meetbridge_spawn_url', $url );
			add_filter( 'meetbridge_spawn_sender', '__return_false' );
			fclose( $server );
		}
	}
}
