<?php
/**
 * Who sees a join link: the shortcode and the join page for an administrator, the booking's staff
 * member, the holder of the customer's token, and nobody else (a contributor previewing a post, a
 * visitor, the token of another booking or of a former customer).
 *
 * @package MeetBridge
 */

class JoinLinkTest extends MeetBridge_Test_Case {

	const JOIN = 'https://zoom.example/j/77?pwd=secret';

	private static int $staff;
	private static int $contributor;

	public static function setUpBeforeClass(): void {
		self::$staff       = wp_insert_user( array( 'user_login' => 'jl_staff', 'user_pass' => wp_generate_password(), 'user_email' => 'jl.staff@example.com', 'role' => 'author' ) );
		self::$contributor = wp_insert_user( array( 'user_login' => 'jl_contrib', 'user_pass' => wp_generate_password(), 'user_email' => 'jl.contrib@example.com', 'role' => 'contributor' ) );
	}

	public static function tearDownAfterClass(): void {
		require_once ABSPATH . 'wp-admin/includes/user.php';
		wp_delete_user( self::$staff );
		wp_delete_user( self::$contributor );
	}

	protected function setUp(): void {
		parent::setUp();
		$_GET = array();
		MeetBridge_Booking_API::submit( 'booking.created', $this->booking( array( 'id' => 'ea-5', 'staff' => array( 'id' => (string) self::$staff, 'email' => 'jl.staff@example.com' ) ) ) );
		MeetBridge_Bookings::apply_result(
			'booking.synced',
			array( 'booking_id' => 'ea-5', 'revision' => 1, 'zoom' => array( 'meeting_id' => '77', 'join_url' => self::JOIN ) )
		);
	}

	protected function tearDown(): void {
		$_GET = array();
		parent::tearDown();
	}

	private function shortcode(): string {
		return do_shortcode( '[meetbridge_join_link booking="ea-5"]' );
	}

	private function token(): string {
		parse_str( (string) wp_parse_url( MeetBridge_Join_Link::page_url( 'ea-5' ), PHP_URL_QUERY ), $query );
		return $query['meetbridge_token'];
	}

	public function test_the_shortcode_shows_the_link_only_to_admins_the_staff_member_and_the_token_holder(): void {
		$this->assertSame( '', $this->shortcode(), 'a visitor' );
		wp_set_current_user( self::$contributor );
		$this->assertSame( '', $this->shortcode(), 'a contributor previewing a post' );
		$this->assertSame( '', do_shortcode( '[meetbridge_join_link booking="ea-6"]' ) );
		wp_set_current_user( self::$staff );
		$this->assertStringContainsString( esc_url( self::JOIN ), $this->shortcode() );
		wp_set_current_user( 1 );
		$this->assertStringContainsString( esc_url( self::JOIN ), $this->shortcode() );
		wp_set_current_user( 0 );
		$_GET['meetbridge_token'] = $this->token();
		$this->assertStringContainsString( esc_url( self::JOIN ), $this->shortcode(), 'the customer, with the token of their confirmation' );
		$_GET['meetbridge_token'] = str_repeat( '0', 32 );
		$this->assertSame( '', $this->shortcode() );
		// The filter is for trusted PHP (e-mails): it does not check the viewer.
		$this->assertSame( self::JOIN, apply_filters( 'meetbridge_join_link', '', 'ea-5' ) );
	}

	public function test_tokens_are_per_booking_and_per_customer_and_never_stored(): void {
		global $wpdb;
		$token = $this->token();
		$this->assertMatchesRegularExpression( '/^[0-9a-f]{32}$/', $token );
		$this->assertSame( $token, MeetBridge_Join_Link::token( 'ea-5', MeetBridge_Settings::customer_hash( ' CUS@example.com ' ) ) );
		$this->assertFalse( MeetBridge_Join_Link::valid_token( 'ea-6', $token ) );
		$this->assertSame( '', (string) $wpdb->get_var( $wpdb->prepare( "SELECT option_name FROM {$wpdb->options} WHERE option_value LIKE %s", '%' . $token . '%' ) ) );
		// The customer changes (an admin edits the appointment): the old confirmation stops working.
		MeetBridge_Booking_API::submit( 'booking.updated', $this->booking( array( 'id' => 'ea-5', 'customer' => array( 'email' => 'new@example.com' ), 'staff' => array( 'id' => (string) self::$staff, 'email' => 'jl.staff@example.com' ) ) ) );
		$this->assertFalse( MeetBridge_Join_Link::valid_token( 'ea-5', $token ) );
		$this->assertSame( 'denied', MeetBridge_Join_Page::render( 'ea-5', $token )['state'] );
	}

	public function test_the_join_page_says_what_there_is(): void {
		$token = $this->token();
		$ready = MeetBridge_Join_Page::render( 'ea-5', $token );
		$this->assertSame( array( 200, 'ready' ), array( $ready['status'], $ready['state'] ) );
		$this->assertStringContainsString( 'href="' . esc_url( self::JOIN ) . '" rel="noopener noreferrer"', $ready['html'] );
		$this->assertStringContainsString( '<meta name="referrer" content="no-referrer">', $ready['html'] );
		$this->assertStringContainsString( 'Intro call', $ready['html'] );
		$denied = MeetBridge_Join_Page::render( 'ea-5', str_repeat( 'f', 32 ) );
		$this->assertSame( array( 403, 'denied' ), array( $denied['status'], $denied['state'] ) );
		$this->assertStringNotContainsString( 'zoom.example', $denied['html'] );
		$this->assertStringNotContainsString( 'Intro call', $denied['html'] );
		$login = MeetBridge_Join_Page::render( 'ea-5', '' );
		$this->assertSame( array( 403, 'login' ), array( $login['status'], $login['state'] ) );
		$this->assertStringContainsString( 'wp-login.php', $login['html'] );
		wp_set_current_user( self::$staff );
		$this->assertSame( 'ready', MeetBridge_Join_Page::render( 'ea-5', '' )['state'] );
		wp_set_current_user( self::$contributor );
		$this->assertSame( 'denied', MeetBridge_Join_Page::render( 'ea-5', '' )['state'] );
		wp_set_current_user( 0 );

		MeetBridge_Booking_API::submit( 'booking.updated', $this->booking( array( 'id' => 'ea-5', 'staff' => array( 'id' => (string) self::$staff, 'email' => 'jl.staff@example.com' ) ) ) );
		$this->assertSame( 'preparing', MeetBridge_Join_Page::render( 'ea-5', $token )['state'] );
		MeetBridge_Bookings::apply_result( 'booking.sync_failed', array( 'booking_id' => 'ea-5', 'revision' => 2, 'reason' => 'x' ) );
		$this->assertSame( 'failed', MeetBridge_Join_Page::render( 'ea-5', $token )['state'] );
		MeetBridge_Booking_API::submit( 'booking.cancelled', array( 'id' => 'ea-5' ) );
		MeetBridge_Bookings::apply_result( 'booking.cancelled', array( 'booking_id' => 'ea-5', 'revision' => 3 ) );
		$cancelled = MeetBridge_Join_Page::render( 'ea-5', $token );
		$this->assertSame( 'cancelled', $cancelled['state'] );
		$this->assertStringNotContainsString( 'zoom.example', $cancelled['html'] );
		$this->assertSame( 'denied', MeetBridge_Join_Page::render( '../../etc', $token )['state'] );
	}

	public function test_the_page_url_for_a_booking_plugins_confirmation(): void {
		$url = meetbridge_join_page_url( 'ea-5', 'cus@example.com' );
		$this->assertSame( home_url( '/' ) . '?meetbridge_join=ea-5&meetbridge_token=' . $this->token(), $url );
		$this->assertSame( $url, meetbridge_join_page_url( 'ea-5' ) );
		$this->assertSame( home_url( '/' ) . '?meetbridge_join=a%3Ab', meetbridge_join_page_url( 'a:b' ), 'no customer: no token' );
	}
}
