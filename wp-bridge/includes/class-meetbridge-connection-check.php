<?php
/**
 * "Test connection": one signed GET of a booking that does not exist. MeetBridge answering
 * 404 `unknown_booking` proves the URL, the site id, the secret and the TLS trust (the CA bundle
 * setting, if any) are all right; every other outcome is turned into a sentence that says what to fix.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Runs and explains the connection test.
 */
class MeetBridge_Connection_Check {

	const PROBE_BOOKING = 'meetbridge-connection-test';

	/**
	 * Run the test with the saved settings.
	 *
	 * @return array{ok: bool, message: string}
	 */
	public static function run(): array {
		if ( ! MeetBridge_Settings::is_configured() ) {
			return array(
				'ok'      => false,
				'message' => __( 'Fill in the service URL, the site id and the secret, save, then test again.', 'meetbridge' ),
			);
		}
		$ca = MeetBridge_CA::file();
		if ( is_wp_error( $ca ) ) {
			return array(
				'ok'      => false,
				/* translators: %s: what is wrong with the CA bundle. */
				'message' => sprintf( __( 'CA bundle: %s', 'meetbridge' ), $ca->get_error_message() ),
			);
		}
		$client = new MeetBridge_Client( null, null, null, 10.0 );
		return self::explain( $client->booking( self::PROBE_BOOKING ), time() );
	}

	/**
	 * Turn an answer into a verdict in plain words.
	 *
	 * @param array $answer MeetBridge_Client::request() result.
	 * @param int   $now    This server's clock.
	 * @return array{ok: bool, message: string}
	 */
	public static function explain( array $answer, int $now ): array {
		$status = (int) $answer['status'];
		$code   = is_array( $answer['body'] ) && isset( $answer['body']['error'] ) ? (string) $answer['body']['error'] : '';
		if ( 0 === $status && self::is_tls_error( (string) $answer['error'] ) ) {
			return array(
				'ok'      => false,
				/* translators: 1: service URL, 2: the TLS error, 3: which CAs are trusted. */
				'message' => sprintf( __( 'MeetBridge\'s TLS certificate at %1$s is not trusted: %2$s. Trusted now: %3$s If MeetBridge uses a private certificate authority, put its CA certificate (a PEM file path or the PEM text) in "CA bundle" and save.', 'meetbridge' ), MeetBridge_Settings::service_url(), $answer['error'], MeetBridge_CA::describe() ),
			);
		}
		if ( 0 === $status ) {
			return array(
				'ok'      => false,
				/* translators: 1: service URL, 2: the network error. */
				'message' => sprintf( __( 'MeetBridge is unreachable at %1$s: %2$s. Check the service URL, and that this server can reach it (DNS, firewall, TLS certificate).', 'meetbridge' ), MeetBridge_Settings::service_url(), $answer['error'] ),
			);
		}
		if ( 404 === $status && 'unknown_booking' === $code ) {
			$trust = '' === MeetBridge_Settings::ca_bundle() ? '' : ' ' . __( 'Its TLS certificate is trusted through the CA bundle.', 'meetbridge' );
			return array(
				'ok'      => true,
				'message' => __( 'Connected: MeetBridge accepted this site\'s signature. The service URL, site id and secret are right.', 'meetbridge' ) . $trust,
			);
		}
		if ( 404 === $status && 'unknown_site' === $code ) {
			return array(
				'ok'      => false,
				'message' => __( 'MeetBridge does not know this site id (or the secret does not belong to it). Copy both again from the output of "sites create".', 'meetbridge' ),
			);
		}
		if ( 401 === $status ) {
			$server = '' !== $answer['date'] ? strtotime( $answer['date'] ) : false;
			$skew   = false !== $server ? $now - $server : 0;
			if ( 'timestamp_out_of_tolerance' === $code || abs( $skew ) > MeetBridge_Signer::TOLERANCE ) {
				return array(
					'ok'      => false,
					/* translators: %d: seconds. */
					'message' => sprintf( __( 'Clock skew: this server\'s clock is %d seconds away from MeetBridge\'s, more than the 5 minutes signatures allow. Fix the server time (NTP).', 'meetbridge' ), abs( $skew ) ),
				);
			}
			return array(
				'ok'      => false,
				'message' => __( 'Wrong secret: MeetBridge rejected the signature. Paste the secret again (whsec_…); after a rotation use the new one.', 'meetbridge' ),
			);
		}
		if ( 404 === $status ) {
			return array(
				'ok'      => false,
				'message' => __( 'The service URL answers, but it is not MeetBridge\'s API (HTTP 404). Use the base URL, without a path.', 'meetbridge' ),
			);
		}
		return array(
			'ok'      => false,
			/* translators: %s: status and message. */
			'message' => sprintf( __( 'MeetBridge answered unexpectedly (%s). Try again in a minute; if it persists, tell MeetBridge\'s operator.', 'meetbridge' ), $answer['error'] ),
		);
	}

	/**
	 * Whether a network error is about TLS trust (an unknown CA, a name mismatch, an expired
	 * certificate) rather than reachability.
	 *
	 * @param string $error The transport's message.
	 */
	private static function is_tls_error( string $error ): bool {
		return (bool) preg_match( '/cURL error (35|51|58|60|77)\b|SSL certificate|certificate verify|self[- ]signed|unable to get local issuer/i', $error );
	}
}
