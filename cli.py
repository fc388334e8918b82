"""The `video-manager` command: start the system or one part of it, and manage users."""

from __future__ import annotations

import sys

import click

from config import Config, ConfigError, load_config


class AppContext:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                raise click.ClickException(f"configuration error: {exc}") from exc
        return self._config


pass_app = click.make_pass_decorator(AppContext)


@click.group()
@click.option(
    "--config",
    "config_path",
    envvar="VIDEO_MANAGER_CONFIG",
    type=click.Path(dir_okay=False),
    help="config.toml to use (default: the project's).",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Resumable video upload and processing server."""
    ctx.obj = AppContext(config_path)


@main.command()
@pass_app
def run(app: AppContext) -> None:
    """Start Redis (embedded unless redis.url is set), one worker and the HTTP server."""
    from supervisor import run_all

    sys.exit(run_all(app.config, app.config_path))


@main.command()
@pass_app
def serve(app: AppContext) -> None:
    """Start only the HTTP server (gunicorn)."""
    from server.wsgi import serve as serve_http

    serve_http(app.config)


@main.command()
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@pass_app
def worker(app: AppContext, burst: bool) -> None:
    """Start only the RQ worker (may run on another host with the same config)."""
    from processor.worker import run_worker

    run_worker(app.config, burst=burst)


@main.command()
@pass_app
def cleanup(app: AppContext) -> None:
    """Remove expired unfinished uploads and stale temp files now (the worker also does it on a timer)."""
    from processor.maintenance import remove_expired

    with _database(app.config):
        removed = remove_expired(app.config)
    click.echo(" ".join(f"{key}={value}" for key, value in removed.items()))


@main.command("create-user")
@click.argument("name")
@click.option("--password", help="Read from a prompt (or stdin) when not given.")
@pass_app
def create_user(app: AppContext, name: str, password: str | None) -> None:
    """Create a user; the API token is printed on the last line."""
    from storage import accounts

    password = password or _read_password()
    with _database(app.config):
        try:
            _user, token = accounts.create_user(name, password)
        except (accounts.UserExistsError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"created user {name}", err=True)
    click.echo(token)


@main.command()
@click.argument("name")
@pass_app
def token(app: AppContext, name: str) -> None:
    """Print a fresh API token for an existing user."""
    from storage import accounts
    from storage.models import User

    with _database(app.config):
        user = User.get_or_none(User.username == name)
        if user is None:
            raise click.ClickException(f"no user named {name!r}")
        click.echo(accounts.issue_token(user))


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")


def _database(config: Config):
    from storage.database import create_tables, db, open_database

    open_database(config.database_url)
    create_tables()
    return db.connection_context()


if __name__ == "__main__":
    main()
