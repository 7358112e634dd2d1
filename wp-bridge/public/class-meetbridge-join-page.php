<?php
/**
 * The join page: `/?meetbridge_join={booking}&meetbridge_token={token}`, the link a customer gets in
 * their confirmation (MeetBridge_Join_Link::page_url()). It shows the appointment's video link once
 * MeetBridge has made it, says that it is being prepared until then, or that the appointment was
 * cancelled. Without a valid token only the booking's staff member and administrators, logged in,
 * can open it. Never cached, never indexed, and no Referer leaves it (the URL holds the token).
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Renders the join page.
 */
class MeetBridge_Join_Page {

	/**
	 * Hook in before the theme.
	 */
	public static function init(): void {
		add_action( 'template_redirect', array( __CLASS__, 'maybe_serve' ), 0 );
	}

	/**
	 * Action `template_redirect`: answer a join page request and stop.
	 */
	public static function maybe_serve(): void {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- a read-only page guarded by its token.
		if ( ! isset( $_GET[ MeetBridge_Join_Link::BOOKING_ARG ] ) || ! is_string( $_GET[ MeetBridge_Join_Link::BOOKING_ARG ] ) ) {
			return;
		}
		$booking_id = sanitize_text_field( wp_unslash( $_GET[ MeetBridge_Join_Link::BOOKING_ARG ] ) ); // phpcs:ignore WordPress.Security.NonceVerification.Recommended
		$page       = self::render( $booking_id, MeetBridge_Join_Link::request_token() );
		status_header( $page['status'] );
		nocache_headers();
		header( 'Content-Type: text/html; charset=utf-8' );
		header( 'Referrer-Policy: no-referrer' );
		header( 'X-Robots-Tag: noindex, nofollow' );
		echo $page['html']; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- escaped in render().
		exit;
	}

	/**
	 * The page for a booking and token.
	 *
	 * @param string $booking_id Booking id.
	 * @param string $token      Token ('' for none).
	 * @return array{status: int, state: string, html: string}
	 */
	public static function render( string $booking_id, string $token ): array {
		$known = (bool) preg_match( MeetBridge_Booking_API::ID_PATTERN, $booking_id );
		if ( $known && '' === $token && ! is_user_logged_in() ) {
			$here = add_query_arg( MeetBridge_Join_Link::BOOKING_ARG, rawurlencode( $booking_id ), home_url( '/' ) );
			return self::page(
				403,
				'login',
				__( 'Log in to see this meeting', 'meetbridge' ),
				'<p>' . esc_html__( 'This page shows the video link to the appointment\'s staff member and to administrators.', 'meetbridge' ) . '</p><p><a href="' . esc_url( wp_login_url( $here ) ) . '">' . esc_html__( 'Log in', 'meetbridge' ) . '</a></p>'
			);
		}
		if ( ! $known || ! MeetBridge_Join_Link::can_view( $booking_id, $token ) ) {
			return self::page(
				403,
				'denied',
				__( 'This link does not work', 'meetbridge' ),
				'<p>' . esc_html__( 'This link is not valid, or it belongs to another appointment. Use the link from your confirmation e-mail.', 'meetbridge' ) . '</p>'
			);
		}
		$row   = MeetBridge_Bookings::get( $booking_id );
		$state = $row ? (string) $row['state'] : 'unsent';
		$when  = $row && '' !== (string) $row['starts_at'] ? self::when( (string) $row['starts_at'] ) : '';
		$about = $row && '' !== (string) $row['title'] ? '<p class="about"><strong>' . esc_html( (string) $row['title'] ) . '</strong>' . ( '' !== $when ? ' · ' . esc_html( $when ) : '' ) . '</p>' : '';
		$join  = $row ? MeetBridge_Bookings::join_link( $booking_id ) : '';
		if ( '' !== $join ) {
			return self::page(
				200,
				'ready',
				__( 'Your video meeting', 'meetbridge' ),
				$about . '<p><a class="join" href="' . esc_url( $join ) . '" rel="noopener noreferrer">' . esc_html__( 'Join the video meeting', 'meetbridge' ) . '</a></p><p class="muted">' . esc_html__( 'Keep this page to come back at the time of the appointment.', 'meetbridge' ) . '</p>'
			);
		}
		if ( 'cancelled' === $state || ( $row && 'booking.cancelled' === (string) $row['last_event'] ) ) {
			return self::page( 200, 'cancelled', __( 'This appointment was cancelled', 'meetbridge' ), $about . '<p>' . esc_html__( 'There is no video meeting for it any more.', 'meetbridge' ) . '</p>' );
		}
		if ( 'unsent' === $state ) {
			return self::page( 200, 'unsent', __( 'Your video meeting', 'meetbridge' ), '<p>' . esc_html__( 'The link to the video meeting appears here once your appointment is confirmed. Come back to this page later.', 'meetbridge' ) . '</p>' );
		}
		if ( 'failed' === $state ) {
			return self::page( 200, 'failed', __( 'Your video meeting', 'meetbridge' ), $about . '<p>' . esc_html__( 'The video meeting could not be set up yet; we have been told and are on it. Come back to this page later.', 'meetbridge' ) . '</p>' );
		}
		return self::page( 200, 'preparing', __( 'Your video meeting', 'meetbridge' ), $about . '<p>' . esc_html__( 'The link to the video meeting is being prepared. Reload this page in a minute.', 'meetbridge' ) . '</p>' );
	}

	/**
	 * A booking's start in the site's date and time format, or ''.
	 *
	 * @param string $starts_at RFC 3339.
	 */
	private static function when( string $starts_at ): string {
		$start = date_create_immutable( $starts_at );
		return $start ? wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), $start->getTimestamp() ) : '';
	}

	/**
	 * A small standalone HTML page.
	 *
	 * @param int    $status HTTP status.
	 * @param string $state  What it says (`ready`, `preparing`, `unsent`, `failed`, `cancelled`, `login`, `denied`).
	 * @param string $title  Heading (plain text).
	 * @param string $body   Body (HTML, escaped).
	 * @return array{status: int, state: string, html: string}
	 */
	private static function page( int $status, string $state, string $title, string $body ): array {
		$html = '<!doctype html><html ' . get_language_attributes() . '><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex, nofollow"><meta name="referrer" content="no-referrer">'
			. '<title>' . esc_html( $title . ' · ' . get_bloginfo( 'name' ) ) . '</title>'
			. '<style>body{margin:0;background:#f0f0f1;color:#1d2327;font:1rem/1.5 -apple-system,"Segoe UI",Roboto,Arial,sans-serif}main{max-width:32rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12)}h1{font-size:1.4rem;margin:0 0 1rem}.site{color:#50575e;font-size:.875rem;margin:0 0 1rem}.muted{color:#50575e;font-size:.875rem}a.join{display:inline-block;padding:.75rem 1.5rem;background:#2271b1;color:#fff;border-radius:4px;text-decoration:none;font-weight:600}</style></head>'
			. '<body><main class="meetbridge-join meetbridge-join-' . esc_attr( $state ) . '"><p class="site">' . esc_html( get_bloginfo( 'name' ) ) . '</p><h1>' . esc_html( $title ) . '</h1>' . $body . '</main></body></html>';
		return array(
			'status' => $status,
			'state'  => $state,
			'html'   => $html,
		);
	}
}
