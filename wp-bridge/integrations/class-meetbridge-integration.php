<?php
/**
 * What every booking-plugin adapter does the same way: turn "this is the booking's state now" into
 * the right event (created, updated or cancelled, or nothing), find the WordPress user of a staff
 * member, name a time zone, and give a customer the link to their meeting.
 *
 * An adapter reads a booking back from its plugin's tables whenever one of the plugin's hooks says it
 * changed, and calls apply() with the booking array (or null when it should not have a meeting). A
 * booking that was never sent and is not active sends nothing; one already cancelled is not cancelled
 * twice; a state already sent is not sent again (a keyed fingerprint of the last booking sent is kept in
 * a transient for SENT_DAYS: it holds nothing that names the customer), unless the booking failed at
 * MeetBridge: saving it again is a retry, or MeetBridge asked for it again (`meetbridge_booking_resend`,
 * see resend()).
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Shared by the adapters under integrations/.
 */
class MeetBridge_Integration {

	/**
	 * How long the fingerprint of what was last sent for a booking is kept (a transient).
	 */
	const SENT_DAYS = 60;

	/**
	 * What was sent for each booking in this request (a fingerprint, or 'cancelled').
	 *
	 * @var array<string, string>
	 */
	private static array $sent = array();

	/**
	 * Bookings being sent again because MeetBridge asked (resend()), by id.
	 *
	 * @var array<string, bool>
	 */
	private static array $resending = array();

	/**
	 * Bring MeetBridge in line with a booking's current state.
	 *
	 * @param string     $booking_id MeetBridge's booking id.
	 * @param array|null $booking    The booking array (MeetBridge_Booking_API's shape), or null when the
	 *                               booking should have no meeting (cancelled, rejected, deleted, …).
	 * @param bool       $create     false: only keep a meeting that exists up to date, make none (a
	 *                               booking waiting for approval after it had been approved).
	 * @return int|WP_Error|null The revision queued, why it was not, or null when nothing was to be sent.
	 */
	public static function apply( string $booking_id, ?array $booking, bool $create = true ) {
		$known     = MeetBridge_Bookings::get( $booking_id );
		$cancelled = $known && ( 'cancelled' === $known['state'] || 'booking.cancelled' === (string) $known['last_event'] );
		$sent_key  = 'meetbridge_sent_' . md5( $booking_id );
		if ( ! $create && ( ! $known || $cancelled ) ) {
			return null;
		}
		if ( null === $booking ) {
			if ( ! $known || $cancelled ) {
				return null;
			}
			self::$sent[ $booking_id ] = 'cancelled';
			delete_transient( $sent_key );
			return MeetBridge_Booking_API::submit( 'booking.cancelled', array( 'id' => $booking_id ) );
		}
		$fingerprint = hash_hmac( 'sha256', 'booking|' . (string) wp_json_encode( $booking ), MeetBridge_Settings::privacy_key() );
		$last        = self::$sent[ $booking_id ] ?? get_transient( $sent_key );
		if ( $known && ! $cancelled && 'failed' !== $known['state'] && $last === $fingerprint && ! isset( self::$resending[ $booking_id ] ) ) {
			return null; // Nothing MeetBridge has changed (a failed booking is sent again: a retry).
		}
		$result = MeetBridge_Booking_API::submit( $known && ! $cancelled ? 'booking.updated' : 'booking.created', $booking );
		if ( ! is_wp_error( $result ) ) {
			self::$sent[ $booking_id ] = $fingerprint;
			set_transient( $sent_key, $fingerprint, self::SENT_DAYS * DAY_IN_SECONDS );
		}
		return $result;
	}

	/**
	 * Send a booking again although nothing changed on this site: MeetBridge asked for it
	 * (`meetbridge_booking_resend( $booking_id )`, after an item was deleted in Google Calendar or Zoom
	 * and the site's policy is to recreate it). `$sync` is the adapter's own sync of the booking, which
	 * reads it back from its plugin's tables and calls apply(); the "nothing changed" fingerprint is
	 * skipped for it, so it leaves as `booking.updated` with a new revision.
	 *
	 * @param string   $booking_id MeetBridge's booking id.
	 * @param callable $sync       The adapter's sync of that booking.
	 * @return mixed What `$sync` returned.
	 */
	public static function resend( string $booking_id, callable $sync ) {
		self::$resending[ $booking_id ] = true;
		try {
			return call_user_func( $sync );
		} finally {
			unset( self::$resending[ $booking_id ] );
		}
	}

	/**
	 * Callbacks to run at the end of this request, by key.
	 *
	 * @var array<string, callable>
	 */
	private static array $later = array();

	/**
	 * Run `$callback` once at the end of this request (`shutdown`, before the outbox's sender is
	 * spawned): for a booking plugin that announces a change before saving it and does not always
	 * announce it after.
	 *
	 * @param string   $key      Identifies the work (the same key twice runs once).
	 * @param callable $callback What to run.
	 */
	public static function later( string $key, callable $callback ): void {
		if ( array() === self::$later ) {
			add_action( 'shutdown', array( __CLASS__, 'run_later' ), 5 );
		}
		self::$later[ $key ] = $callback;
	}

	/**
	 * `shutdown`: run what later() collected.
	 */
	public static function run_later(): void {
		$callbacks   = self::$later;
		self::$later = array();
		foreach ( $callbacks as $callback ) {
			call_user_func( $callback );
		}
	}

	/**
	 * Forget what this request sent and drop what it would run at shutdown (tests run many
	 * "requests" in one process).
	 */
	public static function reset(): void {
		self::$sent  = array();
		self::$later = array();
		remove_action( 'shutdown', array( __CLASS__, 'run_later' ), 5 );
	}

	/**
	 * The WordPress user id of a staff member: the user the booking plugin linked them to (when that
	 * user exists), else the user with their e-mail; null when there is none.
	 *
	 * @param int    $linked_user_id User id the booking plugin stores for the staff member (0: none).
	 * @param string $email          The staff member's e-mail in the booking plugin.
	 */
	public static function wordpress_user( int $linked_user_id, string $email ): ?int {
		if ( $linked_user_id > 0 && get_userdata( $linked_user_id ) ) {
			return $linked_user_id;
		}
		$user = '' !== $email ? get_user_by( 'email', $email ) : false;
		return $user ? (int) $user->ID : null;
	}

	/**
	 * An IANA zone name: `$name` when it is one, else the site's zone (WordPress may be set to a bare
	 * offset: then the Etc/GMT zone of that offset, or UTC).
	 *
	 * @param string $name A zone name from the booking plugin ('' for the site's).
	 */
	public static function zone_name( string $name = '' ): string {
		if ( '' !== $name && in_array( $name, timezone_identifiers_list( DateTimeZone::ALL_WITH_BC ), true ) ) {
			return $name;
		}
		$zone = wp_timezone();
		if ( in_array( $zone->getName(), timezone_identifiers_list( DateTimeZone::ALL_WITH_BC ), true ) ) {
			return $zone->getName();
		}
		$offset = $zone->getOffset( new DateTime( 'now', $zone ) );
		if ( 0 === $offset % HOUR_IN_SECONDS && abs( $offset ) <= 12 * HOUR_IN_SECONDS ) {
			$hours = (int) ( $offset / HOUR_IN_SECONDS );
			return 0 === $hours ? 'UTC' : sprintf( 'Etc/GMT%+d', -$hours ); // Etc/ zones have the sign inverted.
		}
		return 'UTC';
	}

	/**
	 * A UTC date-time from a booking plugin's table as RFC 3339 in the given zone, or '' if unreadable.
	 *
	 * @param string $utc  `Y-m-d H:i:s` in UTC.
	 * @param string $zone IANA zone.
	 */
	public static function from_utc( string $utc, string $zone ): string {
		$time = preg_match( '/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$/', $utc ) ? date_create_immutable( $utc, new DateTimeZone( 'UTC' ) ) : false;
		return $time ? $time->setTimezone( new DateTimeZone( $zone ) )->format( DATE_RFC3339 ) : '';
	}

	/**
	 * What a customer's message should carry to reach their meeting: the booking's join page (it shows
	 * the link as soon as MeetBridge has made it) when this version of the plugin has one, else the
	 * join link itself ('' until the booking has synced).
	 *
	 * @param string $booking_id     MeetBridge's booking id.
	 * @param string $customer_email The customer's e-mail.
	 */
	public static function join_url( string $booking_id, string $customer_email ): string {
		if ( function_exists( 'meetbridge_join_page_url' ) ) {
			return (string) meetbridge_join_page_url( $booking_id, $customer_email );
		}
		return (string) apply_filters( 'meetbridge_join_link', '', $booking_id );
	}
}
