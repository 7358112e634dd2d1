<?php
/**
 * Easy Appointments' paths that remove or cancel appointments without firing a hook, and the
 * reconcile that catches them all.
 *
 * Observed in Easy Appointments 3.12.23 (admin-ajax.php, all die() with a JSON answer):
 * - `ea_appointment` with `_method=DELETE` and `id` in the query (the Delete button of the
 *   Appointments page: `POST admin-ajax.php?action=ea_appointment&id=N&_wpnonce=…&_method=DELETE`,
 *   empty body): deletes the `ea_appointments` row and its `ea_fields`;
 * - `delete_selected_appointment` (`appointments[]` posted): deletes each;
 * - `cancel_selected_appointments` with `cancel_to=all`: `UPDATE … SET status = 'abandoned'` for every
 *   upcoming appointment (with `cancel_to=selected` 3.12.23 changes nothing: it reads the posted array
 *   through sanitize_text_field());
 * - `ea_cancel_appointment` (the booking form's Cancel, with `id`): status `abandoned`;
 * - `ea_worker`, `ea_service`, `ea_location` with `_method=DELETE`: their appointments go with them
 *   (foreign keys ON DELETE CASCADE); `ea_full_import` and `ea_reset_plugin` replace everything;
 * - a cron job deleting reservations older than 6 minutes, and any direct SQL.
 *
 * Each of those AJAX actions is hooked before Easy Appointments' own handler (priority 1), which only
 * notes the appointment ids it names (or "all"); at the end of that request (`shutdown`, which runs
 * after Easy Appointments' die(), before the outbox's sender is spawned) the noted bookings are
 * reconciled against the table, so a refused request (bad nonce, no right) changes nothing. The same
 * reconcile runs over every booking in MeetBridge_Maintenance (every 15 minutes) for the paths no
 * request names: a booking this plugin sent (last event created/updated) whose appointment row is gone
 * or whose status no longer gets a meeting gets a `booking.cancelled`. That background reconcile leaves
 * bookings that started more than a day ago alone (their meeting is over and MeetBridge cleans it up;
 * clearing out old appointments must not delete calendar history); an appointment an admin deletes or
 * cancels explicitly is cancelled whenever it was. If Easy Appointments' tables are gone altogether
 * (the plugin deleted with its data), nothing is cancelled.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Catches deletions and bulk cancellations in Easy Appointments.
 */
class MeetBridge_EA_Watch {

	const BATCH = 200;

	/**
	 * AJAX actions (`wp_ajax_{action}`) that may remove or cancel appointments.
	 */
	const ACTIONS = array(
		'ea_appointment',
		'delete_selected_appointment',
		'cancel_selected_appointments',
		'ea_cancel_appointment',
		'ea_worker',
		'ea_service',
		'ea_location',
		'ea_full_import',
		'ea_reset_plugin',
	);

	/**
	 * Appointment ids noted in this request; null for "all".
	 *
	 * @var int[]|null
	 */
	private static ?array $noted = array();

	/**
	 * Whether this request noted anything.
	 *
	 * @var bool
	 */
	private static bool $watching = false;

	/**
	 * Hook the AJAX actions early, and the reconcile into maintenance.
	 */
	public static function init(): void {
		foreach ( self::ACTIONS as $action ) {
			add_action( 'wp_ajax_' . $action, array( __CLASS__, 'note_request' ), 1 );
		}
		add_action( 'wp_ajax_nopriv_ea_cancel_appointment', array( __CLASS__, 'note_request' ), 1 );
		add_filter( 'meetbridge_reconcile', array( __CLASS__, 'reconcile_filter' ) );
	}

	/**
	 * Before Easy Appointments handles one of ACTIONS: note which appointments it names.
	 */
	public static function note_request(): void {
		// phpcs:disable WordPress.Security.NonceVerification -- nothing is done with the request but
		// noting ids; what happens is decided from the table at shutdown.
		$action = isset( $_REQUEST['action'] ) ? sanitize_key( wp_unslash( $_REQUEST['action'] ) ) : '';
		$method = isset( $_REQUEST['_method'] ) ? strtoupper( sanitize_key( wp_unslash( $_REQUEST['_method'] ) ) ) : '';
		$ids    = array();
		switch ( $action ) {
			case 'ea_appointment':
				if ( 'DELETE' !== $method ) {
					return; // Creates and edits fire easy_ea_new_app / easy_ea_edit_app.
				}
				$ids = array( isset( $_GET['id'] ) ? absint( $_GET['id'] ) : 0 );
				break;
			case 'ea_cancel_appointment':
				$ids = array( isset( $_GET['id'] ) ? absint( $_GET['id'] ) : 0 );
				break;
			case 'delete_selected_appointment':
			case 'cancel_selected_appointments':
				$all = isset( $_POST['cancel_to'] ) && 'all' === sanitize_key( wp_unslash( $_POST['cancel_to'] ) );
				$ids = $all ? null : ( isset( $_POST['appointments'] ) && is_array( $_POST['appointments'] ) ? array_map( 'absint', wp_unslash( $_POST['appointments'] ) ) : array() );
				break;
			case 'ea_worker':
			case 'ea_service':
			case 'ea_location':
				if ( 'DELETE' !== $method ) {
					return;
				}
				$ids = null;
				break;
			default:
				$ids = null; // Import, reset.
		}
		// phpcs:enable
		self::note( $ids );
	}

	/**
	 * Note appointment ids (null: all) to reconcile at the end of this request.
	 *
	 * @param int[]|null $ids Ids.
	 */
	public static function note( ?array $ids ): void {
		if ( null === $ids || null === self::$noted ) {
			self::$noted = null;
		} else {
			self::$noted = array_values( array_unique( array_merge( self::$noted, array_filter( $ids ) ) ) );
		}
		if ( ! self::$watching ) {
			self::$watching = true;
			add_action( 'shutdown', array( __CLASS__, 'at_shutdown' ), 5 );
		}
	}

	/**
	 * Action `shutdown` (before the outbox's sender is spawned at 10): reconcile what was noted.
	 */
	public static function at_shutdown(): void {
		$noted          = self::$noted;
		self::$noted    = array();
		self::$watching = false;
		if ( null === $noted || array() !== $noted ) {
			self::reconcile( $noted );
		}
	}

	/**
	 * Filter `meetbridge_reconcile` (maintenance): reconcile every booking.
	 *
	 * @param int $cancelled Cancelled so far.
	 * @return int
	 */
	public static function reconcile_filter( $cancelled ) {
		return (int) $cancelled + self::reconcile( null );
	}

	/**
	 * Cancel the bookings sent for appointments that are gone or no longer get a meeting.
	 *
	 * @param int[]|null $ids Appointment ids, or null for every booking sent from Easy Appointments.
	 * @return int Bookings cancelled.
	 */
	public static function reconcile( ?array $ids = null ): int {
		$cancelled = 0;
		foreach ( self::stale( $ids ) as $booking_id ) {
			if ( ! is_wp_error( MeetBridge_Booking_API::submit( 'booking.cancelled', array( 'id' => $booking_id ) ) ) ) {
				++$cancelled;
			}
		}
		return $cancelled;
	}

	/**
	 * Booking ids sent (last event created/updated) whose appointment row is gone or whose status is
	 * not one that gets a meeting; at most BATCH of them.
	 *
	 * @param int[]|null $ids Appointment ids, or null for all.
	 * @return string[]
	 */
	public static function stale( ?array $ids = null ): array {
		global $wpdb;
		if ( ( null !== $ids && array() === $ids ) || ! MeetBridge_Easy_Appointments::has_tables() ) {
			return array();
		}
		$bookings = MeetBridge_Schema::tables()['bookings'];
		$active   = MeetBridge_Easy_Appointments::active_statuses();
		$values   = $active;
		if ( null !== $ids ) {
			$only   = ' AND b.booking_id IN (' . implode( ', ', array_fill( 0, count( $ids ), '%s' ) ) . ')';
			$values = array_merge( $values, array_map( array( 'MeetBridge_Easy_Appointments', 'booking_id' ), array_map( 'intval', $ids ) ) );
		} else {
			// Not yet over: started less than a day ago (starts_at is RFC 3339 with a numeric offset).
			$only = " AND CONVERT_TZ( STR_TO_DATE( LEFT( b.starts_at, 19 ), '%%Y-%%m-%%dT%%H:%%i:%%s' ), RIGHT( b.starts_at, 6 ), '+00:00' ) > UTC_TIMESTAMP() - INTERVAL 1 DAY";
		}
		$values[] = self::BATCH;
		$in       = implode( ', ', array_fill( 0, count( $active ), '%s' ) );
		// The primary key range `ea-%` keeps this to Easy Appointments' bookings; the join is on
		// ea_appointments' primary key.
		$sql = "SELECT b.booking_id FROM {$bookings} b
			LEFT JOIN {$wpdb->prefix}ea_appointments a ON a.id = CAST( SUBSTRING( b.booking_id, 4 ) AS UNSIGNED )
			WHERE b.booking_id LIKE 'ea-%%' AND b.booking_id REGEXP '^ea-[0-9]+$'
			AND b.last_event IN ('booking.created', 'booking.updated')
			AND ( a.id IS NULL OR a.status IS NULL OR LOWER( a.status ) NOT IN ({$in}) ){$only}
			ORDER BY b.booking_id LIMIT %d";
		return array_map( 'strval', (array) $wpdb->get_col( $wpdb->prepare( $sql, $values ) ) ); // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared,WordPress.DB.DirectDatabaseQuery
	}
}
