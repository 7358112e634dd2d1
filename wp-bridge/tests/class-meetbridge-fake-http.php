<?php
/**
 * MeetBridge faked through WordPress's `pre_http_request` filter: every request the plugin makes is
 * recorded and answered from a script, so the real client (URL, signing, headers) is what is tested.
 *
 * @package MeetBridge
 */

/**
 * Scripted HTTP.
 */
class MeetBridge_Fake_Http {

	/**
	 * Requests made: `url`, `method`, `headers`, `body`, and all `args`.
	 *
	 * @var array
	 */
	public array $requests = array();

	/**
	 * Answers, in order: `array( status, body, headers )` or a WP_Error; then `$default`.
	 *
	 * @var array
	 */
	public array $answers;

	/**
	 * Answer once the script is used up.
	 *
	 * @var array
	 */
	public array $default;

	public function __construct( array $answers = array(), ?array $default = null ) {
		$this->answers = $answers;
		$this->default = $default ?? self::busy( array() );
		add_filter( 'pre_http_request', array( $this, 'answer' ), 10, 3 );
	}

	/**
	 * A 200 availability answer with these busy periods (`array( start, end )` pairs).
	 *
	 * @param array $busy Busy periods.
	 */
	public static function busy( array $busy ): array {
		return array(
			200,
			array(
				'staff_id'   => '7',
				'from'       => '2026-12-01T00:00:00Z',
				'to'         => '2026-12-02T00:00:00Z',
				'busy'       => array_map( static fn( $p ) => array( 'start' => $p[0], 'end' => $p[1] ), $busy ),
				'cached'     => false,
				'fetched_at' => '2026-11-30T12:00:00Z',
			),
			array(),
		);
	}

	/**
	 * An error answer as MeetBridge writes it.
	 *
	 * @param int    $status  Status.
	 * @param string $code    Error code.
	 * @param array  $headers Headers (lower-case names).
	 */
	public static function error( int $status, string $code, array $headers = array() ): array {
		return array( $status, array( 'error' => $code, 'message' => 'scripted ' . $code ), $headers );
	}

	/**
	 * Filter `pre_http_request`.
	 *
	 * @param mixed  $pre  Short-circuit value.
	 * @param array  $args Request arguments.
	 * @param string $url  URL.
	 */
	public function answer( $pre, $args, $url ) {
		$this->requests[] = array(
			'url'     => $url,
			'method'  => $args['method'],
			'headers' => $args['headers'],
			'body'    => $args['body'] ?? null,
			'args'    => $args,
		);
		$answer = count( $this->answers ) ? array_shift( $this->answers ) : $this->default;
		if ( is_wp_error( $answer ) ) {
			return $answer;
		}
		return array(
			'headers'  => $answer[2],
			'body'     => wp_json_encode( $answer[1] ),
			'response' => array(
				'code'    => $answer[0],
				'message' => '',
			),
			'cookies'  => array(),
			'filename' => null,
		);
	}

	/**
	 * Stop answering.
	 */
	public function stop(): void {
		remove_filter( 'pre_http_request', array( $this, 'answer' ), 10 );
	}

	/**
	 * The query of request $i as an array, and its path.
	 *
	 * @param int $i Request index.
	 * @return array{0: string, 1: string, 2: array} Path, raw query, parsed query.
	 */
	public function query( int $i ): array {
		$parts = wp_parse_url( $this->requests[ $i ]['url'] );
		parse_str( $parts['query'] ?? '', $parsed );
		return array( $parts['path'], $parts['query'] ?? '', $parsed );
	}
}
