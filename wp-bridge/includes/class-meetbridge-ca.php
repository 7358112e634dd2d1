<?php
/**
 * The CA bundle setting: which certificate authorities the client trusts for MeetBridge's TLS
 * certificate, for a MeetBridge behind a private CA. Empty means the system's (WordPress's) CAs.
 *
 * The setting is either the absolute path of a PEM file readable by PHP, or PEM text pasted into the
 * settings page. WordPress's HTTP API takes a file (`sslcertificates`), so pasted PEM is written once
 * to `wp-content/uploads/meetbridge/ca-{hash}.pem` (certificates are public; the folder is made
 * unlistable) and written again if that file goes missing. Only requests to MeetBridge use it.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Reads, checks and describes the CA bundle.
 */
class MeetBridge_CA {

	const MAX_BYTES = 512 * 1024;

	/**
	 * Whether a setting value is PEM text (rather than a path).
	 *
	 * @param string $value Setting value.
	 */
	public static function is_pem( string $value ): bool {
		return str_contains( $value, '-----BEGIN CERTIFICATE-----' );
	}

	/**
	 * The certificates of a PEM text, each as `openssl_x509_parse()` reads it; empty when none parses.
	 *
	 * @param string $pem PEM text.
	 * @return array<int, array>
	 */
	public static function certificates( string $pem ): array {
		preg_match_all( '/-----BEGIN CERTIFICATE-----[A-Za-z0-9+\/=\s]+-----END CERTIFICATE-----/', $pem, $blocks );
		$parsed = array();
		foreach ( $blocks[0] as $block ) {
			$cert = function_exists( 'openssl_x509_parse' ) ? openssl_x509_parse( $block ) : false;
			if ( is_array( $cert ) ) {
				$parsed[] = $cert;
			}
		}
		return $parsed;
	}

	/**
	 * Check a setting value: a readable PEM file or PEM text with at least one certificate, and no
	 * private key.
	 *
	 * @param string $value Path or PEM text.
	 * @return true|WP_Error
	 */
	public static function validate( string $value ) {
		$pem = self::pem( $value );
		if ( is_wp_error( $pem ) ) {
			return $pem;
		}
		if ( str_contains( $pem, 'PRIVATE KEY-----' ) ) {
			return new WP_Error( 'meetbridge_ca_private_key', __( 'The CA bundle contains a private key. Paste only the CA certificate (-----BEGIN CERTIFICATE-----).', 'meetbridge' ) );
		}
		if ( array() === self::certificates( $pem ) ) {
			return new WP_Error( 'meetbridge_ca_no_certificate', __( 'The CA bundle holds no readable certificate: give the path of a PEM file, or paste the certificate (-----BEGIN CERTIFICATE----- …).', 'meetbridge' ) );
		}
		return true;
	}

	/**
	 * The PEM text of a setting value (read from the file for a path).
	 *
	 * @param string $value Path or PEM text.
	 * @return string|WP_Error
	 */
	public static function pem( string $value ) {
		if ( self::is_pem( $value ) ) {
			return $value;
		}
		if ( ! str_starts_with( $value, '/' ) && ! preg_match( '#^[A-Za-z]:[\\\\/]#', $value ) ) {
			return new WP_Error( 'meetbridge_ca_not_absolute', __( 'The CA bundle must be the absolute path of a PEM file (such as /etc/ssl/meetbridge-ca.pem) or the PEM text itself.', 'meetbridge' ) );
		}
		if ( ! is_file( $value ) || ! is_readable( $value ) || filesize( $value ) > self::MAX_BYTES ) {
			/* translators: %s: file path. */
			return new WP_Error( 'meetbridge_ca_unreadable', sprintf( __( 'The CA bundle file %s cannot be read by WordPress.', 'meetbridge' ), $value ) );
		}
		return (string) file_get_contents( $value ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_get_contents_file_get_contents -- a local file.
	}

	/**
	 * The file to hand to WordPress's HTTP API for the configured bundle, '' when none is configured.
	 *
	 * @return string|WP_Error
	 */
	public static function file() {
		$value = MeetBridge_Settings::ca_bundle();
		if ( '' === $value ) {
			return '';
		}
		if ( ! self::is_pem( $value ) ) {
			return is_readable( $value ) ? $value : self::pem( $value );
		}
		$uploads = wp_upload_dir( null, false );
		$folder  = trailingslashit( $uploads['basedir'] ) . 'meetbridge';
		$file    = $folder . '/ca-' . substr( hash( 'sha256', $value ), 0, 16 ) . '.pem';
		if ( is_readable( $file ) ) {
			return $file;
		}
		if ( ! wp_mkdir_p( $folder ) || false === file_put_contents( $file, $value . "\n" ) ) { // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_file_put_contents
			/* translators: %s: folder. */
			return new WP_Error( 'meetbridge_ca_unwritable', sprintf( __( 'The pasted CA bundle could not be written to %s; give the path of a PEM file instead.', 'meetbridge' ), $folder ) );
		}
		if ( ! file_exists( $folder . '/index.php' ) ) {
			file_put_contents( $folder . '/index.php', "<?php\n// Silence is golden.\n" ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_file_put_contents
		}
		return $file;
	}

	/**
	 * In words, which CAs are trusted: "the system's CAs", or each certificate's subject and expiry.
	 */
	public static function describe(): string {
		$value = MeetBridge_Settings::ca_bundle();
		if ( '' === $value ) {
			return __( 'The system\'s certificate authorities (WordPress\'s bundle).', 'meetbridge' );
		}
		$pem = self::pem( $value );
		if ( is_wp_error( $pem ) ) {
			return $pem->get_error_message();
		}
		$names = array();
		foreach ( self::certificates( $pem ) as $cert ) {
			$subject = isset( $cert['subject'] ) && is_array( $cert['subject'] ) ? $cert['subject'] : array();
			$name    = isset( $subject['CN'] ) ? (string) ( is_array( $subject['CN'] ) ? reset( $subject['CN'] ) : $subject['CN'] ) : __( '(no common name)', 'meetbridge' );
			/* translators: 1: certificate name, 2: expiry date. */
			$names[] = sprintf( __( '%1$s (valid until %2$s)', 'meetbridge' ), $name, gmdate( 'Y-m-d', (int) ( $cert['validTo_time_t'] ?? 0 ) ) );
		}
		/* translators: %s: list of certificates. */
		return sprintf( __( 'Only: %s.', 'meetbridge' ), implode( ', ', $names ) );
	}
}
