"""Webhooks end to end: a real receiver on loopback, a real server, worker and delivery process,
signatures checked with the `standardwebhooks` library receivers use."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import urllib3
from standardwebhooks.webhooks import Webhook as Verifier
from tusclient.client import TusClient

from processor.outbound import UrlRefused, is_public, post, resolve
from storage import webhooks
from storage.database import db
from storage.models import Delivery, DeliveryState, User, Webhook, utcnow
from tests.api import share, stored, trim, upload, wait_task, wait_until
from tests.servers import (
    PROJECT_ROOT,
    VIDEO_MANAGER,
    LiveServer,
    LiveWorker,
    auth,
    cli_create_user,
    process_env,
)

pytestmark = pytest.mark.e2e

DELIVERY_TIMEOUT_S = 2.0
EVENT_WAIT_S = 30


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """Records every POST. Under `/flaky/` it answers 500 to the first two attempts of each
    `webhook-id`, then 200; under `/down/` always 500; elsewhere 200 at once."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                call = Call(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver.lock:
                    receiver.calls.append(call)
                    event_id = call.headers["webhook-id"]
                    seen = sum(1 for c in receiver.calls if c.headers["webhook-id"] == event_id)
                failing = self.path.startswith("/down/") or (self.path.startswith("/flaky/") and seen <= 2)
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def at(self, path: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.path == path]

    def events(self, path: str, secret: str) -> list[dict]:
        """Every event delivered to `path`, each verified against `secret` (fails on a bad one)."""
        return [Verifier(secret).verify(call.body, call.headers) for call in self.at(path)]

    def wait_for(self, path: str, secret: str, *types: str) -> list[dict]:
        def arrived() -> bool:
            got = Counter(event["type"] for event in self.events(path, secret))
            return all(got[t] >= need for t, need in Counter(types).items())

        wait_until(arrived, EVENT_WAIT_S, f"events {types} at {path}", interval_s=0.1)
        return self.events(path, secret)

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_server):
    """Server and worker delivering to loopback (allow_private), retrying after 0.3 s, 0.3 s, 1 s."""
    data_dir = tmp_path_factory.mktemp("webhooks")
    env = process_env(
        data_dir, redis_server.url, webhooks_allow_private="true", webhooks_retry_delays_s="0.3,0.3,1",
        webhooks_timeout_s=str(DELIVERY_TIMEOUT_S),
    )  # fmt: skip
    server = LiveServer(env).start()
    worker = LiveWorker(env).start()
    receiver = Receiver()
    try:
        yield server, env, receiver, data_dir
    finally:
        receiver.close()
        worker.stop()
        server.stop()


def add_webhook(server, token: str, url: str, events: list[str] | None = None) -> dict:
    body = {"url": url} if events is None else {"url": url, "events": events}
    response = requests.post(f"{server.url}/api/webhooks/", headers=auth(token), json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def tus_upload(server, token: str, path) -> str:
    client = TusClient(f"{server.url}/api/videos/chunked_upload/", headers=auth(token))
    uploader = client.uploader(str(path), chunk_size=64 * 1024, metadata={"filename": path.name})
    uploader.upload()
    return uploader.url.rstrip("/").rsplit("/", 1)[1]


def test_upload_and_trim_deliver_signed_events(stack, sample_video):
    server, env, receiver, _data = stack
    token = cli_create_user(env, "alice")
    hook = add_webhook(server, token, receiver.url("/alice"))
    assert hook["events"] == ["*"] and hook["secret"].startswith("whsec_")

    video_id = tus_upload(server, token, sample_video)
    task = trim(server, token, video_id, start_time=0.5, end_time=2).json()
    done = wait_task(token, task)
    assert done["status"] == "finished"
    events = receiver.wait_for("/alice", hook["secret"], "video.ready", "task.started", "task.finished",
                               "video.ready")  # fmt: skip

    by_type: dict[str, list[dict]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
    uploaded, made = sorted(by_type["video.ready"], key=lambda e: e["data"]["id"] != video_id)
    assert uploaded["data"]["id"] == video_id and uploaded["data"]["status"] == "ready"
    assert uploaded["data"]["download_url"] == f"{server.url}/api/videos/{video_id}/download/"
    assert made["data"]["id"] == done["result"]["video_id"]
    (started,) = by_type["task.started"]
    (finished,) = by_type["task.finished"]
    assert started["data"]["task_id"] == finished["data"]["task_id"] == task["task_id"]
    assert started["data"]["status"] == "started"
    assert finished["data"] == {**done, "status_url": finished["data"]["status_url"]}
    assert finished["data"]["status_url"].endswith(f"/api/videos/tasks/{task['task_id']}/status/")
    for call in receiver.at("/alice"):
        assert call.headers["webhook-id"] == json.loads(call.body)["id"]
        assert call.headers["content-type"] == "application/json"
    with pytest.raises(Exception, match="signature"):
        Verifier("whsec_" + "A" * 43).verify(receiver.at("/alice")[0].body, receiver.at("/alice")[0].headers)


def test_a_failed_trim_delivers_task_failed(stack, sample_video):
    server, env, receiver, data_dir = stack
    token = cli_create_user(env, "bob")
    hook = add_webhook(server, token, receiver.url("/bob"), ["task.failed"])
    video = upload(server, token, sample_video)
    path = stored(data_dir, video["id"])
    path.write_bytes(path.read_bytes()[:2000])  # damaged on disk after the upload
    done = wait_task(token, trim(server, token, video["id"], start_time=0, end_time=1).json())
    assert done["status"] == "failed"
    (event,) = receiver.wait_for("/bob", hook["secret"], "task.failed")
    assert event["data"]["error"] == done["error"] and event["data"]["task_id"] == done["task_id"]
    assert [call.event["type"] for call in receiver.at("/bob")] == ["task.failed"]  # only what it asked for


def test_a_receiver_failing_twice_gets_the_same_event_three_times(stack, sample_video):
    server, env, receiver, _data = stack
    token = cli_create_user(env, "carol")
    hook = add_webhook(server, token, receiver.url("/flaky/carol"), ["video.ready"])
    video = upload(server, token, sample_video)
    wait_until(lambda: len(receiver.at("/flaky/carol")) >= 3, EVENT_WAIT_S, "three attempts")
    time.sleep(1.5)  # a fourth attempt would come within the retry delays
    calls = receiver.at("/flaky/carol")
    assert len(calls) == 3
    assert len({call.headers["webhook-id"] for call in calls}) == 1
    assert len({call.body for call in calls}) == 1
    for call in calls:
        assert Verifier(hook["secret"]).verify(call.body, call.headers)["data"]["id"] == video["id"]

    log = requests.get(f"{server.url}/api/webhooks/{hook['id']}/deliveries/", headers=auth(token), timeout=10)
    attempts = sorted(log.json()["results"], key=lambda a: a["attempt"])
    assert [(a["attempt"], a["status_code"], a["type"]) for a in attempts] == [
        (1, 500, "video.ready"), (2, 500, "video.ready"), (3, 200, "video.ready"),
    ]  # fmt: skip
    assert {a["event_id"] for a in attempts} == {calls[0].headers["webhook-id"]}
    assert {a["state"] for a in attempts} == {"delivered"}

    metrics = requests.get(f"{server.url}/metrics", timeout=10).text
    assert 'videomanager_webhook_deliveries_total{outcome="retrying"}' in metrics


def test_shares_and_deletion_are_announced_only_to_their_owner(stack, sample_video):
    server, env, receiver, _data = stack
    owner = cli_create_user(env, "dave")
    stranger = cli_create_user(env, "erin")
    announced = ["share.created", "share.revoked", "video.deleted"]
    mine = add_webhook(server, owner, receiver.url("/dave"), announced)
    theirs = add_webhook(server, stranger, receiver.url("/erin"))

    video = upload(server, owner, sample_video)
    link = share(server, owner, video["id"], 60).json()
    assert requests.delete(f"{server.url}/api/shares/{link['id']}/", headers=auth(owner)).status_code == 204
    assert requests.delete(f"{server.url}/api/videos/{video['id']}/", headers=auth(owner)).status_code == 204
    events = receiver.wait_for("/dave", mine["secret"], "share.created", "share.revoked", "video.deleted")
    events.sort(key=lambda event: event["created_at"])  # sent in parallel: arrival order is not promised
    assert [e["type"] for e in events] == ["share.created", "share.revoked", "video.deleted"]
    created, revoked, deleted = (e["data"] for e in events)
    assert created == {**link, "revoked": False}
    assert revoked["id"] == link["id"] and revoked["revoked"] is True
    assert deleted["id"] == video["id"]

    assert receiver.at("/erin") == []  # the stranger's webhook hears nothing of dave's
    foreign = f"{server.url}/api/webhooks/{mine['id']}/"
    assert requests.delete(foreign, headers=auth(stranger)).status_code == 404
    assert requests.get(foreign + "deliveries/", headers=auth(stranger)).status_code == 404
    listed = requests.get(f"{server.url}/api/webhooks/", headers=auth(stranger)).json()["results"]
    assert [hook["id"] for hook in listed] == [theirs["id"]]
    assert "secret" not in listed[0]


def test_a_receiver_that_never_answers_does_not_hold_up_jobs(stack, sample_video):
    """Trims with a webhook to a socket that accepts and never answers: every attempt waits out
    its timeout, and the trims finish all the same, long before their events could have been
    sent one after another (how much a silent receiver costs is measured by bench/webhooks.py)."""
    server, env, _receiver, _data = stack
    token = cli_create_user(env, "frank")
    video = upload(server, token, sample_video)
    silent = socket.create_server(("127.0.0.1", 0), backlog=256)
    try:
        hook = add_webhook(server, token, f"http://127.0.0.1:{silent.getsockname()[1]}/hook")
        started = time.monotonic()
        tasks = [trim(server, token, video["id"], start_time=0, end_time=1, mode="fast") for _ in range(6)]
        for task in tasks:
            assert wait_task(token, task.json())["status"] == "finished"
        took = time.monotonic() - started
        events_owed = 3 * len(tasks)  # task.started, video.ready, task.finished
        assert took < events_owed * DELIVERY_TIMEOUT_S / 2  # sent two at a time, they would take 18 s
        log_url = f"{server.url}/api/webhooks/{hook['id']}/deliveries/"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the attempts meanwhile wait out their timeout
            log = requests.get(log_url, headers=auth(token), timeout=10).json()
            if any(attempt["error"] == "timed out" for attempt in log["results"]):
                break
            time.sleep(0.5)
        assert any(attempt["error"] == "timed out" for attempt in log["results"]), log
        assert (
            requests.delete(f"{server.url}/api/webhooks/{hook['id']}/", headers=auth(token)).status_code
            == 204
        )
    finally:
        silent.close()


def test_private_addresses_are_refused_unless_allowed(live_server, make_user):
    _name, _pw, token = make_user()
    for url, code in [
        ("http://127.0.0.1:9/hook", "private_address"),
        ("http://localhost/hook", "private_address"),
        ("http://10.1.2.3/hook", "private_address"),
        ("http://169.254.169.254/latest/meta-data/", "private_address"),
        ("http://[::1]/hook", "private_address"),
        ("http://[::ffff:192.168.0.1]/hook", "private_address"),
        ("http://0.0.0.0/hook", "private_address"),
        ("http://[64:ff9b::a9fe:a9fe]/", "private_address"),
        ("http://[64:ff9b::a00:1]/", "private_address"),
        ("http://[64:ff9b:1::7f00:1]/", "private_address"),
        ("http://[2002:a9fe:a9fe::]/", "private_address"),
        ("http://[::7f00:1]/", "private_address"),
        ("http://[::ffff:0:7f00:1]/", "private_address"),
        ("http://[fec0::1]/", "private_address"),
        ("ftp://example.com/hook", "invalid_url"),
        ("/relative/hook", "invalid_url"),
        ("http://user:secret@example.com/hook", "invalid_url"),
        ("http://example.com:99999/hook", "invalid_url"),
    ]:
        response = requests.post(f"{live_server.url}/api/webhooks/", headers=auth(token), json={"url": url})
        assert response.status_code == 400, (url, response.text)
        assert response.json()["error"] == code, (url, response.json())
    unknown = requests.post(f"{live_server.url}/api/webhooks/", headers=auth(token),
                            json={"url": "https://example.com/", "events": ["video.exploded"]})  # fmt: skip
    assert unknown.status_code == 400
    assert requests.get(f"{live_server.url}/api/webhooks/", headers=auth(token)).json() == {"results": []}


def test_cli_adds_lists_and_deletes_webhooks(stack):
    server, env, receiver, _data = stack
    token = cli_create_user(env, "grace")
    client = {**env, "VIDEO_MANAGER_URL": server.url, "VIDEO_MANAGER_TOKEN": token}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*VIDEO_MANAGER, "webhook", *args], env=client, cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    added = cli("add", receiver.url("/grace"), "--events", "video.ready,task.failed", "--json")
    assert added.returncode == 0, added.stderr
    hook = json.loads(added.stdout)
    assert hook["events"] == ["video.ready", "task.failed"] and hook["secret"].startswith("whsec_")
    listed = cli("list")
    assert listed.returncode == 0 and hook["id"] in listed.stdout and "whsec_" not in listed.stdout
    refused = cli("add", "gopher://example.com/")
    assert refused.returncode == 1 and "http" in refused.stderr
    assert cli("delete", hook["id"]).returncode == 0
    assert "no webhooks" in cli("list").stdout


# -- one function at a time --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("10.0.0.8", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("64:ff9b:1::7f00:1", False),  # local-use NAT64
        ("2002:a9fe:a9fe::", False),  # 6to4 of 169.254.169.254
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),  # Teredo with a client 10.0.0.1
        ("::7f00:1", False),  # IPv4-compatible 127.0.0.1
        ("::ffff:0:7f00:1", False),  # IPv4-translated 127.0.0.1
        ("fec0::1", False),  # site-local
    ],
)
def test_only_global_unicast_addresses_are_public(address, public):
    assert is_public(address) is public


def test_resolve_keeps_the_checked_address_and_the_name(monkeypatch):
    target = resolve("http://127.0.0.1:8080/in?x=1", allow_private=True)
    assert (target.address, target.port, target.path, target.host_header) == (
        "127.0.0.1", 8080, "/in?x=1", "127.0.0.1:8080",
    )  # fmt: skip
    assert resolve("https://[::1]/", allow_private=True).host_header == "[::1]"
    # A name whose answers mix a public and a private address is refused (rebinding tricks).
    monkeypatch.setattr(socket, "getaddrinfo", lambda *_a, **_k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 80)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)),
    ])  # fmt: skip
    with pytest.raises(UrlRefused) as refused:
        resolve("http://rebind.example/", allow_private=False)
    assert refused.value.code == "private_address"


def test_a_delivery_is_retried_on_schedule_then_given_up(scratch_database, make_user):
    username = make_user()[0]
    with db.connection_context():
        user = User.get(User.username == username)
        secret = "whsec_" + "A" * 43
        hook = Webhook.create(owner=user, url="http://127.0.0.1:9/", events='["*"]', secret=secret)
        webhooks.owe([hook], "evt_retry", "video.ready", "{}")
        delays = [0.0, 3600.0]

        def claim() -> list[Delivery]:
            return webhooks.claim_due(10, lease_s=60, in_flight={}, per_webhook=2)

        (first,) = claim()
        assert claim() == []  # leased: no second sender takes it
        assert webhooks.record_attempt(first, 503, None, delays, utcnow()) == DeliveryState.PENDING
        (second,) = claim()  # the first retry is due at once
        assert webhooks.record_attempt(second, None, "timed out", delays, utcnow()) == DeliveryState.PENDING
        assert claim() == []  # the next one only in an hour
        third = Delivery.get_by_id(second.id)
        assert third.next_attempt_at > utcnow() + timedelta(minutes=59)
        assert Webhook.get_by_id(hook.id).paused_until > utcnow() + timedelta(minutes=59)  # the whole webhook
        Webhook.update(paused_until=utcnow()).where(Webhook.id == hook.id).execute()  # as if the hour passed
        assert webhooks.record_attempt(third, 500, None, delays, utcnow()) == DeliveryState.FAILED
        attempts = webhooks.recent_attempts(hook.id)
        assert [(a.attempt, a.status_code, a.error) for a, _d in attempts] == [
            (3, 500, None), (2, None, "timed out"), (1, 503, None),
        ]  # fmt: skip
        assert Webhook.get_by_id(hook.id).status == "disabled"  # failed through the whole schedule
        hook.delete_instance()
        assert webhooks.record_attempt(third, 200, None, delays, utcnow()) == ""  # deleted meanwhile


def test_claims_take_at_most_two_of_one_webhook_and_none_of_a_paused_one(scratch_database, make_user):
    username = make_user()[0]
    with db.connection_context():
        user = User.get(User.username == username)
        busy, quiet, paused = (
            Webhook.create(owner=user, url=f"http://127.0.0.1:9/{name}", events='["*"]', secret="whsec_x")
            for name in ("busy", "quiet", "paused")
        )
        Webhook.update(paused_until=utcnow() + timedelta(hours=1)).where(Webhook.id == paused.id).execute()
        for number in range(40):
            webhooks.owe([busy], f"evt_busy{number}", "share.created", "{}")
        webhooks.owe([quiet, paused], "evt_other", "share.created", "{}")
        claimed = webhooks.claim_due(32, lease_s=60, in_flight={busy.id: 1}, per_webhook=2)
        assert sorted(str(d.webhook_id) for d in claimed) == sorted([str(busy.id), str(quiet.id)])
        assert webhooks.claim_due(32, lease_s=60, in_flight={busy.id: 2}, per_webhook=2) == []


class BadReceiver:
    """Receivers from hell on one port: under `/silent` it reads the request and never answers;
    under `/trickle` it sends a status line and headers one byte every half second, forever."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.connections: list[socket.socket] = []
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}{path}"

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            request = connection.recv(65536)
            if b" /trickle" in request.split(b"\r\n", 1)[0]:
                for byte in itertools.cycle(b"HTTP/1.1 200 OK\r\nX-Slow: "):
                    if self.closed.wait(0.5):
                        return
                    connection.sendall(bytes([byte]) if byte != 10 else b"a")
            else:
                self.closed.wait()
        except OSError:
            return

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.close()


def test_post_gives_up_at_its_deadline_when_the_answer_trickles():
    bad = BadReceiver()
    try:
        target = resolve(bad.url("/trickle"), allow_private=True)
        started = time.monotonic()
        with pytest.raises(urllib3.exceptions.TimeoutError):
            post(target, b"{}", {"Content-Type": "application/json"}, timeout_s=1.0)
        assert time.monotonic() - started < 2.0
    finally:
        bad.close()


def test_dead_and_trickling_receivers_never_delay_another_users_event(tmp_path, redis_server, sample_video):
    """40 events owed to a receiver that never answers and to 8 that trickle (one user's), with
    the default 10 s per attempt: another user's event still arrives within 2 s."""
    env = process_env(tmp_path, redis_server.url, webhooks_allow_private="true")
    server = LiveServer(env).start()
    worker = LiveWorker(env).start()
    bad, good = BadReceiver(), Receiver()
    try:
        flooder, bystander = cli_create_user(env, "flooder"), cli_create_user(env, "bystander")
        video = upload(server, flooder, sample_video)
        add_webhook(server, flooder, bad.url("/silent"), ["share.created"])
        for number in range(8):
            add_webhook(server, flooder, bad.url(f"/trickle/{number}"), ["share.created"])
        for _ in range(40):
            assert share(server, flooder, video["id"], 3600).status_code == 201
        own = upload(server, bystander, sample_video)
        hook = add_webhook(server, bystander, good.url("/bystander"), ["share.created"])
        time.sleep(1.5)  # every sender the flood can have is taken by now
        shared_at = time.monotonic()
        assert share(server, bystander, own["id"], 3600).status_code == 201
        good.wait_for("/bystander", hook["secret"], "share.created")
        waited = time.monotonic() - shared_at
        print(f"the bystander's event arrived after {waited:.2f} s")
        assert waited < 2.0
    finally:
        bad.close()
        good.close()
        worker.stop()
        server.stop()


def test_a_receiver_failing_through_the_schedule_is_disabled_until_enabled(stack, sample_video):
    server, env, receiver, _data = stack
    token = cli_create_user(env, "unlucky")
    video = upload(server, token, sample_video)
    hook = add_webhook(server, token, receiver.url("/down/always"), ["share.created"])
    assert share(server, token, video["id"], 60).status_code == 201
    hook_url = f"{server.url}/api/webhooks/{hook['id']}/"

    def status() -> str:
        listed = requests.get(f"{server.url}/api/webhooks/", headers=auth(token), timeout=10).json()
        return next(h["status"] for h in listed["results"] if h["id"] == hook["id"])

    assert status() == "active"
    wait_until(lambda: status() == "disabled", EVENT_WAIT_S, "the webhook disabled", interval_s=0.2)
    attempts = len(requests.get(hook_url + "deliveries/", headers=auth(token), timeout=10).json()["results"])
    assert attempts == 4  # the first attempt and one per retry of the 0.3, 0.3, 1 s schedule
    assert share(server, token, video["id"], 60).status_code == 201  # owed, not sent while disabled
    time.sleep(1.5)
    assert len(receiver.at("/down/always")) == attempts
    enabled = requests.post(hook_url + "enable/", headers=auth(token), timeout=10)
    assert enabled.status_code == 200 and enabled.json()["status"] == "active"
    wait_until(lambda: len(receiver.at("/down/always")) > attempts, EVENT_WAIT_S, "deliveries resumed")
    foreign = cli_create_user(env, "nosy")
    assert requests.post(hook_url + "enable/", headers=auth(foreign), timeout=10).status_code == 404


def test_the_same_url_twice_is_409(stack):
    server, env, receiver, _data = stack
    token = cli_create_user(env, "twice")
    add_webhook(server, token, receiver.url("/twice"))
    again = requests.post(f"{server.url}/api/webhooks/", headers=auth(token),
                          json={"url": receiver.url("/twice")}, timeout=10)  # fmt: skip
    assert again.status_code == 409 and again.json()["error"] == "duplicate_webhook"
    other = cli_create_user(env, "twice-too")
    add_webhook(server, other, receiver.url("/twice"))  # another user's own webhook is theirs
