<?php
/**
 * WordPress's privacy tools for MeetBridge: a personal-data exporter and eraser (Tools → Export /
 * Erase Personal Data) and the suggested privacy-policy text.
 *
 * A customer's bookings are found by the keyed hash of their e-mail kept in the bookings table
 * (MeetBridge_Settings::customer_hash(); the plugin keeps no e-mail address once MeetBridge has
 * acknowledged an event).
 *
 * Export: per booking, what this site holds (title, start, state, links, events waiting to be sent)
 * and what MeetBridge holds (its signed `GET …/bookings/{id}`; if it cannot be reached, the export says
 * so).
 *
 * Erase: per booking, under the outbox sender's lock, every outbox row of the booking is deleted
 * (pending ones too, so nothing re-creates the meeting), then MeetBridge's booking erasure
 * `DELETE …/bookings/{id}` deletes the Zoom meeting, the Google Calendar event and MeetBridge's
 * records. When MeetBridge confirms (or knows nothing of the booking) the booking row goes too;
 * otherwise the row is stripped to its ids and kept, reported as retained with the reason, so running
 * the eraser again finishes the job.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Exporter, eraser, policy text.
 */
class MeetBridge_Privacy {

	const PAGE_SIZE     = 10;
	const ERASE_BATCH   = 5;
	const LOCK_WAIT     = 30;
	const ERASE_TIMEOUT = 30.0;

	/**
	 * Register with WordPress's privacy tools.
	 */
	public static function init(): void {
		add_filter( 'wp_privacy_personal_data_exporters', array( __CLASS__, 'register_exporter' ) );
		add_filter( 'wp_privacy_personal_data_erasers', array( __CLASS__, 'register_eraser' ) );
		add_action( 'admin_init', array( __CLASS__, 'policy_text' ) );
	}

	/**
	 * Filter `wp_privacy_personal_data_exporters`.
	 *
	 * @param array $exporters Exporters.
	 * @return array
	 */
	public static function register_exporter( $exporters ) {
		$exporters               = is_array( $exporters ) ? $exporters : array();
		$exporters['meetbridge'] = array(
			'exporter_friendly_name' => __( 'MeetBridge video meetings', 'meetbridge' ),
			'callback'               => array( __CLASS__, 'export' ),
		);
		return $exporters;
	}

	/**
	 * Filter `wp_privacy_personal_data_erasers`.
	 *
	 * @param array $erasers Erasers.
	 * @return array
	 */
	public static function register_eraser( $erasers ) {
		$erasers               = is_array( $erasers ) ? $erasers : array();
		$erasers['meetbridge'] = array(
			'eraser_friendly_name' => __( 'MeetBridge video meetings (Zoom meetings and Google Calendar events)', 'meetbridge' ),
			'callback'             => array( __CLASS__, 'erase' ),
		);
		return $erasers;
	}

	/**
	 * Exporter callback.
	 *
	 * @param string $email E-mail address.
	 * @param int    $page  Page, from 1.
	 * @return array{data: array, done: bool}
	 */
	public static function export( $email, $page = 1 ): array {
		$page   = max( 1, (int) $page );
		$rows   = MeetBridge_Bookings::of_customer( MeetBridge_Settings::customer_hash( (string) $email ), self::PAGE_SIZE, '', ( $page - 1 ) * self::PAGE_SIZE );
		$client = MeetBridge_Settings::is_configured() ? new MeetBridge_Client( null, null, null, 10.0 ) : null;
		$items  = array();
		foreach ( $rows as $row ) {
			$items[] = array(
				'group_id'          => 'meetbridge',
				'group_label'       => __( 'MeetBridge video meetings', 'meetbridge' ),
				'group_description' => __( 'The Zoom meetings and Google Calendar events made for your bookings, as this site and the MeetBridge service hold them.', 'meetbridge' ),
				'item_id'           => 'meetbridge-' . $row['booking_id'],
				'data'              => array_merge( self::local_data( $row ), self::service_data( $client, (string) $row['booking_id'] ) ),
			);
		}
		return array(
			'data' => $items,
			'done' => count( $rows ) < self::PAGE_SIZE,
		);
	}

	/**
	 * What this site holds for a booking, as name/value pairs.
	 *
	 * @param array $row Bookings row.
	 * @return array<int, array{name: string, value: string}>
	 */
	private static function local_data( array $row ): array {
		$pairs = array(
			__( 'Booking', 'meetbridge' )                      => (string) $row['booking_id'],
			__( 'Title', 'meetbridge' )                        => (string) $row['title'],
			__( 'Start', 'meetbridge' )                        => (string) $row['starts_at'],
			__( 'State on this site', 'meetbridge' )           => (string) $row['state'],
			__( 'Zoom meeting', 'meetbridge' )                 => (string) $row['meeting_id'],
			__( 'Join link', 'meetbridge' )                    => (string) $row['join_url'],
			__( 'Calendar event link', 'meetbridge' )          => (string) $row['event_link'],
			__( 'Changed in Google Calendar or Zoom', 'meetbridge' ) => MeetBridge_Changes::describe( $row ),
			__( 'Events waiting to be sent', 'meetbridge' )    => (string) MeetBridge_Outbox::pending_count( (string) $row['booking_id'] ),
		);
		return self::pairs( $pairs );
	}

	/**
	 * What MeetBridge holds for a booking, as name/value pairs.
	 *
	 * @param MeetBridge_Client|null $client     Client (null: not configured).
	 * @param string                 $booking_id Booking id.
	 * @return array<int, array{name: string, value: string}>
	 */
	private static function service_data( ?MeetBridge_Client $client, string $booking_id ): array {
		$label = __( 'Held by MeetBridge', 'meetbridge' );
		if ( null === $client ) {
			return self::pairs( array( $label => __( 'unknown: MeetBridge is not configured on this site', 'meetbridge' ) ) );
		}
		$answer = $client->booking( $booking_id );
		if ( 404 === $answer['status'] && is_array( $answer['body'] ) && 'unknown_booking' === ( $answer['body']['error'] ?? '' ) ) {
			return self::pairs( array( $label => __( 'nothing', 'meetbridge' ) ) );
		}
		if ( ! $answer['ok'] || ! is_array( $answer['body'] ) ) {
			/* translators: %s: the error. */
			return self::pairs( array( $label => sprintf( __( 'unknown: MeetBridge could not be asked (%s)', 'meetbridge' ), $answer['error'] ) ) );
		}
		$status = $answer['body'];
		$pairs  = array(
			__( 'MeetBridge state', 'meetbridge' )              => (string) ( $status['state'] ?? '' ),
			__( 'MeetBridge Zoom meeting', 'meetbridge' )       => (string) ( $status['zoom']['meeting_id'] ?? '' ),
			__( 'MeetBridge join link', 'meetbridge' )          => (string) ( $status['zoom']['join_url'] ?? '' ),
			__( 'MeetBridge Google Calendar event', 'meetbridge' ) => (string) ( $status['google']['event_id'] ?? '' ),
			__( 'MeetBridge record created', 'meetbridge' )     => isset( $status['created_at'] ) ? gmdate( 'c', (int) $status['created_at'] ) : '',
			__( 'MeetBridge record updated', 'meetbridge' )     => isset( $status['updated_at'] ) ? gmdate( 'c', (int) $status['updated_at'] ) : '',
		);
		return self::pairs( $pairs );
	}

	/**
	 * Name/value pairs without the empty values.
	 *
	 * @param array<string, string> $pairs Pairs.
	 * @return array<int, array{name: string, value: string}>
	 */
	private static function pairs( array $pairs ): array {
		$out = array();
		foreach ( $pairs as $name => $value ) {
			if ( '' !== $value ) {
				$out[] = array(
					'name'  => $name,
					'value' => $value,
				);
			}
		}
		return $out;
	}

	/**
	 * Eraser callback. Each page erases up to ERASE_BATCH bookings, in booking id order, and
	 * remembers where it stopped (a bookings row kept after a failure is not tried twice in one run).
	 *
	 * @param string $email E-mail address.
	 * @param int    $page  Page, from 1.
	 * @return array{items_removed: bool, items_retained: bool, messages: array, done: bool}
	 */
	public static function erase( $email, $page = 1 ): array {
		$hash   = MeetBridge_Settings::customer_hash( (string) $email );
		$cursor = 'meetbridge_erasing_' . substr( $hash, 0, 32 );
		$after  = (int) $page > 1 ? (string) get_transient( $cursor ) : '';
		$rows   = MeetBridge_Bookings::of_customer( $hash, self::ERASE_BATCH, $after );
		$result = array(
			'items_removed'  => false,
			'items_retained' => false,
			'messages'       => array(),
			'done'           => count( $rows ) < self::ERASE_BATCH,
		);
		foreach ( $rows as $row ) {
			$outcome = self::erase_booking( (string) $row['booking_id'] );
			if ( true === $outcome ) {
				$result['items_removed'] = true;
			} else {
				$result['items_retained'] = true;
				$result['messages'][]     = $outcome;
			}
		}
		if ( $result['done'] ) {
			delete_transient( $cursor );
		} elseif ( $rows ) {
			set_transient( $cursor, (string) end( $rows )['booking_id'], HOUR_IN_SECONDS );
		}
		return $result;
	}

	/**
	 * Erase one booking here and at MeetBridge.
	 *
	 * @param string $booking_id Booking id.
	 * @return true|string True, or what could not be done.
	 */
	public static function erase_booking( string $booking_id ) {
		if ( ! MeetBridge_Outbox::lock( self::LOCK_WAIT ) ) {
			/* translators: %s: booking id. */
			return sprintf( __( 'MeetBridge booking %s was not erased: its events were being sent. Run the erasure again in a minute.', 'meetbridge' ), $booking_id );
		}
		try {
			MeetBridge_Outbox::forget_booking( $booking_id ); // Nothing of it is sent any more.
		} finally {
			MeetBridge_Outbox::unlock();
		}
		$answer = MeetBridge_Settings::is_configured()
			? ( new MeetBridge_Client( null, null, null, self::ERASE_TIMEOUT ) )->erase_booking( $booking_id )
			: null;
		$gone   = null !== $answer && ( $answer['ok'] || ( 404 === $answer['status'] && is_array( $answer['body'] ) && 'unknown_booking' === ( $answer['body']['error'] ?? '' ) ) );
		if ( $gone ) {
			MeetBridge_Bookings::delete( $booking_id );
			do_action( 'meetbridge_booking_erased', $booking_id );
			return true;
		}
		MeetBridge_Bookings::scrub( $booking_id );
		$reason = null === $answer ? __( 'MeetBridge is not configured on this site', 'meetbridge' ) : $answer['error'];
		/* translators: 1: booking id, 2: the reason. */
		return sprintf( __( 'MeetBridge booking %1$s: its Zoom meeting and Google Calendar event could not be erased at MeetBridge (%2$s). This site\'s copy was cleared; run the erasure again later to finish.', 'meetbridge' ), $booking_id, $reason );
	}

	/**
	 * The suggested privacy-policy text (Settings → Privacy → Policy Guide).
	 */
	public static function policy_text(): void {
		if ( function_exists( 'wp_add_privacy_policy_content' ) ) {
			wp_add_privacy_policy_content( 'MeetBridge', wp_kses_post( self::policy_html() ) );
		}
	}

	/**
	 * The suggested text (HTML).
	 */
	public static function policy_html(): string {
		$days = MeetBridge_Settings::retention_days();
		return '<p class="privacy-policy-tutorial">' . esc_html__( 'MeetBridge creates the video meeting and calendar event of each booking. Adapt this text to your MeetBridge operator and booking plugin.', 'meetbridge' ) . '</p>'
			. '<strong class="privacy-policy-tutorial">' . esc_html__( 'Suggested text:', 'meetbridge' ) . ' </strong>'
			. '<p>' . esc_html__( 'When you book an appointment, we send its title, time, the staff member and your name and e-mail address to our MeetBridge service, which creates the Zoom meeting and invites you to the staff member\'s Google Calendar event. MeetBridge keeps your name and e-mail address only encrypted and only until the meeting and invitation are made (at most a few days if that fails); it keeps the meeting\'s times and ids, and the join link encrypted, until the meeting has ended, and its records of the meeting for 30 days after that (by default). Zoom and Google keep the meeting and the calendar event under their own privacy policies.', 'meetbridge' ) . '</p>'
			/* translators: %d: days. */
			. '<p>' . esc_html( sprintf( __( 'This website keeps, for each booking, its sync state, the join link and the calendar link, and a one-way keyed hash of your e-mail address so we can find your bookings when you ask. What is sent to MeetBridge is kept here only until MeetBridge has received it, and the record of having sent it for %d days.', 'meetbridge' ), $days ) ) . '</p>'
			. '<p>' . esc_html__( 'You can ask us to export or erase this data. Erasing it deletes the Zoom meeting, the calendar event and MeetBridge\'s records of your bookings.', 'meetbridge' ) . '</p>';
	}
}
