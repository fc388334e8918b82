"""A receiver that never answers must not slow jobs: 20 fast trims with no webhook against the
same batch with a webhook to a socket that accepts and never answers (every attempt waits out
its timeout), alternated three times so a slower stretch of the machine hits both. Goal: the
silent receiver costs at most 10 %."""

from __future__ import annotations

import socket
import time

import requests

from bench.harness import WORK_DIR, running_stack
from tests.api import trim, upload, wait_task
from tests.media import make_video
from tests.servers import auth

BATCH = 20
ROUNDS = 3


def batch(server, token: str, video_id: str, count: int) -> float:
    started = time.monotonic()
    tasks = [trim(server, token, video_id, start_time=0, end_time=1, mode="fast") for _ in range(count)]
    for task in tasks:
        assert wait_task(token, task.json())["status"] == "finished"
    return time.monotonic() - started


def main() -> None:
    clip = make_video(WORK_DIR / "media" / "webhook-clip.mp4", seconds=3)
    overrides = {"webhooks_allow_private": "true", "webhooks_timeout_s": "2"}
    with running_stack("webhooks", with_worker=True, overrides=overrides) as stack:
        server, token = stack.server, stack.token
        video = upload(server, token, clip)
        silent = socket.create_server(("127.0.0.1", 0), backlog=256)
        hook_body = {"url": f"http://127.0.0.1:{silent.getsockname()[1]}/hook"}
        try:
            batch(server, token, video["id"], 4)  # warm up
            plain, slowed = [], []
            for _ in range(ROUNDS):
                plain.append(batch(server, token, video["id"], BATCH))
                hook = requests.post(
                    f"{server.url}/api/webhooks/", headers=auth(token), json=hook_body
                ).json()
                slowed.append(batch(server, token, video["id"], BATCH))
                requests.delete(f"{server.url}/api/webhooks/{hook['id']}/", headers=auth(token))
        finally:
            silent.close()
    ratio = sum(slowed) / sum(plain)
    print(f"webhooks: {BATCH} fast trims, {ROUNDS} rounds alternated")
    print(f"  no webhook       {', '.join(f'{s:.2f}' for s in plain)} s")
    print(f"  silent receiver  {', '.join(f'{s:.2f}' for s in slowed)} s")
    print(f"  ratio {ratio:.3f} (goal <= 1.10)")


if __name__ == "__main__":
    main()
