<?php
/**
 * Every path by which an Easy Appointments appointment stops existing or stops getting a meeting,
 * the confirmed-only setting, and the join link in its e-mails and confirmation. Easy Appointments
 * 3.12.23 is reproduced by tests/wordpress/fixtures/easy-appointments-3.12.23.php (MeetBridge_EA_Double):
 * the same tables and rows, the same hook calls with the same arguments, the same AJAX requests, as
 * observed in the real plugin.
 *
 * @package MeetBridge
 */

class EasyAppointmentsCoverageTest extends MeetBridge_Test_Case {

	public static function setUpBeforeClass(): void {
		MeetBridge_EA_Double::$exit = false;
	}

	public static function tearDownAfterClass(): void {
		MeetBridge_EA_Double::uninstall();
		MeetBridge_EA_Double::$exit = true;
	}

	protected function setUp(): void {
		parent::setUp();
		MeetBridge_EA_Double::install( 'admin@example.com' ); // The worker is WordPress user 1.
		$_GET     = array();
		$_POST    = array();
		$_REQUEST = array();
	}

	protected function tearDown(): void {
		$_GET     = array();
		$_POST    = array();
		$_REQUEST = array();
		remove_all_actions( 'wp_ajax_ea_appointment', 10 );
		remove_all_actions( 'wp_ajax_delete_selected_appointment', 10 );
		remove_all_actions( 'wp_ajax_cancel_selected_appointments', 10 );
		parent::tearDown();
	}

	private function ea_sync( string $mode ): void {
		$settings            = get_option( MeetBridge_Settings::OPTION );
		$settings['ea_sync'] = $mode;
		update_option( MeetBridge_Settings::OPTION, $settings );
	}

	private function events(): array {
		return array_map(
			static fn( $row ) => array( $row['booking_id'], $row['event_type'] ),
			$this->outbox()
		);
	}

	/**
	 * An admin-ajax request as the browser sent it, run through WordPress's action with Easy
	 * Appointments' handler (the double) at its priority, then the end of the request.
	 *
	 * @param string $action  AJAX action.
	 * @param array  $get     Query.
	 * @param array  $post    Form body.
	 * @param string $handler The double's handler.
	 */
	private function ajax( string $action, array $get, array $post, string $handler ): void {
		wp_set_current_user( 1 );
		$_GET     = array_merge( array( 'action' => $action ), $get );
		$_POST    = $post;
		$_REQUEST = array_merge( $_GET, $_POST );
		add_action( 'wp_ajax_' . $action, array( 'MeetBridge_EA_Double', $handler ) );
		do_action( 'wp_ajax_' . $action );
		MeetBridge_EA_Watch::at_shutdown(); // What `shutdown` runs after Easy Appointments' die().
	}

	public function test_a_booking_from_the_form_waits_for_confirmation_by_default(): void {
		$id = MeetBridge_EA_Double::book( '2026-12-10', '10:00', 'cus@example.com' );
		$this->assertSame( 'pending', MeetBridge_EA_Double::row( $id )['status'] );
		$this->assertSame( array(), $this->outbox(), 'no meeting, no invitation while pending' );
		// The customer confirms through Easy Appointments' e-mail link.
		$redirect = MeetBridge_EA_Double::confirm_by_link( $id );
		$this->assertSame( array( array( "ea-$id", 'booking.created' ) ), $this->events() );
		$body = json_decode( $this->outbox()[0]['body'], true );
		$this->assertSame( array( 'email' => 'cus@example.com', 'name' => 'Cat Customer' ), $body['booking']['customer'] );
		$this->assertSame( '2026-12-10T10:00:00+01:00', $body['booking']['start'] );
		// Its confirmation page goes on to the customer's join page instead of the home page.
		parse_str( (string) wp_parse_url( $redirect, PHP_URL_QUERY ), $query );
		$this->assertSame( "ea-$id", $query['meetbridge_join'] );
		$this->assertTrue( MeetBridge_Join_Link::valid_token( "ea-$id", $query['meetbridge_token'] ) );
	}

	public function test_an_admin_confirming_a_pending_appointment_creates_it(): void {
		$id = MeetBridge_EA_Double::book( '2026-12-10', '10:00', 'cus@example.com' );
		MeetBridge_EA_Double::admin_edit( $id, array( 'status' => 'confirmed' ) );
		$this->assertSame( array( array( "ea-$id", 'booking.created' ) ), $this->events() );
		// Put back to pending in confirmed-only mode: no meeting any more.
		MeetBridge_EA_Double::admin_edit( $id, array( 'status' => 'pending' ) );
		$this->assertSame( array( "ea-$id", 'booking.cancelled' ), $this->events()[1] );
	}

	public function test_pending_mode_sends_at_once_and_cancels_a_rejected_one(): void {
		$this->ea_sync( 'pending' );
		$id = MeetBridge_EA_Double::book( '2026-12-10', '10:00', 'cus@example.com' );
		$this->assertSame( array( array( "ea-$id", 'booking.created' ) ), $this->events() );
		MeetBridge_EA_Double::admin_edit( $id, array( 'status' => 'canceled' ) );
		$this->assertSame( array( array( "ea-$id", 'booking.created' ), array( "ea-$id", 'booking.cancelled' ) ), $this->events() );
	}

	public function test_the_delete_button_of_the_appointments_page_cancels(): void {
		$id   = MeetBridge_EA_Double::book( '2026-12-10', '10:00', 'cus@example.com' );
		$kept = MeetBridge_EA_Double::book( '2026-12-10', '11:00', 'other@example.com' );
		MeetBridge_EA_Double::admin_edit( $id, array( 'status' => 'confirmed' ) );
		MeetBridge_EA_Double::admin_edit( $kept, array( 'status' => 'confirmed' ) );
		// POST /wp-admin/admin-ajax.php?action=ea_appointment&id=N&_wpnonce=…&_method=DELETE, empty body.
		wp_set_current_user( 1 );
		$this->ajax( 'ea_appointment', array( 'id' => (string) $id, '_wpnonce' => wp_create_nonce( 'wp_rest' ), '_method' => 'DELETE' ), array(), 'ajax_appointment' );
		$this->assertNull( MeetBridge_EA_Double::row( $id ) );
		$this->assertSame( array( "ea-$id", 'booking.cancelled' ), $this->events()[2] );
		$this->assertCount( 3, $this->outbox(), 'the other appointment is left alone' );
	}

	public function test_a_request_that_deleted_nothing_cancels_nothing(): void {
		$id = MeetBridge_EA_Double::book( '2026-12-10', '10:00', 'cus@example.com' );
		MeetBridge_EA_Double::admin_edit( $id, array( 'status' => 'confirmed' ) );
		// The watcher notes the id, but Easy Appointments refused (its handler never ran).
		$_GET     = array( 'action' => 'ea_appointment', 'id' => (string) $id, '_method' => 'DELETE' );
		$_REQUEST = $_GET;
		do_action( 'wp_ajax_ea_appointment' );
		MeetBridge_EA_Watch::at_shutdown();
		$this->assertSame( array( array( "ea-$id", 'booking.created' ) ), $this->events() );
		// GET and PUT of the same action are not deletions.
		$_REQUEST['_method'] = 'PUT';
		do_action( 'wp_ajax_ea_appointment' );
		MeetBridge_EA_Watch::at_shutdown();
		$this->assertCount( 1, $this->outbox() );
	}

	public function test_delete_selected_and_cancel_all(): void {
		wp_set_current_user( 1 );
		$this->ea_sync( 'pending' );
		$a    = MeetBridge_EA_Double::book( '2030-01-10', '10:00', 'a@example.com' );
		$b    = MeetBridge_EA_Double::book( '2030-01-10', '11:00', 'b@example.com' );
		$c    = MeetBridge_EA_Double::book( '2030-01-10', '12:00', 'c@example.com' );
		$past = MeetBridge_EA_Double::book( '2020-01-10', '12:00', 'p@example.com' );
		// "Delete Selected": action=delete_selected_appointment&appointments[]=A&appointments_nonce=…
		$this->ajax( 'delete_selected_appointment', array(), array( 'appointments' => array( (string) $a ), 'appointments_nonce' => wp_create_nonce( 'appointments_nonce' ) ), 'ajax_delete_selected' );
		$this->assertSame( array( "ea-$a", 'booking.cancelled' ), $this->events()[4] );
		// "Cancel All": action=cancel_selected_appointments&cancel_to=all (a direct UPDATE, no hook).
		$this->ajax( 'cancel_selected_appointments', array(), array( 'cancel_to' => 'all', 'appointments_nonce' => wp_create_nonce( 'appointments_nonce' ) ), 'ajax_cancel_selected' );
		$this->assertSame( 'abandoned', MeetBridge_EA_Double::row( $b )['status'] );
		$this->assertSame( 'pending', MeetBridge_EA_Double::row( $past )['status'], 'Cancel All leaves past appointments' );
		$cancelled = array_slice( $this->events(), 5 );
		sort( $cancelled );
		$this->assertSame( array( array( "ea-$b", 'booking.cancelled' ), array( "ea-$c", 'booking.cancelled' ) ), $cancelled );
	}

	public function test_maintenance_reconciles_what_no_request_named_once(): void {
		global $wpdb;
		$p = $wpdb->prefix;
		$this->ea_sync( 'pending' );
		$gone      = MeetBridge_EA_Double::book( '2030-01-10', '10:00', 'a@example.com' );
		$abandoned = MeetBridge_EA_Double::book( '2030-01-10', '11:00', 'b@example.com' );
		$kept      = MeetBridge_EA_Double::book( '2030-01-10', '12:00', 'c@example.com' );
		$wpdb->query( $wpdb->prepare( "DELETE FROM {$p}ea_appointments WHERE id = %d", $gone ) ); // Any SQL, a cron job…
		$wpdb->query( $wpdb->prepare( "UPDATE {$p}ea_appointments SET status = 'abandoned' WHERE id = %d", $abandoned ) );
		$this->assertSame( 2, MeetBridge_Maintenance::run()['cancelled'] );
		$cancelled = array_slice( $this->events(), 3 );
		sort( $cancelled );
		$this->assertSame( array( array( "ea-$gone", 'booking.cancelled' ), array( "ea-$abandoned", 'booking.cancelled' ) ), $cancelled );
		$this->assertSame( 0, MeetBridge_Maintenance::run()['cancelled'], 'each is cancelled once' );
		// An appointment long over, cleared out of Easy Appointments: its calendar history stays,
		// unless an admin deletes it explicitly.
		$over = MeetBridge_EA_Double::book( '2026-11-20', '10:00', 'd@example.com' );
		$wpdb->query( $wpdb->prepare( "DELETE FROM {$p}ea_appointments WHERE id = %d", $over ) );
		$this->assertSame( 0, MeetBridge_Maintenance::run()['cancelled'] );
		$this->assertSame( array( "ea-$over" ), MeetBridge_EA_Watch::stale( array( $over ) ) );
		// Deleting the worker takes their appointments with it (foreign key ON DELETE CASCADE).
		$wpdb->query( "DELETE FROM {$p}ea_staff WHERE id = 1" );
		$this->assertSame( array( "ea-$kept" ), MeetBridge_EA_Watch::stale() );
		// Easy Appointments deleted with its tables: nothing is cancelled for that.
		MeetBridge_EA_Double::uninstall();
		$this->assertSame( array(), MeetBridge_EA_Watch::stale() );
	}

	public function test_switching_to_confirmed_only_cancels_meetings_of_pending_appointments_at_reconcile(): void {
		$this->ea_sync( 'pending' );
		$pending   = MeetBridge_EA_Double::book( '2030-01-10', '10:00', 'a@example.com' );
		$confirmed = MeetBridge_EA_Double::book( '2030-01-10', '11:00', 'b@example.com' );
		MeetBridge_EA_Double::admin_edit( $confirmed, array( 'status' => 'confirmed' ) );
		$this->ea_sync( 'confirmed' );
		$this->assertSame( array( "ea-$pending" ), MeetBridge_EA_Watch::stale() );
	}

	public function test_mail_tags_lead_the_customer_to_their_join_page(): void {
		MeetBridge_EA_Double::set_option( 'send.user.email', '1' );
		MeetBridge_EA_Double::set_option( 'mail.pending', 'Hi #name#. Video: #meetbridge_join_link# (#meetbridge_join_url#)' );
		$id   = MeetBridge_EA_Double::book( '2026-12-10', '10:00', 'cus@example.com' );
		$mail = MeetBridge_EA_Double::$mails[0];
		$this->assertSame( 'cus@example.com', $mail['to'] );
		$this->assertStringNotContainsString( '#meetbridge_', $mail['body'] );
		$this->assertSame( 1, preg_match( '#<a href="([^"]+)">Join the video meeting</a> \\(([^)]+)\\)#', $mail['body'], $m ), $mail['body'] );
		$this->assertSame( $m[1], $m[2] );
		parse_str( (string) wp_parse_url( html_entity_decode( $m[1] ), PHP_URL_QUERY ), $query );
		$this->assertSame( "ea-$id", $query['meetbridge_join'] );
		// Not sent yet (pending): the token is checked against Easy Appointments' own e-mail.
		$page = MeetBridge_Join_Page::render( "ea-$id", $query['meetbridge_token'] );
		$this->assertSame( array( 200, 'unsent' ), array( $page['status'], $page['state'] ) );
		$this->assertSame( 'denied', MeetBridge_Join_Page::render( "ea-$id", str_repeat( 'a', 32 ) )['state'] );
		// Staff and admin e-mails get the page without a token (they log in).
		$admin = apply_filters( 'easy_ea_admin_mail_template', 'New: #meetbridge_join_url#' );
		$this->assertSame( 'New: ' . esc_url( home_url( '/' ) . '?meetbridge_join=ea-#id#' ), $admin );
		$this->assertSame( 'No tags', apply_filters( 'easy_ea_customer_mail_template', 'No tags', array( 'id' => (string) $id ), array() ) );
	}
}
