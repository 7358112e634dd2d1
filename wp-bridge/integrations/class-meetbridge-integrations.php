<?php
/**
 * Loads the adapter of each booking plugin that is active, once every plugin is loaded: an adapter's
 * file is not even read when its plugin is missing.
 *
 * The adapters are listed in ADAPTERS (Amelia, LatePoint, Simply Schedule Appointments, Bookly). Each adapter class has a static `init()`
 * that registers its hooks and a static `actions()` naming the booking plugin's actions it listens to.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The adapters' loader.
 */
class MeetBridge_Integrations {

	/**
	 * Adapter class => [ its file (in this folder), a test of whether its plugin is active ].
	 */
	const ADAPTERS = array(
		'MeetBridge_Amelia'    => array( 'class-meetbridge-amelia.php', 'is_amelia_active' ),
		'MeetBridge_LatePoint' => array( 'class-meetbridge-latepoint.php', 'is_latepoint_active' ),
		'MeetBridge_SSA'       => array( 'class-meetbridge-ssa.php', 'is_ssa_active' ),
		'MeetBridge_Bookly'    => array( 'class-meetbridge-bookly.php', 'is_bookly_active' ),
	);

	/**
	 * Adapters loaded in this request, by class.
	 *
	 * @var array<string, bool>
	 */
	private static array $loaded = array();

	/**
	 * Called from the plugin's bootstrap.
	 */
	public static function boot(): void {
		add_action( 'plugins_loaded', array( __CLASS__, 'load' ), 20 );
	}

	/**
	 * `plugins_loaded`: load and start the adapters whose plugin is active.
	 */
	public static function load(): void {
		foreach ( self::active() as $class ) {
			self::start( $class );
		}
	}

	/**
	 * The adapters whose booking plugin is active.
	 *
	 * @return string[] Adapter classes.
	 */
	public static function active(): array {
		return array_keys( array_filter( self::ADAPTERS, static fn( $adapter ) => call_user_func( array( __CLASS__, $adapter[1] ) ) ) );
	}

	/**
	 * Load one adapter and register its hooks (tests start adapters without their plugin).
	 *
	 * @param string $class Adapter class, a key of ADAPTERS.
	 */
	public static function start( string $class ): void {
		if ( isset( self::$loaded[ $class ] ) || ! isset( self::ADAPTERS[ $class ] ) ) {
			return;
		}
		require_once __DIR__ . '/class-meetbridge-integration.php';
		require_once __DIR__ . '/' . self::ADAPTERS[ $class ][0];
		call_user_func( array( $class, 'init' ) );
		self::$loaded[ $class ] = true;
	}

	/**
	 * Amelia defines AMELIA_VERSION when its main file is loaded (that is, when it is active).
	 */
	public static function is_amelia_active(): bool {
		return defined( 'AMELIA_VERSION' );
	}

	/**
	 * LatePoint defines LATEPOINT_VERSION when its main file is loaded.
	 */
	public static function is_latepoint_active(): bool {
		return defined( 'LATEPOINT_VERSION' );
	}

	/**
	 * Simply Schedule Appointments defines SSA_PLUGIN_BASENAME when its main file is loaded.
	 */
	public static function is_ssa_active(): bool {
		return defined( 'SSA_PLUGIN_BASENAME' );
	}

	/**
	 * Bookly defines no constant; its main file loads its `Bookly\Lib\Boot` class (looked up without
	 * autoloading).
	 */
	public static function is_bookly_active(): bool {
		return class_exists( 'Bookly\Lib\Boot', false );
	}
}
