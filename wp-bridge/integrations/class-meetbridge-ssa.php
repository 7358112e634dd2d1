<?php
/**
 * Adapter for Simply Schedule Appointments (wordpress.org/plugins/simply-schedule-appointments;
 * observed with 1.6.12.21).
 *
 * Bookings. Each SSA appointment is one MeetBridge booking, `ssa-{appointment id}`. SSA's own
 * "booked", "edited", "rescheduled", "canceled" and "abandoned" actions are all fired from its model's
 * `ssa/appointment/after_insert( $id, $data )` and `ssa/appointment/after_update( $id, $data_after,
 * $data_before, $response )`; those two, and `ssa/appointment/after_delete( $id, … )`, are what this
 * adapter listens to, so a change SSA has no named action for (e.g. canceled, then booked again) is
 * caught too. The appointment is read back from SSA's tables (`ssa_appointments`, whose `start_date`
 * and `end_date` are in UTC, and `ssa_appointment_types`) and sent as it is now: `booked` has a
 * meeting (created, or updated when it changed); `pending_form` and `pending_payment` (a time held while
 * the customer fills in the form or pays) get none, but one made before stays; `canceled`, `abandoned`
 * and a deleted appointment are cancelled. Filter `meetbridge_ssa_active_statuses` (default
 * `['booked']`).
 *
 * Staff. The free plugin has no team members: an appointment belongs to the WordPress user who owns
 * its appointment type (`author_id`); with team members (SSA Business: the appointment's `staff_ids`
 * and SSA's `ssa_staff` rows, each with a `user_id` and an `email`) the first one is. The staff id is
 * that WordPress user (else the user with the staff member's e-mail), else `ssa-staff-{id}` /
 * `ssa-type-{type id}`; filter `meetbridge_ssa_staff_id( $staff_id, $appointment )`. The customer is
 * the `Name` and `Email` the customer typed in (`customer_information`). Times are sent in the site's
 * zone. Filters `meetbridge_ssa_video` ('zoom') and `meetbridge_ssa_booking`.
 *
 * Join link. SSA shows an appointment's `web_meeting_url` to its customer (its confirmation, the
 * appointment page its e-mails link to, `{{ Appointment.web_meeting_url }}` in its templates): the
 * adapter sets it to the customer's way to the meeting (MeetBridge_Integration::join_url()) once there
 * is one, and clears it when the meeting is cancelled; a web meeting URL SSA or an admin set for
 * another service (not Zoom, not this site's join page) is left.
 *
 * Busy slots. SSA applies no filter to the times it offers; a new appointment in a time its staff
 * member is busy in Google Calendar is refused when SSA reserves it (`ssa/appointment/before_insert`,
 * the error SSA shows; message: filter `meetbridge_ssa_busy_message`).
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Simply Schedule Appointments → booking events, the join link and the busy-time check.
 */
class MeetBridge_SSA {

	const ACTIVE = array( 'booked' );
	const HOLD   = array( 'pending_form', 'pending_payment' );

	/**
	 * SSA's actions after a change, with how many arguments each passes.
	 */
	const HOOKS = array(
		'ssa/appointment/after_insert' => 2,
		'ssa/appointment/after_update' => 4,
		'ssa/appointment/after_delete' => 1,
	);

	/**
	 * Hook into SSA.
	 */
	public static function init(): void {
		foreach ( self::HOOKS as $hook => $args ) {
			add_action( $hook, array( __CLASS__, 'on_change' ), 20, $args );
		}
		add_filter( 'ssa/appointment/before_insert', array( __CLASS__, 'check_reservation' ), 20, 1 );
		add_action( 'meetbridge_result_received', array( __CLASS__, 'on_result' ), 10, 2 );
		add_action( 'meetbridge_booking_resend', array( __CLASS__, 'on_resend' ), 10, 1 );
	}

	/**
	 * The actions this adapter listens to.
	 *
	 * @return string[]
	 */
	public static function actions(): array {
		return array_keys( self::HOOKS );
	}

	/**
	 * Any of HOOKS: sync the appointment.
	 *
	 * @param mixed $id Appointment id.
	 */
	public static function on_change( $id ): void {
		if ( is_numeric( $id ) && (int) $id > 0 ) {
			self::sync( (int) $id );
		}
	}

	/**
	 * Send an appointment's current state, and keep its web meeting URL in step.
	 *
	 * @param int $id Appointment id.
	 * @return int|WP_Error|null Revision, error, or null when there was nothing to send.
	 */
	public static function sync( int $id ) {
		$booking_id  = self::booking_id( $id );
		$appointment = self::load( $id );
		$status      = $appointment ? (string) $appointment['status'] : 'deleted';
		$active      = in_array( $status, (array) apply_filters( 'meetbridge_ssa_active_statuses', self::ACTIVE ), true );
		if ( ! $active && ! in_array( $status, self::HOLD, true ) ) {
			$result = MeetBridge_Integration::apply( $booking_id, null );
			self::set_web_meeting_url( $id, '' );
			return $result;
		}
		$booking = self::map( $appointment );
		if ( is_wp_error( $booking ) ) {
			do_action( 'meetbridge_booking_rejected', $booking, $appointment );
			return $booking;
		}
		$result = MeetBridge_Integration::apply( $booking_id, $booking, $active );
		if ( $active ) {
			self::set_web_meeting_url( $id, MeetBridge_Integration::join_url( $booking_id, $booking['customer']['email'] ) );
		}
		return $result;
	}

	/**
	 * The booking array for an appointment as load() reads it.
	 *
	 * @param array $appointment Appointment row with `type` and `staff`.
	 * @return array|WP_Error
	 */
	public static function map( array $appointment ) {
		$zone  = MeetBridge_Integration::zone_name();
		$start = MeetBridge_Integration::from_utc( (string) $appointment['start_date'], $zone );
		$end   = MeetBridge_Integration::from_utc( (string) $appointment['end_date'], $zone );
		if ( '' === $start || '' === $end ) {
			return new WP_Error( 'meetbridge_invalid_booking', 'start: the appointment has no usable date and time', array( 'field' => 'start' ) );
		}
		$customer = json_decode( (string) ( $appointment['customer_information'] ?? '' ), true );
		$customer = is_array( $customer ) ? array_change_key_case( $customer, CASE_LOWER ) : array();
		$staff    = self::staff( $appointment );
		$title    = (string) ( $appointment['type']['title'] ?? '' );
		$booking  = array(
			'id'       => self::booking_id( (int) $appointment['id'] ),
			'title'    => '' !== $title ? $title : __( 'Appointment', 'meetbridge' ),
			'start'    => $start,
			'end'      => $end,
			'timezone' => $zone,
			'staff'    => $staff,
			'customer' => array(
				'email' => (string) ( $customer['email'] ?? '' ),
				'name'  => (string) ( $customer['name'] ?? trim( ( $customer['first name'] ?? '' ) . ' ' . ( $customer['last name'] ?? '' ) ) ),
			),
			'video'    => (string) apply_filters( 'meetbridge_ssa_video', 'zoom', $appointment ),
			'location' => null,
		);
		return apply_filters( 'meetbridge_ssa_booking', $booking, $appointment );
	}

	/**
	 * The staff member of an appointment as the booking's `staff` (id, e-mail, name): the first team
	 * member (SSA Business), else the owner of the appointment type; see the file comment.
	 *
	 * @param array $appointment Appointment row with `type` and `staff`.
	 * @return array{id: string, email: string, name: string}
	 */
	public static function staff( array $appointment ): array {
		$member = $appointment['staff'] ?? array();
		if ( array() !== $member ) {
			$user     = MeetBridge_Integration::wordpress_user( (int) ( $member['user_id'] ?? 0 ), (string) ( $member['email'] ?? '' ) );
			$staff_id = null !== $user ? (string) $user : 'ssa-staff-' . (int) ( $member['id'] ?? 0 );
			$email    = (string) ( $member['email'] ?? '' );
			$name     = (string) ( $member['name'] ?? '' );
		} else {
			$owner    = get_userdata( (int) ( $appointment['type']['author_id'] ?? 0 ) );
			$staff_id = $owner ? (string) $owner->ID : 'ssa-type-' . (int) ( $appointment['appointment_type_id'] ?? 0 );
			$email    = $owner ? (string) $owner->user_email : '';
			$name     = $owner ? (string) $owner->display_name : '';
		}
		return array(
			'id'    => (string) apply_filters( 'meetbridge_ssa_staff_id', $staff_id, $appointment ),
			'email' => $email,
			'name'  => $name,
		);
	}

	/**
	 * `meetbridge_booking_resend`: MeetBridge asks for one of this plugin's bookings again; it is
	 * read back and sent as `booking.updated` even if nothing changed here.
	 *
	 * @param mixed $booking_id Booking id.
	 */
	public static function on_resend( $booking_id ): void {
		if ( preg_match( '/^ssa-(\d+)$/', (string) $booking_id, $match ) ) {
			MeetBridge_Integration::resend( (string) $booking_id, static fn() => self::sync( (int) $match[1] ) );
		}
	}

	/**
	 * MeetBridge's booking id for an appointment.
	 *
	 * @param int $id Appointment id.
	 */
	public static function booking_id( int $id ): string {
		return 'ssa-' . $id;
	}

	/**
	 * An appointment with its appointment type and first team member from SSA's tables; null when it
	 * does not exist (deleted) or the tables are not there.
	 *
	 * @param int $id Appointment id.
	 */
	public static function load( int $id ): ?array {
		global $wpdb;
		$row = self::has_table( 'ssa_appointments' ) ? $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$wpdb->prefix}ssa_appointments WHERE id = %d", $id ), ARRAY_A ) : null; // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		if ( ! is_array( $row ) ) {
			return null;
		}
		$type        = $wpdb->get_row( $wpdb->prepare( "SELECT id, title, author_id FROM {$wpdb->prefix}ssa_appointment_types WHERE id = %d", (int) $row['appointment_type_id'] ), ARRAY_A ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$row['type'] = is_array( $type ) ? $type : array();
		$row['staff'] = self::team_member( $row );
		return $row;
	}

	/**
	 * The appointment's first team member (SSA Business: `staff_ids`, rows of `ssa_staff`), or none.
	 *
	 * @param array $row Appointment row.
	 */
	private static function team_member( array $row ): array {
		global $wpdb;
		$ids = $row['staff_ids'] ?? array();
		$ids = is_array( $ids ) ? $ids : json_decode( (string) $ids, true ); // An array before SSA saves it, JSON after.
		$id  = is_array( $ids ) && array() !== $ids ? (int) reset( $ids ) : 0;
		if ( $id <= 0 || ! self::has_table( 'ssa_staff' ) ) {
			return array();
		}
		$member = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$wpdb->prefix}ssa_staff WHERE id = %d", $id ), ARRAY_A ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		return is_array( $member ) ? $member : array();
	}

	/**
	 * Filter `ssa/appointment/before_insert( $data )`: SSA reserves a time (a new appointment, usually
	 * `pending_form`) with its `appointment_type_id`, `start_date` and `end_date` (UTC). When the staff
	 * member is busy then in Google Calendar, the data comes back with SSA's `error`, which SSA shows
	 * instead of reserving. When the busy times cannot be checked, the reservation goes ahead.
	 *
	 * @param mixed $data The appointment about to be inserted.
	 * @return mixed
	 */
	public static function check_reservation( $data ) {
		if ( ! is_array( $data ) || ! empty( $data['error'] ) || empty( $data['start_date'] ) || empty( $data['end_date'] ) || empty( $data['appointment_type_id'] ) ) {
			return $data;
		}
		$start = strtotime( $data['start_date'] . ' UTC' );
		$end   = strtotime( $data['end_date'] . ' UTC' );
		if ( ! $start || ! $end || $end <= $start ) {
			return $data;
		}
		global $wpdb;
		$type  = $wpdb->get_row( $wpdb->prepare( "SELECT id, title, author_id FROM {$wpdb->prefix}ssa_appointment_types WHERE id = %d", (int) $data['appointment_type_id'] ), ARRAY_A ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$staff = self::staff( array( 'type' => is_array( $type ) ? $type : array(), 'staff' => self::team_member( $data ) ) + $data );
		$slot  = array(
			'start' => gmdate( 'Y-m-d\TH:i:s\Z', $start ),
			'end'   => gmdate( 'Y-m-d\TH:i:s\Z', $end ),
		);
		if ( array() !== meetbridge_filter_slots( array( $slot ), $staff['id'] ) ) {
			return $data;
		}
		$message       = (string) apply_filters( 'meetbridge_ssa_busy_message', __( 'Sorry, this time is no longer available. Please choose another one.', 'meetbridge' ), $data );
		$data['error'] = array(
			'code'    => 'meetbridge_busy',
			'message' => $message,
			'data'    => array(),
		);
		return $data;
	}

	/**
	 * Action `meetbridge_result_received( $type, $data )`: a meeting made, moved or gone for an SSA
	 * appointment: its web meeting URL follows.
	 *
	 * @param string $type Result type.
	 * @param array  $data Result data (`booking_id`).
	 */
	public static function on_result( $type, $data = array() ): void {
		$booking_id = is_array( $data ) && isset( $data['booking_id'] ) ? (string) $data['booking_id'] : '';
		if ( ! preg_match( '/^ssa-(\d+)$/', $booking_id, $match ) ) {
			return;
		}
		$appointment = self::load( (int) $match[1] );
		if ( ! $appointment ) {
			return;
		}
		$active  = in_array( (string) $appointment['status'], (array) apply_filters( 'meetbridge_ssa_active_statuses', self::ACTIVE ), true );
		$booking = self::map( $appointment );
		$url     = $active && 'booking.synced' === $type && ! is_wp_error( $booking ) ? MeetBridge_Integration::join_url( $booking_id, $booking['customer']['email'] ) : '';
		if ( $active && '' === $url && 'booking.cancelled' !== $type ) {
			return; // Nothing new to show (a failure keeps what the customer has).
		}
		self::set_web_meeting_url( (int) $match[1], $url );
	}

	/**
	 * Set (or clear, with '') an appointment's web meeting URL, only when it is empty or one MeetBridge
	 * made (a Zoom link, or a join page of this site): a URL SSA or an admin set for another service
	 * stays.
	 *
	 * @param int    $id  Appointment id.
	 * @param string $url The URL, or ''.
	 */
	private static function set_web_meeting_url( int $id, string $url ): void {
		global $wpdb;
		if ( ! self::has_table( 'ssa_appointments' ) ) {
			return;
		}
		$table   = $wpdb->prefix . 'ssa_appointments';
		$current = (string) $wpdb->get_var( $wpdb->prepare( "SELECT web_meeting_url FROM {$table} WHERE id = %d", $id ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$host    = (string) wp_parse_url( $current, PHP_URL_HOST );
		$ours    = '' === $current || false !== strpos( $current, 'meetbridge_join=' ) || 'zoom.us' === $host || str_ends_with( $host, '.zoom.us' );
		if ( $ours && $current !== $url ) {
			$wpdb->update( $table, array( 'web_meeting_url' => $url ), array( 'id' => $id ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
		}
	}

	/**
	 * Whether one of SSA's tables exists.
	 *
	 * @param string $name Table name without the prefix.
	 */
	private static function has_table( string $name ): bool {
		global $wpdb;
		$table = $wpdb->prefix . $name;
		return $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $wpdb->esc_like( $table ) ) ) === $table; // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}
}
