"""Compose's `webhook` profile end to end: two bot replicas in webhook mode behind the nginx proxy.

Run: python bench/compose_webhook_e2e.py   (needs a Docker engine with Compose v2: ../shared/tools/docker-here)
It builds the stack from this working tree, adds the Bot API stand-in (bench/compose/e2e.yml) and makes it
post to the proxy over HTTPS with a throwaway certificate (bench/compose/webhook.yml: nothing is published
but the stand-in's test port on 127.0.0.1), then: both replicas call setWebhook with the URL and secret;
the first verdict once the first-start training is live; 30 users at once, every one answered, by both
replicas; a forged post through the proxy refused (403); an inline query answered through it;
`sentibot health bot` in each replica. Prints one line of figures and removes the stack (volumes too).
Where the engine cannot pull nginx:1.27-alpine, a stand-in is built from Debian's nginx package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROJECT = "sentibot-webhook-e2e"
TOKEN = "123456:E2E-token"
ADMIN, USER = 42, 7
PORT = int(os.environ.get("E2E_STANDIN_PORT", "18082"))
SECRET = "e2e-" + os.urandom(12).hex()
FILES = ["docker-compose.yml", "bench/compose/e2e.yml", "bench/compose/webhook.yml"]
NGINX = "nginx:1.27-alpine"
USERS = 30


def compose(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    argv = ["docker", "compose", "-p", PROJECT, "--profile", "webhook"]
    for name in FILES:
        argv += ["-f", name]
    return subprocess.run([*argv, *args], cwd=ROOT, check=check, text=True, capture_output=capture)


def standin(path: str, body: dict | None = None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/test/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def wait(what: str, predicate, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"FAILED: {what} (waited {timeout:.0f} s)")


def verdicts(chat: int) -> list[str]:
    calls = standin(f"calls?chat_id={chat}&method=sendMessage")
    return [c["params"]["text"] for c in calls if c["params"]["text"].startswith(("Positive", "Negative", "Mixed"))]


def health() -> dict[str, list[str]]:
    out = compose("ps", "--format", "json", capture=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    if len(rows) == 1 and isinstance(rows[0], list):
        rows = rows[0]
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["Service"], []).append(row.get("Health") or row.get("State", ""))
    return found


def in_container(service: str, index: int, *argv: str) -> subprocess.CompletedProcess:
    return compose("exec", "-T", "--index", str(index), service, *argv, check=False, capture=True)


def reviews_taken(index: int) -> float:
    """sentibot_updates_total{kind="review"} of one bot replica (its metrics port, inside the container)."""
    code = (
        "import re, urllib.request; t = urllib.request.urlopen('http://127.0.0.1:9100/metrics').read().decode(); "
        "m = re.search(r'^sentibot_updates_total\\{kind=\"review\"\\} (\\S+)$', t, re.M); print(m[1] if m else 0)"
    )
    return float(in_container("bot", index, "python", "-c", code).stdout.strip() or 0)


def forged_status(secret: str | None) -> str:
    """POST an update to the proxy from inside the compose network, as someone without (or with) the secret."""
    code = (
        "import json, ssl, sys, urllib.request, urllib.error\n"
        "u = {'update_id': 990001, 'message': {'message_id': 1, 'date': 0, 'text': 'a superb film',"
        " 'chat': {'id': 5555, 'type': 'private'}, 'from': {'id': 5555, 'is_bot': False, 'first_name': 'M'}}}\n"
        "h = {'Content-Type': 'application/json'}\n"
        "if len(sys.argv) > 1: h['X-Telegram-Bot-Api-Secret-Token'] = sys.argv[1]\n"
        "r = urllib.request.Request('https://proxy/telegram/hook', json.dumps(u).encode(), h)\n"
        "c = ssl.create_default_context(cafile='/certs/fullchain.pem')\n"
        "try: print(urllib.request.urlopen(r, context=c, timeout=10).status)\n"
        "except urllib.error.HTTPError as e: print(e.code)\n"
    )
    return in_container("telegram", 1, "python", "-c", code, *([secret] if secret else [])).stdout.strip()


def make_certs(directory: Path) -> None:
    """A throwaway self-signed certificate for the host name `proxy` (the stand-in trusts it as its CA)."""
    directory.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=proxy",
         "-addext", "subjectAltName=DNS:proxy", "-keyout", str(directory / "privkey.pem"),
         "-out", str(directory / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    for name in ("privkey.pem", "fullchain.pem"):
        os.chmod(directory / name, 0o644)  # read by nginx's and the stand-in's users in the containers
    os.chmod(directory, 0o755)


def ensure_nginx() -> None:
    """nginx:1.27-alpine from the registry, or (an engine that cannot pull) a stand-in from Debian's nginx."""
    if subprocess.run(["docker", "image", "inspect", NGINX], capture_output=True).returncode == 0:
        return
    if subprocess.run(["docker", "pull", NGINX], capture_output=True).returncode == 0:
        return
    print(f"no {NGINX} to pull here: building a stand-in from Debian's nginx", flush=True)
    dockerfile = (
        "FROM python:3.11-slim\n"
        "RUN apt-get update -qq && apt-get install -y -qq nginx >/dev/null && rm -f /etc/nginx/sites-enabled/default\n"
        'CMD ["nginx", "-g", "daemon off;"]\n'
    )
    subprocess.run(["docker", "build", "-q", "-t", NGINX, "-"], input=dockerfile, text=True, check=True)


def main() -> None:
    from tests.factories import make_aclimdb, make_tarball

    figures: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix="sentibot-webhook-e2e-"))
    os.chmod(work, 0o755)
    make_tarball(make_aclimdb(work / "src", per_class=300), work / "aclImdb_v1.tar.gz")
    make_certs(work / "certs")
    os.environ.update(
        TELEGRAM_TOKEN=TOKEN,
        ADMIN_IDS=str(ADMIN),
        REDIS_PASSWORD="e2e-" + os.urandom(8).hex(),
        E2E_DATA_DIR=str(work),
        E2E_STANDIN_PORT=str(PORT),
        E2E_CERTS=str(work / "certs"),
        E2E_WEBHOOK_SECRET=SECRET,
    )
    try:
        ensure_nginx()
        started = time.monotonic()
        compose("build")
        figures["build_s"] = round(time.monotonic() - started, 1)
        up_at = time.monotonic()
        compose("up", "-d", "--scale", "bot=2")
        wait("the stand-in answers", lambda: standin("calls") is not None, 60)
        hooks = wait("both replicas set the webhook", lambda: len(standin("calls?method=setWebhook")) >= 2 and
                     standin("calls?method=setWebhook"), 120)  # fmt: skip
        assert all(h["params"]["url"] == "https://proxy/telegram/hook" for h in hooks), hooks
        assert all(h["params"]["secret_token"] == SECRET for h in hooks)
        print(f"setWebhook from both replicas: {len(hooks)} calls", flush=True)
        wait("bots healthy, proxy running", lambda: health().get("bot", []).count("healthy") == 2
             and health().get("proxy") == ["running"], 180, 2)  # fmt: skip
        print("2 bots healthy behind the proxy", flush=True)

        def first_verdict():
            standin("send", {"user_id": USER, "text": "a superb touching film"})
            time.sleep(4)
            return verdicts(USER)

        wait("the first verdict through the proxy (first-start training)", first_verdict, 600, 1)
        figures["first_verdict_s"] = round(time.monotonic() - up_at, 1)
        before = [reviews_taken(1), reviews_taken(2)]
        sent_at = time.monotonic()
        for i in range(USERS):
            standin("send", {"user_id": 3000 + i, "text": f"an awful boring mess, number {i}"})
        wait(f"{USERS} verdicts", lambda: all(verdicts(3000 + i) for i in range(USERS)), 60, 0.5)
        figures["burst_30_users_s"] = round(time.monotonic() - sent_at, 1)
        taken = [reviews_taken(1) - before[0], reviews_taken(2) - before[1]]
        print(f"{USERS} users at once: all answered; reviews taken by replica 1 / 2: {taken}", flush=True)
        assert sum(taken) >= USERS and all(t > 0 for t in taken), taken
        figures["replica_shares"] = taken
        assert forged_status(None) == "403" and forged_status("not-the-secret") == "403"
        time.sleep(3)
        assert not standin("calls?chat_id=5555"), "a forged post was processed"
        print("forged posts through the proxy: 403, never answered", flush=True)
        update = standin("inline", {"user_id": 8, "query": "a superb touching film"})
        answer = wait("the inline answer", lambda: [c for c in standin("calls?method=answerInlineQuery")
                      if c["params"]["inline_query_id"] == update["inline_query"]["id"]], 30)  # fmt: skip
        print(f"inline through the proxy: {answer[0]['params']['results'][0]['title']}", flush=True)
        for index in (1, 2):
            checked = in_container("bot", index, "sentibot", "health", "bot")
            assert checked.returncode == 0, checked.stdout + checked.stderr
            print(f"replica {index}: {checked.stdout.strip()}", flush=True)
    except BaseException:
        print(compose("logs", "--tail", "30", "bot", "proxy", "telegram", check=False, capture=True).stdout[-8000:])
        raise
    finally:
        compose("down", "-v", "--remove-orphans", check=False, capture=True)
    print("compose webhook e2e: " + "  ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
