"""MeetBridge's web service: the Flask app factory.

`create_app()` reads the environment (service.config), attaches Redis and the vault keyring, and
registers the blueprints and CLI commands. Nothing reads the environment at import time.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask

from service import config as settings
from service import logs, vault_keys
from service.http import fast_path, web
from service.storage import redis_client


def create_app(test_config: Mapping[str, object] | None = None) -> Flask:
    """Build the app.

    Args:
        test_config: settings that replace the environment's (tests only); when given, the
            environment is not read at all except for defaults of a development configuration.

    Raises:
        service.config.ConfigError: a setting is missing or malformed.
    """
    app = Flask(__name__)
    if test_config is None:
        app.config.from_mapping(settings.load())
    else:
        app.config.from_mapping(settings.load({"MEETBRIDGE_ENV": "development", **_as_env(test_config)}))
        app.config.from_mapping(test_config)
    if not app.testing:
        logs.configure(str(app.config["LOG_LEVEL"]))
    redis_client.init_app(app)
    vault_keys.init_app(app)
    web.init_app(app)

    # Imported here, not at the top: every module below imports from `service`, whose import is this one.
    from service import openapi
    from service.accounts import accounts_api
    from service.availability import availability_api
    from service.bookings import events, status_api
    from service.changes import google_push
    from service.cli import backup_cli, ledger_cli, sites_cli, vault_cli
    from service.http import ops
    from service.linking import connect, connect_api, oauth_callback
    from service.privacy import privacy_api, zoom_webhooks
    from service.sites import settings_api
    from workers import commands

    for blueprint in (
        ops.bp,
        events.bp,
        status_api.bp,
        openapi.bp,
        connect_api.bp,
        connect.bp,
        oauth_callback.bp,
        accounts_api.bp,
        availability_api.bp,
        privacy_api.bp,
        settings_api.bp,
        zoom_webhooks.bp,
        google_push.bp,
    ):
        app.register_blueprint(blueprint)
    paths = fast_path.init_app(app)  # in front of Flask: the hot routes' common answers
    paths.add("POST", events.ROUTE, events.fast_receive)
    paths.add("GET", availability_api.ROUTE, availability_api.fast_availability)
    app.cli.add_command(sites_cli.sites_group)
    app.cli.add_command(vault_cli.vault_group)
    app.cli.add_command(ledger_cli.ledger_command)
    app.cli.add_command(backup_cli.backup_group)
    commands.init_app(app)  # worker, cron, cleanup, failed-jobs
    return app


def _as_env(test_config: Mapping[str, object]) -> dict[str, str]:
    """The string-valued entries of a test mapping, so `settings.load` sees e.g. MEETBRIDGE_DATA_DIR."""
    return {key: value for key, value in test_config.items() if isinstance(value, str)}
