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

	/**
	 * A booking synced once (nothing changed: nothing more sent) is sent again, as `booking.updated`
	 * with a new revision, when MeetBridge asks for it (`resend`, delete policy "recreate"); then the
	 * "nothing changed" check is back, and a resend of another plugin's booking sends nothing.
	 *
	 * @param int    $id         The plugin's id of the booking.
	 * @param string $booking_id MeetBridge's booking id.
	 * @param string $provider   Where the item was deleted (`zoom` or `google`).
	 */
	protected function assert_a_resend_sends_it_again( int $id, string $booking_id, string $provider ): void {
		$sync = array( static::adapter(), 'sync' );
		call_user_func( $sync, $id ); // Nothing changed: nothing sent.
		$this->assertCount( 1, $this->outbox() );
		MeetBridge_Integration::reset();
		// MeetBridge recreates an item deleted in Google Calendar or Zoom (delete policy "recreate").
		$answer = self::post_result( self::changed_result( array( 'booking_id' => $booking_id, 'kind' => 'deleted', 'provider' => $provider, 'state' => 'recreating', 'policy' => 'recreate', 'resend' => true, $provider => null ) ) );
		$this->assertSame( 'applied', $answer->get_data()['status'] );
		$bodies = $this->bodies();
		$this->assertSame( array( 'booking.created', 'booking.updated' ), array_column( $bodies, 'type' ) );
		$this->assertSame( 2, $bodies[1]['booking']['revision'] );
		$this->assertSame( $bodies[0]['booking']['start'], $bodies[1]['booking']['start'] );
		MeetBridge_Integration::reset();
		call_user_func( $sync, $id ); // And the fingerprint check is back.
		do_action( 'meetbridge_booking_resend', 'other-' . $id );
		$this->assertCount( 2, $this->outbox() );
	}
}
