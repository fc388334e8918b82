"""Soak under chaos: `video-manager run` under mixed load from several users while Redis, the
worker and the server are SIGKILLed at random; at the end nothing acknowledged may be lost.

Load: tus uploads of real clips (a third cut mid-PATCH and resumed), fast and precise trims,
merges, shares and HLS fetches, from `BENCH_SOAK_USERS` users at once. Chaos: every 15-45 s one
of redis-server, the worker or the server is killed with SIGKILL; the supervisor starts it
again. Clients retry what a fault interrupted (that is what clients do), and every outcome is
checked afterwards:

- every upload the server acknowledged (its last PATCH answered 204) is intact (sha256);
- every task ended `finished`, or `failed` with a reason; none is left queued or started;
- every file under data/videos and data/uploads belongs to a row (no orphans);
- the server's memory (RSS of its process tree) at the start and the end of each life.

`BENCH_SOAK_S` sets the length (1800 s by default; 120 s is enough to see every fault kind).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import requests

from bench.harness import WORK_DIR
from tests.api import merge, share, trim
from tests.media import make_video
from tests.servers import LiveSystem, auth, cli_create_user, process_env
from tests.tus import cut_patch, patch, settle_offset

SOAK_S = float(os.environ.get("BENCH_SOAK_S", "1800"))
USERS = int(os.environ.get("BENCH_SOAK_USERS", "3"))
FAULT_EVERY_S = (15.0, 45.0)
SETTLE_S = 300.0
RETRYABLE = (requests.ConnectionError, requests.Timeout)


class Soak:
    def __init__(self, system: LiveSystem, clips: list[bytes]) -> None:
        self.system = system
        self.clips = clips
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.acknowledged: dict[tuple[str, str], str] = {}  # (token, video id) → sha256
        self.tasks: list[tuple[str, dict]] = []
        self.errors: list[str] = []

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def retrying(self, call, what: str, attempts: int = 60):
        """`call()` until it answers below 500 (faults give connection errors and 503s)."""
        for _ in range(attempts):
            if self.stop.is_set() and what != "verify":
                return None
            try:
                answer = call()
                if answer.status_code < 500:
                    return answer
            except RETRYABLE:
                pass
            self.count(f"{what} retried")
            time.sleep(1.0)
        self.errors.append(f"{what}: no answer below 500 in {attempts} attempts")
        return None

    # -- what users do ----------------------------------------------------------------------

    def user(self, token: str, seed: int) -> None:
        rng = random.Random(seed)
        mine: list[str] = []
        while not self.stop.is_set():
            action = rng.choice(["upload", "upload", "trim", "trim", "merge", "share"]) if mine else "upload"
            try:
                getattr(self, action)(token, rng, mine)
                self.count(action)
            except RETRYABLE:
                self.count(f"{action} interrupted")
                time.sleep(1.0)
            except Exception as exc:  # a client bug is reported, and the user goes on
                self.errors.append(f"{action}: {type(exc).__name__}: {exc}")
                time.sleep(1.0)

    def upload(self, token: str, rng: random.Random, mine: list[str]) -> None:
        data = rng.choice(self.clips)
        base = self.system.url
        made = self.retrying(lambda: requests.post(
            f"{base}/api/videos/chunked_upload/", timeout=30,
            headers={**auth(token), "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data))},
        ), "create")  # fmt: skip
        if made is None or made.status_code != 201:
            return
        url = made.headers["Location"]
        if rng.random() < 1 / 3:  # cut mid-PATCH, then resumed
            cut = rng.randrange(1, len(data))
            with contextlib.suppress(OSError):
                cut_patch(self.system.port, url, token, 0, data[:cut], declared=len(data))
            self.count("cut")
        while not self.stop.is_set():
            try:
                at = settle_offset(url, token, at_most=len(data), timeout_s=30)
                if at == len(data) or patch(url, token, at, data[at:]).status_code == 204:
                    break
            except (*RETRYABLE, AssertionError, KeyError, ValueError):
                time.sleep(1.0)
        else:
            return
        video_id = url.rsplit("/", 1)[1]
        with self.lock:
            self.acknowledged[(token, video_id)] = hashlib.sha256(data).hexdigest()
        mine.append(video_id)

    def trim(self, token: str, rng: random.Random, mine: list[str]) -> None:
        mode = rng.choice(["fast", "precise"])
        video_id = rng.choice(mine)
        window = {"start_time": 0.5, "end_time": 2, "mode": mode}
        answer = self.retrying(lambda: trim(self.system, token, video_id, **window), "trim")
        self._record(token, answer)

    def merge(self, token: str, rng: random.Random, mine: list[str]) -> None:
        ids = [rng.choice(mine) for _ in range(2)]
        self._record(token, self.retrying(lambda: merge(self.system, token, ids), "merge"))

    def share(self, token: str, rng: random.Random, mine: list[str]) -> None:
        video_id = rng.choice(mine)
        made = self.retrying(lambda: share(self.system, token, video_id, 600), "share")
        if made is None or made.status_code != 201:
            return
        link = made.json()["url"]
        got = self.retrying(lambda: requests.get(link, timeout=30), "share fetch")
        if got is not None and got.status_code == 200:
            self.count("share bytes")
        playlist = self.retrying(lambda: requests.get(f"{link}/hls.m3u8", timeout=60), "hls")
        if playlist is not None and playlist.status_code == 200:
            segment = next((line for line in playlist.text.splitlines() if line.endswith(".m4s")), None)
            if segment and requests.get(f"{link}/{segment}", timeout=30).status_code == 200:
                self.count("hls segment")

    def _record(self, token: str, answer) -> None:
        if answer is not None and answer.status_code == 202:
            with self.lock:
                self.tasks.append((token, answer.json()))

    # -- chaos ------------------------------------------------------------------------------

    def chaos(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.wait(rng.uniform(*FAULT_EVERY_S)):
            victim = rng.choice(["redis-server", "worker", "serve"])
            pid = self.system.children().get(victim)
            if pid is None:
                continue  # still being started again after the last fault
            os.kill(pid, signal.SIGKILL)
            self.count(f"killed {victim}")


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit("soak: stopped by SIGTERM")


def _server_rss_kib(system: LiveSystem) -> int:
    pid = system.children().get("serve")
    if pid is None:
        return 0
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(entry.name) == pid or int(fields[1]) == pid:
                    total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
            except (OSError, IndexError, ValueError):
                continue
    return total


def verify(soak: Soak, data_dir: Path) -> dict[str, int]:
    losses: Counter[str] = Counter()
    for (token, video_id), digest in soak.acknowledged.items():
        url = f"{soak.system.url}/api/videos/{video_id}/download/"
        got = soak.retrying(lambda url=url, token=token: requests.get(url, headers=auth(token), timeout=120),
                            "verify")  # fmt: skip
        if got is None or got.status_code != 200:
            losses[f"upload lost ({got.status_code if got is not None else 'no answer'}): {video_id}"] += 1
        elif hashlib.sha256(got.content).hexdigest() != digest:
            losses[f"upload changed: {video_id}"] += 1
    deadline = time.monotonic() + SETTLE_S
    for token, task in soak.tasks:
        state = None
        while time.monotonic() < deadline:
            status_url = task["status_url"]
            answer = soak.retrying(
                lambda url=status_url, token=token: requests.get(url, headers=auth(token), timeout=30),
                "verify",
            )
            state = answer.json() if answer is not None else None
            if state and state["status"] in ("finished", "failed"):
                break
            time.sleep(0.5)
        if not state or state["status"] not in ("finished", "failed"):
            losses["task stuck"] += 1
        elif state["status"] == "failed" and not (state.get("error") or {}).get("error"):
            losses["task failed without a reason"] += 1
        else:
            soak.count(f"task {state['status']}")
    with sqlite3.connect(data_dir / "video-manager.db") as rows:
        videos = {row[0].replace("-", "") for row in rows.execute("SELECT id FROM video")}
        uploads = {row[0].replace("-", "") for row in rows.execute("SELECT id FROM upload")}
    for path in (data_dir / "videos").rglob("*"):
        if path.is_file() and path.name.replace("-", "") not in videos:
            losses["orphaned video file"] += 1
    for path in (data_dir / "uploads").glob("*"):
        stem = path.name.split(".", 1)[0].replace("-", "")
        if path.is_file() and stem not in uploads:
            losses["orphaned upload file"] += 1
    return dict(losses)


def main() -> None:
    data_dir = WORK_DIR / "soak"
    shutil.rmtree(data_dir, ignore_errors=True)
    clips_dir = data_dir.parent / "soak-clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    clips = [
        make_video(clips_dir / "a.mp4", seconds=3).read_bytes(),
        make_video(clips_dir / "b.mp4", seconds=4, size="640x360", rate=25).read_bytes(),
        make_video(clips_dir / "c.mov", seconds=3, audio=False).read_bytes(),
    ]
    system = LiveSystem(process_env(data_dir, "")).start()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)  # a stopped soak stops the system it started
    soak = Soak(system, clips)
    tokens = [cli_create_user(system.env, f"soak{n}") for n in range(USERS)]
    rss: list[tuple[float, int]] = []
    threads = [
        threading.Thread(target=soak.user, args=(token, n), daemon=True) for n, token in enumerate(tokens)
    ]
    threads.append(threading.Thread(target=soak.chaos, args=(20261202,), daemon=True))
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        while time.monotonic() - started < SOAK_S:
            rss.append((time.monotonic() - started, _server_rss_kib(system)))
            time.sleep(10)
        soak.stop.set()
        for thread in threads:
            thread.join(timeout=120)
        settled = time.monotonic() + 60
        while not system.healthy() and time.monotonic() < settled:
            time.sleep(1)
        losses = verify(soak, data_dir)
        rss.append((time.monotonic() - started, _server_rss_kib(system)))
    finally:
        system.stop()
    faults = {key: value for key, value in soak.counts.items() if key.startswith("killed")}
    operations = {key: value for key, value in soak.counts.items() if not key.startswith("killed")}
    print(f"\nsoak: {SOAK_S:.0f} s, {USERS} users")
    print(f"  operations: {dict(sorted(operations.items()))}")
    print(f"  faults injected: {dict(sorted(faults.items()))} ({sum(faults.values())} in all)")
    print(f"  acknowledged uploads: {len(soak.acknowledged)}, tasks: {len(soak.tasks)}")
    print(f"  losses: {losses or 0}; client errors: {soak.errors or 0}")
    samples = [kib for _at, kib in rss if kib]
    if samples:
        first, peak, last = (round(kib / 1024) for kib in (samples[0], max(samples), samples[-1]))
        print(f"  server RSS (MiB), every 10 s: first {first}, max {peak}, last {last}")
    if losses:
        raise SystemExit(f"soak: something acknowledged was lost; its data stays in {data_dir}")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
