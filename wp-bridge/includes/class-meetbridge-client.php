<?php
/**
 * All HTTP to MeetBridge goes through here: signed requests, a timeout, no redirects, TLS verified,
 * `is_wp_error()` checked before the status code, and the CA bundle setting (MeetBridge_CA) when
 * MeetBridge's certificate comes from a private CA. `wp_safe_remote_request()` refuses local and
 * private hosts and ports other than 80, 443 and 8080; the `http_request_host_is_external` and
 * `http_allowed_safe_ports` filters below let through the one host (and port) the admin configured as
 * the service URL, and nothing else.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * A signed JSON client for one MeetBridge site.
 */
class MeetBridge_Client {

	const TIMEOUT = 10;

	/**
	 * Service base URL, without a trailing slash.
	 *
	 * @var string
	 */
	private string $base;

	/**
	 * Site id.
	 *
	 * @var string
	 */
	private string $site_id;

	/**
	 * Serialized secret.
	 *
	 * @var string
	 */
	private string $secret;

	/**
	 * Seconds before a request gives up.
	 *
	 * @var float
	 */
	private float $timeout;

	/**
	 * A client; by default for the configured settings.
	 *
	 * @param string|null $base    Service URL.
	 * @param string|null $site_id Site id.
	 * @param string|null $secret  Secret.
	 * @param float|null  $timeout Timeout in seconds.
	 */
	public function __construct( ?string $base = null, ?string $site_id = null, ?string $secret = null, ?float $timeout = null ) {
		$this->base    = untrailingslashit( $base ?? MeetBridge_Settings::service_url() );
		$this->site_id = $site_id ?? MeetBridge_Settings::site_id();
		$this->secret  = $secret ?? MeetBridge_Settings::secret();
		$this->timeout = (float) apply_filters( 'meetbridge_http_timeout', $timeout ?? self::TIMEOUT );
	}

	/**
	 * Filter `http_request_host_is_external`: the configured service host counts as external, so
	 * `wp_safe_remote_*` may reach it even when it resolves to a private address.
	 *
	 * @param bool   $external Current verdict.
	 * @param string $host     Host being requested.
	 * @return bool
	 */
	public static function allow_service_host( $external, $host ) {
		$service = MeetBridge_Settings::service_host();
		if ( '' !== $service && is_string( $host ) && strtolower( $host ) === $service ) {
			return true;
		}
		return $external;
	}

	/**
	 * Filter `http_allowed_safe_ports`: `wp_safe_remote_*` only allows ports 80, 443 and 8080; add the
	 * port of the configured service URL, for the service host only.
	 *
	 * @param int[]  $ports Allowed ports.
	 * @param string $host  Host being requested.
	 * @return int[]
	 */
	public static function allow_service_port( $ports, $host = '' ) {
		$port = wp_parse_url( MeetBridge_Settings::service_url(), PHP_URL_PORT );
		if ( is_int( $port ) && is_array( $ports ) && is_string( $host ) && strtolower( $host ) === MeetBridge_Settings::service_host() ) {
			$ports[] = $port;
		}
		return $ports;
	}

	/**
	 * The site's path prefix, `/v1/sites/{site_id}`.
	 */
	public function site_path(): string {
		return '/v1/sites/' . rawurlencode( $this->site_id );
	}

	/**
	 * POST a booking event with a given webhook id (stable across retries).
	 *
	 * @param string $body       Exact JSON body.
	 * @param string $webhook_id Message id.
	 * @return array See request().
	 */
	public function post_event( string $body, string $webhook_id ): array {
		return $this->request( 'POST', $this->site_path() . '/events', $body, $webhook_id );
	}

	/**
	 * Ask for a connect link.
	 *
	 * @param string $provider   `google` or `zoom`.
	 * @param string $staff_id   Staff id.
	 * @param string $return_url Where the browser comes back.
	 * @param string $staff_name The staff member's display name for the connect screen ('' for none);
	 *                           MeetBridge keeps it sealed for the link's 10 minutes only.
	 * @return array See request().
	 */
	public function connect_link( string $provider, string $staff_id, string $return_url, string $staff_name = '' ): array {
		$fields     = array(
			'provider'   => $provider,
			'staff_id'   => $staff_id,
			'return_url' => $return_url,
		);
		$staff_name = (string) preg_replace( array( '/[\x00-\x1f\x7f-\x9f]+/u', '/^\s+|\s+$/u' ), array( ' ', '' ), $staff_name );
		if ( '' !== $staff_name ) {
			$fields['staff_name'] = mb_substr( $staff_name, 0, 100 );
		}
		return $this->request( 'POST', $this->site_path() . '/connect-links', (string) wp_json_encode( $fields ) );
	}

	/**
	 * Linked accounts of the site.
	 *
	 * @return array See request().
	 */
	public function accounts(): array {
		return $this->request( 'GET', $this->site_path() . '/accounts' );
	}

	/**
	 * Unlink one account.
	 *
	 * @param string $provider Provider.
	 * @param string $staff_id Staff id.
	 * @return array See request().
	 */
	public function disconnect( string $provider, string $staff_id ): array {
		return $this->request( 'DELETE', $this->site_path() . '/accounts/' . rawurlencode( $provider ) . '/' . rawurlencode( $staff_id ) );
	}

	/**
	 * A booking's status at MeetBridge.
	 *
	 * @param string $booking_id Booking id.
	 * @return array See request().
	 */
	public function booking( string $booking_id ): array {
		return $this->request( 'GET', $this->site_path() . '/bookings/' . rawurlencode( $booking_id ) );
	}

	/**
	 * Erase a booking at MeetBridge: its Zoom meeting, its Google Calendar event and its records
	 * (`DELETE {site}/bookings/{id}`; 404 `unknown_booking` when MeetBridge holds nothing of it).
	 *
	 * @param string $booking_id Booking id.
	 * @return array See request().
	 */
	public function erase_booking( string $booking_id ): array {
		return $this->request( 'DELETE', $this->site_path() . '/bookings/' . rawurlencode( $booking_id ) );
	}

	/**
	 * When a staff member is busy: `GET {site}/availability?staff_id=…&from=…&to=…`, each value
	 * percent-encoded; the signature covers that path and query exactly as sent.
	 *
	 * @param string $staff_id Staff id.
	 * @param string $from     RFC 3339 (UTC, `Z`).
	 * @param string $to       RFC 3339 (UTC, `Z`).
	 * @return array See request().
	 */
	public function availability( string $staff_id, string $from, string $to ): array {
		$query = 'staff_id=' . rawurlencode( $staff_id ) . '&from=' . rawurlencode( $from ) . '&to=' . rawurlencode( $to );
		return $this->request( 'GET', $this->site_path() . '/availability?' . $query );
	}

	/**
	 * Change the site's settings at MeetBridge (`PUT {site}/settings`, signed over the JSON body), e.g.
	 * `array( 'external_delete' => 'cancel' )`; a 422 names the bad setting.
	 *
	 * @param array $settings Settings to change.
	 * @return array See request().
	 */
	public function put_settings( array $settings ): array {
		return $this->request( 'PUT', $this->site_path() . '/settings', (string) wp_json_encode( $settings ) );
	}

	/**
	 * One signed request.
	 *
	 * @param string      $method     HTTP method.
	 * @param string      $path       Path from the service root (with query, if any).
	 * @param string|null $body       JSON body for POST.
	 * @param string|null $webhook_id Message id (new one when null).
	 * @return array{ok: bool, status: int, body: array|null, error: string, date: string}
	 *     `ok` is true for a 2xx; `status` 0 and `error` set when the service could not be reached.
	 */
	public function request( string $method, string $path, ?string $body = null, ?string $webhook_id = null ): array {
		$result = array(
			'ok'     => false,
			'status' => 0,
			'body'   => null,
			'error'  => '',
			'date'   => '',
		);
		if ( '' === $this->base || '' === $this->site_id || '' === $this->secret ) {
			$result['error'] = __( 'MeetBridge is not configured: set the service URL, site id and secret.', 'meetbridge' );
			return $result;
		}
		$path    = MeetBridge_Signer::canonical_target( $path ); // Sent and signed in the same form.
		$payload = null === $body ? MeetBridge_Signer::request_line( $method, $path ) : $body;
		try {
			$headers = MeetBridge_Signer::headers( $this->secret, $webhook_id ?? MeetBridge_Signer::new_id(), time(), $payload );
		} catch ( InvalidArgumentException $e ) {
			$result['error'] = $e->getMessage();
			return $result;
		}
		$headers['Accept'] = 'application/json';
		$args              = array(
			'method'      => $method,
			'timeout'     => $this->timeout,
			'redirection' => 0,
			'headers'     => $headers,
			'user-agent'  => 'MeetBridge-WordPress/' . MEETBRIDGE_VERSION,
		);
		if ( null !== $body ) {
			$args['headers']['Content-Type'] = 'application/json';
			$args['body']                    = $body;
		}
		$ca_file = MeetBridge_CA::file();
		if ( is_wp_error( $ca_file ) ) {
			$result['error'] = $ca_file->get_error_message();
			return $result;
		}
		if ( '' !== $ca_file ) {
			$args['sslcertificates'] = $ca_file; // A private CA (MeetBridge → Settings → CA bundle).
		}
		$response = wp_safe_remote_request( $this->base . $path, $args );
		if ( is_wp_error( $response ) ) {
			$result['error'] = $response->get_error_message();
			return $result;
		}
		$result['status'] = (int) wp_remote_retrieve_response_code( $response );
		$result['ok']     = $result['status'] >= 200 && $result['status'] < 300;
		$result['date']   = (string) wp_remote_retrieve_header( $response, 'date' );
		$decoded          = json_decode( (string) wp_remote_retrieve_body( $response ), true );
		$result['body']   = is_array( $decoded ) ? $decoded : null;
		$retry_after      = wp_remote_retrieve_header( $response, 'retry-after' );
		if ( is_string( $retry_after ) && ctype_digit( $retry_after ) ) {
			$result['retry_after'] = (int) $retry_after;
		}
		if ( ! $result['ok'] ) {
			$code            = is_array( $result['body'] ) && isset( $result['body']['error'] ) ? (string) $result['body']['error'] : '';
			$message         = is_array( $result['body'] ) && isset( $result['body']['message'] ) ? (string) $result['body']['message'] : '';
			$result['error'] = trim( sprintf( 'HTTP %d %s %s', $result['status'], $code, $message ) );
		}
		return $result;
	}
}
