"""Typed configuration: `config.toml`, then `VIDEO_MANAGER_<SECTION>_<KEY>` environment overrides.

One frozen object is built at start-up and handed to every part, so a wrong value fails at once
with the key named instead of surfacing later as a confusing runtime error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "VIDEO_MANAGER_"
CONFIG_FILE_NAME = "config.toml"


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    worker_class: str = "gevent"
    connections: int = 1000
    threads: int = 8
    trust_proxy: bool = False
    public_url: str = ""
    cors_origins: list[str] = field(default_factory=lambda: ["*"])
    log_level: str = "info"
    x_sendfile: bool = False
    x_accel_redirect: str = ""
    web_assets_dir: str = "web/node_modules"


@dataclass(frozen=True)
class RedisConfig:
    url: str = ""
    queue: str = "video-manager"


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = ""


@dataclass(frozen=True)
class StorageConfig:
    data_dir: str = "data"
    backend: str = "local"  # "local": videos under data_dir; "s3": in the [s3] bucket


@dataclass(frozen=True)
class S3Config:
    endpoint_url: str = ""  # empty: AWS S3
    bucket: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""
    prefix: str = ""
    part_size: int = 8 * 1024 * 1024
    presigned_downloads: bool = False


@dataclass(frozen=True)
class LocksConfig:
    backend: str = "file"  # "file": flock under data/ (one host); "redis": leases (several hosts)
    wait_s: float = 5.0
    lease_s: float = 30.0


@dataclass(frozen=True)
class LimitsConfig:
    max_upload_bytes: int = 20 * 1024**3
    probe_timeout_s: float = 60.0
    # What a video may ask of the machine: beyond these it is refused at ingest.
    max_frame_rate: float = 240.0
    max_frame_side: int = 8192
    max_duration_s: float = 24 * 3600.0
    min_free_mb: int = 512  # /health reports unhealthy below this much free space in data_dir
    user_quota_bytes: int = 0  # what one user's videos and pending uploads may take; 0: no quota
    # Fairness and ceilings per user (429 `too_many` beyond a ceiling):
    user_jobs_in_flight: int = 2  # of one user's tasks, this many at most queued for a worker or running
    user_queued_tasks: int = 100  # unfinished (queued or running) tasks
    user_unfinished_uploads: int = 50  # tus/IETF uploads and chunk-form files still receiving
    user_pending_renders: int = 20  # storyboards and HLS renditions waiting to be made


@dataclass(frozen=True)
class FfmpegConfig:
    ffmpeg: str = ""
    ffprobe: str = ""
    timeout_s: float = 3600.0
    memory_limit_mb: int = 4096  # address-space ceiling of every ffmpeg and probe process
    encoder: str = "auto"  # the ladder's H.264 encoder: "auto" (NVENC when it works), "libx264", "h264_nvenc"
    threads: int = 0  # threads per ladder encode (0: ffmpeg's choice); 1 makes a worker use one core


@dataclass(frozen=True)
class RenditionsConfig:
    enabled: bool = True  # shares and the player stream an adaptive ladder (HLS)
    ladder: list[int] = field(default_factory=lambda: [1080, 720, 480, 360])  # short sides, never upscaled
    chunk_s: float = 30.0  # seconds of source per encode job: the unit the fleet shares
    segment_s: float = 4.0  # HLS segment length (every rung starts its segments on the same frames)
    on_upload: bool = False  # make the ladder at upload; false: on the first share or playback request


@dataclass(frozen=True)
class TusConfig:
    expiry_s: int = 24 * 3600
    cleanup_interval_s: int = 600


@dataclass(frozen=True)
class JobsConfig:
    retries: int = 2
    retry_delay_s: int = 5
    heartbeat_timeout_s: int = 30
    x264_crf: int = 18
    x264_preset: str = "veryfast"
    smart_cut: bool = True  # precise trims re-encode only the partial GOPs at both ends


@dataclass(frozen=True)
class SharesConfig:
    secret_key: str = ""
    old_secret_keys: list[str] = field(default_factory=list)
    max_expiry_s: int = 30 * 24 * 3600


@dataclass(frozen=True)
class HooksConfig:
    pre_create_url: str = ""  # asked before every new upload is accepted; empty: no hook
    timeout_s: float = 5.0  # a hook slower than this refuses the upload (503), never admits it


@dataclass(frozen=True)
class WebhooksConfig:
    allow_private: bool = False  # deliver to loopback, private and link-local addresses (tests, LANs)
    # Seconds before each retry of a failed delivery: the Standard Webhooks schedule, about a day.
    retry_delays_s: list[float] = field(default_factory=lambda: [5, 300, 1800, 7200, 18000, 36000, 36000])
    timeout_s: float = 10.0  # one attempt: connect, send, and the receiver's answer


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = True  # GET /metrics in Prometheus' text format
    token: str = ""  # when set, /metrics needs `Authorization: Bearer <token>`
    dir: str = ""  # where processes keep their samples; empty: in memory (/dev/shm), per data_dir


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    s3: S3Config = field(default_factory=S3Config)
    locks: LocksConfig = field(default_factory=LocksConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    ffmpeg: FfmpegConfig = field(default_factory=FfmpegConfig)
    renditions: RenditionsConfig = field(default_factory=RenditionsConfig)
    tus: TusConfig = field(default_factory=TusConfig)
    jobs: JobsConfig = field(default_factory=JobsConfig)
    shares: SharesConfig = field(default_factory=SharesConfig)
    hooks: HooksConfig = field(default_factory=HooksConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    base_dir: Path = field(default_factory=Path.cwd)  # relative paths (data_dir) start here

    @property
    def data_dir(self) -> Path:
        return (self.base_dir / self.storage.data_dir).resolve()

    @property
    def metrics_dir(self) -> Path:
        """Where every process of this host writes its Prometheus samples (multiprocess mode).

        Not under data_dir by default: the samples are memory-mapped files, and a full data disk
        must cost an upload a 507, never a worker killed by SIGBUS while counting it."""
        if self.metrics.dir:
            return self.base_dir / self.metrics.dir
        memory = Path("/dev/shm")
        root = memory if memory.is_dir() else Path(tempfile.gettempdir())
        return root / f"video-manager-metrics-{hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]}"

    @property
    def client_url(self) -> str:
        """Where clients reach the server this config describes: `server.public_url`, else its
        own address (loopback when it listens everywhere)."""
        if self.server.public_url:
            return self.server.public_url.rstrip("/")
        host = self.server.host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{f'[{host}]' if ':' in host else host}:{self.server.port}"

    @property
    def on_object_storage(self) -> bool:
        if self.storage.backend not in ("local", "s3"):
            raise ConfigError(f"storage.backend must be 'local' or 's3', not {self.storage.backend!r}")
        return self.storage.backend == "s3"

    @property
    def web_assets_dir(self) -> Path:
        return (self.base_dir / self.server.web_assets_dir).resolve()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'video-manager.db'}"


def load_config(
    path: str | os.PathLike[str] | None = None, env: typing.Mapping[str, str] | None = None
) -> Config:
    """Read the TOML file and apply env: `path`, else `VIDEO_MANAGER_CONFIG`, else `./config.toml`.

    Never a file found relative to this package: installed in site-packages, that would put the
    data directory there. With no file at all the defaults apply, relative to the current folder.
    """
    env = os.environ if env is None else env
    explicit = path or env.get(f"{ENV_PREFIX}CONFIG")
    chosen = Path(explicit or CONFIG_FILE_NAME).absolute()  # not resolve(): a symlinked config.toml
    # belongs to the folder it is linked from (the checkout links the packaged default)
    raw: dict[str, typing.Any] = {}
    if chosen.is_file():
        try:
            raw = tomllib.loads(chosen.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{chosen}: {exc}") from exc
    elif explicit:
        raise ConfigError(f"config file {chosen} does not exist")

    sections: dict[str, typing.Any] = {}
    for section_field in dataclasses.fields(Config):
        if section_field.name == "base_dir":
            continue
        section_type = _resolve(Config, section_field.name)
        values = raw.pop(section_field.name, {})
        if not isinstance(values, dict):
            raise ConfigError(f"[{section_field.name}] must be a table")
        sections[section_field.name] = _build_section(section_field.name, section_type, values, env)
    if raw:
        raise ConfigError(f"unknown config section(s): {', '.join(sorted(raw))}")
    return Config(**sections, base_dir=chosen.parent)


def _build_section(
    name: str, section_type: type, values: dict[str, typing.Any], env: typing.Mapping[str, str]
):
    known = {f.name for f in dataclasses.fields(section_type)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown key(s) in [{name}]: {', '.join(sorted(unknown))}")
    kwargs = {}
    for key in known:
        key_type = _resolve(section_type, key)
        env_name = f"{ENV_PREFIX}{name}_{key}".upper()
        if env_name in env:
            kwargs[key] = _parse_env(env[env_name], key_type, env_name)
        elif key in values:
            kwargs[key] = _check_type(values[key], key_type, f"{name}.{key}")
    return section_type(**kwargs)


def _resolve(owner: type, name: str) -> typing.Any:
    return typing.get_type_hints(owner)[name]


def _check_type(value: typing.Any, expected: typing.Any, where: str) -> typing.Any:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typing.get_origin(expected) is list:
        (item_type,) = typing.get_args(expected)
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return [_check_type(item, item_type, where) for item in value]
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(f"{where} must be {expected.__name__}, got {value!r}")
    return value


def _parse_env(text: str, expected: typing.Any, env_name: str) -> typing.Any:
    try:
        if expected is bool:
            lowered = text.strip().lower()
            if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(text)
            return lowered in {"1", "true", "yes", "on"}
        if expected in (int, float):
            return expected(text)
        if typing.get_origin(expected) is list:
            parsed = (
                json.loads(text)
                if text.strip().startswith("[")
                else [
                    _parse_env(item.strip(), typing.get_args(expected)[0], env_name)
                    for item in text.split(",")
                    if item.strip()
                ]
            )
            return _check_type(parsed, expected, env_name)
        return text
    except (ValueError, json.JSONDecodeError) as exc:
        type_name = getattr(expected, "__name__", str(expected))
        raise ConfigError(f"{env_name} must be {type_name}, got {text!r}") from exc
