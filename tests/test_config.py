from pathlib import Path

import pytest

from video_manager.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_and_env_overrides(tmp_path):
    path = write(tmp_path, '[server]\nport = 8100\n[storage]\ndata_dir = "d"\n')
    config = load_config(
        path,
        env={
            "VIDEO_MANAGER_SERVER_PORT": "9000",
            "VIDEO_MANAGER_SERVER_TRUST_PROXY": "yes",
            "VIDEO_MANAGER_SERVER_CORS_ORIGINS": "https://a.example, https://b.example",
        },
    )
    assert config.server.port == 9000
    assert config.server.trust_proxy is True
    assert config.server.cors_origins == ["https://a.example", "https://b.example"]
    assert config.data_dir == (tmp_path / "d").resolve()
    assert config.database_url == f"sqlite:///{(tmp_path / 'd').resolve() / 'video-manager.db'}"


def test_config_path_from_env(tmp_path):
    path = write(tmp_path, "[server]\nport = 8123\n")
    assert load_config(env={"VIDEO_MANAGER_CONFIG": str(path)}).server.port == 8123


@pytest.mark.parametrize(
    ("text", "env", "named"),
    [
        ("[server]\nport = 'eighty'\n", {}, "server.port"),
        ("[server]\nprot = 1\n", {}, "prot"),
        ("[nonsense]\n", {}, "nonsense"),
        ("", {"VIDEO_MANAGER_SERVER_PORT": "x"}, "VIDEO_MANAGER_SERVER_PORT"),
        ("", {"VIDEO_MANAGER_SERVER_TRUST_PROXY": "maybe"}, "VIDEO_MANAGER_SERVER_TRUST_PROXY"),
        ("[server]\nworkers = true\n", {}, "server.workers"),
        ("[server\n", {}, "config.toml"),
    ],
)
def test_wrong_values_name_the_key(tmp_path, text, env, named):
    with pytest.raises(ConfigError, match=named):
        load_config(write(tmp_path, text), env=env)


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml", env={})


def test_a_symlinked_config_belongs_to_the_folder_it_is_linked_from(tmp_path):
    """The checkout's config.toml links the packaged default; data/ must land beside the link."""
    package, project = tmp_path / "package", tmp_path / "project"
    package.mkdir()
    project.mkdir()
    (package / "config.toml").write_text('[storage]\ndata_dir = "data"\n')
    (project / "config.toml").symlink_to(package / "config.toml")
    config = load_config(project / "config.toml", env={})
    assert config.data_dir == project / "data"


def test_the_checkouts_config_keeps_data_in_the_checkout():
    from tests.servers import PROJECT_ROOT

    config = load_config(PROJECT_ROOT / "config.toml", env={})
    assert config.data_dir == PROJECT_ROOT / "data"
    assert config.web_assets_dir == PROJECT_ROOT / "web" / "node_modules"


def test_the_shipped_config_file_says_what_the_defaults_are(tmp_path, monkeypatch):
    """Every default is written twice (the dataclasses and video_manager/config.toml): they agree."""
    import dataclasses

    from tests.servers import PROJECT_ROOT

    monkeypatch.chdir(tmp_path)  # no config.toml here: the defaults alone
    shipped = load_config(PROJECT_ROOT / "video_manager" / "config.toml", env={})
    defaults = load_config(None, env={})
    assert dataclasses.replace(shipped, base_dir=defaults.base_dir) == defaults
