<?php
/**
 * What every booking-plugin adapter's test does the same way: install the tables of the plugin's
 * recording (tests/fixtures/{slug}-{version}.json) once per class, start the adapter, put the site in
 * the recording's time zone before each test, replay recorded steps as separate requests, and read back
 * what wp-bridge queued for MeetBridge.
 *
 * @package MeetBridge
 */

require_once __DIR__ . '/class-meetbridge-recording.php';

abstract class MeetBridge_Adapter_Test_Case extends MeetBridge_Test_Case {

	/**
	 * The recording of each test class.
	 *
	 * @var array<string, MeetBridge_Recording>
	 */
	private static array $recordings = array();

	/** The recording's file name without `.json`, e.g. `latepoint-5.6.5`. */
	abstract protected static function fixture(): string;

	/** The adapter's class, e.g. `MeetBridge_LatePoint`. */
	abstract protected static function adapter(): string;

	public static function setUpBeforeClass(): void {
		$recording = MeetBridge_Recording::fixture( static::fixture() );
		$recording->install_tables();
		self::$recordings[ static::class ] = $recording;
		MeetBridge_Integrations::start( static::adapter() );
	}

	public static function tearDownAfterClass(): void {
		self::recording()->drop_tables();
		unset( self::$recordings[ static::class ] );
		update_option( 'timezone_string', 'Europe/Berlin' );
	}

	protected function setUp(): void {
		parent::setUp();
		$this->reset();
		update_option( 'timezone_string', self::recording()->data['timezone'] );
	}

	/** This class's recording. */
	protected static function recording(): MeetBridge_Recording {
		return self::$recordings[ static::class ];
	}

	/** What a request's end leaves behind is gone: the next step is another request. */
	protected function reset(): void {
		MeetBridge_Integration::reset();
	}

	/**
	 * Replay steps as separate requests (each ends with its shutdown work).
	 *
	 * @param string ...$steps Step names.
	 */
	protected function replay( string ...$steps ): void {
		foreach ( $steps as $step ) {
			self::recording()->replay( $step, call_user_func( array( static::adapter(), 'actions' ) ), array( 'MeetBridge_Integration', 'run_later' ) );
			$this->reset();
		}
	}

	/** The events queued for MeetBridge, oldest first, as their JSON bodies. */
	protected function bodies(): array {
		return array_map( static fn( $row ) => json_decode( $row['body'], true ), $this->outbox() );
	}
}
