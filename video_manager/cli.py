"""The `video-manager` command: start the system or one part of it, and manage users."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from video_manager.config import CONFIG_FILE_NAME, Config, ConfigError, load_config


class AppContext:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config_found(self) -> bool:
        return Path(self.config_path or CONFIG_FILE_NAME).is_file()

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


def _count_metrics_in(config: Config) -> None:
    """Prometheus multiprocess mode for this process and its children (gunicorn workers, job
    processes): set before prometheus_client is first imported, as it reads it then."""
    config.metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(config.metrics_dir))


@main.command()
@pass_app
def run(app: AppContext) -> None:
    """Start Redis (embedded unless redis.url is set), one worker and the HTTP server."""
    from video_manager.supervisor import run_all

    _require_free_port(app.config)
    sys.exit(run_all(app.config, app.config_path))


@main.command()
@pass_app
def serve(app: AppContext) -> None:
    """Start only the HTTP server (gunicorn)."""
    _require_free_port(app.config)
    _count_metrics_in(app.config)
    from video_manager.http_server import serve as serve_http

    serve_http(app.config)


@main.command()
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@pass_app
def worker(app: AppContext, burst: bool) -> None:
    """Start only the RQ worker (may run on another host with the same config)."""
    _count_metrics_in(app.config)
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
    if not app.config_found and not app.config.data_dir.exists():
        click.echo(
            f"warning: no {CONFIG_FILE_NAME} here and no data yet in {app.config.data_dir}: this user goes "
            "into a new, empty database that no server uses yet; run this from the folder you start "
            "the server in, or pass --config.",
            err=True,
        )
    with _database(app.config):
        try:
            _user, token = accounts.create_user(name, password)
        except (accounts.UserExistsError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"created user {name} in {_database_name(app.config)}", err=True)
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


# -- client commands ---------------------------------------------------------------------------

EXIT_FAILED = 1  # the server refused, or a task failed
EXIT_UNREACHABLE = 3


def client_options(command):
    """`--url`, `--token` (or VIDEO_MANAGER_URL / VIDEO_MANAGER_TOKEN) and `--json` on a client command."""
    command = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(command)
    command = click.option("--token", envvar="VIDEO_MANAGER_TOKEN", required=True, help="API token.")(command)
    command = click.option(
        "--url", envvar="VIDEO_MANAGER_URL", default=None,
        help="The server (default: server.public_url, else server.host:server.port, of the config the "
        "server reads, env overrides included).",
    )(command)  # fmt: skip
    return command


class ClientRun:
    """Turns API errors into a message on stderr and a meaningful exit code."""

    def __init__(self, url: str | None, token: str, as_json: bool) -> None:
        from video_manager.client import ApiClient

        if url is None:
            url = click.get_current_context().find_object(AppContext).config.client_url
        self.api = ApiClient(url, token)
        self.as_json = as_json

    def __enter__(self) -> ClientRun:
        return self

    def __exit__(self, exc_type, exc, _tb) -> bool:
        from video_manager.client import ApiError

        if isinstance(exc, ApiError):
            if self.as_json:
                click.echo(json.dumps({"error": exc.code, "detail": exc.detail, "status": exc.status}))
            else:
                click.echo(f"error: {exc.detail} ({exc.code})", err=True)
            sys.exit(EXIT_UNREACHABLE if exc.status is None else EXIT_FAILED)
        return False

    def show(self, data, human: str) -> None:
        click.echo(json.dumps(data, indent=2) if self.as_json else human)


def _video_line(video: dict) -> str:
    duration = f"{video['duration']:.3f}s" if video.get("duration") is not None else "-"
    size = f"{video.get('width')}x{video.get('height')}" if video.get("width") else "-"
    line = f"{video['id']}  {video['status']:<8}  {duration:>10}  {size:>10}  {video['name']}"
    return f"{line}  ({video['error']})" if video.get("error") else line


def _task_line(task: dict) -> str:
    line = f"{task['task_id']}  {task['kind']}  {task['status']}  {task['progress'] * 100:.0f}%"
    if task.get("result"):
        line += f"  video {task['result']['video_id']}"
    if task.get("error"):
        line += f"  {task['error']['error']}: {task['error']['detail']}"
    return line


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--chunk-size", default=16 * 1024 * 1024, show_default=True, help="Bytes per PATCH request.")
@click.option("--protocol", type=click.Choice(["tus", "ietf"]), default="tus", show_default=True,
              help="tus 1.0.0, or the IETF resumable-upload draft (interop version 8).")  # fmt: skip
@client_options
def upload(
    files: tuple[str, ...], chunk_size: int, protocol: str, url: str, token: str, as_json: bool
) -> None:
    """Upload videos (tus, or the IETF draft); an interrupted upload resumes when run again."""
    from pathlib import Path

    from tqdm import tqdm

    uploaded = []
    with ClientRun(url, token, as_json) as run:
        for name in files:
            path = Path(name)
            with tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name,
                      disable=as_json or None, leave=False) as bar:  # fmt: skip

                def started(offset: int, _size: int, bar=bar, path=path) -> None:
                    if offset:
                        click.echo(f"{path.name}: resuming from byte {offset}", err=True)
                    bar.update(offset)

                video = run.api.upload(
                    path, chunk_size=chunk_size, on_start=started, on_progress=bar.update, protocol=protocol
                )
            uploaded.append(video)
            if not as_json:
                click.echo(_video_line(video))
        if as_json:
            click.echo(json.dumps(uploaded, indent=2))
    if any(video["status"] != "ready" for video in uploaded):
        sys.exit(EXIT_FAILED)


@main.command("list")
@client_options
def list_videos(url: str, token: str, as_json: bool) -> None:
    """List your videos, newest first."""
    with ClientRun(url, token, as_json) as run:
        videos = run.api.videos()
        run.show(videos, "\n".join(_video_line(v) for v in videos) or "no videos")


@main.command()
@click.argument("video_id")
@click.option("--start", required=True, help="Seconds or HH:MM:SS.mmm")
@click.option("--end", required=True, help="Seconds or HH:MM:SS.mmm")
@click.option("--mode", type=click.Choice(["precise", "fast"]), default="precise", show_default=True)
@click.option("--wait", "wait_for", is_flag=True, help="Wait for the task to finish.")
@client_options
def trim(
    video_id: str, start: str, end: str, mode: str, wait_for: bool, url: str, token: str, as_json: bool
) -> None:
    """Queue a trim; prints the task."""
    with ClientRun(url, token, as_json) as run:
        task = run.api.trim(video_id, start, end, mode)
        _finish_task(run, task, wait_for)


@main.command()
@click.argument("video_ids", nargs=-1, required=True)
@click.option("--wait", "wait_for", is_flag=True, help="Wait for the task to finish.")
@client_options
def merge(video_ids: tuple[str, ...], wait_for: bool, url: str, token: str, as_json: bool) -> None:
    """Queue a merge of the videos, in the order given; prints the task."""
    with ClientRun(url, token, as_json) as run:
        task = run.api.merge(list(video_ids))
        _finish_task(run, task, wait_for)


@main.command()
@click.argument("video_id")
@click.option("--expires", "expires_s", type=float, required=True, help="Lifetime in seconds.")
@client_options
def share(video_id: str, expires_s: float, url: str, token: str, as_json: bool) -> None:
    """Create a public link; prints its URL."""
    with ClientRun(url, token, as_json) as run:
        link = run.api.share(video_id, expires_s)
        run.show(link, link["url"])  # alone on stdout: `url=$(video-manager share ...)`
        if not as_json:
            click.echo(f"(expires {link['expires_at']})", err=True)


@main.command()
@click.argument("video_id")
@client_options
def shares(video_id: str, url: str, token: str, as_json: bool) -> None:
    """List a video's share links, newest first."""
    with ClientRun(url, token, as_json) as run:
        links = run.api.shares(video_id)
        lines = [_share_line(link) for link in links]
        run.show(links, "\n".join(lines) or "no share links")


def _share_line(link: dict) -> str:
    state = "revoked" if link["revoked"] else f"expires {link['expires_at']}"
    return f"{link['id']}  {state}  {link['url']}"


@main.command()
@click.argument("share_id")
@client_options
def revoke(share_id: str, url: str, token: str, as_json: bool) -> None:
    """Revoke a share link; it stops working at once."""
    with ClientRun(url, token, as_json) as run:
        run.api.revoke(share_id)
        run.show({"revoked": share_id}, f"revoked {share_id}")


@main.command()
@click.argument("video_id")
@client_options
def delete(video_id: str, url: str, token: str, as_json: bool) -> None:
    """Delete a video, with its share links and everything made from it."""
    with ClientRun(url, token, as_json) as run:
        run.api.delete_video(video_id)
        run.show({"deleted": video_id}, f"deleted {video_id}")


@main.command()
@click.argument("task_id")
@client_options
def status(task_id: str, url: str, token: str, as_json: bool) -> None:
    """Show a task."""
    with ClientRun(url, token, as_json) as run:
        task = run.api.task(task_id)
        run.show(task, _task_line(task))


@main.command()
@click.argument("task_id")
@client_options
def wait(task_id: str, url: str, token: str, as_json: bool) -> None:
    """Wait for a task with a progress bar; exit 1 if it failed."""
    with ClientRun(url, token, as_json) as run:
        _finish_task(run, run.api.task(task_id), True)


@main.group()
def webhook() -> None:
    """Send your events (video ready, task finished, ...) to a URL, signed (Standard Webhooks)."""


@webhook.command("add")
@click.argument("target_url", metavar="URL")
@click.option("--events", "events", multiple=True, default=["*"], show_default=True,
              help="An event type to send (repeat, or separate with commas); * for all.")  # fmt: skip
@client_options
def webhook_add(target_url: str, events: tuple[str, ...], url: str, token: str, as_json: bool) -> None:
    """Add a webhook; prints its id and its signing secret (shown only this once)."""
    chosen = [event.strip() for group in events for event in group.split(",") if event.strip()]
    with ClientRun(url, token, as_json) as run:
        hook = run.api.add_webhook(target_url, chosen)
        run.show(hook, f"{_webhook_line(hook)}\nsecret {hook['secret']}  (shown only now: keep it)")


@webhook.command("list")
@client_options
def webhook_list(url: str, token: str, as_json: bool) -> None:
    """List your webhooks."""
    with ClientRun(url, token, as_json) as run:
        hooks = run.api.webhooks()
        run.show(hooks, "\n".join(_webhook_line(hook) for hook in hooks) or "no webhooks")


@webhook.command("delete")
@click.argument("webhook_id")
@client_options
def webhook_delete(webhook_id: str, url: str, token: str, as_json: bool) -> None:
    """Delete a webhook; deliveries still pending are dropped."""
    with ClientRun(url, token, as_json) as run:
        run.api.delete_webhook(webhook_id)
        run.show({"deleted": webhook_id}, f"deleted {webhook_id}")


@webhook.command("deliveries")
@click.argument("webhook_id")
@client_options
def webhook_deliveries(webhook_id: str, url: str, token: str, as_json: bool) -> None:
    """The webhook's latest delivery attempts, newest first."""
    with ClientRun(url, token, as_json) as run:
        attempts = run.api.deliveries(webhook_id)
        lines = [f"{a['attempted_at']}  {a['type']}  attempt {a['attempt']}  "
                 f"{a['status_code'] or a['error']}  {a['state']}" for a in attempts]  # fmt: skip
        run.show(attempts, "\n".join(lines) or "no deliveries yet")


def _webhook_line(hook: dict) -> str:
    disabled = "  (disabled: its receiver kept failing)" if hook.get("status") == "disabled" else ""
    return f"{hook['id']}  {','.join(hook['events'])}  {hook['url']}{disabled}"


def _finish_task(run: ClientRun, task: dict, wait_for: bool) -> None:
    if wait_for:
        from tqdm import tqdm

        with tqdm(total=100, unit="%", desc=task["kind"], disable=run.as_json or None, leave=False) as bar:

            def advance(current: dict) -> None:
                bar.update(round(current["progress"] * 100) - bar.n)

            task = run.api.wait(task["task_id"], on_progress=advance)
    run.show(task, _task_line(task))
    if task["status"] == "failed":
        sys.exit(EXIT_FAILED)


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")


def _require_free_port(config: Config) -> None:
    """Said at once, instead of a server that reports it is serving and then dies."""
    from video_manager.processes import address_in_use

    host, port = config.server.host, config.server.port
    if address_in_use(host, port):
        raise click.ClickException(
            f"{host}:{port} is already in use (another video-manager, or another program); stop it, "
            "or choose another port: server.port in the config, or VIDEO_MANAGER_SERVER_PORT."
        )


def _database_name(config: Config) -> str:
    """The database a command wrote to, without the password a URL may carry."""
    from urllib.parse import urlsplit

    url = urlsplit(config.database_url)
    if url.scheme.startswith("sqlite"):
        return config.database_url.split(":///", 1)[1]
    where = url.netloc.rsplit("@", 1)[-1]
    return f"{url.scheme}://{url.username + '@' if url.username else ''}{where}{url.path}"


def _database(config: Config):
    from storage.database import db, open_database
    from storage.schema import create_tables

    open_database(config.database_url)
    create_tables()
    return db.connection_context()


if __name__ == "__main__":
    main()
