<?php
/**
 * Who may see a booking's join link, and how a customer gets it.
 *
 * A join link (with its passcode) is shown to: an administrator (`manage_options`, filter
 * `meetbridge_join_link_capability`), the booking's staff member (the WordPress user whose id is the
 * booking's staff id), or whoever holds the booking's token. The token is an HMAC, under the site's
 * privacy key, of the booking id and the customer's hashed e-mail: unguessable, nothing stored, and it
 * stops working if the booking's customer changes. It travels in the customer's confirmation as the
 * join page URL (`/?meetbridge_join={booking}&meetbridge_token={token}`, see MeetBridge_Join_Page),
 * made by `meetbridge_join_page_url( $booking_id, $customer_email )`.
 *
 *     [meetbridge_join_link booking="123" text="Join the meeting"]
 *
 * renders the link only for those viewers (the token may come in the page's `meetbridge_token` query
 * argument); for anyone else, such as a contributor previewing a post, it renders nothing. The filter
 * `meetbridge_join_link` (`apply_filters( 'meetbridge_join_link', '', $booking_id )`) is for trusted
 * PHP (an e-mail being built for the customer) and does not check who is looking.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Join link access, filter and shortcode.
 */
class MeetBridge_Join_Link {

	const TOKEN_ARG   = 'meetbridge_token';
	const BOOKING_ARG = 'meetbridge_join';

	/**
	 * Register the filter and the shortcode.
	 */
	public static function init(): void {
		add_filter( 'meetbridge_join_link', array( __CLASS__, 'filter' ), 10, 2 );
		add_shortcode( 'meetbridge_join_link', array( __CLASS__, 'shortcode' ) );
	}

	/**
	 * Filter `meetbridge_join_link`: the stored Zoom join URL of a synced booking.
	 *
	 * @param string $url        Current value (kept when the booking has no link).
	 * @param mixed  $booking_id Booking id.
	 * @return string
	 */
	public static function filter( $url, $booking_id = '' ) {
		if ( ! is_scalar( $booking_id ) || '' === (string) $booking_id ) {
			return $url;
		}
		$link = MeetBridge_Bookings::join_link( (string) $booking_id );
		return '' !== $link ? $link : $url;
	}

	/**
	 * The customer hash a booking's token is bound to: the booking row's, else what a booking
	 * plugin knows before the booking was sent (filter `meetbridge_booking_customer_hash`).
	 *
	 * @param string $booking_id Booking id.
	 */
	public static function customer_hash( string $booking_id ): string {
		$row  = MeetBridge_Bookings::get( $booking_id );
		$hash = $row ? (string) $row['customer_hash'] : '';
		if ( '' === $hash ) {
			$hash = (string) apply_filters( 'meetbridge_booking_customer_hash', '', $booking_id );
		}
		return $hash;
	}

	/**
	 * The token of a booking for a customer hash ('' when there is no customer).
	 *
	 * @param string $booking_id    Booking id.
	 * @param string $customer_hash MeetBridge_Settings::customer_hash() of the customer.
	 */
	public static function token( string $booking_id, string $customer_hash ): string {
		if ( '' === $customer_hash ) {
			return '';
		}
		return substr( hash_hmac( 'sha256', 'join|' . $booking_id . '|' . $customer_hash, MeetBridge_Settings::privacy_key() ), 0, 32 );
	}

	/**
	 * Whether `$token` is the booking's token.
	 *
	 * @param string $booking_id Booking id.
	 * @param string $token      Token from a URL.
	 */
	public static function valid_token( string $booking_id, string $token ): bool {
		if ( ! preg_match( '/^[0-9a-f]{32}$/', $token ) ) {
			return false;
		}
		$expected = self::token( $booking_id, self::customer_hash( $booking_id ) );
		return '' !== $expected && hash_equals( $expected, $token );
	}

	/**
	 * Whether the current viewer may see the booking's join link: an administrator, its staff member,
	 * or the holder of its token.
	 *
	 * @param string $booking_id Booking id.
	 * @param string $token      Token the viewer presented ('' for none).
	 */
	public static function can_view( string $booking_id, string $token = '' ): bool {
		if ( current_user_can( (string) apply_filters( 'meetbridge_join_link_capability', 'manage_options' ) ) ) {
			return true;
		}
		$user = get_current_user_id();
		$row  = MeetBridge_Bookings::get( $booking_id );
		if ( $user > 0 && $row && (string) $user === (string) $row['staff_id'] ) {
			return true;
		}
		return '' !== $token && self::valid_token( $booking_id, $token );
	}

	/**
	 * The join page URL of a booking: with the customer's token when the customer is known (from
	 * `$customer_email`, else the booking), without one otherwise (then only its staff member and
	 * administrators, logged in, can open it).
	 *
	 * @param string $booking_id     Booking id.
	 * @param string $customer_email The customer's e-mail, when the booking may not have been sent yet.
	 */
	public static function page_url( string $booking_id, string $customer_email = '' ): string {
		$hash  = '' !== $customer_email ? MeetBridge_Settings::customer_hash( $customer_email ) : self::customer_hash( $booking_id );
		$token = self::token( $booking_id, $hash );
		$args  = array( self::BOOKING_ARG => rawurlencode( $booking_id ) );
		if ( '' !== $token ) {
			$args[ self::TOKEN_ARG ] = $token;
		}
		return add_query_arg( $args, home_url( '/' ) );
	}

	/**
	 * The token in the current request's query, or ''.
	 */
	public static function request_token(): string {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- a capability token, not a form.
		return isset( $_GET[ self::TOKEN_ARG ] ) && is_string( $_GET[ self::TOKEN_ARG ] ) ? sanitize_key( wp_unslash( $_GET[ self::TOKEN_ARG ] ) ) : '';
	}

	/**
	 * `[meetbridge_join_link booking="123" text="…"]`: a link for the viewers allowed to see it, and
	 * only while there is one; nothing otherwise.
	 *
	 * @param array|string $atts Attributes.
	 * @return string HTML.
	 */
	public static function shortcode( $atts ): string {
		$atts    = shortcode_atts(
			array(
				'booking' => '',
				'text'    => __( 'Join the video meeting', 'meetbridge' ),
			),
			$atts,
			'meetbridge_join_link'
		);
		$booking = (string) $atts['booking'];
		if ( '' === $booking || ! self::can_view( $booking, self::request_token() ) ) {
			return '';
		}
		$url = (string) apply_filters( 'meetbridge_join_link', '', $booking );
		if ( '' === $url ) {
			return '';
		}
		return sprintf( '<a class="meetbridge-join-link" href="%s" rel="noopener noreferrer">%s</a>', esc_url( $url ), esc_html( $atts['text'] ) );
	}
}
