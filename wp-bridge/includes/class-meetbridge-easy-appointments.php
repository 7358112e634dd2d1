<?php
/**
 * Adapter for the Easy Appointments plugin (wordpress.org/plugins/easy-appointments).
 *
 * Easy Appointments 3.12 and later fire:
 * - `easy_ea_new_app( $id, $app_data, $is_final )` when an appointment is created (admin: is_final
 *   false; booking form: true), and `easy_ea_new_app( $id, $app_data )` when a customer confirms or
 *   cancels through the e-mail link (`$app_data['status']` is then 'confirmed' or 'canceled');
 * - `easy_ea_edit_app( $id )` after an admin edited an appointment (status changes included).
 * Earlier versions fire the same with the names `ea_new_app` and `ea_edit_app`; both are handled.
 *
 * The appointment is read back from Easy Appointments' tables (`ea_appointments`, `ea_services`,
 * `ea_staff`, `ea_locations`, and the customer's name and e-mail from `ea_fields`), falling back to
 * the hook's `$app_data`. Bookings are sent as `ea-{id}`; the staff member is the WordPress user with
 * the worker's e-mail (else `ea-worker-{id}`).
 *
 * Which appointments get a meeting (MeetBridge → Settings): only `confirmed` ones (the default;
 * Easy Appointments' own default status for a new booking is `pending`, which waits for the admin),
 * or `pending` and `reservation` ones too. An appointment that was sent and is now `canceled`,
 * `abandoned`, or no longer in that set (a pending one rejected, a confirmed one put back to pending
 * in confirmed-only mode) gets a `booking.cancelled`.
 *
 * Easy Appointments fires no hook when an appointment is deleted or cancelled in bulk: see
 * MeetBridge_EA_Watch for how those paths are caught. MeetBridge_EA_Mail gives its e-mail templates the
 * `#meetbridge_join_link#` / `#meetbridge_join_url#` tags.
 * Filters: `meetbridge_ea_video` ('zoom'), `meetbridge_ea_staff_id`, `meetbridge_ea_booking`.
 *
 * Changes staff make in Google Calendar or Zoom (`meetbridge_booking_changed`): when the site opts in
 * (MeetBridge → Settings → Easy Appointments, off by default) a moved meeting moves the appointment
 * (its date, start, end and end date in the site's time zone) and a booking MeetBridge cancelled
 * (state `cancelled`, the site's delete policy "cancel") gets Easy Appointments' status `canceled`;
 * then `easy_ea_edit_app( $id )` fires as after an admin edit, so this adapter sends the appointment as
 * usual (`booking.updated` with the times of the change: MeetBridge finds nothing to write, no loop; or
 * `booking.cancelled`). Otherwise the change is only reported. When MeetBridge asks for the booking
 * again (`meetbridge_booking_resend`, delete policy "recreate") the appointment is sent again.
 *
 * Busy slots: Easy Appointments applies no filter to the free slots it lists, so a slot the worker is
 * busy in (their Google Calendar) still shows; reserving it is refused through its
 * `easy_ea_can_make_reservation` filter (`ea_can_make_reservation` before 3.12), see
 * check_reservation(); `meetbridge_ea_busy_message` changes the message.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Easy Appointments → booking events.
 */
class MeetBridge_Easy_Appointments {

	const CANCELLED = array( 'canceled', 'cancelled', 'abandoned' );
	const ACTIVE    = array( 'pending', 'reservation', 'confirmed' );

	/**
	 * The statuses that get a meeting with the current setting.
	 *
	 * @return string[]
	 */
	public static function active_statuses(): array {
		return 'pending' === MeetBridge_Settings::ea_sync_on() ? self::ACTIVE : array( 'confirmed' );
	}

	/**
	 * Hook into Easy Appointments.
	 */
	public static function init(): void {
		foreach ( array( 'easy_ea_new_app', 'ea_new_app' ) as $hook ) {
			add_action( $hook, array( __CLASS__, 'on_new' ), 20, 3 );
		}
		foreach ( array( 'easy_ea_edit_app', 'ea_edit_app' ) as $hook ) {
			add_action( $hook, array( __CLASS__, 'on_edit' ), 20, 1 );
		}
		foreach ( array( 'easy_ea_can_make_reservation', 'ea_can_make_reservation' ) as $hook ) {
			add_filter( $hook, array( __CLASS__, 'check_reservation' ), 20, 2 );
		}
		add_action( 'meetbridge_booking_changed', array( __CLASS__, 'on_changed' ), 10, 2 );
		add_action( 'meetbridge_booking_resend', array( __CLASS__, 'on_resend' ), 10, 1 );
		MeetBridge_EA_Watch::init();
		MeetBridge_EA_Mail::init();
	}

	/**
	 * `easy_ea_new_app` / `ea_new_app`.
	 *
	 * @param mixed $id       Appointment id.
	 * @param mixed $app_data Appointment fields.
	 * @param mixed $is_final Whether the booking form finished (unused: every new appointment counts).
	 */
	public static function on_new( $id, $app_data = array(), $is_final = false ): void {
		unset( $is_final );
		self::sync( (int) $id, is_array( $app_data ) ? $app_data : array() );
	}

	/**
	 * `easy_ea_edit_app` / `ea_edit_app`.
	 *
	 * @param mixed $id Appointment id.
	 */
	public static function on_edit( $id ): void {
		self::sync( (int) $id, array() );
	}

	/**
	 * `meetbridge_booking_changed`: apply a change made in Google Calendar or Zoom to the appointment,
	 * when the site opted in (see the file comment).
	 *
	 * @param mixed $booking_id Booking id.
	 * @param mixed $data       The `booking.changed` data.
	 * @return bool Whether the appointment was changed.
	 */
	public static function on_changed( $booking_id, $data = array() ): bool {
		global $wpdb;
		if ( ! MeetBridge_Settings::ea_apply_changes() || ! is_array( $data ) || ! preg_match( '/^ea-(\d+)$/', (string) $booking_id, $match ) ) {
			return false;
		}
		$id  = (int) $match[1];
		$app = self::load( $id );
		if ( ! isset( $app['status'] ) || ! in_array( strtolower( (string) $app['status'] ), self::ACTIVE, true ) ) {
			return false; // Gone, cancelled or abandoned already: nothing to move or cancel.
		}
		if ( 'cancelled' === ( $data['state'] ?? '' ) ) {
			$changes = array( 'status' => 'canceled' );
		} elseif ( 'moved' === ( $data['kind'] ?? '' ) ) {
			$changes = self::times( (string) ( $data['start'] ?? '' ), (string) ( $data['end'] ?? '' ) );
			if ( null === $changes ) {
				return false;
			}
			$same = ( $app['date'] ?? '' ) === $changes['date'] && ( $app['start'] ?? '' ) === $changes['start'] && ( $app['end'] ?? '' ) === $changes['end']
				&& in_array( (string) ( $app['end_date'] ?? '' ), array( '', $changes['end_date'] ), true );
			if ( $same ) {
				return false; // Already at these times (the change came from this site, or was applied).
			}
		} else {
			return false;
		}
		$wpdb->update( $wpdb->prefix . 'ea_appointments', $changes, array( 'id' => $id ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
		/** This action is documented in Easy Appointments (fired after an admin edited an appointment). */
		do_action( 'easy_ea_edit_app', (string) $id );
		return true;
	}

	/**
	 * An appointment's date, start, end and end date (site time) for a start and end in RFC 3339, or null.
	 *
	 * @param string $start Start.
	 * @param string $end   End.
	 * @return array{date: string, start: string, end: string, end_date: string}|null
	 */
	public static function times( string $start, string $end ): ?array {
		$zone = wp_timezone();
		$from = preg_match( MeetBridge_Booking_API::TIME, $start ) ? date_create_immutable( $start ) : false;
		$to   = preg_match( MeetBridge_Booking_API::TIME, $end ) ? date_create_immutable( $end ) : false;
		if ( ! $from || ! $to || $to <= $from ) {
			return null;
		}
		$from = $from->setTimezone( $zone );
		$to   = $to->setTimezone( $zone );
		return array(
			'date'     => $from->format( 'Y-m-d' ),
			'start'    => $from->format( 'H:i:s' ),
			'end'      => $to->format( 'H:i:s' ),
			'end_date' => $to->format( 'Y-m-d' ),
		);
	}

	/**
	 * `meetbridge_booking_resend`: MeetBridge asks for the appointment again; send its current state.
	 *
	 * @param mixed $booking_id Booking id.
	 */
	public static function on_resend( $booking_id ): void {
		if ( preg_match( '/^ea-(\d+)$/', (string) $booking_id, $match ) ) {
			self::sync( (int) $match[1], array() );
		}
	}

	/**
	 * Send the appointment's current state.
	 *
	 * @param int   $id       Appointment id.
	 * @param array $app_data Data from the hook.
	 * @return int|WP_Error|null Revision, error, or null when there was nothing to send.
	 */
	public static function sync( int $id, array $app_data ) {
		if ( $id <= 0 ) {
			return null;
		}
		$app = array_merge( $app_data, self::load( $id ) );
		if ( ! isset( $app['id'] ) ) {
			$app['id'] = $id;
		}
		$booking_id = self::booking_id( $id );
		$known      = MeetBridge_Bookings::get( $booking_id );
		$status     = isset( $app['status'] ) ? strtolower( (string) $app['status'] ) : 'confirmed';
		$sent       = $known && in_array( (string) $known['last_event'], array( 'booking.created', 'booking.updated' ), true );
		if ( ! in_array( $status, self::active_statuses(), true ) ) {
			// Cancelled, abandoned, rejected, or not (or no longer) confirmed: no meeting.
			return $sent ? MeetBridge_Booking_API::submit( 'booking.cancelled', array( 'id' => $booking_id ) ) : null;
		}
		$booking = self::map( $app );
		if ( is_wp_error( $booking ) ) {
			do_action( 'meetbridge_booking_rejected', $booking, $app );
			return $booking;
		}
		return MeetBridge_Booking_API::submit( $sent ? 'booking.updated' : 'booking.created', $booking );
	}

	/**
	 * The booking array for an Easy Appointments appointment (as `get_appintment_by_id` returns it).
	 *
	 * @param array $app Appointment: id, date, start, end, end_date, worker, worker_email, worker_name,
	 *                   service_name, location_name, location_address, email, name.
	 * @return array|WP_Error
	 */
	public static function map( array $app ) {
		$zone  = wp_timezone();
		$date  = isset( $app['date'] ) ? (string) $app['date'] : '';
		$start = date_create_immutable( $date . ' ' . ( $app['start'] ?? '' ), $zone );
		$end   = date_create_immutable( ( empty( $app['end_date'] ) ? $date : (string) $app['end_date'] ) . ' ' . ( $app['end'] ?? '' ), $zone );
		if ( ! $start || ! $end || '' === $date || empty( $app['start'] ) || empty( $app['end'] ) ) {
			return new WP_Error( 'meetbridge_invalid_booking', 'start: the appointment has no usable date and time', array( 'field' => 'start' ) );
		}
		if ( $end <= $start ) {
			$end = $end->modify( '+1 day' );
		}
		$worker_email = isset( $app['worker_email'] ) ? (string) $app['worker_email'] : '';
		$staff_id     = self::staff_id( $app );
		$location     = trim( implode( ', ', array_filter( array( $app['location_name'] ?? '', $app['location_address'] ?? '' ) ) ) );

		$booking = array(
			'id'       => self::booking_id( (int) $app['id'] ),
			'title'    => ! empty( $app['service_name'] ) ? (string) $app['service_name'] : __( 'Appointment', 'meetbridge' ),
			'start'    => $start->format( DATE_RFC3339 ),
			'end'      => $end->format( DATE_RFC3339 ),
			'timezone' => self::iana_zone( $zone ),
			'staff'    => array(
				'id'    => $staff_id,
				'email' => $worker_email,
				'name'  => (string) ( $app['worker_name'] ?? '' ),
			),
			'customer' => array(
				'email' => self::customer_email( $app ),
				'name'  => (string) ( $app['name'] ?? '' ),
			),
			'video'    => (string) apply_filters( 'meetbridge_ea_video', 'zoom', $app ),
			'location' => '' === $location ? null : $location,
		);
		return apply_filters( 'meetbridge_ea_booking', $booking, $app );
	}

	/**
	 * MeetBridge's staff id for an appointment's worker: the WordPress user with the worker's e-mail
	 * (`worker_email`, else read from `ea_staff` by `worker`), else `ea-worker-{id}`; then the filter
	 * `meetbridge_ea_staff_id`. Bookings and the busy-slot check both use it.
	 *
	 * @param array $app Appointment (or reservation data) with `worker` and maybe `worker_email`.
	 */
	public static function staff_id( array $app ): string {
		$worker_email = isset( $app['worker_email'] ) ? (string) $app['worker_email'] : self::worker_email( (int) ( $app['worker'] ?? 0 ) );
		$user         = '' !== $worker_email ? get_user_by( 'email', $worker_email ) : false;
		$staff_id     = $user ? (string) $user->ID : 'ea-worker-' . (int) ( $app['worker'] ?? 0 );
		return (string) apply_filters( 'meetbridge_ea_staff_id', $staff_id, $app );
	}

	/**
	 * Filters `easy_ea_can_make_reservation` / `ea_can_make_reservation` ( $result, $data ): Easy
	 * Appointments applies them in `ajax_res_appointment()` (through `EALogic::can_make_reservation()`
	 * and `can_make_reservation_by_user()`) once it found the chosen slot free in its own tables, with
	 * `$data` holding `worker`, `date`, `start` and `end` (site time). Easy Appointments has no filter
	 * over the free slots it lists (`EALogic::get_open_slots()` returns them unfiltered), so this is
	 * where a slot the worker is busy in (Google Calendar, through meetbridge_filter_slots) is refused.
	 * When the busy times cannot be checked, the reservation goes ahead.
	 *
	 * @param mixed $result `array( 'status' => bool, 'message' => string )`.
	 * @param mixed $data   The reservation.
	 * @return mixed
	 */
	public static function check_reservation( $result, $data = array() ) {
		if ( ! is_array( $result ) || empty( $result['status'] ) || ! is_array( $data ) ) {
			return $result;
		}
		$slot = self::slot( $data );
		if ( null === $slot || array() !== meetbridge_filter_slots( array( $slot ), self::staff_id( $data ) ) ) {
			return $result;
		}
		$result['status']  = false;
		$result['message'] = (string) apply_filters( 'meetbridge_ea_busy_message', __( 'Sorry, this time is no longer available. Please choose another one.', 'meetbridge' ), $data );
		return $result;
	}

	/**
	 * The slot of a reservation (`date`, `start`, `end`, maybe `end_date`) in the site's zone, or null.
	 *
	 * @param array $data Reservation.
	 * @return array{start: string, end: string}|null
	 */
	public static function slot( array $data ): ?array {
		$zone  = wp_timezone();
		$date  = isset( $data['date'] ) ? (string) $data['date'] : '';
		$start = date_create_immutable( $date . ' ' . ( $data['start'] ?? '' ), $zone );
		$end   = date_create_immutable( ( empty( $data['end_date'] ) ? $date : (string) $data['end_date'] ) . ' ' . ( $data['end'] ?? '' ), $zone );
		if ( ! $start || ! $end || ! preg_match( '/^\d{4}-\d{2}-\d{2}$/', $date ) || empty( $data['start'] ) || empty( $data['end'] ) ) {
			return null;
		}
		if ( $end <= $start ) {
			$end = $end->modify( '+1 day' );
		}
		return array(
			'start' => $start->format( DATE_RFC3339 ),
			'end'   => $end->format( DATE_RFC3339 ),
		);
	}

	/**
	 * A worker's e-mail from Easy Appointments' `ea_staff` table, or ''.
	 *
	 * @param int $worker Worker id.
	 */
	private static function worker_email( int $worker ): string {
		global $wpdb;
		if ( $worker <= 0 || ! self::has_tables() ) {
			return '';
		}
		return (string) $wpdb->get_var( $wpdb->prepare( "SELECT email FROM {$wpdb->prefix}ea_staff WHERE id = %d", $worker ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	}

	/**
	 * Whether Easy Appointments' tables exist.
	 */
	public static function has_tables(): bool {
		global $wpdb;
		$table = $wpdb->prefix . 'ea_appointments';
		return $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $wpdb->esc_like( $table ) ) ) === $table; // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * MeetBridge's booking id for an appointment.
	 *
	 * @param int $id Appointment id.
	 */
	public static function booking_id( int $id ): string {
		return 'ea-' . $id;
	}

	/**
	 * Read an appointment with its service, worker, location and custom fields, as Easy Appointments'
	 * own `EADBModels::get_appintment_by_id()` does; empty when its tables are not there.
	 *
	 * @param int $id Appointment id.
	 */
	public static function load( int $id ): array {
		global $wpdb;
		$p = $wpdb->prefix;
		if ( ! self::has_tables() ) {
			return array();
		}
		$row = $wpdb->get_row( // phpcs:ignore WordPress.DB.DirectDatabaseQuery
			$wpdb->prepare(
				"SELECT a.*, s.name AS service_name, w.name AS worker_name, w.email AS worker_email,
				l.name AS location_name, l.address AS location_address
				FROM {$p}ea_appointments a
				LEFT JOIN {$p}ea_services s ON (a.service = s.id)
				LEFT JOIN {$p}ea_staff w ON (a.worker = w.id)
				LEFT JOIN {$p}ea_locations l ON (a.location = l.id)
				WHERE a.id = %d", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
				$id
			),
			ARRAY_A
		);
		if ( ! is_array( $row ) ) {
			return array();
		}
		$fields = $wpdb->get_results( // phpcs:ignore WordPress.DB.DirectDatabaseQuery
			$wpdb->prepare( "SELECT m.slug, f.value FROM {$p}ea_meta_fields m JOIN {$p}ea_fields f ON (m.id = f.field_id) WHERE f.app_id = %d", $id ), // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
			ARRAY_A
		);
		foreach ( (array) $fields as $field ) {
			if ( ! isset( $row[ $field['slug'] ] ) || '' === (string) $row[ $field['slug'] ] ) {
				$row[ $field['slug'] ] = $field['value'];
			}
		}
		return array_filter( $row, static fn( $value ) => null !== $value );
	}

	/**
	 * The customer's e-mail of an appointment ('email' or 'e-mail' field), or ''.
	 *
	 * @param array $app Appointment (as load() or Easy Appointments' mail data has it).
	 */
	public static function customer_email( array $app ): string {
		foreach ( array( 'email', 'e-mail' ) as $key ) {
			if ( ! empty( $app[ $key ] ) && is_string( $app[ $key ] ) ) {
				return $app[ $key ];
			}
		}
		return '';
	}

	/**
	 * An IANA name for the site's zone (WordPress may be set to a bare offset).
	 *
	 * @param DateTimeZone $zone Zone.
	 */
	private static function iana_zone( DateTimeZone $zone ): string {
		$name = $zone->getName();
		if ( in_array( $name, timezone_identifiers_list( DateTimeZone::ALL_WITH_BC ), true ) ) {
			return $name;
		}
		$offset = $zone->getOffset( new DateTime( 'now', $zone ) );
		if ( 0 === $offset % HOUR_IN_SECONDS && abs( $offset ) <= 12 * HOUR_IN_SECONDS ) {
			$hours = (int) ( $offset / HOUR_IN_SECONDS );
			return 0 === $hours ? 'UTC' : sprintf( 'Etc/GMT%+d', -$hours ); // Etc/ zones have the sign inverted.
		}
		return 'UTC';
	}
}
