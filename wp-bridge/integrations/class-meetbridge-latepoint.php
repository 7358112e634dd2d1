<?php
/**
 * Adapter for LatePoint (wordpress.org/plugins/latepoint; observed with LatePoint 5.6.5).
 *
 * Bookings. Each LatePoint booking is one MeetBridge booking, `latepoint-{booking id}` (an order with
 * several bookings sends each). LatePoint fires, after saving (arguments as LatePoint passes them, see
 * the PHPUnit fixtures):
 * - `latepoint_booking_created( $booking )`: booked through the form (when the order is placed) or
 *   added in the admin;
 * - `latepoint_booking_updated( $booking, $old_booking )`: edited in the admin, rescheduled by the
 *   customer, a status changed (also LatePoint's own status changes, e.g. a booking completed);
 * - `latepoint_booking_change_status( $booking, $old_booking )`: the status changed in an order;
 * - `latepoint_booking_deleted( $id )`, and `latepoint_booking_will_be_deleted( $id )` (before, and
 *   the only one when a whole order is deleted): read back at the end of the request.
 * The booking is read back from LatePoint's tables (`latepoint_bookings`, whose `start_datetime_utc`
 * and `end_datetime_utc` are in UTC; `latepoint_agents`, `latepoint_customers`, `latepoint_services`,
 * `latepoint_locations`) and sent as it is now: `approved` has a meeting (created, or updated when it
 * changed); `pending` and `payment_pending` get none, but one made before stays and follows changes;
 * `cancelled` and a deleted booking are cancelled; `no_show` and `completed` change nothing (the
 * meeting ends and is cleaned up as usual); any other (custom) status is treated like `pending`.
 * Filter `meetbridge_latepoint_active_statuses` (default `['approved']`).
 *
 * Staff. The agent is the WordPress user LatePoint links them to (`wp_user_id`), else the WordPress
 * user with the agent's e-mail, else `latepoint-agent-{id}`; filter `meetbridge_latepoint_staff_id(
 * $staff_id, $agent )`. Times are sent in the site's time zone. Filters `meetbridge_latepoint_video`
 * ('zoom') and `meetbridge_latepoint_booking`.
 *
 * Join link. `{{meetbridge_join_url}}` in LatePoint's e-mail and SMS templates (filter
 * `latepoint_replace_booking_vars`), and a "Join the meeting" link among the actions of the booking's
 * summary that LatePoint shows the customer (its confirmation step, the "manage booking" page their
 * e-mail links to, the customer dashboard: action `latepoint_booking_summary_after_booking_actions`),
 * once there is one to show.
 *
 * Busy slots. `latepoint_get_booked_periods( $periods, $filter )` is how LatePoint learns what is
 * taken; each agent's busy times in their linked Google Calendar are added to it (as bookings of every
 * service and location the agent offers), so LatePoint neither offers those times nor accepts a booking
 * in them. A busy time that is exactly one of LatePoint's own
 * bookings of that agent (the event MeetBridge made for it) is left out: LatePoint knows that booking
 * already, and leaves it out itself when it is the one being moved.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * LatePoint → booking events, busy periods and the join link.
 */
class MeetBridge_LatePoint {

	const VARIABLE = '{{meetbridge_join_url}}';
	const ACTIVE   = array( 'approved' );
	const LEAVE    = array( 'no_show', 'completed' );
	const CANCEL   = array( 'cancelled' );

	/**
	 * LatePoint's actions after a change, with how many arguments each passes.
	 */
	const HOOKS = array(
		'latepoint_booking_created'       => 1,
		'latepoint_booking_updated'       => 2,
		'latepoint_booking_change_status' => 2,
		'latepoint_booking_deleted'       => 1,
	);

	/**
	 * LatePoint's actions before a change (the booking is read back at the end of the request).
	 */
	const BEFORE_HOOKS = array( 'latepoint_booking_will_be_deleted' );

	/**
	 * Hook into LatePoint.
	 */
	public static function init(): void {
		foreach ( self::HOOKS as $hook => $args ) {
			add_action( $hook, array( __CLASS__, 'on_change' ), 20, $args );
		}
		foreach ( self::BEFORE_HOOKS as $hook ) {
			add_action( $hook, array( __CLASS__, 'on_before_change' ), 20, 1 );
		}
		add_filter( 'latepoint_get_booked_periods', array( __CLASS__, 'booked_periods' ), 20, 2 );
		add_filter( 'latepoint_replace_booking_vars', array( __CLASS__, 'replace_vars' ), 20, 2 );
		add_action( 'latepoint_booking_summary_after_booking_actions', array( __CLASS__, 'summary_action' ), 20, 1 );
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
	 * Any of HOOKS: sync the bookings its arguments name (the new and the old version are one booking).
	 *
	 * @param mixed ...$args A booking (LatePoint's model, or its fields) or a booking id.
	 */
	public static function on_change( ...$args ): void {
		foreach ( array_unique( array_filter( array_map( array( __CLASS__, 'id_of' ), $args ) ) ) as $id ) {
			self::sync( $id );
		}
	}

	/**
	 * Any of BEFORE_HOOKS: sync the booking at the end of the request, once LatePoint has saved.
	 *
	 * @param mixed $booking Booking id (or model).
	 */
	public static function on_before_change( $booking ): void {
		$id = self::id_of( $booking );
		if ( $id > 0 ) {
			MeetBridge_Integration::later( self::booking_id( $id ), static fn() => self::sync( $id ) );
		}
	}

	/**
	 * The id of a booking given as LatePoint's model, its fields (a recording) or an id.
	 *
	 * @param mixed $booking Booking.
	 */
	public static function id_of( $booking ): int {
		if ( is_object( $booking ) ) {
			return isset( $booking->id ) ? (int) $booking->id : 0;
		}
		if ( is_array( $booking ) ) {
			return isset( $booking['id'] ) ? (int) $booking['id'] : 0;
		}
		return is_numeric( $booking ) ? (int) $booking : 0;
	}

	/**
	 * Send a booking's current state.
	 *
	 * @param int $id Booking id.
	 * @return int|WP_Error|null Revision, error, or null when there was nothing to send.
	 */
	public static function sync( int $id ) {
		$booking_id = self::booking_id( $id );
		$row        = self::load( $id );
		$status     = $row ? (string) $row['status'] : 'deleted';
		if ( in_array( $status, self::LEAVE, true ) ) {
			return null;
		}
		if ( ! $row || in_array( $status, self::CANCEL, true ) ) {
			return MeetBridge_Integration::apply( $booking_id, null );
		}
		$active  = in_array( $status, (array) apply_filters( 'meetbridge_latepoint_active_statuses', self::ACTIVE ), true );
		$booking = self::map( $row );
		if ( is_wp_error( $booking ) ) {
			do_action( 'meetbridge_booking_rejected', $booking, $row );
			return $booking;
		}
		return MeetBridge_Integration::apply( $booking_id, $booking, $active );
	}

	/**
	 * The booking array for a booking as load() reads it.
	 *
	 * @param array $row Booking row with `service`, `agent`, `customer`, `location`.
	 * @return array|WP_Error
	 */
	public static function map( array $row ) {
		$zone  = MeetBridge_Integration::zone_name();
		$start = MeetBridge_Integration::from_utc( (string) $row['start_datetime_utc'], $zone );
		$end   = MeetBridge_Integration::from_utc( (string) $row['end_datetime_utc'], $zone );
		if ( '' === $start || '' === $end ) {
			return new WP_Error( 'meetbridge_invalid_booking', 'start: the booking has no usable date and time', array( 'field' => 'start' ) );
		}
		$agent    = $row['agent'];
		$location = trim( implode( ', ', array_filter( array( $row['location']['name'] ?? '', $row['location']['full_address'] ?? '' ) ) ) );
		$booking  = array(
			'id'       => self::booking_id( (int) $row['id'] ),
			'title'    => '' !== (string) ( $row['service']['name'] ?? '' ) ? (string) $row['service']['name'] : __( 'Appointment', 'meetbridge' ),
			'start'    => $start,
			'end'      => $end,
			'timezone' => $zone,
			'staff'    => array(
				'id'    => self::staff_id( $agent ),
				'email' => (string) ( $agent['email'] ?? '' ),
				'name'  => trim( ( $agent['first_name'] ?? '' ) . ' ' . ( $agent['last_name'] ?? '' ) ),
			),
			'customer' => array(
				'email' => (string) ( $row['customer']['email'] ?? '' ),
				'name'  => trim( ( $row['customer']['first_name'] ?? '' ) . ' ' . ( $row['customer']['last_name'] ?? '' ) ),
			),
			'video'    => (string) apply_filters( 'meetbridge_latepoint_video', 'zoom', $row ),
			'location' => '' === $location ? null : $location,
		);
		return apply_filters( 'meetbridge_latepoint_booking', $booking, $row );
	}

	/**
	 * MeetBridge's staff id for a LatePoint agent (a row of `latepoint_agents`): the linked WordPress
	 * user, else the user with the agent's e-mail, else `latepoint-agent-{id}`; then the filter
	 * `meetbridge_latepoint_staff_id`. Bookings and busy periods both use it.
	 *
	 * @param array $agent `id`, `wp_user_id`, `email`.
	 */
	public static function staff_id( array $agent ): string {
		$user     = MeetBridge_Integration::wordpress_user( (int) ( $agent['wp_user_id'] ?? 0 ), (string) ( $agent['email'] ?? '' ) );
		$staff_id = null !== $user ? (string) $user : 'latepoint-agent-' . (int) ( $agent['id'] ?? 0 );
		return (string) apply_filters( 'meetbridge_latepoint_staff_id', $staff_id, $agent );
	}

	/**
	 * `meetbridge_booking_resend`: MeetBridge asks for one of this plugin's bookings again; it is
	 * read back and sent as `booking.updated` even if nothing changed here.
	 *
	 * @param mixed $booking_id Booking id.
	 */
	public static function on_resend( $booking_id ): void {
		if ( preg_match( '/^latepoint-(\d+)$/', (string) $booking_id, $match ) ) {
			MeetBridge_Integration::resend( (string) $booking_id, static fn() => self::sync( (int) $match[1] ) );
		}
	}

	/**
	 * MeetBridge's booking id for a LatePoint booking.
	 *
	 * @param int $id Booking id.
	 */
	public static function booking_id( int $id ): string {
		return 'latepoint-' . $id;
	}

	/**
	 * A booking with its service, agent, customer and location from LatePoint's tables; null when it
	 * does not exist (deleted) or the tables are not there.
	 *
	 * @param int $id Booking id.
	 */
	public static function load( int $id ): ?array {
		global $wpdb;
		$row = self::has_tables() ? $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$wpdb->prefix}latepoint_bookings WHERE id = %d", $id ), ARRAY_A ) : null; // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		if ( ! is_array( $row ) ) {
			return null;
		}
		$row['service']  = self::row( 'latepoint_services', (int) $row['service_id'], 'id, name' );
		$row['agent']    = self::row( 'latepoint_agents', (int) $row['agent_id'], 'id, wp_user_id, first_name, last_name, email' );
		$row['customer'] = self::row( 'latepoint_customers', (int) $row['customer_id'], 'id, first_name, last_name, email' );
		$row['location'] = empty( $row['location_id'] ) ? array() : self::row( 'latepoint_locations', (int) $row['location_id'], 'id, name, full_address' );
		return $row;
	}

	/**
	 * Filter `latepoint_get_booked_periods( $periods, $filter )`: LatePoint's booked periods for the
	 * days `$filter->date_from` to `date_to` (site time), plus each active agent's busy times in their
	 * linked Google Calendar as LatePoint `BookedPeriod`s (one per day a busy time touches: dates and
	 * minutes of the day in the site's zone). An agent whose busy times MeetBridge cannot say adds
	 * nothing (their slots stay; admins see why).
	 *
	 * @param mixed $periods LatePoint's booked periods.
	 * @param mixed $filter  LatePoint's `Filter` (date_from, date_to, agent_id, …).
	 * @return mixed
	 */
	public static function booked_periods( $periods, $filter = null ) {
		$from_date = is_object( $filter ) && ! empty( $filter->date_from ) ? (string) $filter->date_from : '';
		if ( ! is_array( $periods ) || '' === $from_date || ! class_exists( '\LatePoint\Misc\BookedPeriod' ) || ! MeetBridge_Settings::is_configured() ) {
			return $periods;
		}
		$zone = wp_timezone();
		$from = date_create_immutable( $from_date . ' 00:00', $zone );
		$to   = date_create_immutable( ( empty( $filter->date_to ) ? $from_date : (string) $filter->date_to ) . ' 00:00', $zone );
		if ( ! $from || ! $to || $to < $from ) {
			return $periods;
		}
		$to = $to->modify( '+1 day' );
		foreach ( self::agents( (int) ( $filter->agent_id ?? 0 ) ) as $agent ) {
			$busy = self::busy_of( $agent, $from->getTimestamp(), $to->getTimestamp() );
			if ( array() === $busy ) {
				continue;
			}
			// LatePoint blocks a slot for sure only with a period of the same agent, service and location:
			// one per service and location the agent offers, with more attendees than any service holds.
			foreach ( self::connections( (int) $agent['id'] ) as $connection ) {
				foreach ( $busy as $period ) {
					foreach ( self::days( $period, $zone ) as $day ) {
						$periods[] = new \LatePoint\Misc\BookedPeriod( $day + $connection + array( 'total_attendees' => 100000 ) );
					}
				}
			}
		}
		return $periods;
	}

	/**
	 * An agent's busy times within [from, to) (Unix seconds), without those that are exactly one of
	 * LatePoint's bookings of that agent; empty when MeetBridge cannot say.
	 *
	 * @param array $agent Agent row.
	 * @param int   $from  Start.
	 * @param int   $to    End.
	 * @return array<int, array{0: float, 1: float}>
	 */
	private static function busy_of( array $agent, int $from, int $to ): array {
		$staff = self::staff_id( $agent );
		if ( ! preg_match( MeetBridge_Booking_API::ID_PATTERN, $staff ) ) {
			return array();
		}
		$busy = array();
		for ( $start = $from; $start < $to; $start += MeetBridge_Availability::MAX_WINDOW ) {
			$part = MeetBridge_Availability::busy( $staff, $start, min( $to, $start + MeetBridge_Availability::MAX_WINDOW ) );
			if ( null === $part ) {
				return array();
			}
			$busy = array_merge( $busy, $part );
		}
		if ( array() === $busy ) {
			return array();
		}
		global $wpdb;
		$own = array();
		foreach ( (array) $wpdb->get_results( $wpdb->prepare( "SELECT start_datetime_utc, end_datetime_utc FROM {$wpdb->prefix}latepoint_bookings WHERE agent_id = %d AND end_datetime_utc > %s AND start_datetime_utc < %s", (int) $agent['id'], gmdate( 'Y-m-d H:i:s', $from ), gmdate( 'Y-m-d H:i:s', $to ) ), ARRAY_A ) as $booking ) { // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
			$own[ strtotime( $booking['start_datetime_utc'] . ' UTC' ) . '|' . strtotime( $booking['end_datetime_utc'] . ' UTC' ) ] = true;
		}
		return array_values( array_filter( $busy, static fn( $period ) => ! isset( $own[ (int) $period[0] . '|' . (int) $period[1] ] ) ) );
	}

	/**
	 * A busy time as LatePoint periods: per day it touches, its date and its minutes of that day.
	 *
	 * @param array{0: float, 1: float} $busy Start and end, Unix seconds.
	 * @param DateTimeZone              $zone The site's zone.
	 * @return array[] `start_date`, `end_date`, `start_time`, `end_time`.
	 */
	private static function days( array $busy, DateTimeZone $zone ): array {
		$start = ( new DateTimeImmutable( '@' . (int) floor( $busy[0] ) ) )->setTimezone( $zone );
		$end   = ( new DateTimeImmutable( '@' . (int) ceil( $busy[1] ) ) )->setTimezone( $zone );
		$days  = array();
		for ( $day = $start->setTime( 0, 0 ); $day < $end; $day = $day->modify( '+1 day' ) ) {
			$from   = max( $start, $day );
			$next   = $day->modify( '+1 day' );
			$until  = min( $end, $next );
			$days[] = array(
				'start_date' => $day->format( 'Y-m-d' ),
				'end_date'   => $day->format( 'Y-m-d' ),
				'start_time' => intdiv( $from->getTimestamp() - $day->getTimestamp(), 60 ),
				'end_time'   => $until == $next ? 24 * 60 : (int) ceil( ( $until->getTimestamp() - $day->getTimestamp() ) / 60 ), // phpcs:ignore Universal.Operators.StrictComparisons.LooseEqual -- DateTime values.
			);
		}
		return $days;
	}

	/**
	 * The services and locations an agent offers (LatePoint's `latepoint_agents_services`), as the
	 * `agent_id`, `service_id`, `location_id` of a booked period; the agent alone when there are none.
	 *
	 * @param int $agent_id Agent id.
	 * @return array[]
	 */
	private static function connections( int $agent_id ): array {
		global $wpdb;
		$rows = (array) $wpdb->get_results( $wpdb->prepare( "SELECT DISTINCT agent_id, service_id, location_id FROM {$wpdb->prefix}latepoint_agents_services WHERE agent_id = %d", $agent_id ), ARRAY_A ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$rows = array_map( static fn( $row ) => array_map( 'intval', $row ), $rows );
		return array() !== $rows ? $rows : array( array( 'agent_id' => $agent_id ) );
	}

	/**
	 * LatePoint's active agents (one, or all).
	 *
	 * @param int $agent_id An agent, or 0 for all.
	 * @return array[]
	 */
	private static function agents( int $agent_id ): array {
		global $wpdb;
		$sql = "SELECT id, wp_user_id, email FROM {$wpdb->prefix}latepoint_agents WHERE status = 'active'" . ( $agent_id > 0 ? $wpdb->prepare( ' AND id = %d', $agent_id ) : '' );
		return (array) $wpdb->get_results( $sql, ARRAY_A ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.NotPrepared
	}

	/**
	 * Filter `latepoint_replace_booking_vars( $text, $booking )`: `{{meetbridge_join_url}}` in a
	 * LatePoint template becomes the customer's way to their meeting.
	 *
	 * @param mixed $text    Template text.
	 * @param mixed $booking LatePoint's booking model.
	 * @return mixed
	 */
	public static function replace_vars( $text, $booking = null ) {
		if ( ! is_string( $text ) || false === strpos( $text, self::VARIABLE ) ) {
			return $text;
		}
		$id = self::id_of( $booking );
		return str_replace( self::VARIABLE, $id > 0 ? esc_url( self::join_url( $id ) ) : '', $text );
	}

	/**
	 * Action `latepoint_booking_summary_after_booking_actions( $booking )`: a "Join the meeting" link
	 * among the booking's actions where LatePoint shows it to its customer, when there is one.
	 *
	 * @param mixed $booking LatePoint's booking model.
	 */
	public static function summary_action( $booking ): void {
		$id  = self::id_of( $booking );
		$url = $id > 0 ? self::join_url( $id ) : '';
		if ( '' === $url ) {
			return;
		}
		printf(
			'<a href="%s" class="booking-summary-action-btn meetbridge-join-link" target="_blank" rel="noopener"><i class="latepoint-icon latepoint-icon-external-link"></i><span>%s</span></a>',
			esc_url( $url ),
			esc_html__( 'Join the meeting', 'meetbridge' )
		);
	}

	/**
	 * The customer's way to the meeting of a booking (see MeetBridge_Integration::join_url()).
	 *
	 * @param int $id Booking id.
	 */
	private static function join_url( int $id ): string {
		global $wpdb;
		$email = (string) $wpdb->get_var( $wpdb->prepare( "SELECT c.email FROM {$wpdb->prefix}latepoint_bookings b JOIN {$wpdb->prefix}latepoint_customers c ON c.id = b.customer_id WHERE b.id = %d", $id ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery,WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		return MeetBridge_Integration::join_url( self::booking_id( $id ), is_email( $email ) ? $email : '' );
	}

	/**
	 * One row of a LatePoint table by id (selected columns), or an empty array.
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
	 * Whether LatePoint's bookings table exists.
	 */
	private static function has_tables(): bool {
		global $wpdb;
		$table = $wpdb->prefix . 'latepoint_bookings';
		return $wpdb->get_var( $wpdb->prepare( 'SHOW TABLES LIKE %s', $wpdb->esc_like( $table ) ) ) === $table; // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}
}
