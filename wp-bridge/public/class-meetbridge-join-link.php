<?php
/**
 * The join link for e-mails and pages: the filter `meetbridge_join_link` and the shortcode
 * `[meetbridge_join_link booking="123" text="Join the meeting"]`.
 *
 *     $url = apply_filters( 'meetbridge_join_link', '', $booking_id );
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Join link filter and shortcode.
 */
class MeetBridge_Join_Link {

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
	 * `[meetbridge_join_link booking="123" text="…"]`: a link, or nothing while there is none.
	 *
	 * @param array|string $atts Attributes.
	 * @return string HTML.
	 */
	public static function shortcode( $atts ): string {
		$atts = shortcode_atts(
			array(
				'booking' => '',
				'text'    => __( 'Join the video meeting', 'meetbridge' ),
			),
			$atts,
			'meetbridge_join_link'
		);
		$url  = (string) apply_filters( 'meetbridge_join_link', '', (string) $atts['booking'] );
		if ( '' === $url ) {
			return '';
		}
		return sprintf( '<a class="meetbridge-join-link" href="%s" rel="noopener">%s</a>', esc_url( $url ), esc_html( $atts['text'] ) );
	}
}
