"""Headless Chromium for the tests that need a real browser: Debian's build, driven by Playwright
(`executable_path`), which never downloads one."""

from __future__ import annotations

import shutil

import pytest

from tests.servers import PROJECT_ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
OUTPUT_DIR = PROJECT_ROOT / "test-output"

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (Debian: apt-get install chromium)"
)
