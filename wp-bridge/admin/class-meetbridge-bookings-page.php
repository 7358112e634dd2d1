<?php
/**
 * MeetBridge → Bookings: recent bookings with their sync state, links, the latest change a staff member
 * made in Google Calendar or Zoom and the last error, the outbox's counts and a "Retry now" button.
 * Showing a change here counts as an admin having seen it (the admin notice about it goes).
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The bookings page.
 */
class MeetBridge_Bookings_Page {

	/**
	 * The page.
	 */
	public static function render(): void {
		if ( ! current_user_can( MeetBridge_Admin::CAPABILITY ) ) {
			return;
		}
		$counts = MeetBridge_Outbox::counts();
		echo '<div class="wrap"><h1>' . esc_html__( 'MeetBridge bookings', 'meetbridge' ) . '</h1>';
		echo '<p class="meetbridge-outbox">';
		/* translators: 1: events waiting, 2: events failed, 3: events sent. */
		echo esc_html( sprintf( __( 'Outbox: %1$d waiting, %2$d failed, %3$d sent.', 'meetbridge' ), $counts['pending'], $counts['failed'], $counts['sent'] ) ) . ' ';
		echo '</p><form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="meetbridge_retry">';
		wp_nonce_field( 'meetbridge_retry' );
		submit_button( __( 'Retry now', 'meetbridge' ), 'secondary', 'meetbridge_retry', false );
		echo '</form><br>';

		$states = array(
			'queued'    => __( 'Waiting to be sent', 'meetbridge' ),
			'pending'   => __( 'Syncing', 'meetbridge' ),
			'synced'    => __( 'Synced', 'meetbridge' ),
			'failed'    => __( 'Failed', 'meetbridge' ),
			'cancelled' => __( 'Cancelled', 'meetbridge' ),
		);
		echo '<table class="widefat striped meetbridge-bookings"><thead><tr>';
		foreach ( array( __( 'Booking', 'meetbridge' ), __( 'Title', 'meetbridge' ), __( 'Start', 'meetbridge' ), __( 'Revision', 'meetbridge' ), __( 'State', 'meetbridge' ), __( 'Links', 'meetbridge' ), __( 'Changed in Google Calendar or Zoom', 'meetbridge' ), __( 'Last error', 'meetbridge' ) ) as $heading ) {
			echo '<th>' . esc_html( $heading ) . '</th>';
		}
		echo '</tr></thead><tbody>';
		$rows = MeetBridge_Bookings::recent( 50 );
		if ( empty( $rows ) ) {
			echo '<tr><td colspan="8">' . esc_html__( 'No bookings yet.', 'meetbridge' ) . '</td></tr>';
		}
		$shown = array();
		foreach ( $rows as $row ) {
			$new = '' !== (string) $row['change_kind'] && '0' === (string) $row['change_seen'];
			echo '<tr id="' . esc_attr( self::anchor( $row['booking_id'] ) ) . '" data-booking-id="' . esc_attr( $row['booking_id'] ) . '"' . ( $new ? ' class="meetbridge-changed-new"' : '' ) . '>';
			echo '<td><code>' . esc_html( $row['booking_id'] ) . '</code></td><td>' . esc_html( $row['title'] ) . '</td><td>' . esc_html( $row['starts_at'] ) . '</td><td>' . esc_html( $row['revision'] ) . '</td>';
			echo '<td class="meetbridge-state-' . esc_attr( $row['state'] ) . '">' . esc_html( $states[ $row['state'] ] ?? $row['state'] ) . '</td><td>';
			if ( ! empty( $row['join_url'] ) ) {
				echo '<a href="' . esc_url( $row['join_url'] ) . '" rel="noopener">' . esc_html__( 'Zoom', 'meetbridge' ) . '</a> ';
			}
			if ( ! empty( $row['event_link'] ) ) {
				echo '<a href="' . esc_url( $row['event_link'] ) . '" rel="noopener">' . esc_html__( 'Calendar', 'meetbridge' ) . '</a>';
			}
			echo '</td><td class="meetbridge-change">' . esc_html( MeetBridge_Changes::describe( $row ) );
			if ( $new ) {
				$shown[] = (string) $row['booking_id'];
				echo ' <span class="meetbridge-new">' . esc_html__( '(new)', 'meetbridge' ) . '</span>';
			}
			echo '</td><td>' . esc_html( (string) $row['last_error'] ) . '</td></tr>';
		}
		echo '</tbody></table></div>';
		MeetBridge_Bookings::mark_changes_seen( $shown );
	}

	/**
	 * The HTML id of a booking's row (the admin notice links to it).
	 *
	 * @param string $booking_id Booking id.
	 */
	public static function anchor( string $booking_id ): string {
		return 'meetbridge-booking-' . sanitize_html_class( str_replace( array( '.', ':' ), '-', $booking_id ) );
	}

	/**
	 * The URL of a booking's row on this page.
	 *
	 * @param string $booking_id Booking id.
	 */
	public static function url( string $booking_id ): string {
		return MeetBridge_Admin::page_url( 'meetbridge' ) . '#' . self::anchor( $booking_id );
	}
}
