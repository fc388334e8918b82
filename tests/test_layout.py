"""How the code is put together: what imports what."""

import subprocess
import sys


def test_the_database_handle_does_not_import_the_models():
    """storage.database ↔ storage.models was an import cycle; models import the handle, not back."""
    check = "import sys, storage.database; sys.exit('storage.models' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0


def test_the_gunicorn_master_does_not_load_the_app():
    """The app (redis, requests) must load after gevent patched the standard library."""
    loaded = "any(name in sys.modules for name in ('server', 'redis', 'requests'))"
    check = f"import sys, video_manager.http_server; sys.exit({loaded})"
    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0
