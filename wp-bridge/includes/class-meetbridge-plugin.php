<?php
/**
 * Wires the plugin's parts to WordPress: activation, hooks, REST routes, cron, the HTTP host filter.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The plugin.
 */
class MeetBridge_Plugin {

	/**
	 * Register every hook (runs when the plugin file is loaded).
	 */
	public static function boot(): void {
		add_action( 'init', array( __CLASS__, 'load_textdomain' ) );
		add_action( 'plugins_loaded', array( __CLASS__, 'maybe_upgrade' ) );
		add_filter( 'http_request_host_is_external', array( 'MeetBridge_Client', 'allow_service_host' ), 10, 2 );
		add_filter( 'http_allowed_safe_ports', array( 'MeetBridge_Client', 'allow_service_port' ), 10, 2 );
		add_action( 'rest_api_init', array( 'MeetBridge_Results', 'register_routes' ) );
		add_action( MeetBridge_Outbox::HOOK, array( 'MeetBridge_Outbox', 'run' ) );
		add_action( 'shutdown', array( 'MeetBridge_Outbox', 'spawn_at_shutdown' ) );
		add_action( 'update_option_' . MeetBridge_Settings::OPTION, array( 'MeetBridge_Outbox', 'requeue_after_settings_change' ) );
		add_action( 'update_option_' . MeetBridge_Settings::SECRET, array( 'MeetBridge_Outbox', 'requeue_after_settings_change' ) );
		MeetBridge_Maintenance::init();
		MeetBridge_Booking_API::init();
		MeetBridge_Availability::init();
		MeetBridge_Easy_Appointments::init();
		MeetBridge_Join_Link::init();
		MeetBridge_Join_Page::init();
		MeetBridge_Privacy::init();
		if ( is_admin() ) {
			MeetBridge_Admin::init();
		}
	}

	/**
	 * Activation: tables and the (not autoloaded) secret option. Nothing is ever deleted here.
	 */
	public static function activate(): void {
		MeetBridge_Schema::install();
		add_option( MeetBridge_Settings::OPTION, array( 'service_url' => '', 'site_id' => '' ) );
		add_option( MeetBridge_Settings::SECRET, '', '', 'no' );
		add_option( MeetBridge_Settings::RELINK, array(), '', 'no' );
		MeetBridge_Settings::privacy_key();
		MeetBridge_Maintenance::schedule();
	}

	/**
	 * Deactivation: stop the scheduled sender; data and settings stay.
	 */
	public static function deactivate(): void {
		wp_clear_scheduled_hook( MeetBridge_Outbox::HOOK );
		wp_clear_scheduled_hook( MeetBridge_Maintenance::HOOK );
	}

	/**
	 * Upgrade the tables after an update of the plugin's files.
	 */
	public static function maybe_upgrade(): void {
		if ( get_option( MeetBridge_Settings::DB_VERSION ) !== MeetBridge_Schema::VERSION ) {
			MeetBridge_Schema::install();
			MeetBridge_Maintenance::schedule();
		}
	}

	/**
	 * Translations.
	 */
	public static function load_textdomain(): void {
		load_plugin_textdomain( 'meetbridge', false, dirname( plugin_basename( MEETBRIDGE_FILE ) ) . '/languages' );
	}
}
