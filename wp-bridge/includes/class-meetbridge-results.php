<?php
/**
 * The REST route MeetBridge posts its results to: `POST /wp-json/meetbridge/v1/results`.
 *
 * The signature is checked on the raw body first (the site's secret, ±5 minutes, constant-time
 * comparison); a webhook-id already applied answers 200 without applying it again; then
 * `booking.synced` stores the join and event links, `booking.sync_failed` marks the booking failed
 * with the reason, `booking.cancelled` clears the join link and `account.needs_relink` raises an
 * admin notice. Unknown types are acknowledged and ignored, so MeetBridge can add new ones.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Receives signed results.
 */
class MeetBridge_Results {

	const NAMESPACE_V1 = 'meetbridge/v1';
	const INBOX_DAYS   = 7;

	/**
	 * Register the routes (results, and the outbox's loopback sender).
	 */
	public static function register_routes(): void {
		register_rest_route(
			self::NAMESPACE_V1,
			'/results',
			array(
				'methods'             => 'POST',
				'callback'            => array( __CLASS__, 'handle' ),
				'permission_callback' => array( __CLASS__, 'verify' ),
			)
		);
		register_rest_route(
			self::NAMESPACE_V1,
			'/outbox-run',
			array(
				'methods'             => 'POST',
				'callback'            => array( 'MeetBridge_Outbox', 'spawn_handler' ),
				'permission_callback' => array( 'MeetBridge_Outbox', 'spawn_allowed' ),
			)
		);
	}

	/**
	 * Permission callback: the Standard Webhooks signature with this site's secret.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return true|WP_Error
	 */
	public static function verify( $request ) {
		$checked = MeetBridge_Signer::verify(
			MeetBridge_Settings::secret(),
			(string) $request->get_header( 'webhook-id' ),
			(string) $request->get_header( 'webhook-timestamp' ),
			(string) $request->get_header( 'webhook-signature' ),
			(string) $request->get_body()
		);
		if ( is_wp_error( $checked ) ) {
			return new WP_Error( 'meetbridge_' . $checked->get_error_code(), $checked->get_error_message(), array( 'status' => 401 ) );
		}
		return true;
	}

	/**
	 * Apply one verified result.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function handle( $request ) {
		$message = json_decode( (string) $request->get_body(), true );
		if ( ! is_array( $message ) || ! isset( $message['type'] ) || ! is_string( $message['type'] ) ) {
			return new WP_Error( 'meetbridge_bad_body', 'the body must be a JSON object with a type', array( 'status' => 400 ) );
		}
		$data = isset( $message['data'] ) && is_array( $message['data'] ) ? $message['data'] : array();
		if ( 'booking.changed' === $message['type'] ) {
			$change = MeetBridge_Changes::validate( $data );
			if ( is_wp_error( $change ) ) {
				return $change;
			}
		}
		$webhook_id = (string) $request->get_header( 'webhook-id' );
		if ( ! self::remember( $webhook_id ) ) {
			return new WP_REST_Response( array( 'status' => 'duplicate' ), 200 );
		}
		try {
			$applied = self::apply( $message['type'], $data );
		} catch ( Throwable $e ) {
			self::forget( $webhook_id ); // Let MeetBridge's retry apply it.
			return new WP_Error( 'meetbridge_not_applied', 'the result could not be stored', array( 'status' => 500 ) );
		}
		do_action( 'meetbridge_result_received', $message['type'], $data );
		return new WP_REST_Response( array( 'status' => $applied ? 'applied' : 'ignored' ), 200 );
	}

	/**
	 * Apply a result by type.
	 *
	 * @param string $type Type.
	 * @param array  $data Data.
	 * @return bool Whether anything changed.
	 */
	public static function apply( string $type, array $data ): bool {
		switch ( $type ) {
			case 'booking.synced':
			case 'booking.sync_failed':
			case 'booking.cancelled':
				return MeetBridge_Bookings::apply_result( $type, $data );
			case 'account.needs_relink':
				return MeetBridge_Relink::add(
					isset( $data['provider'] ) ? (string) $data['provider'] : '',
					isset( $data['staff_id'] ) ? (string) $data['staff_id'] : '',
					isset( $data['reason'] ) ? (string) $data['reason'] : ''
				);
			case 'booking.changed':
				return MeetBridge_Changes::apply( $data );
			default:
				return false;
		}
	}

	/**
	 * Record a webhook-id; false when it was recorded before (a duplicate delivery).
	 *
	 * @param string $webhook_id Id.
	 */
	public static function remember( string $webhook_id ): bool {
		global $wpdb;
		$table = MeetBridge_Schema::tables()['inbox'];
		$rows  = $wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO {$table} (webhook_id, received_at) VALUES (%s, %d)", $webhook_id, time() ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		if ( wp_rand( 1, 100 ) === 1 ) {
			$wpdb->query( $wpdb->prepare( "DELETE FROM {$table} WHERE received_at < %d", time() - self::INBOX_DAYS * DAY_IN_SECONDS ) ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		}
		return 1 === $rows;
	}

	/**
	 * Forget a webhook-id (its result could not be applied).
	 *
	 * @param string $webhook_id Id.
	 */
	private static function forget( string $webhook_id ): void {
		global $wpdb;
		$wpdb->delete( MeetBridge_Schema::tables()['inbox'], array( 'webhook_id' => $webhook_id ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
	}
}
