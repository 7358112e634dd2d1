<?php
/**
 * Adapter for Bookly (wordpress.org/plugins/bookly-responsive-appointment-booking-tool; observed with
 * Bookly 27.4, the free plugin).
 *
 * Bookings. Each Bookly appointment is one MeetBridge booking, `bookly-{appointment id}`. Bookly fires
 * no WordPress action when it saves or deletes an appointment (its own hooks are calls to its paid
 * add-ons); every save and delete is a write to its tables through `$wpdb`, and WordPress's `query`
 * filter sees each one before it runs. The adapter watches those writes (`$wpdb`'s insert, update and
 * delete, and Bookly's query builder with its aliases; nothing else: a test of the statement's first
 * words) to `bookly_appointments` and `bookly_customer_appointments` (the form, the
 * admin's calendar and appointment list, the customer's cancel link, approve and reject links), and to
 * `bookly_staff`, `bookly_services` and `bookly_customers` (deleting a staff member or a service
 * deletes their appointments through foreign keys, with no statement of its own; an edit changes what
 * the booking says): the appointments a statement touches are found with its own WHERE before it runs,
 * a new one by its id, and at the end of the request each is read back from Bookly's tables and sent
 * as it is now.
 *
 * Statuses are per customer (`bookly_customer_appointments.status`); an appointment's is that of its
 * first customer whose status is active, else its first customer: `approved` has a meeting (created, or
 * updated when it changed); `pending`, `waitlisted` and any other (custom) status get none, but one made
 * before stays and follows changes; `cancelled`, `rejected`, an appointment without customers and a
 * deleted one are cancelled; `done` changes nothing (the meeting ends and is cleaned up as usual).
 * Filter `meetbridge_bookly_active_statuses` (default `['approved']`).
 *
 * Times. Bookly stores `start_date` and `end_date` in the site's local time (WordPress's time zone
 * setting): they are read in that zone and sent with it.
 *
 * Staff. The Bookly staff member's linked WordPress user (`wp_user_id`), else the WordPress user with the
 * staff member's e-mail, else `bookly-staff-{id}`; filter `meetbridge_bookly_staff_id( $staff_id, $staff )`.
 * The customer is Bookly's customer (`full_name`, `email`). Filters `meetbridge_bookly_video` ('zoom')
 * and `meetbridge_bookly_booking`.
 *
 * Join link. Bookly's notification codes cannot be extended (no filter: an unknown `{code}` is dropped),
 * so its e-mail templates take `[meetbridge_join_url {appointment_id}]`: Bookly fills in the
 * appointment's id, and when the e-mail goes out (`wp_mail`) the adapter puts the customer's way to the
 * meeting in its place (MeetBridge_Integration::join_url()), for that appointment's own customer only
 * while it is approved (in anyone else's e-mail it is removed). Bookly's own SMTP setting bypasses
 * wp_mail: there it stays as written. Bookly's SMS and its form's last step show no join link.
 *
 * Busy slots. Bookly applies no filter to the times it offers; when a customer books a time its staff
 * member is busy in Google Calendar, the booking is refused before Bookly saves it (action
 * `wp_ajax(_nopriv)_bookly_save_appointment`, earlier than Bookly's): Bookly's own answer for a time
 * taken meanwhile, so its form shows its "not available anymore" message and the time step again.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Bookly → booking events, the join link in its e-mails and the busy-time check.
 */
class MeetBridge_Bookly {

	const ACTIVE = array( 'approved' );
	const CANCEL = array( 'cancelled', 'rejected' );
	const LEAVE  = array( 'done' );
	const MARKER = '/\[meetbridge_join_url\s*(?:<[^>]*>\s*)*(\d+)\s*(?:<[^>]*>\s*)*\]/';

	/**
	 * Bookly's tables whose writes are watched (without the prefix).
	 */
	const TABLES = array( 'bookly_appointments', 'bookly_customer_appointments', 'bookly_staff', 'bookly_services', 'bookly_customers' );

	/**
	 * Bookly's booking request (its form's last step), before which a busy time is refused.
	 */
	const SAVE_ACTIONS = array( 'wp_ajax_bookly_save_appointment', 'wp_ajax_nopriv_bookly_save_appointment' );

	/**
	 * Appointments to sync at the end of this request, by id.
	 *
	 * @var array<int, bool>
	 */
	private static array $touched = array();

	/**
	 * The highest appointment and customer-appointment ids before this request's first insert into
	 * each table (rows above them are new).
	 *
	 * @var array<string, int>
	 */
	private static array $before_insert = array();

	/**
	 * Hook into WordPress around Bookly.
	 */
	public static function init(): void {
		add_filter( 'query', array( __CLASS__, 'watch' ), 20, 1 );
		foreach ( self::SAVE_ACTIONS as $action ) {
			add_action( $action, array( __CLASS__, 'check_reservation' ), 5, 0 );
		}
		add_filter( 'wp_mail', array( __CLASS__, 'mail' ), 20, 1 );
		add_action( 'meetbridge_booking_resend', array( __CLASS__, 'on_resend' ), 10, 1 );
	}

	/**
	 * `meetbridge_booking_resend`: MeetBridge asks for one of Bookly's appointments again (an item was
	 * deleted in Google Calendar or Zoom and the site's policy is to recreate it); it is read back and
	 * sent as `booking.updated` even if nothing changed here.
	 *
	 * @param mixed $booking_id Booking id.
	 */
	public static function on_resend( $booking_id ): void {
		if ( preg_match( '/^bookly-(\d+)$/', (string) $booking_id, $match ) ) {
			MeetBridge_Integration::resend( (string) $booking_id, static fn() => self::sync( (int) $match[1] ) );
		}
	}

	/**
	 * The hooks whose recorded calls replay what Bookly did.
	 *
	 * @return string[]
	 */
	public static function actions(): array {
		return array( 'query' );
	}

	/**
	 * Filter `query( $sql )`: note the appointments a write to Bookly's tables touches (the statement is
	 * returned as it is).
	 *
	 * @param mixed $sql The statement about to run.
	 * @return mixed
	 */
	public static function watch( $sql ) {
		if ( ! is_string( $sql ) || false === stripos( $sql, 'bookly_' ) ) {
			return $sql;
		}
		global $wpdb;
		// `$wpdb->insert/update/delete` (INSERT INTO `t` …, UPDATE `t` SET …, DELETE FROM `t` WHERE …) and
		// Bookly's query builder (UPDATE `t` AS `r` [JOIN …] SET … WHERE …, DELETE `r` FROM `t` AS `r` …).
		$pattern = '/^\s*(INSERT\s+INTO|UPDATE|DELETE\s+(?:`?\w+`?\s+)?FROM)\s+`?' . preg_quote( $wpdb->prefix, '/' ) . '(bookly_\w+)`?(?:\s+AS\s+`?(\w+)`?)?/i';
		if ( ! preg_match( $pattern, $sql, $match ) || ! in_array( $match[2], self::TABLES, true ) ) {
			return $sql;
		}
		$table = $match[2];
		if ( 'I' === strtoupper( ltrim( $sql )[0] ) ) {
			self::note_insert( $table );
		} else {
			$rest  = substr( $sql, strlen( $match[0] ) );
			$set   = 'U' === strtoupper( ltrim( $sql )[0] ) ? stripos( $rest, ' SET ' ) : false;
			$where = strripos( $rest, ' WHERE ' );
			$where = false !== $where && ( false === $set || $where > $set ) ? $where : false;
			$joins = substr( $rest, 0, false !== $set ? $set : ( false !== $where ? $where : strlen( $rest ) ) );
			$alias = empty( $match[3] ) ? '' : $match[3];
			$from  = "`{$wpdb->prefix}{$table}`" . ( '' !== $alias ? " AS `{$alias}`" : '' ) . $joins;
			$ref   = '' !== $alias ? "`{$alias}`" : "`{$wpdb->prefix}{$table}`";
			self::note( self::affected( $table, $from, $ref, false === $where ? '1=1' : substr( $rest, $where + 7 ) ) );
		}
		MeetBridge_Integration::later( 'bookly', array( __CLASS__, 'flush' ) );
		return $sql;
	}

	/**
	 * Before the first insert into a table in this request, remember its highest id.
	 *
	 * @param string $table Table without the prefix.
	 */
	private static function note_insert( string $table ): void {
		global $wpdb;
		if ( ! isset( self::$before_insert[ $table ] ) && in_array( $table, array( 'bookly_appointments', 'bookly_customer_appointments' ), true ) ) {
			self::$before_insert[ $table ] = (int) $wpdb->get_var( "SELECT MAX(id) FROM {$wpdb->prefix}{$table}" ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		}
	}

	/**
	 * The appointments that the rows of `$table` matching `$where` belong to (for staff members,
	 * services and customers: their appointments that have not ended).
	 *
	 * @param string $table A table of TABLES.
	 * @param string $from  The table as Bookly's statement names it (with its alias and joins).
	 * @param string $ref   How the statement refers to the table (its alias, or its name).
	 * @param string $where The WHERE of Bookly's own statement (it runs next anyway).
	 * @return int[]
	 */
	private static function affected( string $table, string $from, string $ref, string $where ): array {
		global $wpdb;
		$p    = $wpdb->prefix;
		$rows = "SELECT {$ref}.id FROM {$from} WHERE {$where}";
		switch ( $table ) {
			case 'bookly_appointments':
				$sql = $rows;
				break;
			case 'bookly_customer_appointments':
				$sql = "SELECT DISTINCT {$ref}.appointment_id FROM {$from} WHERE {$where}";
				break;
			case 'bookly_customers':
				$sql = $wpdb->prepare( "SELECT DISTINCT ca.appointment_id FROM {$p}bookly_customer_appointments ca JOIN {$p}bookly_appointments a ON a.id = ca.appointment_id WHERE a.end_date >= %s AND ca.customer_id IN ( {$rows} )", current_time( 'mysql' ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
				break;
			default: // Staff members and services.
				$column = 'bookly_staff' === $table ? 'staff_id' : 'service_id';
				$sql    = $wpdb->prepare( "SELECT id FROM {$p}bookly_appointments WHERE end_date >= %s AND {$column} IN ( {$rows} )", current_time( 'mysql' ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		}
		$suppress = $wpdb->suppress_errors( true );
		$ids      = $wpdb->get_col( $sql ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.NotPrepared
		$wpdb->suppress_errors( $suppress );
		return array_map( 'intval', (array) $ids );
	}

	/**
	 * Sync these appointments at the end of the request.
	 *
	 * @param int[] $ids Appointment ids.
	 */
	private static function note( array $ids ): void {
		foreach ( $ids as $id ) {
			if ( $id > 0 ) {
				self::$touched[ $id ] = true;
			}
		}
	}

	/**
	 * At the end of the request (MeetBridge_Integration::later()): sync every appointment touched, and
	 * those inserted (or given a new customer) in this request.
	 */
	public static function flush(): void {
		global $wpdb;
		$p = $wpdb->prefix;
		if ( isset( self::$before_insert['bookly_appointments'] ) ) {
			self::note( array_map( 'intval', (array) $wpdb->get_col( $wpdb->prepare( "SELECT id FROM {$p}bookly_appointments WHERE id > %d", self::$before_insert['bookly_appointments'] ) ) ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		}
		if ( isset( self::$before_insert['bookly_customer_appointments'] ) ) {
			self::note( array_map( 'intval', (array) $wpdb->get_col( $wpdb->prepare( "SELECT DISTINCT appointment_id FROM {$p}bookly_customer_appointments WHERE id > %d", self::$before_insert['bookly_customer_appointments'] ) ) ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		}
		$ids                 = array_keys( self::$touched );
		self::$touched       = array();
		self::$before_insert = array();
		sort( $ids );
		foreach ( $ids as $id ) {
			self::sync( $id );
		}
	}

	/**
	 * Forget what this request noted (tests run many "requests" in one process).
	 */
	public static function reset(): void {
		self::$touched       = array();
		self::$before_insert = array();
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
		$status      = $appointment ? self::status( $appointment ) : 'deleted';
		if ( in_array( $status, self::LEAVE, true ) ) {
			return null;
		}
		if ( ! $appointment || 'deleted' === $status || in_array( $status, self::CANCEL, true ) ) {
			return MeetBridge_Integration::apply( $booking_id, null );
		}
		$booking = self::map( $appointment );
		if ( is_wp_error( $booking ) ) {
			do_action( 'meetbridge_booking_rejected', $booking, $appointment );
			return $booking;
		}
		return MeetBridge_Integration::apply( $booking_id, $booking, in_array( $status, self::active_statuses(), true ) );
	}

	/**
	 * The statuses that have a meeting.
	 *
	 * @return string[]
	 */
	private static function active_statuses(): array {
		return (array) apply_filters( 'meetbridge_bookly_active_statuses', self::ACTIVE );
	}

	/**
	 * The customer of an appointment that the booking is about: the first whose status is active, else
	 * the first; an empty array when it has none.
	 *
	 * @param array $appointment Appointment as load() reads it.
	 */
	public static function customer( array $appointment ): array {
		$customers = (array) ( $appointment['customers'] ?? array() );
		foreach ( $customers as $customer ) {
			if ( in_array( (string) $customer['status'], self::active_statuses(), true ) ) {
				return $customer;
			}
		}
		return array() !== $customers ? reset( $customers ) : array();
	}

	/**
	 * An appointment's status: its customer's (see customer()), or 'deleted' when it has none.
	 *
	 * @param array $appointment Appointment as load() reads it.
	 */
	public static function status( array $appointment ): string {
		$customer = self::customer( $appointment );
		return array() !== $customer ? (string) $customer['status'] : 'deleted';
	}

	/**
	 * The booking array for an appointment as load() reads it.
	 *
	 * @param array $appointment Appointment row with `service`, `staff`, `customers`.
	 * @return array|WP_Error
	 */
	public static function map( array $appointment ) {
		$zone  = MeetBridge_Integration::zone_name();
		$start = self::from_local( (string) $appointment['start_date'], $zone );
		$end   = self::from_local( (string) $appointment['end_date'], $zone );
		if ( '' === $start || '' === $end ) {
			return new WP_Error( 'meetbridge_invalid_booking', 'start: the appointment has no usable date and time', array( 'field' => 'start' ) );
		}
		$customer = self::customer( $appointment );
		$staff    = (array) ( $appointment['staff'] ?? array() );
		$title    = (string) ( $appointment['service']['title'] ?? '' );
		$title    = '' !== $title ? $title : (string) ( $appointment['custom_service_name'] ?? '' );
		$booking  = array(
			'id'       => self::booking_id( (int) $appointment['id'] ),
			'title'    => '' !== $title ? $title : __( 'Appointment', 'meetbridge' ),
			'start'    => $start,
			'end'      => $end,
			'timezone' => $zone,
			'staff'    => array(
				'id'    => self::staff_id( $staff + array( 'id' => (int) ( $appointment['staff_id'] ?? 0 ) ) ),
				'email' => (string) ( $staff['email'] ?? '' ),
				'name'  => (string) ( $staff['full_name'] ?? '' ),
			),
			'customer' => array(
				'email' => (string) ( $customer['email'] ?? '' ),
				'name'  => '' !== (string) ( $customer['full_name'] ?? '' ) ? (string) $customer['full_name'] : trim( ( $customer['first_name'] ?? '' ) . ' ' . ( $customer['last_name'] ?? '' ) ),
			),
			'video'    => (string) apply_filters( 'meetbridge_bookly_video', 'zoom', $appointment ),
			'location' => null,
		);
		return apply_filters( 'meetbridge_bookly_booking', $booking, $appointment );
	}

	/**
	 * A date-time from Bookly's tables (the site's local time) as RFC 3339 in the given zone, or '' if
	 * unreadable. A local time that happens twice (the hour the clocks go back) is the first.
	 *
	 * @param string $local `Y-m-d H:i:s` in the site's time zone.
	 * @param string $zone  IANA zone.
	 */
	public static function from_local( string $local, string $zone ): string {
		$time = preg_match( '/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$/', $local ) ? date_create_immutable( $local, wp_timezone() ) : false;
		return $time ? $time->setTimezone( new DateTimeZone( $zone ) )->format( DATE_RFC3339 ) : '';
	}

	/**
	 * MeetBridge's staff id for a Bookly staff member (a row of `bookly_staff`): the linked WordPress
	 * user, else the user with their e-mail, else `bookly-staff-{id}`; then the filter
	 * `meetbridge_bookly_staff_id`.
	 *
	 * @param array $staff `id`, `wp_user_id`, `email`.
	 */
	public static function staff_id( array $staff ): string {
		$user     = MeetBridge_Integration::wordpress_user( (int) ( $staff['wp_user_id'] ?? 0 ), (string) ( $staff['email'] ?? '' ) );
		$staff_id = null !== $user ? (string) $user : 'bookly-staff-' . (int) ( $staff['id'] ?? 0 );
		return (string) apply_filters( 'meetbridge_bookly_staff_id', $staff_id, $staff );
	}

	/**
	 * MeetBridge's booking id for a Bookly appointment.
	 *
	 * @param int $id Appointment id.
	 */
	public static function booking_id( int $id ): string {
		return 'bookly-' . $id;
	}

	/**
	 * An appointment with its service, staff member and customers (each customer's row of
	 * `bookly_customers` with their `status`, oldest first) from Bookly's tables; null when it does not
	 * exist (deleted) or the tables are not there.
	 *
	 * @param int $id Appointment id.
	 */
	public static function load( int $id ): ?array {
		global $wpdb;
		$p   = $wpdb->prefix;
		$row = self::has_tables() ? $wpdb->get_row( $wpdb->prepare( "SELECT id, staff_id, service_id, custom_service_name, start_date, end_date FROM {$p}bookly_appointments WHERE id = %d", $id ), ARRAY_A ) : null; // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		if ( ! is_array( $row ) ) {
			return null;
		}
		$row['service']   = self::row( "SELECT id, title FROM {$p}bookly_services WHERE id = %d", (int) $row['service_id'] );
		$row['staff']     = self::row( "SELECT id, wp_user_id, full_name, email FROM {$p}bookly_staff WHERE id = %d", (int) $row['staff_id'] );
		$row['customers'] = (array) $wpdb->get_results( $wpdb->prepare( "SELECT ca.id AS ca_id, ca.status, c.id, c.wp_user_id, c.full_name, c.first_name, c.last_name, c.email FROM {$p}bookly_customer_appointments ca JOIN {$p}bookly_customers c ON c.id = ca.customer_id WHERE ca.appointment_id = %d ORDER BY ca.id", $id ), ARRAY_A ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		return $row;
	}

	/**
	 * Action `wp_ajax(_nopriv)_bookly_save_appointment` (before Bookly's own): when a time in the
	 * customer's cart is busy in its staff member's Google Calendar, answer as Bookly does for a time
	 * taken meanwhile (its form then shows the time step with its message), and Bookly saves nothing.
	 * When the busy times cannot be checked, the booking goes ahead.
	 */
	public static function check_reservation(): void {
		$key = self::busy_cart_key( self::cart_slots() );
		if ( null === $key ) {
			return;
		}
		wp_send_json(
			array(
				'success'         => false,
				'failed_cart_key' => $key,
				'error'           => 'cart_item_not_available',
			)
		);
	}

	/**
	 * The times in the cart of the Bookly form that is being booked: cart key => a list of
	 * [ service id, staff id, 'Y-m-d H:i:s' (site time) ], as Bookly keeps them.
	 *
	 * @return array<int|string, array>
	 */
	private static function cart_slots(): array {
		$form_id = isset( $_POST['form_id'] ) ? sanitize_text_field( wp_unslash( $_POST['form_id'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification -- read only; Bookly checks its own token next.
		if ( '' === $form_id || ! class_exists( '\Bookly\Lib\UserBookingData' ) ) {
			return array();
		}
		$data = new \Bookly\Lib\UserBookingData( $form_id );
		if ( ! $data->load() ) {
			return array();
		}
		$slots = array();
		foreach ( $data->cart->getItems() as $key => $item ) {
			$slots[ $key ] = (array) $item->getSlots();
		}
		return $slots;
	}

	/**
	 * The first cart key with a time its staff member is busy in then, or null.
	 *
	 * @param array<int|string, array> $cart Cart key => slots ([ service id, staff id, site time ]).
	 * @return int|string|null
	 */
	public static function busy_cart_key( array $cart ) {
		global $wpdb;
		$zone = wp_timezone();
		foreach ( $cart as $key => $slots ) {
			foreach ( $slots as $slot ) {
				list( $service_id, $staff_id, $local ) = array_pad( array_values( (array) $slot ), 3, null );
				$start    = is_string( $local ) ? date_create_immutable( $local, $zone ) : false;
				$duration = (int) $wpdb->get_var( $wpdb->prepare( "SELECT duration FROM {$wpdb->prefix}bookly_services WHERE id = %d", (int) $service_id ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
				$staff    = self::row( "SELECT id, wp_user_id, email FROM {$wpdb->prefix}bookly_staff WHERE id = %d", (int) $staff_id );
				if ( ! $start || $duration <= 0 || array() === $staff ) {
					continue;
				}
				$window = array(
					'start' => gmdate( 'Y-m-d\TH:i:s\Z', $start->getTimestamp() ),
					'end'   => gmdate( 'Y-m-d\TH:i:s\Z', $start->getTimestamp() + $duration ),
				);
				if ( array() === meetbridge_filter_slots( array( $window ), self::staff_id( $staff ) ) ) {
					return $key;
				}
			}
		}
		return null;
	}

	/**
	 * Filter `wp_mail( $args )`: `[meetbridge_join_url {appointment_id}]` in a Bookly e-mail becomes the
	 * customer's way to the meeting of that appointment when the e-mail goes to that appointment's
	 * customer, and nothing otherwise.
	 *
	 * @param mixed $args wp_mail's `to`, `subject`, `message`, `headers`, `attachments`.
	 * @return mixed
	 */
	public static function mail( $args ) {
		if ( ! is_array( $args ) || ! isset( $args['message'] ) || ! is_string( $args['message'] ) || false === strpos( $args['message'], '[meetbridge_join_url' ) ) {
			return $args;
		}
		$to   = array_map( 'strtolower', array_map( 'trim', is_array( $args['to'] ) ? $args['to'] : explode( ',', (string) $args['to'] ) ) );
		$html = false !== stripos( implode( "\n", (array) ( $args['headers'] ?? array() ) ), 'text/html' );
		$args['message'] = (string) preg_replace_callback(
			self::MARKER,
			static function ( $match ) use ( $to, $html ) {
				$url = self::join_url_for( (int) $match[1], $to );
				if ( '' === $url ) {
					return '';
				}
				return $html ? sprintf( '<a href="%1$s">%1$s</a>', esc_url( $url ) ) : $url;
			},
			$args['message']
		);
		return $args;
	}

	/**
	 * The join URL of an appointment for one of these recipients, when one of them is its customer.
	 *
	 * @param int      $id Appointment id.
	 * @param string[] $to Recipients' e-mails, lowercase.
	 */
	public static function join_url_for( int $id, array $to ): string {
		$appointment = self::load( $id );
		if ( ! $appointment ) {
			return '';
		}
		$customer = self::customer( $appointment );
		$email    = strtolower( (string) ( $customer['email'] ?? '' ) );
		if ( '' === $email || ! in_array( $email, $to, true ) || ! in_array( self::status( $appointment ), self::active_statuses(), true ) ) {
			return '';
		}
		return MeetBridge_Integration::join_url( self::booking_id( $id ), $email );
	}

	/**
	 * One row by id, or an empty array.
	 *
	 * @param string $sql A prepared-statement template with one `%d` (constant strings from this class).
	 * @param int    $id  Row id.
	 */
	private static function row( string $sql, int $id ): array {
		global $wpdb;
		if ( $id <= 0 ) {
			return array();
		}
		$row = $wpdb->get_row( $wpdb->prepare( $sql, $id ), ARRAY_A ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.NotPrepared
		return is_array( $row ) ? array_filter( $row, static fn( $value ) => null !== $value ) : array();
	}

	/**
	 * Whether Bookly's appointments table exists.
	 */
	private static function has_tables(): bool {
		global $wpdb;
		$table = $wpdb->prefix . 'bookly_appointments';
		return $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $wpdb->esc_like( $table ) ) ) === $table; // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}
}
