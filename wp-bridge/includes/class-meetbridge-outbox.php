<?php
/**
 * The outbox: every booking event is stored here first and sent later, away from the request of
 * the person who booked, so MeetBridge being slow or down never slows a booking.
 *
 * Sending happens in a background request (a loopback POST written at shutdown of the request that
 * stored the event, without waiting for its answer) and in WP-Cron as the safety net. Each event keeps one webhook-id
 * for all its attempts, so MeetBridge's idempotency makes retries harmless. Within one booking the
 * events leave strictly in order: revision N+1 waits until N has been acknowledged or has failed for
 * good. A 2xx acknowledges; 429, 5xx and network errors are retried with backoff; any other 4xx
 * marks the event failed with the reason (shown on the MeetBridge page; "Retry now" sends it again).
 *
 * Privacy: an event's body (names, e-mails, title) is kept only until MeetBridge acknowledges it; the
 * row itself (ids, status, no personal data) is deleted once older than the retention setting (days),
 * and a failed row, body included, likewise (prune(), run by MeetBridge_Maintenance).
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The outbox table and its sender.
 */
class MeetBridge_Outbox {

	const HOOK       = 'meetbridge_outbox_run';
	const LOCK       = 'meetbridge_outbox';
	const BATCH      = 20;
	const MAX_SECONDS = 20;
	const BACKOFF    = array( 10, 30, 60, 120, 300, 600, 1800, 3600 );
	const PRUNE_BATCH = 500;

	/**
	 * Whether this request stored an event (then it spawns a sender at shutdown).
	 *
	 * @var bool
	 */
	private static bool $spawn_pending = false;

	/**
	 * Store one event to send.
	 *
	 * @param string $type       `booking.created`, `booking.updated` or `booking.cancelled`.
	 * @param array  $booking    The booking object as sent (with its revision).
	 * @return int The outbox row id.
	 */
	public static function enqueue( string $type, array $booking ): int {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['outbox'];
		$body  = (string) wp_json_encode(
			array(
				'type'    => $type,
				'booking' => $booking,
			),
			JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
		);
		$wpdb->insert( // phpcs:ignore WordPress.DB.DirectDatabaseQuery
			$table,
			array(
				'booking_id'      => (string) $booking['id'],
				'revision'        => (int) $booking['revision'],
				'event_type'      => $type,
				'webhook_id'      => MeetBridge_Signer::new_id(),
				'body'            => $body,
				'status'          => 'pending',
				'attempts'        => 0,
				'next_attempt_at' => time(),
				'created_at'      => time(),
			),
			array( '%s', '%d', '%s', '%s', '%s', '%s', '%d', '%d', '%d' )
		);
		self::$spawn_pending = true;
		if ( ! wp_next_scheduled( self::HOOK ) ) {
			wp_schedule_single_event( time(), self::HOOK );
		}
		return (int) $wpdb->insert_id;
	}

	/**
	 * Seconds to wait after the given number of failed attempts.
	 *
	 * @param int $attempts Failed attempts so far (1 after the first failure).
	 */
	public static function backoff( int $attempts ): int {
		$steps = self::BACKOFF;
		return $steps[ min( max( $attempts, 1 ), count( $steps ) ) - 1 ];
	}

	/**
	 * What to do with an answer: `ack`, `retry` or `fail`.
	 *
	 * @param array $answer A MeetBridge_Client::request() result.
	 */
	public static function verdict( array $answer ): string {
		$status = (int) $answer['status'];
		if ( $status >= 200 && $status < 300 ) {
			return 'ack';
		}
		if ( 0 === $status || 429 === $status || $status >= 500 || $status < 200 ) {
			return 'retry';
		}
		return 'fail';
	}

	/**
	 * Events due now, at most one per booking: the oldest pending one (so revisions leave in order).
	 *
	 * @param int      $limit How many.
	 * @param int|null $now   Clock.
	 * @return array<int, array>
	 */
	public static function due( int $limit = self::BATCH, ?int $now = null ): array {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['outbox'];
		$now   = $now ?? time();
		return (array) $wpdb->get_results( // phpcs:ignore WordPress.DB.DirectDatabaseQuery
			$wpdb->prepare(
				"SELECT o.* FROM {$table} o WHERE o.status = 'pending' AND o.next_attempt_at <= %d
				AND NOT EXISTS (SELECT 1 FROM {$table} p WHERE p.booking_id = o.booking_id AND p.status = 'pending' AND p.id < o.id)
				ORDER BY o.id LIMIT %d", // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
				$now,
				$limit
			),
			ARRAY_A
		);
	}

	/**
	 * Send everything that is due, for at most MAX_SECONDS, one sender at a time (a MySQL lock).
	 *
	 * @param MeetBridge_Client|null $client Client (tests pass their own).
	 * @return array{sent: int, retry: int, failed: int, locked: bool}
	 */
	public static function run( ?MeetBridge_Client $client = null ): array {
		global $wpdb;
		$stats = array(
			'sent'   => 0,
			'retry'  => 0,
			'failed' => 0,
			'locked' => false,
		);
		if ( ! MeetBridge_Settings::is_configured() && null === $client ) {
			// Requests skip spawning while a sender runs: this one is done, so the next event (sent
			// once the settings are complete) spawns a sender again.
			delete_option( MeetBridge_Settings::SPAWNED );
			return $stats;
		}
		$client   = $client ?? new MeetBridge_Client();
		$deadline = microtime( true ) + self::MAX_SECONDS;
		do {
			if ( '1' !== (string) $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, 0)', self::lock_name() ) ) ) { // phpcs:ignore WordPress.DB.DirectDatabaseQuery
				$stats['locked'] = true;
				return $stats;
			}
			try {
				do {
					$rows = self::due();
					foreach ( $rows as $row ) {
						++$stats[ self::send( $client, $row ) ];
						if ( microtime( true ) > $deadline ) {
							break 2;
						}
					}
				} while ( count( $rows ) > 0 );
			} finally {
				$wpdb->query( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', self::lock_name() ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
			}
			// Requests skip spawning while a sender runs; an event stored just before this line is
			// seen by the check below, one stored after it spawns a new sender.
			delete_option( MeetBridge_Settings::SPAWNED );
		} while ( microtime( true ) <= $deadline && count( self::due( 1 ) ) > 0 );
		self::schedule_next();
		MeetBridge_Maintenance::maybe_run();
		return $stats;
	}

	/**
	 * Send one event and record the outcome.
	 *
	 * @param MeetBridge_Client $client Client.
	 * @param array             $row    Outbox row.
	 * @return string `sent`, `retry` or `failed`.
	 */
	public static function send( MeetBridge_Client $client, array $row ): string {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['outbox'];
		if ( '' === (string) $row['body'] ) { // Never sent empty: a body is only dropped once acknowledged.
			$wpdb->update( $table, array( 'status' => 'sent' ), array( 'id' => (int) $row['id'] ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
			return 'sent';
		}
		$answer   = $client->post_event( (string) $row['body'], (string) $row['webhook_id'] );
		$verdict  = self::verdict( $answer );
		$attempts = (int) $row['attempts'] + 1;
		$update   = array(
			'attempts'    => $attempts,
			'last_status' => (int) $answer['status'],
			'last_error'  => 'ack' === $verdict ? null : self::describe( $answer ),
		);
		if ( 'ack' === $verdict ) {
			$update['status']  = 'sent';
			$update['sent_at'] = time();
			$update['body']    = ''; // Acknowledged: MeetBridge has it; nothing personal stays here.
			MeetBridge_Bookings::mark_accepted( (string) $row['booking_id'], (int) $row['revision'] );
		} elseif ( 'fail' === $verdict ) {
			$update['status'] = 'failed';
			MeetBridge_Bookings::mark_send_error( (string) $row['booking_id'], self::describe( $answer ), true );
		} else {
			$wait                      = max( self::backoff( $attempts ), isset( $answer['retry_after'] ) ? min( (int) $answer['retry_after'], 3600 ) : 0 );
			$update['next_attempt_at'] = time() + $wait;
			MeetBridge_Bookings::mark_send_error( (string) $row['booking_id'], self::describe( $answer ), false );
		}
		$wpdb->update( $table, $update, array( 'id' => (int) $row['id'] ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
		return array(
			'ack'   => 'sent',
			'fail'  => 'failed',
			'retry' => 'retry',
		)[ $verdict ];
	}

	/**
	 * Make everything pending due now, and send failed events again (same webhook-ids).
	 *
	 * @param bool $include_failed Also re-queue events that failed for good.
	 * @return int Events queued.
	 */
	public static function retry_now( bool $include_failed = true ): int {
		global $wpdb;
		$table    = MeetBridge_Schema::tables()['outbox'];
		$statuses = $include_failed ? "'pending', 'failed'" : "'pending'";
		$count    = $wpdb->query( $wpdb->prepare( "UPDATE {$table} SET status = 'pending', next_attempt_at = %d WHERE status IN ({$statuses})", time() ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		self::$spawn_pending = true;
		return (int) $count;
	}

	/**
	 * Re-queue events refused because of the settings (401 signature, 404 unknown site): called when
	 * the settings change, so fixing them sends the held-back events.
	 */
	public static function requeue_after_settings_change(): void {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['outbox'];
		$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET status = 'pending', next_attempt_at = %d WHERE status = 'failed' AND last_status IN (401, 404)", time() ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		$wpdb->query( $wpdb->prepare( "UPDATE {$table} SET next_attempt_at = %d WHERE status = 'pending'", time() ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		self::$spawn_pending = true;
	}

	/**
	 * Delete sent and failed rows older than the retention setting, oldest first, in batches, for at
	 * most `$budget` seconds. Pending rows (still owed to MeetBridge) are never deleted.
	 *
	 * @param int|null $now    Clock.
	 * @param float    $budget Seconds.
	 * @return int Rows deleted.
	 */
	public static function prune( ?int $now = null, float $budget = 2.0 ): int {
		global $wpdb;
		$table    = MeetBridge_Schema::tables()['outbox'];
		$cutoff   = ( $now ?? time() ) - MeetBridge_Settings::retention_days() * DAY_IN_SECONDS;
		$deadline = microtime( true ) + $budget;
		$deleted  = 0;
		do {
			$batch    = (int) $wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE status IN ('sent', 'failed') AND created_at < %d ORDER BY created_at LIMIT %d", $cutoff, self::PRUNE_BATCH ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
			$deleted += $batch;
		} while ( self::PRUNE_BATCH === $batch && microtime( true ) < $deadline );
		return $deleted;
	}

	/**
	 * Take the sender's lock (the same MySQL lock run() holds while it sends), waiting up to `$wait`
	 * seconds, so no event of a booking is in flight while its rows are deleted.
	 *
	 * @param int $wait Seconds.
	 */
	public static function lock( int $wait ): bool {
		global $wpdb;
		return '1' === (string) $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, %d)', self::lock_name(), $wait ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * Release the lock taken by lock().
	 */
	public static function unlock(): void {
		global $wpdb;
		$wpdb->query( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', self::lock_name() ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * Delete every row of a booking, pending ones included (its data is being erased). Call it holding
	 * lock().
	 *
	 * @param string $booking_id Booking id.
	 * @return int Rows deleted.
	 */
	public static function forget_booking( string $booking_id ): int {
		global $wpdb;
		return (int) $wpdb->delete( MeetBridge_Schema::tables()['outbox'], array( 'booking_id' => $booking_id ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * Rows of a booking still waiting to be sent.
	 *
	 * @param string $booking_id Booking id.
	 */
	public static function pending_count( string $booking_id ): int {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['outbox'];
		return (int) $wpdb->get_var( $wpdb->prepare( "SELECT COUNT(*) FROM {$table} WHERE booking_id = %s AND status = 'pending'", $booking_id ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
	}

	/**
	 * Counts by status.
	 *
	 * @return array<string, int>
	 */
	public static function counts(): array {
		global $wpdb;
		$table  = MeetBridge_Schema::tables()['outbox'];
		$counts = array(
			'pending' => 0,
			'sent'    => 0,
			'failed'  => 0,
		);
		foreach ( (array) $wpdb->get_results( "SELECT status, COUNT(*) AS n FROM {$table} GROUP BY status", ARRAY_A ) as $row ) { // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
			$counts[ $row['status'] ] = (int) $row['n'];
		}
		return $counts;
	}

	/**
	 * Keep a cron event for the earliest pending retry.
	 */
	public static function schedule_next(): void {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['outbox'];
		$next  = $wpdb->get_var( "SELECT MIN(next_attempt_at) FROM {$table} WHERE status = 'pending'" ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		if ( null === $next ) {
			return;
		}
		$scheduled = wp_next_scheduled( self::HOOK );
		if ( false === $scheduled || $scheduled > (int) $next ) {
			wp_clear_scheduled_hook( self::HOOK );
			wp_schedule_single_event( max( (int) $next, time() ), self::HOOK );
		}
	}

	/**
	 * At shutdown of a request that stored events: start a sender in the background. The loopback
	 * request is written to a socket that is closed at once, without waiting for any answer (an HTTP
	 * client with a 10 ms timeout would wait those 10 ms every time); the sender keeps running
	 * (`ignore_user_abort`). If the loopback cannot be opened, WP-Cron sends the events instead.
	 *
	 * @return bool Whether the loopback request was written.
	 */
	public static function spawn_at_shutdown(): bool {
		if ( ! self::$spawn_pending || ! apply_filters( 'meetbridge_spawn_sender', true ) ) {
			return false;
		}
		self::$spawn_pending = false;
		// One sender at a time: it keeps sending until nothing is due, so while it runs (or for a
		// little longer than its time budget, should it have died) requests need not start another.
		if ( (int) get_option( MeetBridge_Settings::SPAWNED, 0 ) > time() - ( self::MAX_SECONDS + 10 ) ) {
			return false;
		}
		update_option( MeetBridge_Settings::SPAWNED, time(), false );
		$url   = (string) apply_filters( 'meetbridge_spawn_url', rest_url( 'meetbridge/v1/outbox-run' ) );
		$parts = wp_parse_url( $url );
		if ( ! is_array( $parts ) || empty( $parts['host'] ) || ! in_array( $parts['scheme'] ?? '', array( 'http', 'https' ), true ) ) {
			return false;
		}
		$tls    = 'https' === $parts['scheme'];
		$port   = isset( $parts['port'] ) ? (int) $parts['port'] : ( $tls ? 443 : 80 );
		$verify = (bool) apply_filters( 'https_local_ssl_verify', false ); // The rule core's cron spawn uses for loopbacks.
		$socket = @stream_socket_client( // phpcs:ignore WordPress.PHP.NoSilencedErrors.Discouraged -- a refused loopback is expected to happen; cron covers it.
			( $tls ? 'ssl://' : 'tcp://' ) . $parts['host'] . ':' . $port,
			$errno,
			$errstr,
			1.0,
			STREAM_CLIENT_CONNECT,
			stream_context_create( array( 'ssl' => array( 'verify_peer' => $verify, 'verify_peer_name' => $verify ) ) )
		);
		if ( false === $socket ) {
			return false;
		}
		$time = time();
		$body = http_build_query( array( 't' => $time, 'key' => self::spawn_key( $time ) ) );
		$path = ( $parts['path'] ?? '/' ) . ( isset( $parts['query'] ) ? '?' . $parts['query'] : '' );
		$host = $parts['host'] . ( isset( $parts['port'] ) ? ':' . $parts['port'] : '' );
		$sent = fwrite( $socket, "POST {$path} HTTP/1.1\r\nHost: {$host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " . strlen( $body ) . "\r\nConnection: close\r\n\r\n{$body}" ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_fwrite
		fclose( $socket ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_fclose
		return false !== $sent;
	}

	/**
	 * The key a loopback sender request must carry (an HMAC with this site's salt, valid 60 s).
	 *
	 * @param int $time Unix seconds.
	 */
	public static function spawn_key( int $time ): string {
		return hash_hmac( 'sha256', 'meetbridge-outbox-run|' . $time, wp_salt( 'nonce' ) );
	}

	/**
	 * Permission callback of the loopback route.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return bool
	 */
	public static function spawn_allowed( $request ) {
		ignore_user_abort( true ); // The spawning request hangs up at once.
		$time = (int) $request->get_param( 't' );
		$key  = (string) $request->get_param( 'key' );
		return abs( time() - $time ) <= 60 && hash_equals( self::spawn_key( $time ), $key );
	}

	/**
	 * The loopback route: send what is due; keep going if the spawning request hangs up.
	 */
	public static function spawn_handler() {
		ignore_user_abort( true );
		$stats = self::run();
		return new WP_REST_Response( $stats, 200 );
	}

	/**
	 * The MySQL advisory lock's name (per database and table prefix).
	 */
	private static function lock_name(): string {
		global $wpdb;
		return self::LOCK . '_' . substr( md5( DB_NAME . '|' . $wpdb->prefix ), 0, 12 );
	}

	/**
	 * A short reason for the admin.
	 *
	 * @param array $answer Client result.
	 */
	private static function describe( array $answer ): string {
		if ( 0 === (int) $answer['status'] ) {
			/* translators: %s: the network error. */
			return sprintf( __( 'MeetBridge could not be reached: %s', 'meetbridge' ), $answer['error'] );
		}
		/* translators: %s: HTTP status, error code and message. */
		return sprintf( __( 'MeetBridge refused the event: %s', 'meetbridge' ), $answer['error'] );
	}
}
