<?php
/**
 * Benchmark-only mu-plugin (bench/wordpress_adapters.py copies it into a throwaway WordPress): times
 * what wp-bridge adds to a booking plugin's own booking request, inside PHP (hrtime).
 *
 * Configured by wp-adapter-timer.json next to it: `actions` (the adapter's actions; each is timed from
 * priority 19 to 21, around the adapter's 20, or around another priority written `action@priority`)
 * and `request` (a substring of the booking request's URL; with `only_booking` set, only requests in
 * which one of the actions fired are logged: for a plugin whose form sends every step to the same URL;
 * with `post_action`, only requests whose POSTed `action` is that one). The plugin's end-of-request work is timed from `shutdown` priority 4 to 11 (the adapters'
 * deferred syncs run at 5, the outbox's sender is spawned at 10). One JSON line per booking request
 * goes to wp-content/wp-adapter-timer.jsonl: `in_hooks` and `at_shutdown` in ms.
 */
( static function () {
	$config = json_decode( (string) @file_get_contents( __DIR__ . '/wp-adapter-timer.json' ), true ); // phpcs:ignore
	$uri    = isset( $_SERVER['REQUEST_URI'] ) ? (string) $_SERVER['REQUEST_URI'] : ''; // phpcs:ignore
	if ( ! is_array( $config ) || '' === $uri || false === strpos( $uri, $config['request'] ) ) {
		return;
	}
	if ( ! empty( $config['post_action'] ) && ( $_POST['action'] ?? '' ) !== $config['post_action'] ) { // phpcs:ignore
		return;
	}
	$timer = array( 'in_hooks' => 0.0, 'at_shutdown' => 0.0, 'started' => 0, 'fired' => 0 );
	foreach ( $config['actions'] as $action ) {
		list( $action, $priority ) = array_pad( explode( '@', $action, 2 ), 2, 20 );
		add_action( $action, static function ( ...$args ) use ( &$timer ) {
			++$timer['fired'];
			$timer['started'] = hrtime( true );
			return $args[0] ?? null;
		}, (int) $priority - 1, 1 );
		add_action( $action, static function ( ...$args ) use ( &$timer ) {
			$timer['in_hooks'] += ( hrtime( true ) - $timer['started'] ) / 1e6;
			return $args[0] ?? null;
		}, (int) $priority + 1, 1 );
	}
	add_action( 'shutdown', static function () use ( &$timer ) {
		$timer['started'] = hrtime( true );
	}, 4 );
	add_action( 'shutdown', static function () use ( &$timer, $config ) {
		$timer['at_shutdown'] = ( hrtime( true ) - $timer['started'] ) / 1e6;
		unset( $timer['started'] );
		if ( ! empty( $config['only_booking'] ) && 0 === $timer['fired'] ) {
			return;
		}
		file_put_contents( WP_CONTENT_DIR . '/wp-adapter-timer.jsonl', wp_json_encode( $timer ) . "\n", FILE_APPEND | LOCK_EX ); // phpcs:ignore
	}, 11 );
} )();
