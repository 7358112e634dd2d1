<?php
/**
 * Plugin Name:       MeetBridge
 * Plugin URI:        https://github.com/meetbridge/meetbridge
 * Description:       Every booking gets its Zoom meeting and its Google Calendar event through a MeetBridge service, without this site holding any Google or Zoom credentials.
 * Version:           0.2.0
 * Requires at least: 6.1
 * Requires PHP:      8.1
 * Author:            MeetBridge
 * License:           GPL-2.0-or-later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       meetbridge
 * Domain Path:       /languages
 *
 * @package MeetBridge
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

define( 'MEETBRIDGE_VERSION', '0.2.0' );
define( 'MEETBRIDGE_FILE', __FILE__ );
define( 'MEETBRIDGE_DIR', plugin_dir_path( __FILE__ ) );

require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-settings.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-ca.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-signer.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-client.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-schema.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-bookings.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-outbox.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-maintenance.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-booking-api.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-results.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-changes.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-relink.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-connection-check.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-availability.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-easy-appointments.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-ea-watch.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-ea-mail.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-plugin.php';
require_once MEETBRIDGE_DIR . 'includes/class-meetbridge-privacy.php';
require_once MEETBRIDGE_DIR . 'public/class-meetbridge-join-link.php';
require_once MEETBRIDGE_DIR . 'public/class-meetbridge-join-page.php';
require_once MEETBRIDGE_DIR . 'includes/meetbridge-functions.php';
require_once MEETBRIDGE_DIR . 'integrations/class-meetbridge-integrations.php';

if ( is_admin() ) {
	require_once MEETBRIDGE_DIR . 'admin/class-meetbridge-admin.php';
	require_once MEETBRIDGE_DIR . 'admin/class-meetbridge-settings-page.php';
	require_once MEETBRIDGE_DIR . 'admin/class-meetbridge-staff-page.php';
	require_once MEETBRIDGE_DIR . 'admin/class-meetbridge-bookings-page.php';
}

register_activation_hook( __FILE__, array( 'MeetBridge_Plugin', 'activate' ) );
register_deactivation_hook( __FILE__, array( 'MeetBridge_Plugin', 'deactivate' ) );

MeetBridge_Plugin::boot();
MeetBridge_Integrations::boot();
