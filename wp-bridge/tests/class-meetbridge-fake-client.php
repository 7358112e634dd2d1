<?php
/**
 * A client that records events instead of sending them and answers from a script.
 *
 * @package MeetBridge
 */

/**
 * Scripted MeetBridge.
 */
class MeetBridge_Fake_Client extends MeetBridge_Client {

	/**
	 * Events "sent": [webhook_id, decoded body].
	 *
	 * @var array
	 */
	public array $sent = array();

	/**
	 * Status codes to answer, in order (then 202).
	 *
	 * @var int[]
	 */
	public array $answers = array();

	public function __construct( array $answers = array() ) {
		parent::__construct( 'https://meetbridge.test', 'site_test', MeetBridge_Test_Case::SECRET );
		$this->answers = $answers;
	}

	public function post_event( string $body, string $webhook_id ): array {
		$this->sent[] = array( $webhook_id, json_decode( $body, true ) );
		$status       = count( $this->answers ) ? array_shift( $this->answers ) : 202;
		return array(
			'ok'     => $status >= 200 && $status < 300,
			'status' => $status,
			'body'   => $status >= 400 ? array( 'error' => 'scripted', 'message' => 'scripted answer' ) : array( 'status' => 'queued' ),
			'error'  => $status >= 200 && $status < 300 ? '' : ( 0 === $status ? 'cURL error 7: Connection refused' : "HTTP $status scripted" ),
			'date'   => '',
		);
	}
}
