<?php
/**
 * The plugin's three tables: bookings (sync state, links, a keyed hash of the customer's e-mail for
 * the privacy tools, the last event sent, the latest change a staff member made in Google Calendar or
 * Zoom: kind, provider, new times, MeetBridge's state, sequence, when, whether an admin saw it), outbox (signed events to send; a body is kept only until
 * MeetBridge acknowledges it, rows only for the retention days) and inbox (webhook ids of results
 * already applied).
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Creates, upgrades and drops the tables.
 */
class MeetBridge_Schema {

	const VERSION = '3';

	/**
	 * Table names with the site's prefix.
	 *
	 * @return array{bookings: string, outbox: string, inbox: string}
	 */
	public static function tables(): array {
		global $wpdb;
		return array(
			'bookings' => $wpdb->prefix . 'meetbridge_bookings',
			'outbox'   => $wpdb->prefix . 'meetbridge_outbox',
			'inbox'    => $wpdb->prefix . 'meetbridge_inbox',
		);
	}

	/**
	 * Create or upgrade the tables (dbDelta), once per schema version.
	 */
	public static function install(): void {
		global $wpdb;
		$installed = get_option( MeetBridge_Settings::DB_VERSION );
		if ( self::VERSION === $installed ) {
			return;
		}
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		$t       = self::tables();
		$charset = $wpdb->get_charset_collate();
		dbDelta(
			"CREATE TABLE {$t['bookings']} (
  booking_id varchar(64) NOT NULL,
  revision bigint(20) unsigned NOT NULL DEFAULT 0,
  result_revision bigint(20) unsigned NOT NULL DEFAULT 0,
  state varchar(20) NOT NULL DEFAULT 'queued',
  title varchar(200) NOT NULL DEFAULT '',
  staff_id varchar(64) NOT NULL DEFAULT '',
  starts_at varchar(40) NOT NULL DEFAULT '',
  meeting_id varchar(64) NOT NULL DEFAULT '',
  join_url text NULL,
  event_id varchar(1024) NOT NULL DEFAULT '',
  event_link text NULL,
  last_error text NULL,
  customer_hash char(64) NOT NULL DEFAULT '',
  last_event varchar(32) NOT NULL DEFAULT '',
  updated_at bigint(20) unsigned NOT NULL DEFAULT 0,
  change_sequence bigint(20) unsigned NOT NULL DEFAULT 0,
  change_kind varchar(20) NOT NULL DEFAULT '',
  change_provider varchar(20) NOT NULL DEFAULT '',
  change_start varchar(40) NOT NULL DEFAULT '',
  change_end varchar(40) NOT NULL DEFAULT '',
  change_state varchar(20) NOT NULL DEFAULT '',
  change_at bigint(20) unsigned NOT NULL DEFAULT 0,
  change_seen tinyint(1) unsigned NOT NULL DEFAULT 1,
  PRIMARY KEY  (booking_id),
  KEY updated_at (updated_at),
  KEY customer_hash (customer_hash),
  KEY change_seen (change_seen)
) $charset;
CREATE TABLE {$t['outbox']} (
  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  booking_id varchar(64) NOT NULL,
  revision bigint(20) unsigned NOT NULL,
  event_type varchar(32) NOT NULL,
  webhook_id varchar(64) NOT NULL,
  body longtext NOT NULL,
  status varchar(16) NOT NULL DEFAULT 'pending',
  attempts int(10) unsigned NOT NULL DEFAULT 0,
  next_attempt_at bigint(20) unsigned NOT NULL DEFAULT 0,
  last_status int(10) NOT NULL DEFAULT 0,
  last_error text NULL,
  created_at bigint(20) unsigned NOT NULL DEFAULT 0,
  sent_at bigint(20) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY  (id),
  UNIQUE KEY webhook_id (webhook_id),
  KEY due (status,next_attempt_at),
  KEY booking (booking_id,status,id),
  KEY prune (status,created_at)
) $charset;
CREATE TABLE {$t['inbox']} (
  webhook_id varchar(255) NOT NULL,
  received_at bigint(20) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY  (webhook_id),
  KEY received_at (received_at)
) $charset;"
		);
		if ( '1' === $installed ) {
			self::from_1();
		}
		// Schema 2 → 3: dbDelta adds the change_* columns; existing rows have no change to show.
		update_option( MeetBridge_Settings::DB_VERSION, self::VERSION, false );
	}

	/**
	 * Upgrade the data of schema 1: each booking's last event and customer hash from its newest
	 * outbox row, then the bodies MeetBridge already acknowledged are dropped.
	 */
	private static function from_1(): void {
		global $wpdb;
		$t = self::tables();
		// phpcs:disable WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		$wpdb->query( "UPDATE {$t['bookings']} b SET b.last_event = COALESCE( ( SELECT o.event_type FROM {$t['outbox']} o WHERE o.booking_id = b.booking_id ORDER BY o.id DESC LIMIT 1 ), '' )" );
		$rows = $wpdb->get_results( "SELECT o.booking_id, o.body FROM {$t['outbox']} o WHERE o.event_type <> 'booking.cancelled' AND o.id = ( SELECT MAX( p.id ) FROM {$t['outbox']} p WHERE p.booking_id = o.booking_id AND p.event_type <> 'booking.cancelled' )", ARRAY_A );
		foreach ( (array) $rows as $row ) {
			$body  = json_decode( (string) $row['body'], true );
			$email = is_array( $body ) && isset( $body['booking']['customer']['email'] ) ? (string) $body['booking']['customer']['email'] : '';
			if ( '' !== $email ) {
				$wpdb->update( $t['bookings'], array( 'customer_hash' => MeetBridge_Settings::customer_hash( $email ) ), array( 'booking_id' => $row['booking_id'] ) );
			}
		}
		$wpdb->query( "UPDATE {$t['outbox']} SET body = '' WHERE status = 'sent'" );
		// phpcs:enable
	}

	/**
	 * Drop the tables (uninstall only).
	 */
	public static function drop(): void {
		global $wpdb;
		foreach ( self::tables() as $table ) {
			$wpdb->query( "DROP TABLE IF EXISTS {$table}" ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.DirectDatabaseQuery
		}
	}
}
