<?php
/**
 * The PHP API any booking plugin or theme calls:
 *
 *     do_action( 'meetbridge_booking_created', $booking );
 *     do_action( 'meetbridge_booking_updated', $booking );   // rescheduled or edited
 *     do_action( 'meetbridge_booking_cancelled', $booking ); // id (and staff id) are enough
 *
 * `$booking` is an array: `id` (string, 1-64 of A-Z a-z 0-9 . _ : -), `title`, `start` and `end`
 * (RFC 3339 with offset, e.g. 2026-12-01T10:00:00+01:00), `timezone` (IANA name), `staff` {id, email,
 * name}, `customer` {email, name}, `video` ('zoom' or 'none'), `location` (string or null). The plugin
 * assigns the revision. A booking that cannot be sent is not queued; the action
 * `meetbridge_booking_rejected` receives the reason (a WP_Error) and the array.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Validates booking arrays and queues them.
 */
class MeetBridge_Booking_API {

	const ID_PATTERN = '/^[A-Za-z0-9._:-]{1,64}$/';
	const TIME       = '/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/';

	/**
	 * Register the actions.
	 */
	public static function init(): void {
		add_action( 'meetbridge_booking_created', array( __CLASS__, 'created' ) );
		add_action( 'meetbridge_booking_updated', array( __CLASS__, 'updated' ) );
		add_action( 'meetbridge_booking_cancelled', array( __CLASS__, 'cancelled' ) );
	}

	/**
	 * Action `meetbridge_booking_created`.
	 *
	 * @param mixed $booking Booking array.
	 */
	public static function created( $booking ): void {
		self::submit( 'booking.created', $booking );
	}

	/**
	 * Action `meetbridge_booking_updated`.
	 *
	 * @param mixed $booking Booking array.
	 */
	public static function updated( $booking ): void {
		self::submit( 'booking.updated', $booking );
	}

	/**
	 * Action `meetbridge_booking_cancelled`.
	 *
	 * @param mixed $booking Booking array (or just its id).
	 */
	public static function cancelled( $booking ): void {
		self::submit( 'booking.cancelled', is_scalar( $booking ) ? array( 'id' => (string) $booking ) : $booking );
	}

	/**
	 * Validate, assign a revision, queue.
	 *
	 * @param string $type    Event type.
	 * @param mixed  $booking Booking array.
	 * @return int|WP_Error The revision, or why it was not queued.
	 */
	public static function submit( string $type, $booking ) {
		$normalized = self::normalize( $type, $booking );
		if ( is_wp_error( $normalized ) ) {
			do_action( 'meetbridge_booking_rejected', $normalized, $booking );
			return $normalized;
		}
		$revision               = MeetBridge_Bookings::next_revision(
			$normalized['id'],
			$normalized['title'] ?? '',
			$normalized['staff']['id'],
			$normalized['start'] ?? '',
			$type,
			MeetBridge_Settings::customer_hash( (string) ( $normalized['customer']['email'] ?? '' ) )
		);
		$normalized['revision'] = $revision;
		$ordered                = array_merge( array( 'id' => $normalized['id'], 'revision' => $revision ), $normalized );
		MeetBridge_Outbox::enqueue( $type, $ordered );
		return $revision;
	}

	/**
	 * The booking as MeetBridge's schema wants it, or a WP_Error naming the first bad field.
	 *
	 * @param string $type    Event type.
	 * @param mixed  $booking Booking array.
	 * @return array|WP_Error
	 */
	public static function normalize( string $type, $booking ) {
		if ( ! is_array( $booking ) ) {
			return self::bad( 'booking', 'must be an array' );
		}
		$id = isset( $booking['id'] ) && is_scalar( $booking['id'] ) ? (string) $booking['id'] : '';
		if ( ! preg_match( self::ID_PATTERN, $id ) ) {
			return self::bad( 'id', 'must be 1-64 of A-Z a-z 0-9 . _ : -' );
		}
		$staff    = isset( $booking['staff'] ) && is_array( $booking['staff'] ) ? $booking['staff'] : array();
		$staff_id = isset( $staff['id'] ) && is_scalar( $staff['id'] ) ? (string) $staff['id'] : '';
		if ( '' === $staff_id && 'booking.cancelled' === $type ) {
			$known    = MeetBridge_Bookings::get( $id );
			$staff_id = $known ? (string) $known['staff_id'] : '';
		}
		if ( ! preg_match( self::ID_PATTERN, $staff_id ) ) {
			return self::bad( 'staff.id', 'must be 1-64 of A-Z a-z 0-9 . _ : -' );
		}
		if ( 'booking.cancelled' === $type ) {
			return array(
				'id'    => $id,
				'staff' => array( 'id' => $staff_id ),
			);
		}

		$out   = array( 'id' => $id );
		$title = isset( $booking['title'] ) ? trim( wp_strip_all_tags( (string) $booking['title'] ) ) : '';
		if ( '' === $title ) {
			return self::bad( 'title', 'is required' );
		}
		$out['title'] = mb_substr( $title, 0, 200 );
		foreach ( array( 'start', 'end' ) as $field ) {
			$value = isset( $booking[ $field ] ) ? (string) $booking[ $field ] : '';
			if ( ! preg_match( self::TIME, $value ) || false === date_create( $value ) ) {
				return self::bad( $field, 'must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T10:00:00+01:00' );
			}
			$out[ $field ] = $value;
		}
		$length = date_create( $out['end'] )->getTimestamp() - date_create( $out['start'] )->getTimestamp();
		if ( $length <= 0 || $length > DAY_IN_SECONDS ) {
			return self::bad( 'end', 'must be after the start, at most 24 hours later' );
		}
		$timezone = isset( $booking['timezone'] ) ? (string) $booking['timezone'] : '';
		if ( ! in_array( $timezone, timezone_identifiers_list( DateTimeZone::ALL_WITH_BC ), true ) ) {
			return self::bad( 'timezone', 'must be an IANA time zone name, e.g. Europe/Berlin' );
		}
		$out['timezone'] = $timezone;

		$staff_email = isset( $staff['email'] ) ? sanitize_email( (string) $staff['email'] ) : '';
		if ( ! is_email( $staff_email ) ) {
			return self::bad( 'staff.email', 'must be an e-mail address' );
		}
		$out['staff'] = array(
			'id'    => $staff_id,
			'email' => $staff_email,
		);
		if ( ! empty( $staff['name'] ) ) {
			$out['staff']['name'] = mb_substr( sanitize_text_field( (string) $staff['name'] ), 0, 200 );
		}

		$customer = isset( $booking['customer'] ) && is_array( $booking['customer'] ) ? $booking['customer'] : array();
		$email    = isset( $customer['email'] ) ? sanitize_email( (string) $customer['email'] ) : '';
		if ( ! is_email( $email ) ) {
			return self::bad( 'customer.email', 'must be an e-mail address' );
		}
		$out['customer'] = array( 'email' => $email );
		if ( ! empty( $customer['name'] ) ) {
			$out['customer']['name'] = mb_substr( sanitize_text_field( (string) $customer['name'] ), 0, 200 );
		}

		$video = isset( $booking['video'] ) ? (string) $booking['video'] : 'zoom';
		if ( ! in_array( $video, array( 'zoom', 'none' ), true ) ) {
			return self::bad( 'video', "must be 'zoom' or 'none'" );
		}
		$out['video']    = $video;
		$out['location'] = isset( $booking['location'] ) && '' !== (string) $booking['location']
			? mb_substr( sanitize_text_field( (string) $booking['location'] ), 0, 500 ) : null;
		return $out;
	}

	/**
	 * A rejection.
	 *
	 * @param string $field   Field.
	 * @param string $message What is wrong.
	 */
	private static function bad( string $field, string $message ): WP_Error {
		return new WP_Error( 'meetbridge_invalid_booking', $field . ': ' . $message, array( 'field' => $field ) );
	}
}
