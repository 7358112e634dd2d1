<?php
/**
 * Busy slots: drop the slots a staff member is busy in, according to their linked Google Calendar,
 * as MeetBridge's `GET /v1/sites/{site_id}/availability` reports it.
 *
 *     $slots = meetbridge_filter_slots( $slots, $staff_id );
 *     $slots = apply_filters( 'meetbridge_filter_slots', $slots, $staff_id ); // the same
 *
 * `$slots` is an array of slots; each slot is an array (or object) with `start` and `end`, each an
 * RFC 3339 string (`2026-12-01T10:00:00+01:00`; without an offset it is read in the site's time
 * zone), a DateTimeInterface or a Unix timestamp. Any other keys are kept. `$staff_id` is the staff
 * member's id as bookings send it (the WordPress user id). A slot overlaps a busy period when it
 * starts before the period ends and ends after it starts: a slot that ends exactly when a busy
 * period starts (or starts when it ends) stays. Slots that cannot be read stay. A list comes back
 * as a list; other keys are kept.
 *
 * One call per (staff member, window from the earliest start to the latest end; windows over 90
 * days are split), cached for the request and in a transient for CACHE_SECONDS. Whenever MeetBridge
 * cannot answer (not linked, needs relink, unreachable, 503, ...), the slots come back unchanged:
 * bookings are never blocked. The reason is kept for a notice to admins (at most one write per
 * reason and staff member every WARN_EVERY seconds); after a 503 MeetBridge is not asked again
 * for that staff member before its `Retry-After` has passed (after other errors: CACHE_SECONDS).
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The slot filter.
 */
class MeetBridge_Availability {

	const FILTER        = 'meetbridge_filter_slots';
	const CACHE_SECONDS = 30;
	const WARN_EVERY    = 300;
	const WARN_KEEP     = DAY_IN_SECONDS;
	const MAX_WINDOW    = 90 * DAY_IN_SECONDS;
	const MAX_HOLD      = HOUR_IN_SECONDS;
	const TIMEOUT       = 3.0;
	const CACHE_PREFIX  = 'meetbridge_busy_';
	const HOLD_PREFIX   = 'meetbridge_hold_';
	const RELINK_ERRORS = array( 'needs_relink', 'missing_scope' );

	/**
	 * Answers already fetched in this request: cache key => busy periods, or null after an error.
	 *
	 * @var array<string, array|null>
	 */
	private static array $memo = array();

	/**
	 * Register the filter.
	 */
	public static function init(): void {
		add_filter( self::FILTER, array( __CLASS__, 'filter_slots' ), 10, 2 );
	}

	/**
	 * Forget this request's answers (tests).
	 */
	public static function reset(): void {
		self::$memo = array();
	}

	/**
	 * Filter `meetbridge_filter_slots`: the slots that do not overlap a busy period of the staff member.
	 *
	 * @param mixed $slots    Slots (see the file comment); anything else comes back unchanged.
	 * @param mixed $staff_id Staff id (string or int; a WP_User counts as its id).
	 * @return mixed
	 */
	public static function filter_slots( $slots, $staff_id = '' ) {
		if ( ! is_array( $slots ) || array() === $slots ) {
			return $slots;
		}
		$staff = $staff_id instanceof WP_User ? (string) $staff_id->ID : ( is_scalar( $staff_id ) ? (string) $staff_id : '' );
		if ( ! preg_match( MeetBridge_Booking_API::ID_PATTERN, $staff ) || ! MeetBridge_Settings::is_configured() ) {
			return $slots;
		}
		$spans = array();
		foreach ( $slots as $key => $slot ) {
			$span = self::span( $slot );
			if ( null !== $span ) {
				$spans[ $key ] = $span;
			}
		}
		if ( array() === $spans ) {
			return $slots;
		}
		$from = (int) floor( min( array_column( $spans, 0 ) ) );
		$to   = (int) ceil( max( array_column( $spans, 1 ) ) );
		$busy = array();
		for ( $start = $from; $start < $to; $start += self::MAX_WINDOW ) {
			$part = self::busy( $staff, $start, min( $to, $start + self::MAX_WINDOW ) );
			if ( null === $part ) {
				return $slots;
			}
			$busy = array_merge( $busy, $part );
		}
		$kept = array();
		foreach ( $slots as $key => $slot ) {
			if ( ! isset( $spans[ $key ] ) || ! self::overlaps( $spans[ $key ], $busy ) ) {
				$kept[ $key ] = $slot;
			}
		}
		return array_is_list( $slots ) ? array_values( $kept ) : $kept;
	}

	/**
	 * Whether a span overlaps any busy period (touching edges do not).
	 *
	 * @param array{0: float, 1: float} $span Start and end, Unix seconds.
	 * @param array                     $busy Busy periods, the same form.
	 */
	public static function overlaps( array $span, array $busy ): bool {
		foreach ( $busy as $period ) {
			if ( $span[0] < $period[1] && $period[0] < $span[1] ) {
				return true;
			}
		}
		return false;
	}

	/**
	 * A slot's start and end in Unix seconds, or null when it cannot be read (or ends before it starts).
	 *
	 * @param mixed $slot Slot.
	 * @return array{0: float, 1: float}|null
	 */
	public static function span( $slot ): ?array {
		if ( is_object( $slot ) && ! $slot instanceof ArrayAccess ) {
			$slot = get_object_vars( $slot );
		}
		if ( ! is_array( $slot ) || ! isset( $slot['start'], $slot['end'] ) ) {
			return null;
		}
		$start = self::instant( $slot['start'] );
		$end   = self::instant( $slot['end'] );
		return null !== $start && null !== $end && $end > $start ? array( $start, $end ) : null;
	}

	/**
	 * Unix seconds of an RFC 3339 string, a DateTimeInterface or a timestamp; null otherwise.
	 *
	 * @param mixed $value Value.
	 */
	public static function instant( $value ): ?float {
		if ( $value instanceof DateTimeInterface ) {
			return (float) $value->format( 'U.u' );
		}
		if ( is_int( $value ) || is_float( $value ) ) {
			return (float) $value;
		}
		if ( ! is_string( $value ) || '' === trim( $value ) ) {
			return null;
		}
		if ( is_numeric( $value ) ) {
			return (float) $value;
		}
		if ( ! preg_match( '/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i', trim( $value ) ) ) {
			return null;
		}
		$moment = date_create_immutable( trim( $value ), wp_timezone() );
		return false === $moment ? null : (float) $moment->format( 'U.u' );
	}

	/**
	 * Busy periods of a staff member within [from, to), or null when MeetBridge could not say.
	 *
	 * @param string $staff Staff id.
	 * @param int    $from  Unix seconds.
	 * @param int    $to    Unix seconds.
	 * @return array<int, array{0: float, 1: float}>|null
	 */
	public static function busy( string $staff, int $from, int $to ): ?array {
		$site = MeetBridge_Settings::site_id();
		$key  = md5( $site . '|' . $staff . '|' . $from . '|' . $to );
		if ( array_key_exists( $key, self::$memo ) ) {
			return self::$memo[ $key ];
		}
		$cached = get_transient( self::CACHE_PREFIX . $key );
		if ( is_array( $cached ) ) {
			self::$memo[ $key ] = $cached;
			return $cached;
		}
		$hold = self::HOLD_PREFIX . md5( $site . '|' . $staff );
		if ( (int) get_transient( $hold ) > time() ) {
			self::$memo[ $key ] = null;
			return null;
		}
		$client = new MeetBridge_Client( null, null, null, self::TIMEOUT );
		$answer = $client->availability( $staff, gmdate( 'Y-m-d\TH:i:s\Z', $from ), gmdate( 'Y-m-d\TH:i:s\Z', $to ) );
		$busy   = $answer['ok'] ? self::parse( $answer['body'] ) : null;
		if ( null === $busy ) {
			$wait = 503 === (int) $answer['status'] && isset( $answer['retry_after'] )
				? min( max( (int) $answer['retry_after'], 1 ), self::MAX_HOLD ) : self::cache_seconds();
			set_transient( $hold, time() + $wait, $wait );
			self::warn( $staff, $answer, $wait );
			self::$memo[ $key ] = null;
			return null;
		}
		set_transient( self::CACHE_PREFIX . $key, $busy, self::cache_seconds() );
		self::clear_warning( $staff );
		self::$memo[ $key ] = $busy;
		return $busy;
	}

	/**
	 * Seconds an answer is kept (filter `meetbridge_availability_cache_seconds`, 1 to 30).
	 */
	public static function cache_seconds(): int {
		return min( max( (int) apply_filters( 'meetbridge_availability_cache_seconds', self::CACHE_SECONDS ), 1 ), self::CACHE_SECONDS );
	}

	/**
	 * The busy periods of a 200 answer, or null when it is not one.
	 *
	 * @param mixed $body Decoded body.
	 * @return array<int, array{0: float, 1: float}>|null
	 */
	private static function parse( $body ): ?array {
		if ( ! is_array( $body ) || ! isset( $body['busy'] ) || ! is_array( $body['busy'] ) ) {
			return null;
		}
		$busy = array();
		foreach ( $body['busy'] as $period ) {
			$span = self::span( $period );
			if ( null === $span ) {
				return null;
			}
			$busy[] = $span;
		}
		return $busy;
	}

	/**
	 * Warnings for admins, keyed `code:staff_id`.
	 *
	 * @return array<string, array{code: string, staff_id: string, status: int, error: string, retry_after: int, at: int}>
	 */
	public static function warnings(): array {
		$list = get_option( MeetBridge_Settings::AVAILABILITY_WARNINGS, array() );
		if ( ! is_array( $list ) ) {
			return array();
		}
		return array_filter( $list, static fn( $entry ) => is_array( $entry ) && (int) ( $entry['at'] ?? 0 ) > time() - self::WARN_KEEP );
	}

	/**
	 * Keep the reason of a failed call for the admin notice (rate-limited: one write per reason and
	 * staff member every WARN_EVERY seconds); a relink case also goes on the relink list.
	 *
	 * @param string $staff  Staff id.
	 * @param array  $answer MeetBridge_Client::request() result.
	 * @param int    $wait   Seconds before MeetBridge is asked again.
	 */
	private static function warn( string $staff, array $answer, int $wait ): void {
		$status = (int) $answer['status'];
		$code   = is_array( $answer['body'] ) && isset( $answer['body']['error'] ) ? sanitize_key( (string) $answer['body']['error'] ) : '';
		if ( '' === $code ) {
			$code = 0 === $status ? 'unreachable' : ( $answer['ok'] ? 'bad_answer' : 'http_' . $status );
		}
		if ( 409 === $status && in_array( $code, self::RELINK_ERRORS, true ) && ! isset( MeetBridge_Relink::all()[ 'google:' . $staff ] ) ) {
			MeetBridge_Relink::add( 'google', $staff, $code );
		}
		$list = self::warnings();
		$name = $code . ':' . $staff;
		if ( isset( $list[ $name ] ) && (int) $list[ $name ]['at'] > time() - self::WARN_EVERY ) {
			return;
		}
		$list[ $name ] = array(
			'code'        => $code,
			'staff_id'    => $staff,
			'status'      => $status,
			'error'       => sanitize_text_field( mb_substr( (string) $answer['error'], 0, 300 ) ),
			'retry_after' => 503 === $status ? $wait : 0,
			'at'          => time(),
		);
		update_option( MeetBridge_Settings::AVAILABILITY_WARNINGS, $list, false );
	}

	/**
	 * A staff member's busy times were read: their warnings no longer apply.
	 *
	 * @param string $staff Staff id.
	 */
	private static function clear_warning( string $staff ): void {
		$list = get_option( MeetBridge_Settings::AVAILABILITY_WARNINGS, array() );
		if ( ! is_array( $list ) || array() === $list ) {
			return;
		}
		$left = array_filter( $list, static fn( $entry ) => ! is_array( $entry ) || ( $entry['staff_id'] ?? '' ) !== $staff );
		if ( count( $left ) !== count( $list ) ) {
			update_option( MeetBridge_Settings::AVAILABILITY_WARNINGS, $left, false );
		}
	}

	/**
	 * The admin's sentence for a warning.
	 *
	 * @param array  $entry Warning.
	 * @param string $who   Staff member's name.
	 */
	public static function describe( array $entry, string $who ): string {
		switch ( $entry['code'] ) {
			case 'not_linked':
				/* translators: %s: staff member. */
				$reason = sprintf( __( '%s has no Google Calendar connected; connect it under MeetBridge → Staff accounts', 'meetbridge' ), $who );
				break;
			case 'needs_relink':
			case 'missing_scope':
				/* translators: %s: staff member. */
				$reason = sprintf( __( 'Google no longer accepts the connection of %s; relink their Google account', 'meetbridge' ), $who );
				break;
			case 'unknown_site':
			case 'bad_signature':
			case 'timestamp_out_of_tolerance':
				$reason = __( 'MeetBridge refused this site\'s request; press "Test connection" under MeetBridge → Settings', 'meetbridge' );
				break;
			case 'invalid_request':
				/* translators: %s: the error. */
				$reason = sprintf( __( 'MeetBridge refused the request as malformed (%s); please report this plugin bug', 'meetbridge' ), $entry['error'] );
				break;
			default:
				$reason = 503 === (int) $entry['status']
					/* translators: 1: the error, 2: seconds. */
					? sprintf( __( 'MeetBridge or Google is unavailable for now (%1$s); asking again in %2$d seconds at the earliest', 'meetbridge' ), $entry['error'], (int) $entry['retry_after'] )
					/* translators: %s: the error. */
					: sprintf( __( 'MeetBridge did not answer as expected (%s)', 'meetbridge' ), $entry['error'] );
		}
		/* translators: 1: staff member, 2: the reason. */
		return sprintf( __( 'Busy times of %1$s in Google Calendar could not be checked, so booking forms show all their slots: %2$s.', 'meetbridge' ), $who, $reason );
	}
}
