<?php
/**
 * Adapter for Amelia (wordpress.org/plugins/ameliabooking; observed with Amelia Lite 1.2.34).
 *
 * Bookings. Each Amelia appointment is one MeetBridge booking, `amelia-{appointment id}`. Amelia
 * fires, after saving (arguments as Amelia passes them, see the PHPUnit fixtures):
 * - `amelia_after_booking_added( $result )`: a customer booked through the front-end form;
 * - `amelia_after_appointment_added( $appointment, $service, $payment )`: an admin added one;
 * - `amelia_after_appointment_updated( $appointment, $old, $removed, $service, $payment )`: an admin
 *   edited one (time, employee, customer, status);
 * - `amelia_after_appointment_status_updated( $appointment, $status )`: status changed in a list;
 * - `amelia_after_booking_rescheduled( $appointment )` (moved in the calendar) and
 *   `( $old_appointment, $booking, $start )` (a customer moved it from their panel);
 * - `amelia_after_booking_{status}( $booking_data )` for a customer booking's status;
 * - `amelia_before_booking_canceled( $booking )` when a customer cancels through the e-mail link, and
 *   `amelia_before_booking_approved_link` / `_rejected_link` for an employee's e-mail link: Amelia
 *   fires the matching "after" action only when a success URL is set in its notification settings,
 *   so these appointments are read back at the end of the request (`shutdown`);
 * - `amelia_after_appointment_deleted( $appointment )` and `amelia_after_package_booking_deleted(
 *   $appointment, $booking )`.
 * Every appointment those arguments name is read back from Amelia's tables (`amelia_appointments`,
 * times in UTC; `amelia_customer_bookings`, `amelia_users`, `amelia_services`, `amelia_locations`)
 * and sent as it is now: an `approved` appointment has a meeting (created, or updated when it
 * changed); a `pending` one gets none, but one it already had (approved, then set back to pending)
 * stays and follows its changes; `canceled` and `rejected` ones have none (cancelled if one was
 * made), and so has a deleted one; `no-show` changes nothing (the meeting ends and is cleaned up as
 * usual). Filter `meetbridge_amelia_active_statuses` (default `['approved']`) to give pending
 * appointments a meeting from the start. Amelia's events (as opposed to appointments) are not covered.
 *
 * Staff. The employee is the WordPress user Amelia links them to ("WordPress User", `externalId`),
 * else the WordPress user with the employee's e-mail, else `amelia-provider-{id}`; filter
 * `meetbridge_amelia_staff_id( $staff_id, $provider )`. The customer is the appointment's first
 * approved (else pending) customer. Times are in the employee's time zone when Amelia has one for
 * them, else the site's. Filters `meetbridge_amelia_video` ('zoom') and `meetbridge_amelia_booking`.
 *
 * Join link. Amelia's notification templates take `%amelia_dynamic_placeholder_meetbridge_join_url%`:
 * the customer's way to their meeting (MeetBridge_Integration::join_url()).
 *
 * Busy slots. `amelia_get_timeslots_filter( $result, $props )` drops, on the front end, every slot in
 * which the employee is busy in their linked Google Calendar (meetbridge_filter_slots()).
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Amelia → booking events, busy slots and the join link placeholder.
 */
class MeetBridge_Amelia {

	const PLACEHOLDER = 'amelia_dynamic_placeholder_meetbridge_join_url';
	const ACTIVE      = array( 'approved' );
	const HOLD        = array( 'pending' );
	const LEAVE       = array( 'no-show' );

	/**
	 * Amelia's actions after a change, with how many arguments each passes.
	 */
	const HOOKS = array(
		'amelia_after_booking_added'              => 1,
		'amelia_after_appointment_added'          => 1,
		'amelia_after_appointment_updated'        => 3,
		'amelia_after_appointment_status_updated' => 1,
		'amelia_after_booking_rescheduled'        => 2,
		'amelia_after_booking_approved'           => 1,
		'amelia_after_booking_pending'            => 1,
		'amelia_after_booking_canceled'           => 1,
		'amelia_after_booking_rejected'           => 1,
		'amelia_after_booking_no-show'            => 1,
		'amelia_after_booking_approved_link'      => 1,
		'amelia_after_booking_rejected_link'      => 1,
		'amelia_after_appointment_deleted'        => 1,
		'amelia_after_package_booking_deleted'    => 2,
	);

	/**
	 * Amelia's actions before a change whose "after" action Amelia fires only when a redirect URL is
	 * set (a customer's or employee's e-mail link): the appointment is synced at the end of the request.
	 */
	const BEFORE_HOOKS = array(
		'amelia_before_booking_canceled',
		'amelia_before_booking_approved_link',
		'amelia_before_booking_rejected_link',
	);

	/**
	 * Hook into Amelia.
	 */
	public static function init(): void {
		foreach ( self::HOOKS as $hook => $args ) {
			add_action( $hook, array( __CLASS__, 'on_change' ), 20, $args );
		}
		foreach ( self::BEFORE_HOOKS as $hook ) {
			add_action( $hook, array( __CLASS__, 'on_before_change' ), 20, 1 );
		}
		add_filter( 'amelia_get_timeslots_filter', array( __CLASS__, 'filter_slots' ), 20, 2 );
		add_filter( self::PLACEHOLDER, array( __CLASS__, 'placeholder' ), 10, 1 );
		add_action( 'meetbridge_booking_resend', array( __CLASS__, 'on_resend' ), 10, 1 );
	}

	/**
	 * The actions this adapter listens to.
	 *
	 * @return string[]
	 */
	public static function actions(): array {
		return array_merge( array_keys( self::HOOKS ), self::BEFORE_HOOKS );
	}

	/**
	 * Any of HOOKS: sync every appointment its arguments name.
	 *
	 * @param mixed ...$args The hook's arguments.
	 */
	public static function on_change( ...$args ): void {
		foreach ( self::appointment_ids( $args ) as $id ) {
			self::sync( $id );
		}
	}

	/**
	 * Any of BEFORE_HOOKS: sync the appointments its arguments name at the end of the request, once
	 * Amelia has saved the change.
	 *
	 * @param mixed $booking The customer booking about to change.
	 */
	public static function on_before_change( $booking ): void {
		foreach ( self::appointment_ids( array( $booking ) ) as $id ) {
			MeetBridge_Integration::later( self::booking_id( $id ), static fn() => self::sync( $id ) );
		}
	}

	/**
	 * The appointment ids in hook arguments: arrays shaped like an appointment (`id`, `bookingStart`,
	 * `providerId`) and `appointmentId`s of customer bookings, at any depth (a recurring booking
	 * carries its other appointments).
	 *
	 * @param mixed $value Arguments.
	 * @param int   $depth How deep to look.
	 * @return int[]
	 */
	public static function appointment_ids( $value, int $depth = 6 ): array {
		if ( ! is_array( $value ) || $depth <= 0 ) {
			return array();
		}
		$ids = array();
		if ( isset( $value['id'], $value['bookingStart'], $value['providerId'] ) && 'event' !== ( $value['type'] ?? '' ) ) {
			$ids[] = (int) $value['id'];
		}
		if ( isset( $value['appointmentId'] ) && is_numeric( $value['appointmentId'] ) ) {
			$ids[] = (int) $value['appointmentId'];
		}
		foreach ( $value as $item ) {
			if ( is_array( $item ) ) {
				$ids = array_merge( $ids, self::appointment_ids( $item, $depth - 1 ) );
			}
		}
		return array_values( array_unique( array_filter( $ids, static fn( $id ) => $id > 0 ) ) );
	}

	/**
	 * Send an appointment's current state.
	 *
	 * @param int $id Appointment id.
	 * @return int|WP_Error|null Revision, error, or null when there was nothing to send.
	 */
	public static function sync( int $id ) {
		$booking_id  = self::booking_id( $id );
		$appointment = self::load( $id );
		$status      = $appointment ? (string) $appointment['status'] : 'deleted';
		$active      = in_array( $status, (array) apply_filters( 'meetbridge_amelia_active_statuses', self::ACTIVE ), true );
		$hold        = ! $active && in_array( $status, self::HOLD, true );
		if ( in_array( $status, self::LEAVE, true ) ) {
			return null;
		}
		if ( ! $active && ! $hold ) {
			return MeetBridge_Integration::apply( $booking_id, null );
		}
		$booking = self::map( $appointment );
		if ( is_wp_error( $booking ) ) {
			do_action( 'meetbridge_booking_rejected', $booking, $appointment );
			return $booking;
		}
		return MeetBridge_Integration::apply( $booking_id, $booking, $active );
	}

	/**
	 * The booking array for an appointment as load() reads it.
	 *
	 * @param array $appointment Appointment row with `service`, `provider`, `customer`, `location`.
	 * @return array|WP_Error
	 */
	public static function map( array $appointment ) {
		$provider = $appointment['provider'] ?? array();
		$customer = $appointment['customer'] ?? array();
		$zone     = MeetBridge_Integration::zone_name( (string) ( $provider['timeZone'] ?? '' ) );
		$start    = MeetBridge_Integration::from_utc( (string) $appointment['bookingStart'], $zone );
		$end      = MeetBridge_Integration::from_utc( (string) $appointment['bookingEnd'], $zone );
		if ( '' === $start || '' === $end ) {
			return new WP_Error( 'meetbridge_invalid_booking', 'start: the appointment has no usable date and time', array( 'field' => 'start' ) );
		}
		$location = trim( implode( ', ', array_filter( array( $appointment['location']['name'] ?? '', $appointment['location']['address'] ?? '' ) ) ) );
		$booking  = array(
			'id'       => self::booking_id( (int) $appointment['id'] ),
			'title'    => '' !== (string) ( $appointment['service']['name'] ?? '' ) ? (string) $appointment['service']['name'] : __( 'Appointment', 'meetbridge' ),
			'start'    => $start,
			'end'      => $end,
			'timezone' => $zone,
			'staff'    => array(
				'id'    => self::staff_id( $provider ),
				'email' => (string) ( $provider['email'] ?? '' ),
				'name'  => self::full_name( $provider ),
			),
			'customer' => array(
				'email' => (string) ( $customer['email'] ?? '' ),
				'name'  => self::full_name( $customer ),
			),
			'video'    => (string) apply_filters( 'meetbridge_amelia_video', 'zoom', $appointment ),
			'location' => '' === $location ? null : $location,
		);
		return apply_filters( 'meetbridge_amelia_booking', $booking, $appointment );
	}

	/**
	 * MeetBridge's staff id for an Amelia employee (a row of `amelia_users`): the linked WordPress
	 * user, else the user with the employee's e-mail, else `amelia-provider-{id}`; then the filter
	 * `meetbridge_amelia_staff_id`. Bookings and busy slots both use it.
	 *
	 * @param array $provider `id`, `externalId`, `email`.
	 */
	public static function staff_id( array $provider ): string {
		$user     = MeetBridge_Integration::wordpress_user( (int) ( $provider['externalId'] ?? 0 ), (string) ( $provider['email'] ?? '' ) );
		$staff_id = null !== $user ? (string) $user : 'amelia-provider-' . (int) ( $provider['id'] ?? 0 );
		return (string) apply_filters( 'meetbridge_amelia_staff_id', $staff_id, $provider );
	}

	/**
	 * `meetbridge_booking_resend`: MeetBridge asks for one of this plugin's bookings again; it is
	 * read back and sent as `booking.updated` even if nothing changed here.
	 *
	 * @param mixed $booking_id Booking id.
	 */
	public static function on_resend( $booking_id ): void {
		if ( preg_match( '/^amelia-(\d+)$/', (string) $booking_id, $match ) ) {
			MeetBridge_Integration::resend( (string) $booking_id, static fn() => self::sync( (int) $match[1] ) );
		}
	}

	/**
	 * MeetBridge's booking id for an appointment.
	 *
	 * @param int $id Appointment id.
	 */
	public static function booking_id( int $id ): string {
		return 'amelia-' . $id;
	}

	/**
	 * An appointment with its service, employee, customer and location, from Amelia's tables; null
	 * when it does not exist (deleted) or the tables are not there.
	 *
	 * @param int $id Appointment id.
	 */
	public static function load( int $id ): ?array {
		global $wpdb;
		$p   = $wpdb->prefix;
		$row = self::has_tables() ? $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$p}amelia_appointments WHERE id = %d", $id ), ARRAY_A ) : null; // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		if ( ! is_array( $row ) ) {
			return null;
		}
		$bookings = (array) $wpdb->get_results( $wpdb->prepare( "SELECT id, customerId, status FROM {$p}amelia_customer_bookings WHERE appointmentId = %d ORDER BY id", $id ), ARRAY_A ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$chosen   = null;
		foreach ( array( 'approved', 'pending' ) as $status ) {
			foreach ( $bookings as $booking ) {
				if ( null === $chosen && $status === $booking['status'] ) {
					$chosen = $booking;
				}
			}
		}
		$row['service']  = self::row( 'amelia_services', (int) $row['serviceId'], 'id, name' );
		$row['provider'] = self::row( 'amelia_users', (int) $row['providerId'], 'id, externalId, firstName, lastName, email, timeZone' );
		$row['customer'] = $chosen ? self::row( 'amelia_users', (int) $chosen['customerId'], 'id, firstName, lastName, email' ) : array();
		$row['location'] = empty( $row['locationId'] ) ? array() : self::row( 'amelia_locations', (int) $row['locationId'], 'id, name, address' );
		return $row;
	}

	/**
	 * Filter `amelia_get_timeslots_filter( $result, $props )`: `$result['slots']` is
	 * `[ 'Y-m-d' => [ 'H:i' => [ entry, … ] ] ]`, one entry per employee free then (`['e' => id, 'l' =>
	 * location, …]`, or `[ id, location ]` without `structured`). On the front end, an employee's entry
	 * is dropped from every slot in which they are busy in Google Calendar, and a slot with no entry
	 * left disappears. The times are in the site's zone, in UTC when Amelia shows the customer's zone
	 * (setting `showClientTimeZone`), or in `$props['timeZone']` when the form asked for one.
	 *
	 * @param mixed $result Amelia's answer.
	 * @param mixed $props  The query.
	 * @return mixed
	 */
	public static function filter_slots( $result, $props = array() ) {
		if ( ! is_array( $result ) || ! is_array( $props ) || empty( $props['isFrontEndBooking'] ) || empty( $result['slots'] ) || ! is_array( $result['slots'] ) ) {
			return $result;
		}
		$zone    = self::slots_zone( $props );
		$seconds = ! empty( $props['serviceDuration'] ) ? (int) $props['serviceDuration'] : 60 * (int) ( $result['duration'] ?? 0 );
		if ( $seconds <= 0 ) {
			return $result;
		}
		$by_provider = array();
		foreach ( $result['slots'] as $date => $times ) {
			foreach ( (array) $times as $time => $entries ) {
				$start = date_create_immutable( $date . ' ' . $time, $zone );
				if ( ! $start ) {
					continue;
				}
				foreach ( (array) $entries as $entry ) {
					$provider = (int) ( is_array( $entry ) ? ( $entry['e'] ?? $entry[0] ?? 0 ) : 0 );
					if ( $provider > 0 ) {
						$by_provider[ $provider ][ $date . ' ' . $time ] = array(
							'start' => $start->getTimestamp(),
							'end'   => $start->getTimestamp() + $seconds,
							'key'   => $date . ' ' . $time,
						);
					}
				}
			}
		}
		$busy = array(); // "date time" => [ provider id => true ].
		foreach ( $by_provider as $provider => $slots ) {
			$free = array_column( meetbridge_filter_slots( array_values( $slots ), self::staff_id( self::row( 'amelia_users', $provider, 'id, externalId, email' ) + array( 'id' => $provider ) ) ), 'key' );
			foreach ( array_diff( array_keys( $slots ), $free ) as $key ) {
				$busy[ $key ][ $provider ] = true;
			}
		}
		foreach ( $busy as $key => $providers ) {
			list( $date, $time ) = explode( ' ', $key );
			$left                = array_values(
				array_filter(
					(array) $result['slots'][ $date ][ $time ],
					static fn( $entry ) => ! isset( $providers[ (int) ( is_array( $entry ) ? ( $entry['e'] ?? $entry[0] ?? 0 ) : 0 ) ] )
				)
			);
			if ( array() === $left ) {
				unset( $result['slots'][ $date ][ $time ] );
			} else {
				$result['slots'][ $date ][ $time ] = $left;
			}
			if ( array() === $result['slots'][ $date ] ) {
				unset( $result['slots'][ $date ] );
			}
		}
		return $result;
	}

	/**
	 * Filter `amelia_dynamic_placeholder_meetbridge_join_url( $data )`: Amelia replaces
	 * `%amelia_dynamic_placeholder_meetbridge_join_url%` in a notification with what this returns;
	 * `$data` are the notification's placeholders (`appointment_id`, `customer_email`, …).
	 *
	 * @param mixed $data Placeholder values.
	 * @return string
	 */
	public static function placeholder( $data ) {
		if ( ! is_array( $data ) || empty( $data['appointment_id'] ) || ! is_numeric( $data['appointment_id'] ) ) {
			return '';
		}
		$email = is_string( $data['customer_email'] ?? null ) && is_email( $data['customer_email'] ) ? $data['customer_email'] : '';
		return MeetBridge_Integration::join_url( self::booking_id( (int) $data['appointment_id'] ), $email );
	}

	/**
	 * The zone Amelia's slot times are in (see filter_slots()).
	 *
	 * @param array $props The slots query.
	 */
	private static function slots_zone( array $props ): DateTimeZone {
		if ( ! empty( $props['timeZone'] ) && in_array( $props['timeZone'], timezone_identifiers_list( DateTimeZone::ALL_WITH_BC ), true ) ) {
			return new DateTimeZone( $props['timeZone'] );
		}
		$settings = json_decode( (string) get_option( 'amelia_settings', '' ), true );
		if ( ! empty( $settings['general']['showClientTimeZone'] ) ) {
			return new DateTimeZone( 'UTC' );
		}
		return wp_timezone();
	}

	/**
	 * "First Last" of an Amelia user.
	 *
	 * @param array $user `firstName`, `lastName`.
	 */
	private static function full_name( array $user ): string {
		return trim( ( $user['firstName'] ?? '' ) . ' ' . ( $user['lastName'] ?? '' ) );
	}

	/**
	 * One row of an Amelia table by id (selected columns), or an empty array.
	 *
	 * @param string $table   Table name without the prefix.
	 * @param int    $id      Row id.
	 * @param string $columns Columns (constant strings from this class only).
	 */
	private static function row( string $table, int $id, string $columns ): array {
		global $wpdb;
		if ( $id <= 0 ) {
			return array();
		}
		$row = $wpdb->get_row( $wpdb->prepare( "SELECT {$columns} FROM {$wpdb->prefix}{$table} WHERE id = %d", $id ), ARRAY_A ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		return is_array( $row ) ? array_filter( $row, static fn( $value ) => null !== $value ) : array();
	}

	/**
	 * Whether Amelia's appointments table exists.
	 */
	private static function has_tables(): bool {
		global $wpdb;
		$table = $wpdb->prefix . 'amelia_appointments';
		return $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $wpdb->esc_like( $table ) ) ) === $table; // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}
}
