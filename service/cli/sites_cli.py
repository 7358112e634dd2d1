"""Operator commands: `flask --app service sites create|list|rotate-secret|delete|settings|reindex`.
Output is JSON."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from service import vault_keys
from service.sites import registry
from service.storage import keys, redis_client


def _echo(value) -> None:
    click.echo(json.dumps(value, indent=2))


sites_group = AppGroup("sites", help="Manage the WordPress sites allowed to send booking events.")


@sites_group.command("create")
@click.option("--name", required=True, help="The site's display name.")
@click.option("--url", required=True, help="The site's origin, e.g. https://shop.example.com.")
@click.option(
    "--callback-url",
    default=None,
    help="Where results are POSTed (default: the plugin's route); https:// unless on this machine.",
)
def create_command(name: str, url: str, callback_url: str | None) -> None:
    """Register a site; prints its id and its signing secret (shown only once)."""
    development = current_app.config["MEETBRIDGE_ENV"] == "development"
    try:
        _echo(
            registry.create(
                redis_client.get(), vault_keys.get(), name, url, callback_url, allow_http=development
            )
        )
    except registry.SiteError as exc:
        raise click.BadParameter(str(exc)) from None


@sites_group.command("list")
def list_command() -> None:
    """List the registered sites (never their secrets)."""
    _echo(registry.list_all(redis_client.get(), vault_keys.get()))


@sites_group.command("rotate-secret")
@click.argument("site_id")
@click.option(
    "--grace-hours",
    type=click.FloatRange(min=0),
    default=registry.DEFAULT_GRACE_SECONDS / 3600,
    show_default=True,
    help="How long the previous secret stays valid (0 revokes it now).",
)
def rotate_command(site_id: str, grace_hours: float) -> None:
    """Issue a new signing secret; the old one keeps working for the grace period."""
    try:
        _echo(registry.rotate_secret(redis_client.get(), vault_keys.get(), site_id, int(grace_hours * 3600)))
    except registry.SiteError as exc:
        raise click.ClickException(str(exc)) from None


@sites_group.command("delete")
@click.argument("site_id")
@click.confirmation_option(prompt="Erase this site and all of its data?")
def delete_command(site_id: str) -> None:
    """Erase a site and everything stored for it: its bookings' Zoom meetings and Google events, its
    jobs, its linked accounts (revoked at the providers), its metadata."""
    from service.privacy import erasure

    r = redis_client.get()
    if not r.exists(keys.site(site_id), keys.site_bookings(site_id), keys.accounts(site_id)):
        raise click.ClickException(f"no site {site_id!r}")  # (an interrupted erasure can be run again)
    _echo(erasure.erase_site(r, site_id))


@sites_group.command("reindex")
def reindex_command() -> None:
    """Index the bookings, idempotency records and jobs stored before erasure and export read indexes
    (once, after upgrading; a scan of the whole keyspace)."""
    from service.privacy import reindex

    _echo(reindex.reindex(redis_client.get()))


@sites_group.command("settings")
@click.argument("site_id")
@click.option("--retention-days", type=int, default=None, help="Days booking metadata is kept after the end.")
@click.option(
    "--grace-minutes", type=int, default=None, help="Minutes after the end a Zoom meeting is deleted."
)
@click.option(
    "--external-delete",
    type=click.Choice(["report", "cancel", "recreate"]),
    default=None,
    help="What an event or meeting deleted in Google or Zoom does to its booking.",
)
def settings_command(
    site_id: str, retention_days: int | None, grace_minutes: int | None, external_delete: str | None
) -> None:
    """Show a site's settings, or change its retention window, grace period and external-delete policy."""
    from service.sites import settings_api, site_settings

    r = redis_client.get()
    if not r.exists(keys.site(site_id)):
        raise click.ClickException(f"no site {site_id!r}")
    changes = {
        name: value
        for name, value in (
            ("retention_days", retention_days),
            ("grace_minutes", grace_minutes),
            ("external_delete", external_delete),
        )
        if value is not None
    }
    if not changes:
        _echo(site_settings.load(r, site_id))
        return
    try:
        _echo(settings_api.save(r, site_id, settings_api.validate(changes)))
    except settings_api.InvalidSetting as exc:
        raise click.BadParameter(str(exc), param_hint="--" + exc.field.replace("_", "-")) from None
    except KeyError:
        raise click.ClickException(f"no site {site_id!r}") from None
