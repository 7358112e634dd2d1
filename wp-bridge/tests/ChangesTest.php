<?php
/**
 * `booking.changed` through the real results route: shape, ordering by sequence, what is stored, the
 * links following the change, the action for themes and plugins, the bookings page, the admin notice,
 * the schema upgrade and the privacy tools.
 *
 * @package MeetBridge
 */

class ChangesTest extends MeetBridge_Test_Case {

	/**
	 * `meetbridge_booking_changed` calls seen: [ booking id, data ].
	 *
	 * @var array
	 */
	private array $announced = array();

	/**
	 * The site's zone before the test.
	 *
	 * @var string
	 */
	private string $zone = '';

	protected function setUp(): void {
		parent::setUp();
		$this->zone = (string) get_option( 'timezone_string' );
		update_option( 'timezone_string', 'Europe/Berlin' );
		$this->announced = array();
		add_action( 'meetbridge_booking_changed', array( $this, 'record' ), 10, 2 );
	}

	protected function tearDown(): void {
		remove_action( 'meetbridge_booking_changed', array( $this, 'record' ), 10 );
		update_option( 'timezone_string', $this->zone );
		$_GET = array();
		wp_set_current_user( 0 );
	}

	public function record( $booking_id, $data ): void {
		$this->announced[] = array( $booking_id, $data );
	}

	private function synced( int $revision, string $join = 'https://zoom.example/j/1' ): void {
		$answer = self::post_result(
			array(
				'type' => 'booking.synced',
				'data' => array(
					'booking_id' => '123',
					'revision'   => $revision,
					'state'      => 'synced',
					'zoom'       => array( 'meeting_id' => '8123', 'join_url' => $join ),
					'google'     => array( 'event_id' => 'abc123', 'html_link' => 'https://calendar.example/e/abc123' ),
				),
			)
		);
		$this->assertSame( 'applied', $answer->get_data()['status'] );
	}

	private function admin_notices(): string {
		wp_set_current_user( 1 );
		ob_start();
		MeetBridge_Admin::notices();
		return (string) ob_get_clean();
	}

	private function bookings_page(): string {
		require_once ABSPATH . 'wp-admin/includes/template.php';
		wp_set_current_user( 1 );
		ob_start();
		MeetBridge_Bookings_Page::render();
		return (string) ob_get_clean();
	}

	public function test_a_move_is_stored_shown_and_announced(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		$this->synced( 1 );
		$message = self::changed_result( array( 'future_field' => 'ignored' ) );
		$answer  = self::post_result( $message );
		$this->assertSame( 200, $answer->get_status() );
		$this->assertSame( 'applied', $answer->get_data()['status'] );
		$row = MeetBridge_Bookings::get( '123' );
		$this->assertSame( array( '1', 'moved', 'google', '2026-12-03T09:00:00Z', '2026-12-03T09:30:00Z', 'synced', '0' ), array( $row['change_sequence'], $row['change_kind'], $row['change_provider'], $row['change_start'], $row['change_end'], $row['change_state'], $row['change_seen'] ) );
		$this->assertSame( (string) strtotime( '2026-12-01T08:00:00Z' ), $row['change_at'] );
		$this->assertSame( '2026-12-01T10:00:00+01:00', $row['starts_at'], "the booking's own start, until its plugin moves it" );
		$this->assertSame( 'synced', $row['state'] );
		$this->assertSame( array( array( '123', $message['data'] ) ), $this->announced );
		$this->assertSame( 'Moved in Google Calendar to 3 Dec 10:00–10:30 (site time)', MeetBridge_Changes::describe( $row ) );
		$this->assertSame( 'https://zoom.example/j/1', MeetBridge_Bookings::join_link( '123' ) );
	}

	public function test_a_change_not_newer_than_the_last_applied_is_acknowledged_and_ignored(): void {
		$this->assertSame( 'applied', self::post_result( self::changed_result( array( 'sequence' => 2, 'start' => '2026-12-03T12:00:00Z', 'end' => '2026-12-03T12:30:00Z' ) ) )->get_data()['status'] );
		$older = self::post_result( self::changed_result( array( 'sequence' => 1 ) ) );
		$this->assertSame( 200, $older->get_status() );
		$this->assertSame( 'ignored', $older->get_data()['status'] );
		$same = self::post_result( self::changed_result( array( 'sequence' => 2, 'kind' => 'deleted', 'start' => null, 'end' => null, 'state' => 'partial' ) ) );
		$this->assertSame( 'ignored', $same->get_data()['status'] );
		$row = MeetBridge_Bookings::get( '123' );
		$this->assertSame( array( '2', 'moved', '2026-12-03T12:00:00Z' ), array( $row['change_sequence'], $row['change_kind'], $row['change_start'] ) );
		$this->assertCount( 1, $this->announced );
		$this->assertSame( 'applied', self::post_result( self::changed_result( array( 'sequence' => 3, 'kind' => 'deleted', 'provider' => 'zoom', 'state' => 'partial', 'zoom' => null ) ) )->get_data()['status'] );
		$this->assertCount( 2, $this->announced );
	}

	public function test_a_duplicate_delivery_is_not_applied_twice(): void {
		self::post_result( self::changed_result(), 'msg_change' );
		$again = self::post_result( self::changed_result(), 'msg_change' );
		$this->assertSame( 'duplicate', $again->get_data()['status'] );
		$this->assertCount( 1, $this->announced );
	}

	public function test_the_join_link_follows_the_change(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		$this->synced( 1 );
		self::post_result( self::changed_result( array( 'kind' => 'deleted', 'provider' => 'zoom', 'state' => 'partial', 'start' => null, 'end' => null, 'zoom' => null ) ) );
		$row = MeetBridge_Bookings::get( '123' );
		$this->assertNull( $row['join_url'] );
		$this->assertSame( '', $row['meeting_id'] );
		$this->assertSame( 'https://calendar.example/e/abc123', $row['event_link'], 'the Google event stays' );
		$this->assertSame( '', MeetBridge_Bookings::join_link( '123' ) );
		$this->assertSame( 'Zoom meeting deleted in Zoom — reported', MeetBridge_Changes::describe( $row ) );
		// A new meeting (policy recreate, after the site sent the booking again and a move).
		self::post_result( self::changed_result( array( 'sequence' => 2, 'zoom' => array( 'meeting_id' => '9999', 'join_url' => 'https://zoom.example/j/new' ) ) ) );
		$this->assertSame( 'https://zoom.example/j/new', MeetBridge_Bookings::join_link( '123' ) );
		$this->assertSame( '9999', MeetBridge_Bookings::get( '123' )['meeting_id'] );
	}

	public function test_a_cancelled_booking_is_marked_cancelled(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		$this->synced( 1 );
		self::post_result( self::changed_result( array( 'kind' => 'deleted', 'provider' => 'google', 'state' => 'cancelled', 'policy' => 'cancel', 'start' => null, 'end' => null, 'zoom' => null, 'google' => null ) ) );
		$row = MeetBridge_Bookings::get( '123' );
		$this->assertSame( 'cancelled', $row['state'] );
		$this->assertNull( $row['event_link'] );
		$this->assertSame( '', MeetBridge_Bookings::join_link( '123' ) );
		$this->assertSame( 'Google Calendar event deleted in Google Calendar — booking cancelled', MeetBridge_Changes::describe( $row ) );
		$row['change_state'] = 'recreating';
		$this->assertSame( 'Google Calendar event deleted in Google Calendar — being recreated', MeetBridge_Changes::describe( $row ) );
	}

	public function test_a_change_behind_a_newer_result_keeps_the_newer_links(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		$this->synced( 3, 'https://zoom.example/j/3' );
		self::post_result( self::changed_result( array( 'revision' => 2, 'zoom' => array( 'meeting_id' => '1', 'join_url' => 'https://zoom.example/j/old' ) ) ) );
		$row = MeetBridge_Bookings::get( '123' );
		$this->assertSame( 'moved', $row['change_kind'], 'the change itself is recorded' );
		$this->assertSame( 'https://zoom.example/j/3', MeetBridge_Bookings::join_link( '123' ) );
	}

	public function test_a_bad_shape_is_400_and_changes_nothing(): void {
		$bad = array(
			array( 'booking_id' => '' ),
			array( 'booking_id' => 12 ),
			array( 'sequence' => 0 ),
			array( 'sequence' => '2' ),
			array( 'provider' => 'outlook' ),
			array( 'kind' => 'renamed' ),
			array( 'state' => 'weird' ),
			array( 'start' => 'tomorrow' ),
			array( 'end' => '2026-12-03T08:00:00Z' ),
			array( 'zoom' => 'https://zoom.example/j/1' ),
			array( 'resend' => 'yes' ),
		);
		foreach ( $bad as $data ) {
			$answer = self::post_result( self::changed_result( $data ), 'msg_bad' );
			$this->assertSame( 400, $answer->get_status(), wp_json_encode( $data ) );
		}
		$this->assertSame( 400, self::post_result( array( 'type' => 'booking.changed' ) )->get_status() );
		$this->assertNull( MeetBridge_Bookings::get( '123' ) );
		$this->assertSame( array(), $this->announced );
		// The id of a refused delivery is not remembered: the corrected one applies.
		$this->assertSame( 'applied', self::post_result( self::changed_result(), 'msg_bad' )->get_data()['status'] );
	}

	public function test_deleted_needs_no_times(): void {
		$message = self::changed_result( array( 'kind' => 'deleted', 'state' => 'partial' ) );
		unset( $message['data']['start'], $message['data']['end'] );
		$this->assertSame( 'applied', self::post_result( $message )->get_data()['status'] );
		$this->assertSame( '', MeetBridge_Bookings::get( '123' )['change_start'] );
	}

	public function test_the_bookings_page_shows_the_change_and_the_notice_until_seen(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		do_action( 'meetbridge_booking_created', $this->booking( array( 'id' => 'ea-5', 'title' => 'Tax advice' ) ) );
		self::post_result( self::changed_result() );
		self::post_result( self::changed_result( array( 'booking_id' => 'ea-5', 'kind' => 'deleted', 'provider' => 'zoom', 'state' => 'partial', 'zoom' => null ) ) );
		$notice = $this->admin_notices();
		$this->assertStringContainsString( 'meetbridge-changes', $notice );
		$this->assertStringContainsString( 'Moved in Google Calendar to 3 Dec 10:00–10:30 (site time)', $notice );
		$this->assertStringContainsString( 'Tax advice (ea-5)</a>: Zoom meeting deleted in Zoom — reported', $notice );
		$this->assertStringContainsString( esc_url( admin_url( 'admin.php?page=meetbridge' ) . '#meetbridge-booking-ea-5' ), $notice );
		$this->assertStringContainsString( 'name="action" value="meetbridge_changes_seen"', $notice );
		$this->assertStringContainsString( 'name="_wpnonce"', $notice );
		wp_set_current_user( 0 );
		ob_start();
		MeetBridge_Admin::notices();
		$this->assertSame( '', ob_get_clean(), 'only for admins' );

		// "Mark as seen" for one booking (what the form posts).
		MeetBridge_Bookings::mark_changes_seen( array( 'ea-5' ) );
		$notice = $this->admin_notices();
		$this->assertStringNotContainsString( 'ea-5', $notice );
		$this->assertStringContainsString( 'Moved in Google Calendar', $notice );

		$_GET['page'] = 'meetbridge';
		$this->assertStringNotContainsString( 'meetbridge-changes', $this->admin_notices(), 'the bookings page shows them itself' );
		$page = $this->bookings_page();
		$this->assertMatchesRegularExpression( '#<tr id="meetbridge-booking-123" data-booking-id="123" class="meetbridge-changed-new">.*Moved in Google Calendar to 3 Dec 10:00–10:30 \(site time\) <span class="meetbridge-new">\(new\)</span>#', $page );
		$this->assertStringContainsString( 'Zoom meeting deleted in Zoom — reported</td>', $page );
		$_GET = array();
		$this->assertStringNotContainsString( 'meetbridge-changes', $this->admin_notices(), 'seen on the bookings page' );
		$this->assertStringNotContainsString( '(new)', $this->bookings_page() );
		// A newer change is new again.
		self::post_result( self::changed_result( array( 'sequence' => 2, 'start' => '2026-12-04T09:00:00Z', 'end' => '2026-12-04T09:30:00Z' ) ) );
		$this->assertStringContainsString( 'Moved in Google Calendar to 4 Dec 10:00–10:30 (site time)', $this->admin_notices() );
	}

	public function test_the_changes_seen_action_checks_capability_and_nonce(): void {
		self::post_result( self::changed_result() );
		wp_set_current_user( 0 );
		$_POST = array( 'booking_ids' => array( '123' ) );
		add_filter( 'wp_die_handler', array( $this, 'die_handler' ) );
		try {
			MeetBridge_Admin::action_changes_seen();
			$this->fail( 'no capability: stopped' );
		} catch ( RuntimeException $e ) {
			$this->assertStringContainsString( 'not allowed', $e->getMessage() );
		} finally {
			remove_filter( 'wp_die_handler', array( $this, 'die_handler' ) );
			$_POST = array();
		}
		$this->assertSame( '0', MeetBridge_Bookings::get( '123' )['change_seen'] );
	}

	public function die_handler(): callable {
		return static function ( $message ) {
			throw new RuntimeException( is_string( $message ) ? $message : 'died' );
		};
	}

	public function test_schema_2_is_upgraded_and_keeps_its_rows(): void {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['bookings'];
		do_action( 'meetbridge_booking_created', $this->booking() );
		$columns = array( 'change_sequence', 'change_kind', 'change_provider', 'change_start', 'change_end', 'change_state', 'change_at', 'change_seen' );
		$wpdb->query( "ALTER TABLE {$table} DROP KEY change_seen, DROP COLUMN " . implode( ', DROP COLUMN ', $columns ) ); // phpcs:ignore
		update_option( MeetBridge_Settings::DB_VERSION, '2' );
		MeetBridge_Plugin::maybe_upgrade();
		$this->assertSame( '3', get_option( MeetBridge_Settings::DB_VERSION ) );
		$row = MeetBridge_Bookings::get( '123' );
		$this->assertSame( 'Intro call', $row['title'] );
		$this->assertSame( array( '0', '', '1' ), array( $row['change_sequence'], $row['change_kind'], $row['change_seen'] ) );
		$this->assertSame( array(), MeetBridge_Bookings::unseen_changes() );
		$this->assertSame( 'applied', self::post_result( self::changed_result() )->get_data()['status'] );
	}

	public function test_privacy_export_shows_the_change_and_scrub_drops_its_times(): void {
		do_action( 'meetbridge_booking_created', $this->booking() );
		self::post_result( self::changed_result() );
		update_option( MeetBridge_Settings::OPTION, array( 'service_url' => '', 'site_id' => '' ) ); // Nothing asked of MeetBridge.
		$export = MeetBridge_Privacy::export( 'cus@example.com', 1 );
		$pairs  = array_column( $export['data'][0]['data'], 'value', 'name' );
		$this->assertSame( 'Moved in Google Calendar to 3 Dec 10:00–10:30 (site time)', $pairs['Changed in Google Calendar or Zoom'] );
		MeetBridge_Bookings::scrub( '123' );
		$row = MeetBridge_Bookings::get( '123' );
		$this->assertSame( array( '', '', '1' ), array( $row['change_start'], $row['change_end'], $row['change_seen'] ) );
		MeetBridge_Privacy::erase( 'cus@example.com', 1 );
		$this->assertSame( '', (string) MeetBridge_Bookings::get( '123' )['change_start'] );
	}
}
