<?php
/**
 * MeetBridge → Staff accounts: each bookable staff member with their Google and Zoom link status
 * (from MeetBridge's accounts API) and Connect / Disconnect buttons.
 *
 * Bookable staff: users with the `meetbridge_staff` capability, or else administrators, editors and
 * authors; the `meetbridge_staff_query` filter changes the get_users() arguments.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The staff accounts page.
 */
class MeetBridge_Staff_Page {

	/**
	 * Users who can be booked.
	 *
	 * @return WP_User[]
	 */
	public static function staff(): array {
		$with_cap = get_users( array( 'capability' => 'meetbridge_staff', 'orderby' => 'display_name', 'number' => 200 ) );
		$args     = ! empty( $with_cap )
			? array( 'capability' => 'meetbridge_staff' )
			: array( 'role__in' => array( 'administrator', 'editor', 'author' ) );
		$args     = apply_filters( 'meetbridge_staff_query', array_merge( $args, array( 'orderby' => 'display_name', 'number' => 200 ) ) );
		return get_users( $args );
	}

	/**
	 * The page.
	 */
	public static function render(): void {
		if ( ! current_user_can( MeetBridge_Admin::CAPABILITY ) ) {
			return;
		}
		echo '<div class="wrap"><h1>' . esc_html__( 'MeetBridge staff accounts', 'meetbridge' ) . '</h1>';
		self::return_notice();
		if ( ! MeetBridge_Settings::is_configured() ) {
			echo '<div class="notice notice-warning"><p>' . esc_html__( 'Set up the connection to MeetBridge first.', 'meetbridge' ) . ' <a href="' . esc_url( MeetBridge_Admin::page_url( 'meetbridge-settings' ) ) . '">' . esc_html__( 'Settings', 'meetbridge' ) . '</a></p></div></div>';
			return;
		}
		$answer   = ( new MeetBridge_Client( null, null, null, 5.0 ) )->accounts();
		$accounts = array();
		if ( $answer['ok'] && is_array( $answer['body'] ) && isset( $answer['body']['accounts'] ) && is_array( $answer['body']['accounts'] ) ) {
			MeetBridge_Relink::sync( $answer['body']['accounts'] );
			foreach ( $answer['body']['accounts'] as $account ) {
				if ( is_array( $account ) && isset( $account['provider'], $account['staff_id'], $account['status'] ) ) {
					$accounts[ $account['provider'] . ':' . $account['staff_id'] ] = (string) $account['status'];
				}
			}
		} else {
			/* translators: %s: the error. */
			echo '<div class="notice notice-error"><p>' . esc_html( sprintf( __( 'Could not read the link status from MeetBridge: %s', 'meetbridge' ), $answer['error'] ) ) . '</p></div>';
		}
		echo '<p>' . esc_html__( 'Each staff member links their own Google Calendar and Zoom account. "Connect" opens MeetBridge\'s consent screens and comes back here.', 'meetbridge' ) . '</p>';
		echo '<table class="widefat striped meetbridge-staff"><thead><tr><th>' . esc_html__( 'Staff member', 'meetbridge' ) . '</th><th>' . esc_html__( 'Staff id', 'meetbridge' ) . '</th><th>Google</th><th>Zoom</th></tr></thead><tbody>';
		foreach ( self::staff() as $user ) {
			$staff_id = (string) $user->ID;
			echo '<tr data-staff-id="' . esc_attr( $staff_id ) . '"><td><strong>' . esc_html( $user->display_name ) . '</strong><br><span class="description">' . esc_html( $user->user_email ) . '</span></td><td><code>' . esc_html( $staff_id ) . '</code></td>';
			foreach ( array( 'google', 'zoom' ) as $provider ) {
				echo '<td class="meetbridge-' . esc_attr( $provider ) . '">';
				self::cell( $provider, $staff_id, $accounts[ $provider . ':' . $staff_id ] ?? '' );
				echo '</td>';
			}
			echo '</tr>';
		}
		echo '</tbody></table></div>';
	}

	/**
	 * One provider's status and buttons.
	 *
	 * @param string $provider Provider.
	 * @param string $staff_id Staff id.
	 * @param string $status   `active`, `needs_relink` or '' (not linked).
	 */
	private static function cell( string $provider, string $staff_id, string $status ): void {
		$name = MeetBridge_Admin::provider_name( $provider );
		if ( 'active' === $status ) {
			echo '<span class="meetbridge-status meetbridge-connected" style="color:#00a32a">&#10003; ' . esc_html__( 'Connected', 'meetbridge' ) . '</span><br>';
			echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '" style="display:inline">';
			echo '<input type="hidden" name="action" value="meetbridge_disconnect"><input type="hidden" name="provider" value="' . esc_attr( $provider ) . '"><input type="hidden" name="staff_id" value="' . esc_attr( $staff_id ) . '">';
			wp_nonce_field( 'meetbridge_disconnect' );
			/* translators: %s: provider name. */
			echo '<button type="submit" class="button button-link-delete">' . esc_html( sprintf( __( 'Disconnect %s', 'meetbridge' ), $name ) ) . '</button></form>';
			return;
		}
		if ( 'needs_relink' === $status ) {
			echo '<span class="meetbridge-status meetbridge-needs-relink" style="color:#d63638">' . esc_html__( 'Needs relinking', 'meetbridge' ) . '</span><br>';
			/* translators: %s: provider name. */
			MeetBridge_Admin::connect_button( $provider, $staff_id, sprintf( __( 'Relink %s', 'meetbridge' ), $name ), 'button-primary' );
			return;
		}
		echo '<span class="meetbridge-status meetbridge-not-connected">' . esc_html__( 'Not connected', 'meetbridge' ) . '</span><br>';
		/* translators: %s: provider name. */
		MeetBridge_Admin::connect_button( $provider, $staff_id, sprintf( __( 'Connect %s', 'meetbridge' ), $name ) );
	}

	/**
	 * The outcome MeetBridge reports in the return URL (display only; the table shows the truth).
	 */
	private static function return_notice(): void {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- a read-only display of MeetBridge's redirect.
		if ( ! isset( $_GET['meetbridge_status'] ) ) {
			return;
		}
		$status   = sanitize_key( wp_unslash( $_GET['meetbridge_status'] ) );
		$provider = isset( $_GET['provider'] ) ? sanitize_key( wp_unslash( $_GET['provider'] ) ) : '';
		$reason   = isset( $_GET['reason'] ) ? sanitize_key( wp_unslash( $_GET['reason'] ) ) : '';
		// phpcs:enable
		$name = MeetBridge_Admin::provider_name( $provider );
		if ( 'connected' === $status ) {
			/* translators: %s: provider name. */
			echo '<div class="notice notice-success meetbridge-return"><p>' . esc_html( sprintf( __( '%s account connected. Bookings will now sync.', 'meetbridge' ), $name ) ) . '</p></div>';
			return;
		}
		$reasons = array(
			'access_denied'        => __( 'consent was declined', 'meetbridge' ),
			'provider_error'       => __( 'the provider refused the link', 'meetbridge' ),
			'provider_unreachable' => __( 'the provider could not be reached', 'meetbridge' ),
			'browser_mismatch'     => __( 'the link was finished in a different browser', 'meetbridge' ),
			'state_mismatch'       => __( 'the link expired or was already used', 'meetbridge' ),
		);
		/* translators: 1: provider name, 2: reason. */
		echo '<div class="notice notice-error meetbridge-return"><p>' . esc_html( sprintf( __( '%1$s account not connected: %2$s. Try again.', 'meetbridge' ), $name, $reasons[ $reason ] ?? $reason ) ) . '</p></div>';
	}
}
