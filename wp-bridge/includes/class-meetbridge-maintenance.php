<?php
/**
 * Housekeeping, away from anyone's request: outbox rows past the retention days are deleted
 * (MeetBridge_Outbox::prune()), result ids older than a week are forgotten, and booking plugins
 * reconcile what they sent with what still exists (the filter `meetbridge_reconcile`, which the
 * Easy Appointments adapter uses to cancel bookings whose appointment was deleted or cancelled
 * without a hook).
 *
 * It runs from WP-Cron every 15 minutes (`meetbridge_maintenance`) and from the background sender
 * once it has sent what was due, at most once per 15 minutes either way, within a time budget.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Pruning and reconciling.
 */
class MeetBridge_Maintenance {

	const HOOK     = 'meetbridge_maintenance';
	const SCHEDULE = 'meetbridge_quarter_hour';
	const INTERVAL = 15 * MINUTE_IN_SECONDS;

	/**
	 * Register the cron schedule and hook.
	 */
	public static function init(): void {
		add_filter( 'cron_schedules', array( __CLASS__, 'schedules' ) ); // phpcs:ignore WordPress.WP.CronInterval.ChangeDetected -- 15 minutes.
		add_action( self::HOOK, array( __CLASS__, 'run' ) );
		add_action( 'admin_init', array( __CLASS__, 'schedule' ) );
	}

	/**
	 * Filter `cron_schedules`: every 15 minutes.
	 *
	 * @param array $schedules Schedules.
	 * @return array
	 */
	public static function schedules( $schedules ) {
		$schedules                   = is_array( $schedules ) ? $schedules : array();
		$schedules[ self::SCHEDULE ] = array(
			'interval' => self::INTERVAL,
			'display'  => __( 'Every 15 minutes (MeetBridge)', 'meetbridge' ),
		);
		return $schedules;
	}

	/**
	 * Make sure the recurring event exists (activation, upgrades, admin pages).
	 */
	public static function schedule(): void {
		if ( ! wp_next_scheduled( self::HOOK ) ) {
			wp_schedule_event( time() + self::INTERVAL, self::SCHEDULE, self::HOOK );
		}
	}

	/**
	 * Run unless it ran within the last 15 minutes.
	 *
	 * @return array|null What run() did, or null when it was not due.
	 */
	public static function maybe_run(): ?array {
		if ( (int) get_option( MeetBridge_Settings::MAINTAINED, 0 ) > time() - self::INTERVAL ) {
			return null;
		}
		return self::run();
	}

	/**
	 * Prune and reconcile now.
	 *
	 * @return array{pruned: int, inbox: int, cancelled: int}
	 */
	public static function run(): array {
		global $wpdb;
		update_option( MeetBridge_Settings::MAINTAINED, time(), false );
		$stats = array(
			'pruned'    => MeetBridge_Outbox::prune(),
			'inbox'     => (int) $wpdb->query( $wpdb->prepare( 'DELETE FROM ' . MeetBridge_Schema::tables()['inbox'] . ' WHERE received_at < %d', time() - MeetBridge_Results::INBOX_DAYS * DAY_IN_SECONDS ) ), // phpcs:ignore WordPress.DB.PreparedSQL.NotPrepared,WordPress.DB.DirectDatabaseQuery
			'cancelled' => 0,
		);
		/**
		 * Reconcile the bookings a booking plugin sent with what still exists; return how many
		 * were cancelled.
		 *
		 * @param int $cancelled Cancelled so far.
		 */
		$stats['cancelled'] = (int) apply_filters( 'meetbridge_reconcile', 0 );
		return $stats;
	}
}
