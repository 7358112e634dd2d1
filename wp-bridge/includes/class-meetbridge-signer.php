<?php
/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com/, symmetric `v1`), the same scheme
 * MeetBridge's service/sites/webhooks.py signs and verifies.
 *
 * A request without a body signs the line `METHOD path[?query]` with the path in one canonical form,
 * the one MeetBridge verifies (service/sites/site_auth.py): every segment percent-encoded per RFC 3986
 * (`rawurlencode`), so a booking id `a:b` is `/bookings/a%3Ab`. The query is signed as sent.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Signs outgoing and verifies incoming messages.
 */
class MeetBridge_Signer {

	const TOLERANCE = 300;

	/**
	 * Decode `whsec_<base64>` into key bytes; null when it is not a valid secret.
	 *
	 * @param string $secret The serialized secret.
	 */
	public static function secret_bytes( string $secret ): ?string {
		$encoded = trim( $secret );
		if ( str_starts_with( $encoded, 'whsec_' ) ) {
			$encoded = substr( $encoded, 6 );
		}
		$encoded = rtrim( $encoded, '=' );
		if ( '' === $encoded || ! preg_match( '#^[A-Za-z0-9+/]+$#', $encoded ) ) {
			return null;
		}
		$padded = $encoded . str_repeat( '=', ( 4 - strlen( $encoded ) % 4 ) % 4 );
		$key    = base64_decode( $padded, true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_decode
		if ( false === $key || strlen( $key ) < 24 || strlen( $key ) > 64 ) {
			return null;
		}
		return $key;
	}

	/**
	 * A new message id: `msg_` and 32 hex digits.
	 */
	public static function new_id(): string {
		return 'msg_' . bin2hex( random_bytes( 16 ) );
	}

	/**
	 * Whether an id is acceptable: printable ASCII, no space or '.', 1 to 256 characters.
	 *
	 * @param string $id The webhook id.
	 */
	public static function valid_id( string $id ): bool {
		return '' !== $id && strlen( $id ) <= 256 && (bool) preg_match( '/^[\x21-\x7e]+$/', $id ) && ! str_contains( $id, '.' );
	}

	/**
	 * A request target (path and optional query) with its path in the canonical form: each segment
	 * decoded, then `rawurlencode`d (A-Z a-z 0-9 - . _ ~ kept, every other byte %XX). The query is kept
	 * as it is. The client sends and signs this same string.
	 *
	 * @param string $target Path from the service root, with a query if any.
	 */
	public static function canonical_target( string $target ): string {
		$parts    = explode( '?', $target, 2 );
		$segments = array_map( static fn( $segment ) => rawurlencode( rawurldecode( $segment ) ), explode( '/', $parts[0] ) );
		return implode( '/', $segments ) . ( isset( $parts[1] ) ? '?' . $parts[1] : '' );
	}

	/**
	 * The line a request without a body signs: `METHOD canonical-target`.
	 *
	 * @param string $method HTTP method.
	 * @param string $target Path from the service root, with a query if any.
	 */
	public static function request_line( string $method, string $target ): string {
		return strtoupper( $method ) . ' ' . self::canonical_target( $target );
	}

	/**
	 * One signature entry, `v1,<base64 HMAC-SHA256(key, "id.timestamp.payload")>`.
	 *
	 * @param string $key       Decoded secret.
	 * @param string $id        Webhook id.
	 * @param int    $timestamp Unix seconds.
	 * @param string $payload   Exact body (or the `METHOD path` line for bodiless requests).
	 */
	public static function sign( string $key, string $id, int $timestamp, string $payload ): string {
		return 'v1,' . base64_encode( hash_hmac( 'sha256', $id . '.' . $timestamp . '.' . $payload, $key, true ) ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
	}

	/**
	 * The three headers for an outgoing message.
	 *
	 * @param string $secret    Serialized secret (`whsec_…`).
	 * @param string $id        Webhook id, the same on every retry of one message.
	 * @param int    $timestamp Unix seconds of this attempt.
	 * @param string $payload   What is signed.
	 * @return array<string,string>
	 * @throws InvalidArgumentException When the secret or id is unusable.
	 */
	public static function headers( string $secret, string $id, int $timestamp, string $payload ): array {
		$key = self::secret_bytes( $secret );
		if ( null === $key ) {
			throw new InvalidArgumentException( 'The MeetBridge secret is not a valid whsec_ secret.' );
		}
		if ( ! self::valid_id( $id ) ) {
			throw new InvalidArgumentException( 'Invalid webhook id.' );
		}
		return array(
			'webhook-id'        => $id,
			'webhook-timestamp' => (string) $timestamp,
			'webhook-signature' => self::sign( $key, $id, $timestamp, $payload ),
		);
	}

	/**
	 * Verify a received message: headers present and well formed, timestamp within the tolerance of
	 * `$now`, and one `v1` entry matching (compared in constant time).
	 *
	 * @param string   $secret     Serialized secret.
	 * @param string   $id         `webhook-id` header.
	 * @param string   $timestamp  `webhook-timestamp` header.
	 * @param string   $signatures `webhook-signature` header (space-separated entries).
	 * @param string   $payload    Raw body.
	 * @param int|null $now        Clock, for tests.
	 * @return true|WP_Error
	 */
	public static function verify( string $secret, string $id, string $timestamp, string $signatures, string $payload, ?int $now = null ) {
		if ( '' === $id || '' === $timestamp || '' === $signatures ) {
			return new WP_Error( 'missing_headers', 'webhook-id, webhook-timestamp and webhook-signature are required' );
		}
		if ( ! self::valid_id( $id ) || ! preg_match( '/^[0-9]{1,12}$/', $timestamp ) ) {
			return new WP_Error( 'malformed_headers', 'malformed webhook-id or webhook-timestamp' );
		}
		$now = null === $now ? time() : $now;
		if ( abs( $now - (int) $timestamp ) > self::TOLERANCE ) {
			return new WP_Error( 'timestamp_out_of_tolerance', 'webhook-timestamp is more than 5 minutes from this server\'s clock' );
		}
		$key = self::secret_bytes( $secret );
		if ( null === $key ) {
			return new WP_Error( 'not_configured', 'no valid secret is configured' );
		}
		$expected = self::sign( $key, $id, (int) $timestamp, $payload );
		foreach ( preg_split( '/\s+/', trim( $signatures ) ) as $entry ) {
			if ( str_starts_with( $entry, 'v1,' ) && hash_equals( $expected, $entry ) ) {
				return true;
			}
		}
		return new WP_Error( 'bad_signature', 'no valid v1 signature for this message' );
	}
}
