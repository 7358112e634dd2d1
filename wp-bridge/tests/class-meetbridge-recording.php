<?php
/**
 * A booking plugin's recording (tests/fixtures/{slug}-{version}.json, written by a run of the real
 * plugin: see tests/wordpress/booking_plugins.py): its tables as the plugin created them, and step by
 * step the hooks it fired, with their arguments and the rows of its tables at that moment. Replaying a
 * step puts the rows back and fires the same hooks with the same arguments, so an adapter meets exactly
 * what the real plugin did. Used by PHPUnit and by the stack test (through a CLI script).
 *
 * @package MeetBridge
 */

/**
 * One recording.
 */
final class MeetBridge_Recording {

	/**
	 * The decoded file.
	 *
	 * @var array
	 */
	public array $data;

	/**
	 * Read a recording.
	 *
	 * @param string $file Path.
	 */
	public function __construct( string $file ) {
		$this->data = json_decode( (string) file_get_contents( $file ), true ); // phpcs:ignore WordPress.WP.AlternativeFunctions
	}

	/**
	 * A recording under tests/fixtures.
	 *
	 * @param string $name File name without `.json`, e.g. `ameliabooking-1.2.34`.
	 */
	public static function fixture( string $name ): self {
		return new self( __DIR__ . '/fixtures/' . $name . '.json' );
	}

	/**
	 * Create the plugin's tables (dropping old ones) as the plugin did.
	 */
	public function install_tables(): void {
		global $wpdb;
		$wpdb->query( 'SET FOREIGN_KEY_CHECKS = 0' ); // A plugin's tables may reference each other (Bookly's do).
		foreach ( $this->data['schema'] as $name => $create ) {
			$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}{$name}" ); // phpcs:ignore
			$wpdb->query( str_replace( '{prefix}', $wpdb->prefix, $create ) ); // phpcs:ignore
		}
		$wpdb->query( 'SET FOREIGN_KEY_CHECKS = 1' );
	}

	/**
	 * Drop the plugin's tables.
	 */
	public function drop_tables(): void {
		global $wpdb;
		$wpdb->query( 'SET FOREIGN_KEY_CHECKS = 0' );
		foreach ( array_keys( $this->data['schema'] ) as $name ) {
			$wpdb->query( "DROP TABLE IF EXISTS {$wpdb->prefix}{$name}" ); // phpcs:ignore
		}
		$wpdb->query( 'SET FOREIGN_KEY_CHECKS = 1' );
	}

	/**
	 * Make the tables hold exactly these rows.
	 *
	 * @param array $tables Table name (without prefix) => rows.
	 */
	public function set_tables( array $tables ): void {
		global $wpdb, $wp_filter;
		// Putting the recorded rows back is not a write the adapters should see (one watches `query`).
		$query_filters = $wp_filter['query'] ?? null;
		unset( $wp_filter['query'] );
		$wpdb->query( 'SET FOREIGN_KEY_CHECKS = 0' ); // The rows as they were, without cascades between them.
		foreach ( $tables as $name => $rows ) {
			if ( ! isset( $this->data['schema'][ $name ] ) ) {
				continue;
			}
			$wpdb->query( "DELETE FROM {$wpdb->prefix}{$name}" ); // phpcs:ignore
			foreach ( $rows as $row ) {
				$wpdb->insert( $wpdb->prefix . $name, $row ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
			}
		}
		$wpdb->query( 'SET FOREIGN_KEY_CHECKS = 1' );
		if ( null !== $query_filters ) {
			$wp_filter['query'] = $query_filters; // phpcs:ignore WordPress.WP.GlobalVariablesOverride
		}
	}

	/**
	 * The calls of a step.
	 *
	 * @param string $step Step name.
	 * @return array[] Each `hook`, `args`, `tables`.
	 */
	public function calls( string $step ): array {
		foreach ( $this->data['steps'] as $recorded ) {
			if ( $recorded['step'] === $step ) {
				return $recorded['calls'];
			}
		}
		throw new InvalidArgumentException( "no step {$step} in the recording" );
	}

	/**
	 * The step names, in order.
	 *
	 * @return string[]
	 */
	public function steps(): array {
		return array_column( $this->data['steps'], 'step' );
	}

	/**
	 * The arguments of the first call of `$hook` in a step.
	 *
	 * @param string $step Step name.
	 * @param string $hook Hook name.
	 */
	public function args( string $step, string $hook ): array {
		foreach ( $this->calls( $step ) as $call ) {
			if ( $call['hook'] === $hook ) {
				return $call['args'];
			}
		}
		throw new InvalidArgumentException( "no {$hook} in step {$step}" );
	}

	/**
	 * Replay a step: before each call the tables hold the rows recorded with it; the actions in
	 * `$actions` are fired with their recorded arguments; at each end of a request (`@shutdown`) the
	 * tables take the rows the request left and `$at_shutdown` runs (PHPUnit: the adapters' end-of-request
	 * work; a CLI script: nothing, its own shutdown follows).
	 *
	 * @param string        $step        Step name.
	 * @param string[]      $actions     The actions to fire (others, such as filters, are skipped).
	 * @param callable|null $at_shutdown What a request's end does.
	 */
	public function replay( string $step, array $actions, ?callable $at_shutdown = null ): void {
		foreach ( $this->calls( $step ) as $call ) {
			$this->set_tables( $call['tables'] );
			if ( '@shutdown' === $call['hook'] ) {
				if ( $at_shutdown ) {
					$at_shutdown();
				}
			} elseif ( in_array( $call['hook'], $actions, true ) ) {
				do_action_ref_array( $call['hook'], $call['args'] );
			}
		}
	}
}
