<?php
/**
 * The join link in Easy Appointments' e-mails and confirmation.
 *
 * Easy Appointments 3.12.23 builds each e-mail from a template with `#tag#` placeholders; it sends the
 * customer's e-mail before it fires `easy_ea_new_app`, so the Zoom link cannot exist yet. The tags
 * below therefore lead to the booking's join page (MeetBridge_Join_Page), which shows the link as soon
 * as MeetBridge has made it:
 * - customer templates (filter `easy_ea_customer_mail_template( $template, $app, $params )`):
 *   `#meetbridge_join_url#` is the join page URL with the customer's token, `#meetbridge_join_link#`
 *   a link to it;
 * - admin and worker templates (filter `easy_ea_admin_mail_template( $template )`, no appointment
 *   given): the same tags lead to `/?meetbridge_join=ea-#id#` (Easy Appointments fills in `#id#`),
 *   which opens for the booking's staff member and administrators once logged in.
 * And when a customer confirms through Easy Appointments' e-mail link, its confirmation page sends
 * them on to their join page (filter `easy_ea_confirmed_redirect_url`) instead of the home page.
 *
 * The token of a booking not sent yet (pending) is bound to the e-mail in Easy Appointments' tables
 * (filter `meetbridge_booking_customer_hash`).
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * E-mail tags, confirmation redirect, customer hash.
 */
class MeetBridge_EA_Mail {

	const URL_TAG  = '#meetbridge_join_url#';
	const LINK_TAG = '#meetbridge_join_link#';

	/**
	 * Register the filters.
	 */
	public static function init(): void {
		add_filter( 'easy_ea_customer_mail_template', array( __CLASS__, 'customer_template' ), 10, 2 );
		add_filter( 'easy_ea_admin_mail_template', array( __CLASS__, 'admin_template' ) );
		add_filter( 'easy_ea_confirmed_redirect_url', array( __CLASS__, 'confirmed_redirect' ) );
		add_filter( 'meetbridge_booking_customer_hash', array( __CLASS__, 'customer_hash' ), 10, 2 );
	}

	/**
	 * Filter `easy_ea_customer_mail_template`.
	 *
	 * @param mixed $template The template (HTML with `#tag#`s).
	 * @param mixed $app      The appointment (`get_appintment_by_id()` with the custom fields).
	 * @return mixed
	 */
	public static function customer_template( $template, $app = array() ) {
		if ( ! is_string( $template ) || ! self::has_tags( $template ) || ! is_array( $app ) || empty( $app['id'] ) ) {
			return $template;
		}
		$url = MeetBridge_Join_Link::page_url( MeetBridge_Easy_Appointments::booking_id( (int) $app['id'] ), MeetBridge_Easy_Appointments::customer_email( $app ) );
		return self::replace( $template, $url );
	}

	/**
	 * Filter `easy_ea_admin_mail_template`: the tags lead to the join page of `ea-#id#` (staff and
	 * administrators log in to see it).
	 *
	 * @param mixed $template The template.
	 * @return mixed
	 */
	public static function admin_template( $template ) {
		if ( ! is_string( $template ) || ! self::has_tags( $template ) ) {
			return $template;
		}
		return self::replace( $template, add_query_arg( MeetBridge_Join_Link::BOOKING_ARG, 'ea-#id#', home_url( '/' ) ) );
	}

	/**
	 * Filter `easy_ea_confirmed_redirect_url`: Easy Appointments applies it once it has checked the
	 * confirmation link's token (`_ea-app`, `_ea-t`) and confirmed the appointment; send the customer
	 * to their join page.
	 *
	 * @param mixed $url Where Easy Appointments would go (the home page).
	 * @return mixed
	 */
	public static function confirmed_redirect( $url ) {
		// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- Easy Appointments checked its token.
		$id  = isset( $_GET['_ea-app'] ) && is_string( $_GET['_ea-app'] ) ? absint( $_GET['_ea-app'] ) : 0;
		$app = $id > 0 ? MeetBridge_Easy_Appointments::load( $id ) : array();
		if ( ! $app || '' === MeetBridge_Easy_Appointments::customer_email( $app ) ) {
			return $url;
		}
		return MeetBridge_Join_Link::page_url( MeetBridge_Easy_Appointments::booking_id( $id ), MeetBridge_Easy_Appointments::customer_email( $app ) );
	}

	/**
	 * Filter `meetbridge_booking_customer_hash`: for `ea-{id}`, the hash of the e-mail in Easy
	 * Appointments' tables.
	 *
	 * @param mixed $hash       Hash found so far.
	 * @param mixed $booking_id Booking id.
	 * @return mixed
	 */
	public static function customer_hash( $hash, $booking_id = '' ) {
		if ( '' !== (string) $hash || ! is_string( $booking_id ) || ! preg_match( '/^ea-([0-9]+)$/', $booking_id, $match ) ) {
			return $hash;
		}
		$email = MeetBridge_Easy_Appointments::customer_email( MeetBridge_Easy_Appointments::load( (int) $match[1] ) );
		return '' === $email ? $hash : MeetBridge_Settings::customer_hash( $email );
	}

	/**
	 * Whether a template uses one of the tags.
	 *
	 * @param string $template Template.
	 */
	private static function has_tags( string $template ): bool {
		return str_contains( $template, self::URL_TAG ) || str_contains( $template, self::LINK_TAG );
	}

	/**
	 * Put the join page URL in for the tags.
	 *
	 * @param string $template Template.
	 * @param string $url      Join page URL.
	 */
	private static function replace( string $template, string $url ): string {
		$link = '<a href="' . esc_url( $url ) . '">' . esc_html__( 'Join the video meeting', 'meetbridge' ) . '</a>';
		return str_replace( array( self::URL_TAG, self::LINK_TAG ), array( esc_url( $url ), $link ), $template );
	}
}
