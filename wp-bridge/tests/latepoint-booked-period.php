<?php
/**
 * Test double of LatePoint 5.6.5's `LatePoint\Misc\BookedPeriod` (lib/misc/booked_period.php, which
 * extends `BlockedPeriod`): as observed, typed public fields (dates as strings, minutes after midnight,
 * agent/service/location ids, buffers, attendees) set from an array of those names; anything else is
 * ignored. The adapter builds these for LatePoint; the real class is LatePoint's.
 *
 * @package MeetBridge
 */

namespace LatePoint\Misc;

if ( ! class_exists( BookedPeriod::class ) ) {
	/**
	 * A period LatePoint counts as booked.
	 */
	class BookedPeriod {
		public string $start_date;
		public string $end_date;
		public int $start_time       = 0;
		public int $end_time         = 0;
		public ?int $service_id      = 0;
		public ?int $agent_id        = 0;
		public ?int $location_id     = 0;
		public int $buffer_before    = 0;
		public int $buffer_after     = 0;
		public int $total_attendees  = 1;

		/**
		 * Fields from an array.
		 *
		 * @param array $args Field values.
		 */
		public function __construct( $args = array() ) {
			foreach ( (array) $args as $key => $value ) {
				if ( property_exists( $this, $key ) ) {
					$this->$key = $value;
				}
			}
		}
	}
}
