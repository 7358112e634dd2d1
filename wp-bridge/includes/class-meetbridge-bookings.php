<?php
/**
 * What this site knows about each booking: the last revision it assigned and the last event sent,
 * the sync state, the Zoom join link and the Google event link MeetBridge reported, the last error,
 * a keyed hash of the customer's e-mail (MeetBridge_Settings::customer_hash(), never the address)
 * so the privacy tools can find a customer's bookings, and the latest change a staff member made to
 * the meeting in Google Calendar or Zoom (`booking.changed`: kind, provider, new times, state,
 * sequence, when, whether an admin has seen it; nothing personal).
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The bookings table.
 */
class MeetBridge_Bookings {

	/**
	 * Assign the next revision of a booking atomically (1 for a new booking) and record its basics.
	 *
	 * @param string $booking_id    Booking id.
	 * @param string $title         Title (for the admin list).
	 * @param string $staff_id      Staff id.
	 * @param string $starts_at     Start (RFC 3339).
	 * @param string $event_type    The event this revision is for.
	 * @param string $customer_hash MeetBridge_Settings::customer_hash() of the customer ('' keeps the stored one).
	 * @return int The revision.
	 */
	public static function next_revision( string $booking_id, string $title, string $staff_id, string $starts_at, string $event_type = '', string $customer_hash = '' ): int {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['bookings'];
		// LAST_INSERT_ID(expr) makes the incremented value this connection's insert id; a fresh
		// insert leaves it at 0, which means revision 1.
		$wpdb->query( // phpcs:ignore WordPress.DB.DirectDatabaseQuery
			$wpdb->prepare(
				"INSERT INTO {$table} (booking_id, revision, state, title, staff_id, starts_at, last_event, customer_hash, updated_at) VALUES (%s, 1, 'queued', %s, %s, %s, %s, %s, %d)
				ON DUPLICATE KEY UPDATE revision = LAST_INSERT_ID(revision + 1), state = 'queued', title = IF(VALUES(title) = '', title, VALUES(title)),
				staff_id = IF(VALUES(staff_id) = '', staff_id, VALUES(staff_id)), starts_at = IF(VALUES(starts_at) = '', starts_at, VALUES(starts_at)),
				last_event = VALUES(last_event), customer_hash = IF(VALUES(customer_hash) = '', customer_hash, VALUES(customer_hash)), updated_at = VALUES(updated_at)", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
				$booking_id,
				$title,
				$staff_id,
				$starts_at,
				$event_type,
				$customer_hash,
				time()
			)
		);
		$revision = (int) $wpdb->insert_id;
		return $revision > 0 ? $revision : 1;
	}

	/**
	 * One booking's row, or null.
	 *
	 * @param string $booking_id Booking id.
	 */
	public static function get( string $booking_id ): ?array {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['bookings'];
		$row   = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$table} WHERE booking_id = %s", $booking_id ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		return is_array( $row ) ? $row : null;
	}

	/**
	 * The most recently changed bookings.
	 *
	 * @param int $limit How many.
	 * @return array<int, array>
	 */
	public static function recent( int $limit = 50 ): array {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['bookings'];
		return (array) $wpdb->get_results( $wpdb->prepare( "SELECT * FROM {$table} ORDER BY updated_at DESC, booking_id DESC LIMIT %d", $limit ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * MeetBridge acknowledged an event: the booking waits for its result (unless one already came).
	 *
	 * @param string $booking_id Booking id.
	 * @param int    $revision   Revision acknowledged.
	 */
	public static function mark_accepted( string $booking_id, int $revision ): void {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['bookings'];
		$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET state = 'pending', last_error = NULL, updated_at = %d WHERE booking_id = %s AND result_revision < %d AND state IN ('queued', 'failed')", time(), $booking_id, $revision ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * Sending an event failed for good, or is being retried: record the reason.
	 *
	 * @param string $booking_id Booking id.
	 * @param string $reason     Reason shown to the admin.
	 * @param bool   $final      Whether the event will not be retried.
	 */
	public static function mark_send_error( string $booking_id, string $reason, bool $final ): void {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['bookings'];
		if ( $final ) {
			$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET state = 'failed', last_error = %s, updated_at = %d WHERE booking_id = %s", $reason, time(), $booking_id ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		} else {
			$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET last_error = %s, updated_at = %d WHERE booking_id = %s", $reason, time(), $booking_id ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		}
	}

	/**
	 * Apply a result from MeetBridge, unless a result for a newer revision was applied already.
	 *
	 * @param string $type Result type (`booking.synced`, `booking.sync_failed`, `booking.cancelled`).
	 * @param array  $data The result's data.
	 * @return bool Whether it was applied.
	 */
	public static function apply_result( string $type, array $data ): bool {
		global $wpdb;
		$table      = MeetBridge_Schema::tables()['bookings'];
		$booking_id = isset( $data['booking_id'] ) ? (string) $data['booking_id'] : '';
		$revision   = isset( $data['revision'] ) ? (int) $data['revision'] : 0;
		if ( '' === $booking_id || $revision < 1 ) {
			return false;
		}
		$fields = array(
			'result_revision' => $revision,
			'updated_at'      => time(),
		);
		if ( 'booking.synced' === $type ) {
			$zoom   = isset( $data['zoom'] ) && is_array( $data['zoom'] ) ? $data['zoom'] : array();
			$google = isset( $data['google'] ) && is_array( $data['google'] ) ? $data['google'] : array();
			$fields = array_merge(
				$fields,
				array(
					'state'      => 'synced',
					'meeting_id' => isset( $zoom['meeting_id'] ) ? (string) $zoom['meeting_id'] : '',
					'join_url'   => isset( $zoom['join_url'] ) ? esc_url_raw( (string) $zoom['join_url'], array( 'https', 'http' ) ) : null,
					'event_id'   => isset( $google['event_id'] ) ? (string) $google['event_id'] : '',
					'event_link' => isset( $google['html_link'] ) ? esc_url_raw( (string) $google['html_link'], array( 'https', 'http' ) ) : null,
					'last_error' => null,
				)
			);
		} elseif ( 'booking.cancelled' === $type ) {
			$fields = array_merge(
				$fields,
				array(
					'state'      => 'cancelled',
					'join_url'   => null,
					'meeting_id' => '',
					'last_error' => null,
				)
			);
		} else {
			$fields['state']      = 'failed';
			$fields['last_error'] = isset( $data['reason'] ) ? sanitize_text_field( (string) $data['reason'] ) : __( 'MeetBridge could not sync this booking.', 'meetbridge' );
		}
		// Create the row if MeetBridge knows a booking this site has forgotten; then update it only
		// when this result is not older than the last one applied.
		$wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO {$table} (booking_id, revision, state, updated_at) VALUES (%s, %d, 'pending', %d)", $booking_id, $revision, time() ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		$sets   = array();
		$values = array();
		foreach ( $fields as $column => $value ) {
			if ( null === $value ) {
				$sets[] = "{$column} = NULL";
			} else {
				$sets[]   = is_int( $value ) ? "{$column} = %d" : "{$column} = %s";
				$values[] = $value;
			}
		}
		$values[] = $booking_id;
		$values[] = $revision;
		$updated  = $wpdb->query( $wpdb->prepare( "UPDATE {$table} SET " . implode( ', ', $sets ) . ' WHERE booking_id = %s AND result_revision <= %d', $values ) ); // phpcs:ignore WordPress.DB.PreparedSQL,WordPress.DB.DirectDatabaseQuery
		return false !== $updated && $updated > 0;
	}

	/**
	 * Store a change a staff member made in Google Calendar or Zoom (MeetBridge_Changes::validate()'s
	 * shape), unless a change with the same or a higher sequence was stored already. The links follow
	 * the change (`zoom` or `google` null: gone) unless a result for a newer revision was applied since.
	 * The start stays the one this site sent: the booking's own time until its plugin moves it.
	 *
	 * @param array $change Validated change.
	 * @return bool Whether it was stored (false: an older or repeated change, ignored).
	 */
	public static function apply_change( array $change ): bool {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['bookings'];
		$id    = (string) $change['booking_id'];
		$now   = time();
		// phpcs:disable WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		$wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO {$table} (booking_id, revision, state, updated_at) VALUES (%s, %d, 'synced', %d)", $id, (int) $change['revision'], $now ) );
		$stored = $wpdb->query(
			$wpdb->prepare(
				"UPDATE {$table} SET change_sequence = %d, change_kind = %s, change_provider = %s, change_start = %s, change_end = %s, change_state = %s, change_at = %d, change_seen = 0, updated_at = %d WHERE booking_id = %s AND change_sequence < %d",
				(int) $change['sequence'],
				(string) $change['kind'],
				(string) $change['provider'],
				(string) $change['start'],
				(string) $change['end'],
				(string) $change['state'],
				(int) $change['changed_at'],
				$now,
				$id,
				(int) $change['sequence']
			)
		);
		if ( false === $stored || $stored < 1 ) {
			// phpcs:enable
			return false;
		}
		$sets   = array( 'state = %s' );
		$values = array( 'cancelled' === $change['state'] ? 'cancelled' : 'synced' );
		if ( array_key_exists( 'zoom', $change ) ) {
			$zoom     = $change['zoom'];
			$sets[]   = null === $zoom ? 'join_url = NULL' : 'join_url = %s';
			$sets[]   = 'meeting_id = %s';
			$values   = null === $zoom ? $values : array_merge( $values, array( esc_url_raw( (string) ( $zoom['join_url'] ?? '' ), array( 'https', 'http' ) ) ) );
			$values[] = null === $zoom ? '' : (string) ( $zoom['meeting_id'] ?? '' );
		}
		if ( array_key_exists( 'google', $change ) ) {
			$google   = $change['google'];
			$sets[]   = null === $google ? 'event_link = NULL' : 'event_link = %s';
			$sets[]   = 'event_id = %s';
			$values   = null === $google ? $values : array_merge( $values, array( esc_url_raw( (string) ( $google['html_link'] ?? '' ), array( 'https', 'http' ) ) ) );
			$values[] = null === $google ? '' : (string) ( $google['event_id'] ?? '' );
		}
		$values[] = $id;
		$values[] = (int) $change['revision'];
		$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET " . implode( ', ', $sets ) . ' WHERE booking_id = %s AND result_revision <= %d', $values ) ); // phpcs:ignore WordPress.DB.PreparedSQL
		// phpcs:enable
		return true;
	}

	/**
	 * Bookings with a change an admin has not seen yet, newest first.
	 *
	 * @param int $limit How many.
	 * @return array<int, array>
	 */
	public static function unseen_changes( int $limit = 10 ): array {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['bookings'];
		return (array) $wpdb->get_results( $wpdb->prepare( "SELECT * FROM {$table} WHERE change_seen = 0 ORDER BY change_at DESC, booking_id LIMIT %d", $limit ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * Mark changes as seen by an admin: those of the given bookings, or all.
	 *
	 * @param string[]|null $booking_ids Booking ids (null: every booking).
	 */
	public static function mark_changes_seen( ?array $booking_ids = null ): void {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['bookings'];
		if ( null === $booking_ids ) {
			$wpdb->query( "UPDATE {$table} SET change_seen = 1 WHERE change_seen = 0" ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
			return;
		}
		foreach ( $booking_ids as $booking_id ) {
			$wpdb->update( $table, array( 'change_seen' => 1 ), array( 'booking_id' => (string) $booking_id ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
		}
	}

	/**
	 * The join link of a booking, or ''.
	 *
	 * @param string $booking_id Booking id.
	 */
	public static function join_link( string $booking_id ): string {
		$row = self::get( $booking_id );
		return $row && 'synced' === $row['state'] && ! empty( $row['join_url'] ) ? (string) $row['join_url'] : '';
	}

	/**
	 * Bookings of a customer (by MeetBridge_Settings::customer_hash()), in booking id order.
	 *
	 * @param string $customer_hash Hash.
	 * @param int    $limit         How many.
	 * @param string $after         Only ids after this one.
	 * @param int    $offset        Rows to skip.
	 * @return array<int, array>
	 */
	public static function of_customer( string $customer_hash, int $limit, string $after = '', int $offset = 0 ): array {
		global $wpdb;
		if ( '' === $customer_hash ) {
			return array();
		}
		$table = MeetBridge_Schema::tables()['bookings'];
		return (array) $wpdb->get_results( $wpdb->prepare( "SELECT * FROM {$table} WHERE customer_hash = %s AND booking_id > %s ORDER BY booking_id LIMIT %d OFFSET %d", $customer_hash, $after, $limit, $offset ), ARRAY_A ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * Forget a booking (its MeetBridge data was erased).
	 *
	 * @param string $booking_id Booking id.
	 */
	public static function delete( string $booking_id ): void {
		global $wpdb;
		$wpdb->delete( MeetBridge_Schema::tables()['bookings'], array( 'booking_id' => $booking_id ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * Drop what a booking row says about the appointment (title, start, links, error, the times of the
	 * last change in Google Calendar or Zoom) and keep only what a later erasure needs: its id,
	 * revision, staff id and customer hash.
	 *
	 * @param string $booking_id Booking id.
	 */
	public static function scrub( string $booking_id ): void {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['bookings'];
		$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET title = '', starts_at = '', join_url = NULL, event_link = NULL, last_error = NULL, change_start = '', change_end = '', change_seen = 1, updated_at = %d WHERE booking_id = %s", time(), $booking_id ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
	}
}
