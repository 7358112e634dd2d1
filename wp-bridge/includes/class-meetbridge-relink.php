<?php
/**
 * Accounts MeetBridge can no longer use (`account.needs_relink`): kept in an option until the
 * account is connected again or disconnected, and shown to admins as a notice with a relink button.
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The needs-relink list.
 */
class MeetBridge_Relink {

	/**
	 * All entries, keyed `provider:staff_id`.
	 *
	 * @return array<string, array{provider: string, staff_id: string, reason: string, at: int}>
	 */
	public static function all(): array {
		$list = get_option( MeetBridge_Settings::RELINK, array() );
		return is_array( $list ) ? $list : array();
	}

	/**
	 * Add an entry.
	 *
	 * @param string $provider Provider.
	 * @param string $staff_id Staff id.
	 * @param string $reason   Reason from MeetBridge.
	 */
	public static function add( string $provider, string $staff_id, string $reason ): bool {
		if ( ! in_array( $provider, array( 'google', 'zoom' ), true ) || ! preg_match( MeetBridge_Booking_API::ID_PATTERN, $staff_id ) ) {
			return false;
		}
		$list                               = self::all();
		$list[ $provider . ':' . $staff_id ] = array(
			'provider' => $provider,
			'staff_id' => $staff_id,
			'reason'   => sanitize_text_field( $reason ),
			'at'       => time(),
		);
		update_option( MeetBridge_Settings::RELINK, $list, false );
		return true;
	}

	/**
	 * Remove an entry.
	 *
	 * @param string $provider Provider.
	 * @param string $staff_id Staff id.
	 */
	public static function clear( string $provider, string $staff_id ): void {
		$list = self::all();
		if ( isset( $list[ $provider . ':' . $staff_id ] ) ) {
			unset( $list[ $provider . ':' . $staff_id ] );
			update_option( MeetBridge_Settings::RELINK, $list, false );
		}
	}

	/**
	 * Bring the list in line with the accounts API: an active account needs no relink.
	 *
	 * @param array $accounts Accounts from MeetBridge.
	 */
	public static function sync( array $accounts ): void {
		foreach ( $accounts as $account ) {
			if ( is_array( $account ) && isset( $account['status'], $account['provider'], $account['staff_id'] ) && 'active' === $account['status'] ) {
				self::clear( (string) $account['provider'], (string) $account['staff_id'] );
			}
		}
	}
}
