<?php
/**
 * The plugin's options: the service URL, site id, CA bundle, outbox retention, Easy Appointments
 * sync mode, whether changes made in Google Calendar or Zoom are applied to Easy Appointments and
 * the delete policy last saved at MeetBridge (one autoloaded option), the signing secret (its own option, never autoloaded, never
 * printed back) and the privacy key (random, never autoloaded: it keys the customer hashes and the
 * join-link tokens), with their sanitizers.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Reads and sanitizes the plugin's settings.
 */
class MeetBridge_Settings {

	const OPTION                = 'meetbridge_settings';
	const SECRET                = 'meetbridge_secret';
	const RELINK                = 'meetbridge_relink';
	const DB_VERSION            = 'meetbridge_db_version';
	const SPAWNED               = 'meetbridge_sender_spawned';
	const AVAILABILITY_WARNINGS = 'meetbridge_availability_warnings';
	const PRIVACY_KEY           = 'meetbridge_privacy_key';
	const MAINTAINED            = 'meetbridge_maintained_at';
	const OPTION_NAMES          = array( self::OPTION, self::SECRET, self::RELINK, self::DB_VERSION, self::SPAWNED, self::AVAILABILITY_WARNINGS, self::PRIVACY_KEY, self::MAINTAINED );

	const DEFAULT_RETENTION_DAYS = 7;
	const MAX_RETENTION_DAYS     = 90;
	const EA_SYNC_MODES          = array( 'confirmed', 'pending' );
	const EXTERNAL_DELETE        = array( 'report', 'cancel', 'recreate' );

	/**
	 * One value of the main option.
	 *
	 * @param string $key     Key.
	 * @param mixed  $default Value when it is not set.
	 * @return mixed
	 */
	private static function value( string $key, $default ) {
		$settings = get_option( self::OPTION, array() );
		return is_array( $settings ) && isset( $settings[ $key ] ) ? $settings[ $key ] : $default;
	}

	/**
	 * Days a sent or failed outbox row is kept (its body only until MeetBridge acknowledged it).
	 */
	public static function retention_days(): int {
		$days = (int) self::value( 'retention_days', self::DEFAULT_RETENTION_DAYS );
		return $days >= 1 && $days <= self::MAX_RETENTION_DAYS ? $days : self::DEFAULT_RETENTION_DAYS;
	}

	/**
	 * Which Easy Appointments appointments get a meeting: `confirmed` (only once confirmed, the
	 * default) or `pending` (pending ones too).
	 */
	public static function ea_sync_on(): string {
		$mode = (string) self::value( 'ea_sync', 'confirmed' );
		return in_array( $mode, self::EA_SYNC_MODES, true ) ? $mode : 'confirmed';
	}

	/**
	 * Whether changes staff make in Google Calendar or Zoom move or cancel the Easy Appointments
	 * appointment (off by default: they are only reported).
	 */
	public static function ea_apply_changes(): bool {
		return true === self::value( 'ea_apply_changes', false );
	}

	/**
	 * What MeetBridge does when a staff member deletes a booking's Zoom meeting or calendar event
	 * (`report`, the default; `cancel`; `recreate`), as last saved at MeetBridge from this site.
	 */
	public static function external_delete(): string {
		$policy = (string) self::value( 'external_delete', 'report' );
		return in_array( $policy, self::EXTERNAL_DELETE, true ) ? $policy : 'report';
	}

	/**
	 * The CA bundle setting as entered: '' (the system's CAs), a file path or PEM text.
	 */
	public static function ca_bundle(): string {
		return (string) self::value( 'ca_bundle', '' );
	}

	/**
	 * The site's privacy key (64 hex digits), made on first use. It keys the customer hashes (so
	 * bookings can be found by e-mail without storing one) and the join-link tokens.
	 */
	public static function privacy_key(): string {
		$key = (string) get_option( self::PRIVACY_KEY, '' );
		if ( ! preg_match( '/^[0-9a-f]{64}$/', $key ) ) {
			$key = bin2hex( random_bytes( 32 ) );
			if ( ! add_option( self::PRIVACY_KEY, $key, '', 'no' ) ) {
				update_option( self::PRIVACY_KEY, $key, false );
			}
		}
		return $key;
	}

	/**
	 * A keyed hash of a customer's e-mail address (lower case, trimmed), or '' for none.
	 *
	 * @param string $email E-mail address.
	 */
	public static function customer_hash( string $email ): string {
		$email = strtolower( trim( $email ) );
		return '' === $email ? '' : hash_hmac( 'sha256', 'customer|' . $email, self::privacy_key() );
	}

	/**
	 * The configured service URL (no trailing slash), or '' when not set.
	 */
	public static function service_url(): string {
		$settings = get_option( self::OPTION, array() );
		return is_array( $settings ) && isset( $settings['service_url'] ) ? (string) $settings['service_url'] : '';
	}

	/**
	 * The configured site id, or ''.
	 */
	public static function site_id(): string {
		$settings = get_option( self::OPTION, array() );
		return is_array( $settings ) && isset( $settings['site_id'] ) ? (string) $settings['site_id'] : '';
	}

	/**
	 * The stored signing secret (`whsec_…`), or ''.
	 */
	public static function secret(): string {
		return (string) get_option( self::SECRET, '' );
	}

	/**
	 * Whether URL, site id and secret are all set.
	 */
	public static function is_configured(): bool {
		return '' !== self::service_url() && '' !== self::site_id() && '' !== self::secret();
	}

	/**
	 * The host of the service URL, lower case, or ''.
	 */
	public static function service_host(): string {
		$host = wp_parse_url( self::service_url(), PHP_URL_HOST );
		return is_string( $host ) ? strtolower( $host ) : '';
	}

	/**
	 * Sanitize callback of `meetbridge_settings`: an https URL and a site id; a bad value keeps the
	 * stored one and says why.
	 *
	 * @param mixed $input The submitted array.
	 * @return array The settings to store.
	 */
	public static function sanitize_settings( $input ): array {
		$old    = get_option( self::OPTION, array() );
		$old    = is_array( $old ) ? $old : array();
		$input  = is_array( $input ) ? $input : array();
		$result = array(
			'service_url'    => isset( $old['service_url'] ) ? (string) $old['service_url'] : '',
			'site_id'        => isset( $old['site_id'] ) ? (string) $old['site_id'] : '',
			'ca_bundle'      => isset( $old['ca_bundle'] ) ? (string) $old['ca_bundle'] : '',
			'retention_days' => isset( $old['retention_days'] ) ? (int) $old['retention_days'] : self::DEFAULT_RETENTION_DAYS,
			'ea_sync'        => isset( $old['ea_sync'] ) ? (string) $old['ea_sync'] : 'confirmed',
		);
		if ( isset( $old['ea_apply_changes'] ) ) {
			$result['ea_apply_changes'] = true === $old['ea_apply_changes'];
		}
		if ( isset( $old['external_delete'] ) ) {
			$result['external_delete'] = (string) $old['external_delete'];
		}

		$url = isset( $input['service_url'] ) ? trim( sanitize_text_field( (string) $input['service_url'] ) ) : '';
		if ( '' === $url ) {
			$result['service_url'] = '';
		} elseif ( self::valid_service_url( $url ) ) {
			$result['service_url'] = untrailingslashit( esc_url_raw( $url, array( 'https' ) ) );
		} else {
			self::error( 'service_url', __( 'The service URL must be an https:// address, such as https://meetbridge.example.com.', 'meetbridge' ) );
		}

		$site_id = isset( $input['site_id'] ) ? trim( sanitize_text_field( (string) $input['site_id'] ) ) : '';
		if ( '' === $site_id || preg_match( '/^[A-Za-z0-9_-]{1,64}$/', $site_id ) ) {
			$result['site_id'] = $site_id;
		} else {
			self::error( 'site_id', __( 'The site id may only contain letters, digits, "_" and "-" (as printed by "sites create").', 'meetbridge' ) );
		}

		if ( array_key_exists( 'ca_bundle', $input ) ) {
			$ca    = trim( str_replace( "\r\n", "\n", (string) $input['ca_bundle'] ) );
			$valid = '' === $ca ? true : MeetBridge_CA::validate( $ca );
			if ( true === $valid ) {
				$result['ca_bundle'] = $ca;
			} else {
				self::error( 'ca_bundle', $valid->get_error_message() );
			}
		}
		if ( array_key_exists( 'retention_days', $input ) ) {
			$days = is_numeric( $input['retention_days'] ) ? (int) $input['retention_days'] : 0;
			if ( $days >= 1 && $days <= self::MAX_RETENTION_DAYS && (string) $days === trim( (string) $input['retention_days'] ) ) {
				$result['retention_days'] = $days;
			} else {
				/* translators: %d: the largest number of days. */
				self::error( 'retention_days', sprintf( __( 'Keep sent events for 1 to %d days.', 'meetbridge' ), self::MAX_RETENTION_DAYS ) );
			}
		}
		if ( array_key_exists( 'ea_sync', $input ) ) {
			$mode = sanitize_key( (string) $input['ea_sync'] );
			if ( in_array( $mode, self::EA_SYNC_MODES, true ) ) {
				$result['ea_sync'] = $mode;
			} else {
				self::error( 'ea_sync', __( 'Choose when Easy Appointments appointments get a meeting.', 'meetbridge' ) );
			}
		}
		if ( array_key_exists( 'ea_apply_changes', $input ) ) {
			$result['ea_apply_changes'] = in_array( $input['ea_apply_changes'], array( true, 1, '1', 'on' ), true );
		}
		if ( array_key_exists( 'external_delete', $input ) ) {
			$result = self::sanitize_external_delete( sanitize_key( (string) $input['external_delete'] ), $result );
		}
		return $result;
	}

	/**
	 * The delete policy is MeetBridge's setting: a new choice is saved there first (a signed
	 * `PUT {site}/settings` with `external_delete`, to the service URL and site id being saved) and kept
	 * here only once MeetBridge took it; otherwise the stored one stays and the page says why.
	 *
	 * @param string $policy The chosen policy.
	 * @param array  $result The settings being saved.
	 * @return array The settings to store.
	 */
	private static function sanitize_external_delete( string $policy, array $result ): array {
		if ( ! in_array( $policy, self::EXTERNAL_DELETE, true ) ) {
			self::error( 'external_delete', __( 'Choose what happens when a meeting is deleted in Google Calendar or Zoom.', 'meetbridge' ) );
			return $result;
		}
		if ( $policy === ( $result['external_delete'] ?? 'report' ) ) {
			return $result;
		}
		$answer = ( new MeetBridge_Client( $result['service_url'], $result['site_id'] ) )->put_settings( array( 'external_delete' => $policy ) );
		if ( $answer['ok'] ) {
			$result['external_delete'] = $policy;
		} else {
			/* translators: %s: the error. */
			self::error( 'external_delete', sprintf( __( 'MeetBridge did not save what happens when a meeting is deleted in Google Calendar or Zoom (%s); the previous choice stays.', 'meetbridge' ), $answer['error'] ) );
		}
		return $result;
	}

	/**
	 * Sanitize callback of `meetbridge_secret`: an empty field keeps the stored secret; a value must
	 * be a Standard Webhooks secret (`whsec_` + base64 of 24 to 64 bytes).
	 *
	 * @param mixed $input The submitted secret.
	 * @return string The secret to store.
	 */
	public static function sanitize_secret( $input ): string {
		$old    = (string) get_option( self::SECRET, '' );
		$secret = is_string( $input ) ? trim( $input ) : '';
		if ( '' === $secret ) {
			return $old;
		}
		if ( null === MeetBridge_Signer::secret_bytes( $secret ) ) {
			self::error( 'secret', __( 'The secret must look like whsec_… (as printed by "sites create"). The stored secret was kept.', 'meetbridge' ) );
			return $old;
		}
		return $secret;
	}

	/**
	 * Whether a URL is an absolute https URL with a host.
	 *
	 * @param string $url The URL.
	 */
	public static function valid_service_url( string $url ): bool {
		$parts = wp_parse_url( $url );
		return is_array( $parts ) && isset( $parts['scheme'], $parts['host'] ) && 'https' === strtolower( $parts['scheme'] )
			&& ! isset( $parts['query'] ) && ! isset( $parts['fragment'] ) && ! isset( $parts['user'] );
	}

	/**
	 * Report a settings error when the Settings API is loaded (it is not in every context).
	 *
	 * @param string $code    Error code.
	 * @param string $message Message.
	 */
	private static function error( string $code, string $message ): void {
		if ( function_exists( 'add_settings_error' ) ) {
			add_settings_error( self::OPTION, 'meetbridge_' . $code, $message );
		}
	}
}
