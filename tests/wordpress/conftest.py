"""Fixtures for the WordPress tests: skip cleanly when WordPress, PHP, MariaDB or PHPUnit are not
installed on a developer machine; fail in CI (`CI` set), where .ci/run installs them."""

from __future__ import annotations

import os

import pytest

from tests.wordpress.wp import WordPress, missing_packages


def require_wordpress() -> None:
    missing = missing_packages()
    if not missing:
        return
    message = (
        f"missing {', '.join(missing)}: apt-get install -y wordpress php-cli php-mysql php-curl php-xml "
        "php-mbstring php-intl php-zip mariadb-server phpunit"
    )
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must install them; see .ci/run)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def bare_wordpress(tmp_path_factory):
    """WordPress + MariaDB + php -S with the plugin active and no MeetBridge (unit tests, lint)."""
    require_wordpress()
    wp = WordPress(tmp_path_factory.mktemp("wp"))
    try:
        wp.start()
        yield wp
    finally:
        wp.stop()
