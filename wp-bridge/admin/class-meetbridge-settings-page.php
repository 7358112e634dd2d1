<?php
/**
 * MeetBridge → Settings: service URL, site id, secret, CA bundle, outbox retention, what MeetBridge
 * does when a meeting is deleted in Google Calendar or Zoom (saved at MeetBridge), when Easy
 * Appointments appointments get a meeting and whether changes made in Google Calendar or Zoom move or
 * cancel them (Settings API), and "Test connection".
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
					'service_url'      => '',
					'site_id'          => '',
					'ca_bundle'        => '',
					'retention_days'   => MeetBridge_Settings::DEFAULT_RETENTION_DAYS,
					'ea_sync'          => 'confirmed',
					'ea_apply_changes' => false,
					'external_delete'  => 'report',
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
		add_settings_field( 'meetbridge_ca_bundle', __( 'CA bundle', 'meetbridge' ), array( __CLASS__, 'field_ca_bundle' ), self::PAGE, 'meetbridge_service', array( 'label_for' => 'meetbridge_ca_bundle' ) );
		add_settings_section( 'meetbridge_privacy', __( 'Privacy', 'meetbridge' ), array( __CLASS__, 'privacy_intro' ), self::PAGE );
		add_settings_field( 'meetbridge_retention_days', __( 'Keep sent events', 'meetbridge' ), array( __CLASS__, 'field_retention_days' ), self::PAGE, 'meetbridge_privacy', array( 'label_for' => 'meetbridge_retention_days' ) );
		add_settings_section( 'meetbridge_changes', __( 'Changes made in Google Calendar or Zoom', 'meetbridge' ), array( __CLASS__, 'changes_intro' ), self::PAGE );
		add_settings_field( 'meetbridge_external_delete', __( 'When a meeting is deleted in Google Calendar or Zoom', 'meetbridge' ), array( __CLASS__, 'field_external_delete' ), self::PAGE, 'meetbridge_changes' );
		add_settings_section( 'meetbridge_ea', __( 'Easy Appointments', 'meetbridge' ), '__return_null', self::PAGE );
		add_settings_field( 'meetbridge_ea_sync', __( 'Create meetings for', 'meetbridge' ), array( __CLASS__, 'field_ea_sync' ), self::PAGE, 'meetbridge_ea' );
		add_settings_field( 'meetbridge_ea_apply_changes', __( 'Changes in Google Calendar or Zoom', 'meetbridge' ), array( __CLASS__, 'field_ea_apply_changes' ), self::PAGE, 'meetbridge_ea', array( 'label_for' => 'meetbridge_ea_apply_changes' ) );
	}

	/**
	 * CA bundle field: a path or PEM text; says which CAs are trusted now.
	 */
	public static function field_ca_bundle(): void {
		printf(
			'<textarea class="large-text code" rows="3" id="meetbridge_ca_bundle" name="%s[ca_bundle]" placeholder="%s" spellcheck="false">%s</textarea>',
			esc_attr( MeetBridge_Settings::OPTION ),
			esc_attr__( 'Empty: the usual certificate authorities. Or /path/to/meetbridge-ca.pem, or paste -----BEGIN CERTIFICATE----- …', 'meetbridge' ),
			esc_textarea( MeetBridge_Settings::ca_bundle() )
		);
		echo '<p class="description">' . esc_html__( 'Only if MeetBridge\'s TLS certificate comes from a private certificate authority: the CA certificate (PEM), as a file path readable by WordPress or pasted here. Used only for requests to MeetBridge; "Test connection" checks it.', 'meetbridge' ) . '</p>';
		/* translators: %s: the trusted certificate authorities. */
		echo '<p class="description meetbridge-ca-trusted">' . esc_html( sprintf( __( 'Trusted now: %s', 'meetbridge' ), MeetBridge_CA::describe() ) ) . '</p>';
	}

	/**
	 * Privacy section text.
	 */
	public static function privacy_intro(): void {
		echo '<p>' . esc_html__( 'An event\'s content (names, e-mail addresses, title) is kept only until MeetBridge has received it. The record that it was sent is kept for the days below, then deleted; failed events too. Customers\' data can be exported and erased under Tools → Export / Erase Personal Data.', 'meetbridge' ) . '</p>';
	}

	/**
	 * Retention field.
	 */
	public static function field_retention_days(): void {
		printf(
			'<input type="number" class="small-text" id="meetbridge_retention_days" name="%s[retention_days]" value="%d" min="1" max="%d" step="1"> %s',
			esc_attr( MeetBridge_Settings::OPTION ),
			(int) MeetBridge_Settings::retention_days(),
			(int) MeetBridge_Settings::MAX_RETENTION_DAYS,
			esc_html__( 'days', 'meetbridge' )
		);
	}

	/**
	 * Easy Appointments sync field.
	 */
	public static function field_ea_sync(): void {
		$choices = array(
			'confirmed' => __( 'Confirmed appointments only (recommended): a pending appointment gets its meeting and invitation once an admin confirms it', 'meetbridge' ),
			'pending'   => __( 'Pending and confirmed appointments: the meeting and invitation right away; cancelled if the appointment is rejected', 'meetbridge' ),
		);
		echo '<fieldset>';
		foreach ( $choices as $value => $label ) {
			printf(
				'<label><input type="radio" name="%s[ea_sync]" value="%s"%s> %s</label><br>',
				esc_attr( MeetBridge_Settings::OPTION ),
				esc_attr( $value ),
				checked( MeetBridge_Settings::ea_sync_on(), $value, false ),
				esc_html( $label )
			);
		}
		echo '<p class="description">' . esc_html__( 'Easy Appointments gives new bookings the status "pending" unless set otherwise. With "confirmed only", an appointment put back to pending, cancelled, abandoned or deleted has its meeting cancelled.', 'meetbridge' ) . '</p></fieldset>';
	}

	/**
	 * Changes section text.
	 */
	public static function changes_intro(): void {
		echo '<p>' . esc_html__( 'When a staff member moves a booking\'s event in Google Calendar or its meeting in Zoom, MeetBridge moves the other one to match and tells this site: the MeetBridge bookings page and a notice show it, and the action meetbridge_booking_changed lets themes and plugins react.', 'meetbridge' ) . '</p>';
	}

	/**
	 * The delete policy (saved at MeetBridge).
	 */
	public static function field_external_delete(): void {
		$choices = array(
			'report'   => __( 'Report it (recommended): the booking and the other item stay; you decide what to do', 'meetbridge' ),
			'cancel'   => __( 'Cancel the booking: MeetBridge deletes the other item too', 'meetbridge' ),
			'recreate' => __( 'Recreate it: this site sends the booking again and MeetBridge makes the missing meeting or event anew', 'meetbridge' ),
		);
		echo '<fieldset>';
		foreach ( $choices as $value => $label ) {
			printf(
				'<label><input type="radio" name="%s[external_delete]" value="%s"%s> %s</label><br>',
				esc_attr( MeetBridge_Settings::OPTION ),
				esc_attr( $value ),
				checked( MeetBridge_Settings::external_delete(), $value, false ),
				esc_html( $label )
			);
		}
		echo '<p class="description">' . esc_html__( 'Saved at MeetBridge, which applies it when it learns of the delete. A cancelled booking cancels the Easy Appointments appointment only when "Apply changes made in Google Calendar or Zoom" is on (below).', 'meetbridge' ) . '</p></fieldset>';
	}

	/**
	 * Whether changes made in Google Calendar or Zoom are applied to Easy Appointments.
	 */
	public static function field_ea_apply_changes(): void {
		printf(
			'<input type="hidden" name="%1$s[ea_apply_changes]" value="0"><label><input type="checkbox" id="meetbridge_ea_apply_changes" name="%1$s[ea_apply_changes]" value="1"%2$s> %3$s</label>',
			esc_attr( MeetBridge_Settings::OPTION ),
			checked( MeetBridge_Settings::ea_apply_changes(), true, false ),
			esc_html__( 'Apply changes made in Google Calendar or Zoom', 'meetbridge' )
		);
		echo '<p class="description">' . esc_html__( 'When a staff member moves the meeting in Google Calendar or Zoom, the appointment moves too; when MeetBridge cancels a booking because its meeting was deleted (see "When a meeting is deleted"), the appointment is cancelled. Off: such changes are only shown on the MeetBridge bookings page.', 'meetbridge' ) . '</p>';
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
