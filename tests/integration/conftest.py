"""Shared fixtures: a real paddockd on a temporary state dir and a free loopback port."""
import http.client
import json
import os
import socket
import subprocess
import tempfile
import time

import pytest

BIN_DIR = os.environ.get("PADDOCK_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
PADDOCKD = os.path.join(BIN_DIR, "paddockd")
PADDOCK = os.path.join(BIN_DIR, "paddock")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class Daemon:
    """A running paddockd. `request` talks TCP with the admin token unless told otherwise."""

    def __init__(self, state_dir, port, proc, log_path):
        self.state_dir = state_dir
        self.port = port
        self.proc = proc
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"
        self.socket = os.path.join(state_dir, "paddockd.sock")

    @property
    def token(self):
        with open(os.path.join(self.state_dir, "admin.token")) as f:
            return f.read().strip()

    def request(self, method, path, body=None, headers=None, token="admin", unix=False):
        hdrs = dict(headers or {})
        if token == "admin":
            token = self.token
        if token and not unix:
            hdrs.setdefault("Authorization", f"Bearer {token}")
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn = UnixHTTPConnection(self.socket) if unix else http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_for_log(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log():
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared in the daemon log:\n{self.log()}")

    def stop(self, sig=15, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def wait_ready(daemon, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if daemon.proc.poll() is not None:
            raise RuntimeError(f"paddockd exited with {daemon.proc.returncode}:\n{daemon.log()}")
        # The unix socket is opened last, after the TCP listener, so it answering means ready.
        try:
            if os.path.exists(daemon.socket) and \
                    daemon.request("GET", "/healthz", token=None, unix=True).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"paddockd not ready in {timeout}s:\n{daemon.log()}")


def start_daemon(state_dir, extra_args=(), env=None, config_text=None):
    port = free_port()
    args = [PADDOCKD, "--state-dir", state_dir, "--listen", f"127.0.0.1:{port}"]
    if config_text is not None:
        cfg = os.path.join(state_dir + ".toml")
        with open(cfg, "w") as f:
            f.write(config_text)
        args += ["--config", cfg]
    args += list(extra_args)
    log_path = state_dir + ".log"
    full_env = dict(os.environ)
    full_env.pop("NOTIFY_SOCKET", None)
    full_env.pop("JOURNAL_STREAM", None)
    full_env.update(env or {})
    log = open(log_path, "w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    d = Daemon(state_dir, port, proc, log_path)
    wait_ready(d)
    return d


@pytest.fixture
def tmp_state(tmp_path):
    return str(tmp_path / "state")


@pytest.fixture
def daemon(tmp_state):
    d = start_daemon(tmp_state)
    yield d
    d.stop()


def run_cli(args, daemon=None, env=None, input=None, timeout=30):
    """Runs the real `paddock` CLI. With `daemon`, PADDOCK_SOCKET points at its socket."""
    full_env = dict(os.environ)
    for k in ("PADDOCK_SOCKET", "PADDOCK_URL", "PADDOCK_TOKEN"):
        full_env.pop(k, None)
    if daemon is not None:
        full_env["PADDOCK_SOCKET"] = daemon.socket
    full_env.update(env or {})
    return subprocess.run([PADDOCK] + list(args), capture_output=True, text=True, env=full_env,
                          input=input, timeout=timeout)


def bash_complete(completion_script, *words, env=None):
    """Runs the `paddock` bash completion for `words` (the last one is being typed, with the built
    paddock first in PATH); returns the offered words, sorted."""
    script = f'source "{completion_script}"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _paddock; ' \
             'printf "%s\\n" "${COMPREPLY[@]}"'
    full_env = dict(os.environ)
    full_env["PATH"] = os.path.dirname(os.path.abspath(PADDOCK)) + os.pathsep + full_env["PATH"]
    full_env.update(env or {})
    result = subprocess.run(["bash", "-c", script, "bash"] + list(words), capture_output=True, text=True,
                            env=full_env, timeout=30)
    assert result.returncode == 0, result.stderr
    return sorted(w for w in result.stdout.splitlines() if w)
