<?php
/**
 * Changes a staff member made to a booking's meeting outside WordPress: MeetBridge's signed
 * `booking.changed` result (the event moved in Google Calendar, the Zoom meeting deleted in Zoom, …).
 *
 * The results route checks the shape (validate(): a bad one is answered 400), the bookings table keeps
 * the latest change per booking (a change whose `sequence` is not greater than the last one stored is
 * acknowledged and ignored), the join and event links follow it, and then:
 *
 *     do_action( 'meetbridge_booking_changed', $booking_id, $data ); // $data: the result's data as sent
 *     do_action( 'meetbridge_booking_resend', $booking_id, $data );  // only when MeetBridge asks for
 *                                                                    // the booking again (`resend`)
 *
 * The MeetBridge bookings page shows each booking's latest change, and an admin notice lists the ones
 * no admin has seen yet (describe()). The Easy Appointments adapter applies changes when the site opts
 * in (MeetBridge_Easy_Appointments::on_changed()); adapters that can rebuild a booking answer a resend.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * `booking.changed` results.
 */
class MeetBridge_Changes {

	const PROVIDERS = array( 'google', 'zoom' );
	const KINDS     = array( 'moved', 'deleted' );
	const STATES    = array( 'synced', 'partial', 'cancelled', 'recreating' );

	/**
	 * The change as stored, or a WP_Error naming the first bad field (unknown fields are ignored).
	 *
	 * @param array $data The result's data.
	 * @return array|WP_Error
	 */
	public static function validate( array $data ) {
		$id = isset( $data['booking_id'] ) && is_string( $data['booking_id'] ) ? $data['booking_id'] : '';
		if ( ! preg_match( MeetBridge_Booking_API::ID_PATTERN, $id ) ) {
			return self::bad( 'booking_id', 'must be 1-64 of A-Z a-z 0-9 . _ : -' );
		}
		if ( ! isset( $data['sequence'] ) || ! is_int( $data['sequence'] ) || $data['sequence'] < 1 ) {
			return self::bad( 'sequence', 'must be an integer from 1' );
		}
		if ( isset( $data['revision'] ) && ( ! is_int( $data['revision'] ) || $data['revision'] < 0 ) ) {
			return self::bad( 'revision', 'must be an integer from 0' );
		}
		foreach ( array( 'provider' => self::PROVIDERS, 'kind' => self::KINDS, 'state' => self::STATES ) as $field => $allowed ) {
			if ( ! isset( $data[ $field ] ) || ! in_array( $data[ $field ], $allowed, true ) ) {
				return self::bad( $field, 'must be one of ' . implode( ', ', $allowed ) );
			}
		}
		$change = array(
			'booking_id' => $id,
			'revision'   => (int) ( $data['revision'] ?? 0 ),
			'sequence'   => $data['sequence'],
			'provider'   => $data['provider'],
			'kind'       => $data['kind'],
			'state'      => $data['state'],
			'start'      => '',
			'end'        => '',
			'resend'     => false,
			'changed_at' => time(),
		);
		if ( 'moved' === $change['kind'] ) {
			foreach ( array( 'start', 'end' ) as $field ) {
				$time = isset( $data[ $field ] ) && is_string( $data[ $field ] ) && preg_match( MeetBridge_Booking_API::TIME, $data[ $field ] ) ? date_create_immutable( $data[ $field ] ) : false;
				if ( ! $time ) {
					return self::bad( $field, 'must be an RFC 3339 date-time' );
				}
				$change[ $field ] = $time->setTimezone( new DateTimeZone( 'UTC' ) )->format( 'Y-m-d\TH:i:s\Z' );
			}
			if ( strtotime( $change['end'] ) <= strtotime( $change['start'] ) ) {
				return self::bad( 'end', 'must be after the start' );
			}
		}
		foreach ( array( 'zoom' => array( 'meeting_id', 'join_url' ), 'google' => array( 'event_id', 'html_link' ) ) as $field => $keys ) {
			if ( ! array_key_exists( $field, $data ) ) {
				continue;
			}
			if ( null !== $data[ $field ] && ! is_array( $data[ $field ] ) ) {
				return self::bad( $field, 'must be an object or null' );
			}
			$change[ $field ] = null === $data[ $field ] ? null : array_map( static fn( $value ) => is_scalar( $value ) ? (string) $value : '', array_intersect_key( $data[ $field ], array_flip( $keys ) ) );
		}
		if ( isset( $data['resend'] ) && ! is_bool( $data['resend'] ) ) {
			return self::bad( 'resend', 'must be true or false' );
		}
		$change['resend'] = ! empty( $data['resend'] );
		if ( isset( $data['changed_at'] ) ) {
			$at = is_string( $data['changed_at'] ) && preg_match( MeetBridge_Booking_API::TIME, $data['changed_at'] ) ? date_create_immutable( $data['changed_at'] ) : false;
			if ( ! $at ) {
				return self::bad( 'changed_at', 'must be an RFC 3339 date-time' );
			}
			$change['changed_at'] = $at->getTimestamp();
		}
		return $change;
	}

	/**
	 * Store a change and tell themes and plugins; a change older than the one stored is ignored.
	 *
	 * @param array $data The result's data (validated by the results route).
	 * @return bool Whether it was applied.
	 */
	public static function apply( array $data ): bool {
		$change = self::validate( $data );
		if ( is_wp_error( $change ) || ! MeetBridge_Bookings::apply_change( $change ) ) {
			return false;
		}
		/**
		 * A staff member changed a booking's meeting in Google Calendar or Zoom.
		 *
		 * @param string $booking_id The booking id.
		 * @param array  $data       The `booking.changed` data: kind (`moved`, `deleted`), provider
		 *                           (`google`, `zoom`), start/end (RFC 3339 UTC, moved only), state,
		 *                           policy, resend, zoom, google, sequence, changed_at.
		 */
		do_action( 'meetbridge_booking_changed', $change['booking_id'], $data );
		if ( $change['resend'] ) {
			/**
			 * MeetBridge asks for the booking again (it recreates an item deleted outside): an adapter
			 * that can rebuild the booking from its plugin's tables sends it as `booking.updated`.
			 *
			 * @param string $booking_id The booking id.
			 * @param array  $data       The `booking.changed` data.
			 */
			do_action( 'meetbridge_booking_resend', $change['booking_id'], $data );
		}
		return true;
	}

	/**
	 * What a booking's latest change was, in plain words ('' for none): "Moved in Google Calendar to
	 * 3 Dec 10:00–10:30 (site time)", "Zoom meeting deleted in Zoom — reported".
	 *
	 * @param array $row Bookings row.
	 */
	public static function describe( array $row ): string {
		if ( empty( $row['change_kind'] ) ) {
			return '';
		}
		$where = 'google' === $row['change_provider'] ? __( 'Google Calendar', 'meetbridge' ) : __( 'Zoom', 'meetbridge' );
		if ( 'moved' === $row['change_kind'] ) {
			$start = strtotime( (string) $row['change_start'] );
			$end   = strtotime( (string) $row['change_end'] );
			if ( ! $start || ! $end ) {
				/* translators: %s: Google Calendar or Zoom. */
				return sprintf( __( 'Moved in %s', 'meetbridge' ), $where );
			}
			$same_day = wp_date( 'Y-m-d', $start ) === wp_date( 'Y-m-d', $end );
			/* translators: 1: Google Calendar or Zoom, 2: new start, 3: new end. */
			return sprintf( __( 'Moved in %1$s to %2$s–%3$s (site time)', 'meetbridge' ), $where, wp_date( 'j M H:i', $start ), wp_date( $same_day ? 'H:i' : 'j M H:i', $end ) );
		}
		$item     = 'google' === $row['change_provider'] ? __( 'Google Calendar event', 'meetbridge' ) : __( 'Zoom meeting', 'meetbridge' );
		$outcomes = array(
			'cancelled'  => __( 'booking cancelled', 'meetbridge' ),
			'recreating' => __( 'being recreated', 'meetbridge' ),
		);
		$outcome  = $outcomes[ $row['change_state'] ] ?? __( 'reported', 'meetbridge' );
		/* translators: 1: Zoom meeting or Google Calendar event, 2: Google Calendar or Zoom, 3: what followed (reported, booking cancelled, being recreated). */
		return sprintf( __( '%1$s deleted in %2$s — %3$s', 'meetbridge' ), $item, $where, $outcome );
	}

	/**
	 * A rejection.
	 *
	 * @param string $field   Field.
	 * @param string $message What is wrong.
	 */
	private static function bad( string $field, string $message ): WP_Error {
		return new WP_Error( 'meetbridge_bad_change', $field . ': ' . $message, array( 'status' => 400, 'field' => $field ) );
	}
}
