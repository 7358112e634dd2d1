<?php
/**
 * The admin side: menus, the admin-post actions (each checks the capability, then the nonce),
 * one-shot messages after a redirect, the needs-relink notice, and the notice of changes staff made in
 * Google Calendar or Zoom that no admin has seen yet.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Admin menus and actions.
 */
class MeetBridge_Admin {

	const CAPABILITY = 'manage_options';

	/**
	 * Register admin hooks.
	 */
	public static function init(): void {
		add_action( 'admin_menu', array( __CLASS__, 'menu' ) );
		add_action( 'admin_init', array( 'MeetBridge_Settings_Page', 'register' ) );
		add_action( 'admin_notices', array( __CLASS__, 'notices' ) );
		add_action( 'admin_post_meetbridge_test_connection', array( __CLASS__, 'action_test_connection' ) );
		add_action( 'admin_post_meetbridge_connect', array( __CLASS__, 'action_connect' ) );
		add_action( 'admin_post_meetbridge_disconnect', array( __CLASS__, 'action_disconnect' ) );
		add_action( 'admin_post_meetbridge_retry', array( __CLASS__, 'action_retry' ) );
		add_action( 'admin_post_meetbridge_changes_seen', array( __CLASS__, 'action_changes_seen' ) );
	}

	/**
	 * The MeetBridge menu: Bookings (main), Staff accounts, Settings.
	 */
	public static function menu(): void {
		add_menu_page( __( 'MeetBridge', 'meetbridge' ), __( 'MeetBridge', 'meetbridge' ), self::CAPABILITY, 'meetbridge', array( 'MeetBridge_Bookings_Page', 'render' ), 'dashicons-video-alt2', 58 );
		add_submenu_page( 'meetbridge', __( 'MeetBridge bookings', 'meetbridge' ), __( 'Bookings', 'meetbridge' ), self::CAPABILITY, 'meetbridge', array( 'MeetBridge_Bookings_Page', 'render' ) );
		add_submenu_page( 'meetbridge', __( 'MeetBridge staff accounts', 'meetbridge' ), __( 'Staff accounts', 'meetbridge' ), self::CAPABILITY, 'meetbridge-staff', array( 'MeetBridge_Staff_Page', 'render' ) );
		add_submenu_page( 'meetbridge', __( 'MeetBridge settings', 'meetbridge' ), __( 'Settings', 'meetbridge' ), self::CAPABILITY, 'meetbridge-settings', array( 'MeetBridge_Settings_Page', 'render' ) );
	}

	/**
	 * URL of one of the plugin's pages.
	 *
	 * @param string $page Page slug.
	 * @param array  $args Extra query arguments.
	 */
	public static function page_url( string $page, array $args = array() ): string {
		return add_query_arg( array_merge( array( 'page' => $page ), $args ), admin_url( 'admin.php' ) );
	}

	/**
	 * Stop unless the user may manage MeetBridge and the nonce of `$action` is valid.
	 *
	 * @param string $action Nonce action.
	 */
	private static function guard( string $action ): void {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to manage MeetBridge.', 'meetbridge' ), '', array( 'response' => 403 ) );
		}
		check_admin_referer( $action );
	}

	/**
	 * Keep a message for the next page this user sees.
	 *
	 * @param string $type    `success`, `error`, `warning` or `info`.
	 * @param string $message Plain text.
	 */
	public static function flash( string $type, string $message ): void {
		set_transient( 'meetbridge_flash_' . get_current_user_id(), array( 'type' => $type, 'message' => $message ), 5 * MINUTE_IN_SECONDS );
	}

	/**
	 * Admin notices: the flash message, and accounts that need relinking.
	 */
	public static function notices(): void {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		$key   = 'meetbridge_flash_' . get_current_user_id();
		$flash = get_transient( $key );
		if ( is_array( $flash ) ) {
			delete_transient( $key );
			printf(
				'<div class="notice notice-%1$s is-dismissible meetbridge-flash"><p>%2$s</p></div>',
				esc_attr( in_array( $flash['type'], array( 'success', 'error', 'warning', 'info' ), true ) ? $flash['type'] : 'info' ),
				esc_html( $flash['message'] )
			);
		}
		foreach ( MeetBridge_Relink::all() as $entry ) {
			$user = get_user_by( 'id', (int) $entry['staff_id'] );
			$who  = $user ? $user->display_name : $entry['staff_id'];
			echo '<div class="notice notice-warning meetbridge-relink"><p>';
			printf(
				/* translators: 1: provider name, 2: staff member, 3: reason. */
				esc_html__( 'MeetBridge can no longer use the %1$s account of %2$s (%3$s). Bookings with them will fail until it is linked again.', 'meetbridge' ),
				esc_html( self::provider_name( $entry['provider'] ) ),
				esc_html( $who ),
				esc_html( '' !== $entry['reason'] ? $entry['reason'] : __( 'access revoked', 'meetbridge' ) )
			);
			echo '</p><p>';
			/* translators: %s: provider name. */
			self::connect_button( $entry['provider'], $entry['staff_id'], sprintf( __( 'Relink %s', 'meetbridge' ), self::provider_name( $entry['provider'] ) ), 'button-primary' );
			echo '</p></div>';
		}
		self::availability_notices();
		self::change_notices();
	}

	/**
	 * Changes staff made in Google Calendar or Zoom that no admin has seen yet (the bookings page shows
	 * them, and counts as seeing them; "Mark as seen" dismisses the notice).
	 */
	private static function change_notices(): void {
		$page = isset( $_GET['page'] ) ? sanitize_key( wp_unslash( $_GET['page'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- only chooses what to show.
		$rows = 'meetbridge' === $page ? array() : MeetBridge_Bookings::unseen_changes( 6 );
		if ( array() === $rows ) {
			return;
		}
		echo '<div class="notice notice-warning is-dismissible meetbridge-changes"><p>' . esc_html__( 'Staff changed bookings in Google Calendar or Zoom:', 'meetbridge' ) . '</p><ul>';
		foreach ( array_slice( $rows, 0, 5 ) as $row ) {
			$label = '' !== (string) $row['title'] ? $row['title'] . ' (' . $row['booking_id'] . ')' : $row['booking_id'];
			echo '<li><a href="' . esc_url( MeetBridge_Bookings_Page::url( (string) $row['booking_id'] ) ) . '">' . esc_html( $label ) . '</a>: ' . esc_html( MeetBridge_Changes::describe( $row ) ) . '</li>';
		}
		echo '</ul><form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '"><p>';
		if ( count( $rows ) > 5 ) {
			echo '<a href="' . esc_url( self::page_url( 'meetbridge' ) ) . '">' . esc_html__( 'More on the bookings page', 'meetbridge' ) . '</a> ';
		}
		echo '<input type="hidden" name="action" value="meetbridge_changes_seen">';
		foreach ( array_slice( $rows, 0, 5 ) as $row ) {
			echo '<input type="hidden" name="booking_ids[]" value="' . esc_attr( $row['booking_id'] ) . '">';
		}
		wp_nonce_field( 'meetbridge_changes_seen' );
		echo '<button type="submit" class="button">' . esc_html__( 'Mark as seen', 'meetbridge' ) . '</button></p></form></div>';
	}

	/**
	 * Action: the changes listed in the notice were seen.
	 */
	public static function action_changes_seen(): void {
		self::guard( 'meetbridge_changes_seen' );
		$ids = isset( $_POST['booking_ids'] ) && is_array( $_POST['booking_ids'] ) ? array_map( 'sanitize_text_field', wp_unslash( $_POST['booking_ids'] ) ) : array(); // phpcs:ignore WordPress.Security.NonceVerification.Missing -- checked in guard().
		MeetBridge_Bookings::mark_changes_seen( $ids );
		wp_safe_redirect( wp_get_referer() ? wp_get_referer() : admin_url() );
		exit;
	}

	/**
	 * Busy times that could not be checked (the slot filter showed every slot instead).
	 */
	private static function availability_notices(): void {
		$relink = MeetBridge_Relink::all();
		foreach ( MeetBridge_Availability::warnings() as $entry ) {
			if ( in_array( $entry['code'], MeetBridge_Availability::RELINK_ERRORS, true ) && isset( $relink[ 'google:' . $entry['staff_id'] ] ) ) {
				continue; // The relink notice above says it, with its button.
			}
			$user = get_user_by( 'id', (int) $entry['staff_id'] );
			$who  = $user ? $user->display_name : $entry['staff_id'];
			echo '<div class="notice notice-warning meetbridge-availability"><p>' . esc_html( MeetBridge_Availability::describe( $entry, $who ) );
			if ( 'not_linked' === $entry['code'] ) {
				echo ' <a href="' . esc_url( self::page_url( 'meetbridge-staff' ) ) . '">' . esc_html__( 'Staff accounts', 'meetbridge' ) . '</a>';
			}
			echo '</p></div>';
		}
	}

	/**
	 * A one-click form button that starts linking an account.
	 *
	 * @param string $provider Provider.
	 * @param string $staff_id Staff id.
	 * @param string $label    Button label.
	 * @param string $class    Extra button class.
	 */
	public static function connect_button( string $provider, string $staff_id, string $label, string $class = '' ): void {
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '" style="display:inline">';
		echo '<input type="hidden" name="action" value="meetbridge_connect">';
		echo '<input type="hidden" name="provider" value="' . esc_attr( $provider ) . '">';
		echo '<input type="hidden" name="staff_id" value="' . esc_attr( $staff_id ) . '">';
		wp_nonce_field( 'meetbridge_connect' );
		echo '<button type="submit" class="button ' . esc_attr( $class ) . '">' . esc_html( $label ) . '</button></form> ';
	}

	/**
	 * Display name of a provider.
	 *
	 * @param string $provider `google` or `zoom`.
	 */
	public static function provider_name( string $provider ): string {
		return 'google' === $provider ? 'Google' : ( 'zoom' === $provider ? 'Zoom' : $provider );
	}

	/**
	 * Validated provider and staff id from the POSTed form, or stop.
	 *
	 * @return array{0: string, 1: string}
	 */
	private static function posted_account(): array {
		$provider = isset( $_POST['provider'] ) ? sanitize_key( wp_unslash( $_POST['provider'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Missing -- checked in guard().
		$staff_id = isset( $_POST['staff_id'] ) ? sanitize_text_field( wp_unslash( $_POST['staff_id'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Missing -- checked in guard().
		if ( ! in_array( $provider, array( 'google', 'zoom' ), true ) || ! preg_match( MeetBridge_Booking_API::ID_PATTERN, $staff_id ) ) {
			wp_die( esc_html__( 'Unknown provider or staff member.', 'meetbridge' ), '', array( 'response' => 400 ) );
		}
		return array( $provider, $staff_id );
	}

	/**
	 * Action: test the connection and say what is wrong.
	 */
	public static function action_test_connection(): void {
		self::guard( 'meetbridge_test_connection' );
		$verdict = MeetBridge_Connection_Check::run();
		self::flash( $verdict['ok'] ? 'success' : 'error', $verdict['message'] );
		wp_safe_redirect( self::page_url( 'meetbridge-settings' ) );
		exit;
	}

	/**
	 * Action: get a connect link from MeetBridge and send the browser there.
	 */
	public static function action_connect(): void {
		self::guard( 'meetbridge_connect' );
		list( $provider, $staff_id ) = self::posted_account();
		$user                        = ctype_digit( $staff_id ) ? get_user_by( 'id', (int) $staff_id ) : false;
		$answer                      = ( new MeetBridge_Client() )->connect_link( $provider, $staff_id, self::page_url( 'meetbridge-staff' ), $user ? (string) $user->display_name : '' );
		$url                         = is_array( $answer['body'] ) && isset( $answer['body']['url'] ) ? (string) $answer['body']['url'] : '';
		$host                        = wp_parse_url( $url, PHP_URL_HOST );
		if ( ! $answer['ok'] || '' === $url || ! is_string( $host ) || strtolower( $host ) !== MeetBridge_Settings::service_host() ) {
			/* translators: %s: the error. */
			self::flash( 'error', sprintf( __( 'MeetBridge did not give a connect link: %s', 'meetbridge' ), '' !== $answer['error'] ? $answer['error'] : __( 'unexpected answer', 'meetbridge' ) ) );
			wp_safe_redirect( self::page_url( 'meetbridge-staff' ) );
			exit;
		}
		wp_redirect( $url ); // phpcs:ignore WordPress.Security.SafeRedirect.wp_redirect_wp_redirect -- the configured MeetBridge host, checked above.
		exit;
	}

	/**
	 * Action: unlink an account.
	 */
	public static function action_disconnect(): void {
		self::guard( 'meetbridge_disconnect' );
		list( $provider, $staff_id ) = self::posted_account();
		$answer                      = ( new MeetBridge_Client() )->disconnect( $provider, $staff_id );
		if ( $answer['ok'] || 404 === $answer['status'] ) {
			MeetBridge_Relink::clear( $provider, $staff_id );
			/* translators: %s: provider name. */
			self::flash( 'success', sprintf( __( '%s account disconnected.', 'meetbridge' ), self::provider_name( $provider ) ) );
		} else {
			/* translators: %s: the error. */
			self::flash( 'error', sprintf( __( 'Could not disconnect: %s', 'meetbridge' ), $answer['error'] ) );
		}
		wp_safe_redirect( self::page_url( 'meetbridge-staff' ) );
		exit;
	}

	/**
	 * Action: send pending and failed events now.
	 */
	public static function action_retry(): void {
		self::guard( 'meetbridge_retry' );
		$count = MeetBridge_Outbox::retry_now();
		/* translators: %d: number of events. */
		self::flash( 'info', sprintf( _n( '%d event is being sent now. Refresh in a moment.', '%d events are being sent now. Refresh in a moment.', $count, 'meetbridge' ), $count ) );
		wp_safe_redirect( self::page_url( 'meetbridge' ) );
		exit;
	}
}
