<?php
/**
 * MeetBridge → Settings: service URL, site id, secret (Settings API), and "Test connection".
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The settings page.
 */
class MeetBridge_Settings_Page {

	const GROUP = 'meetbridge';
	const PAGE  = 'meetbridge-settings';

	/**
	 * Settings API registration.
	 */
	public static function register(): void {
		register_setting(
			self::GROUP,
			MeetBridge_Settings::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( 'MeetBridge_Settings', 'sanitize_settings' ),
				'default'           => array(
					'service_url' => '',
					'site_id'     => '',
				),
			)
		);
		register_setting(
			self::GROUP,
			MeetBridge_Settings::SECRET,
			array(
				'type'              => 'string',
				'sanitize_callback' => array( 'MeetBridge_Settings', 'sanitize_secret' ),
				'default'           => '',
			)
		);
		add_settings_section( 'meetbridge_service', __( 'MeetBridge service', 'meetbridge' ), array( __CLASS__, 'section_intro' ), self::PAGE );
		add_settings_field( 'meetbridge_service_url', __( 'Service URL', 'meetbridge' ), array( __CLASS__, 'field_service_url' ), self::PAGE, 'meetbridge_service', array( 'label_for' => 'meetbridge_service_url' ) );
		add_settings_field( 'meetbridge_site_id', __( 'Site id', 'meetbridge' ), array( __CLASS__, 'field_site_id' ), self::PAGE, 'meetbridge_service', array( 'label_for' => 'meetbridge_site_id' ) );
		add_settings_field( 'meetbridge_secret', __( 'Secret', 'meetbridge' ), array( __CLASS__, 'field_secret' ), self::PAGE, 'meetbridge_service', array( 'label_for' => 'meetbridge_secret' ) );
	}

	/**
	 * Section text.
	 */
	public static function section_intro(): void {
		echo '<p>' . esc_html__( 'Paste what the MeetBridge operator gave you for this site. The secret signs everything this site sends; it is stored but never shown again.', 'meetbridge' ) . '</p>';
	}

	/**
	 * Service URL field.
	 */
	public static function field_service_url(): void {
		printf(
			'<input type="url" class="regular-text code" id="meetbridge_service_url" name="%s[service_url]" value="%s" placeholder="https://meetbridge.example.com">',
			esc_attr( MeetBridge_Settings::OPTION ),
			esc_attr( MeetBridge_Settings::service_url() )
		);
	}

	/**
	 * Site id field.
	 */
	public static function field_site_id(): void {
		printf(
			'<input type="text" class="regular-text code" id="meetbridge_site_id" name="%s[site_id]" value="%s" autocomplete="off">',
			esc_attr( MeetBridge_Settings::OPTION ),
			esc_attr( MeetBridge_Settings::site_id() )
		);
	}

	/**
	 * Secret field: always empty; says whether one is stored.
	 */
	public static function field_secret(): void {
		$stored = '' !== MeetBridge_Settings::secret();
		printf(
			'<input type="password" class="regular-text code" id="meetbridge_secret" name="%s" value="" autocomplete="new-password" placeholder="%s">',
			esc_attr( MeetBridge_Settings::SECRET ),
			esc_attr( $stored ? __( 'stored — leave empty to keep it', 'meetbridge' ) : 'whsec_…' )
		);
		echo '<p class="description">' . ( $stored ? esc_html__( 'A secret is stored. Enter a new one only to replace it.', 'meetbridge' ) : esc_html__( 'No secret stored yet.', 'meetbridge' ) ) . '</p>';
	}

	/**
	 * The page.
	 */
	public static function render(): void {
		if ( ! current_user_can( MeetBridge_Admin::CAPABILITY ) ) {
			return;
		}
		echo '<div class="wrap"><h1>' . esc_html__( 'MeetBridge settings', 'meetbridge' ) . '</h1>';
		settings_errors();
		echo '<form method="post" action="options.php">';
		settings_fields( self::GROUP );
		do_settings_sections( self::PAGE );
		submit_button( __( 'Save settings', 'meetbridge' ) );
		echo '</form>';

		echo '<h2>' . esc_html__( 'Connection', 'meetbridge' ) . '</h2>';
		echo '<p>' . esc_html__( 'Makes one signed request to MeetBridge with the saved settings and tells you what, if anything, is wrong.', 'meetbridge' ) . '</p>';
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="meetbridge_test_connection">';
		wp_nonce_field( 'meetbridge_test_connection' );
		submit_button( __( 'Test connection', 'meetbridge' ), 'secondary', 'meetbridge_test', false );
		echo '</form>';
		/* translators: %s: URL of the results route. */
		echo '<p class="description">' . sprintf( esc_html__( 'MeetBridge sends results to %s.', 'meetbridge' ), '<code>' . esc_html( rest_url( 'meetbridge/v1/results' ) ) . '</code>' ) . '</p>';
		echo '</div>';
	}
}
