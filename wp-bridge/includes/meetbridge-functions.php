<?php
/**
 * Template functions for booking plugins and themes.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

if ( ! function_exists( 'meetbridge_filter_slots' ) ) {
	/**
	 * The slots in which the staff member is not busy in their linked Google Calendar; every slot
	 * when that cannot be checked. Applies the filter `meetbridge_filter_slots` (see
	 * MeetBridge_Availability for the slot forms and the rules).
	 *
	 *     $slots = meetbridge_filter_slots(
	 *         array(
	 *             array( 'start' => '2026-12-01T09:00:00+01:00', 'end' => '2026-12-01T09:30:00+01:00' ),
	 *             array( 'start' => 1796112000, 'end' => 1796113800, 'id' => 'b' ),
	 *         ),
	 *         $user_id
	 *     );
	 *
	 * @param array      $slots    Slots: arrays with `start` and `end` (RFC 3339, DateTimeInterface or Unix time).
	 * @param int|string $staff_id The staff member's WordPress user id (as in bookings).
	 * @return array
	 */
	function meetbridge_filter_slots( $slots, $staff_id ) {
		return apply_filters( 'meetbridge_filter_slots', $slots, $staff_id );
	}
}
