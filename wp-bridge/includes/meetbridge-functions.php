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

if ( ! function_exists( 'meetbridge_join_page_url' ) ) {
	/**
	 * The join page of a booking for its customer: put it in the confirmation a booking plugin sends.
	 * It shows the video link once MeetBridge has made it (see MeetBridge_Join_Page); the token in it
	 * is bound to the customer's e-mail, so only they (and the staff member and administrators) see
	 * the link.
	 *
	 *     $url = meetbridge_join_page_url( $booking_id, $customer_email );
	 *
	 * @param string $booking_id     The booking id sent to MeetBridge.
	 * @param string $customer_email The customer's e-mail ('' to use the one of the booking already sent).
	 * @return string
	 */
	function meetbridge_join_page_url( $booking_id, $customer_email = '' ) {
		return MeetBridge_Join_Link::page_url( (string) $booking_id, (string) $customer_email );
	}
}
