"""paddockd as a service: configuration errors, sd_notify protocol, reload, stop, single instance."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import PADDOCKD, free_port, start_daemon


def run_paddockd(args, timeout=20):
    return subprocess.run([PADDOCKD] + args, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("text,expected", [
    ("[api]\nlisten = \"127.0.0.1:7070\"\nthreads = = 4\n", ":3:"),
    ("[api]\nlisten = \"127.0.0.1:7070\"\n\nlsten = \"x\"\n", ":4: key 'api.lsten': unknown key"),
    ("[daemon]\nlog_level = 3\n", ":2: key 'daemon.log_level': wrong type"),
    ("[api]\nthreads = 1000\n", ":2: key 'api.threads': must be between 1 and 256"),
    ("[api]\nlisten = \"127.0.0.1:http\"\n", ":2: key 'api.listen': port must be 1-65535"),
    ("[sandboxes]\nx = 1\n", ":1: key 'sandboxes': unknown section"),
])
def test_bad_config_exits_2_naming_file_line_and_key_and_starts_nothing(tmp_path, text, expected):
    cfg = tmp_path / "paddockd.toml"
    cfg.write_text(text)
    state = tmp_path / "state"
    p = run_paddockd(["--config", str(cfg), "--state-dir", str(state)])
    assert p.returncode == 2, p.stderr
    assert str(cfg) + expected in p.stderr, p.stderr
    assert not state.exists(), "a bad config must not create state"


def test_missing_config_file_and_bad_flags_exit_2(tmp_path):
    p = run_paddockd(["--config", str(tmp_path / "missing.toml"), "--state-dir", str(tmp_path / "s")])
    assert p.returncode == 2 and "missing.toml" in p.stderr
    p = run_paddockd(["--listen", "nonsense", "--state-dir", str(tmp_path / "s")])
    assert p.returncode == 2 and "--listen" in p.stderr
    p = run_paddockd(["--no-such-flag"])
    assert p.returncode == 2


def test_check_config_validates_the_shipped_default(tmp_path):
    shipped = os.path.join(os.environ.get("PADDOCK_SOURCE_DIR", "."), "packaging/paddockd.toml")
    p = run_paddockd(["--config", shipped, "--check-config"])
    assert p.returncode == 0, p.stderr
    assert "configuration OK" in p.stdout


class NotifyListener:
    """Plays systemd's side of sd_notify: a datagram socket named by NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []

    def collect(self):
        try:
            while True:
                data = self.sock.recv(4096).decode()
                self.messages.extend(data.split("\n"))
        except socket.timeout:
            pass
        return self.messages

    def wait_for(self, line, timeout=10):
        deadline = time.time() + timeout
        start = len(self.messages)
        while time.time() < deadline:
            self.collect()
            if line in self.messages[start:]:
                return self.messages[start:]
        raise AssertionError(f"no {line!r} in {self.messages}")


def test_sd_notify_ready_status_watchdog_reload_and_stop(tmp_path):
    listener = NotifyListener(str(tmp_path / "notify.sock"))
    state = str(tmp_path / "state")
    port = free_port()
    proc = subprocess.Popen([PADDOCKD, "--state-dir", state, "--listen", f"127.0.0.1:{port}"],
                            env=dict(os.environ, NOTIFY_SOCKET=listener.path, WATCHDOG_USEC="400000"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        before_ready = listener.wait_for("READY=1")
        assert any(m.startswith("STATUS=") for m in before_ready)
        # READY means serving: the API answers right away.
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        after = listener.wait_for("WATCHDOG=1")
        listener.wait_for("WATCHDOG=1")  # keeps pinging at half the interval
        status_lines = [m for m in listener.messages if m.startswith("STATUS=")]
        assert any(f"127.0.0.1:{port}" in m for m in status_lines), status_lines

        proc.send_signal(signal.SIGHUP)
        reload_msgs = listener.wait_for("READY=1")
        assert "RELOADING=1" in reload_msgs
        assert any(m.startswith("MONOTONIC_USEC=") for m in reload_msgs)
        assert proc.poll() is None

        proc.send_signal(signal.SIGTERM)
        listener.wait_for("STOPPING=1")
        assert proc.wait(timeout=10) == 0
        assert not os.path.exists(os.path.join(state, "paddockd.sock"))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_sigint_also_stops_cleanly(tmp_state):
    d = start_daemon(tmp_state)
    assert d.stop(sig=signal.SIGINT) == 0


def test_one_instance_per_state_dir(daemon):
    p = run_paddockd(["--state-dir", daemon.state_dir, "--listen", f"127.0.0.1:{free_port()}"])
    assert p.returncode == 1
    assert f"another paddockd (pid {daemon.proc.pid})" in p.stderr
    assert daemon.request("GET", "/api/v1/status").status == 200


def test_port_in_use_fails_start_with_a_clear_message(daemon, tmp_path):
    p = run_paddockd(["--state-dir", str(tmp_path / "other"), "--listen", f"127.0.0.1:{daemon.port}"])
    assert p.returncode == 1
    assert f"127.0.0.1:{daemon.port}" in p.stderr


def test_reload_applies_new_limits_and_survives_a_bad_file(tmp_state):
    config = tmp_state + ".toml"
    d = start_daemon(tmp_state, config_text="[api]\nmax_body_bytes = 2048\n")
    try:
        body = {"name": "x" * 10, "pad": "p" * 3000}
        r = d.request("POST", "/api/v1/tokens", body=body)
        assert r.status == 413
        with open(config, "w") as f:
            f.write("[api]\nmax_body_bytes = 65536\n")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_for_log("configuration reloaded")
        r = d.request("POST", "/api/v1/tokens", body=body)
        assert r.status == 400 and r.json()["invalid-params"][0]["name"] == "pad"

        with open(config, "w") as f:
            f.write("[api]\nmax_body_bytes = \"lots\"\n")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_for_log("reload failed")
        assert "api.max_body_bytes" in d.log()
        assert d.request("POST", "/api/v1/tokens", body=body).status == 400  # old limit kept
    finally:
        assert d.stop() == 0


def test_dev_mode_uses_dot_paddock_and_prints_where_to_connect(tmp_path):
    port = free_port()
    proc = subprocess.Popen([PADDOCKD, "--dev", "--listen", f"127.0.0.1:{port}"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = proc.stdout.readline()
        second = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first
        assert str(tmp_path / ".paddock" / "paddockd.sock") in first
        assert str(tmp_path / ".paddock" / "admin.token") in second
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_logs_go_to_journald_with_structured_fields_when_journal_stream_says_so(tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("SKIP: needs root and unshare for a private mount namespace")
    out = tmp_path / "journal.json"
    helper = os.path.join(os.path.dirname(__file__), "journal_capture.py")
    subprocess.run(["unshare", "--mount", sys.executable, helper, PADDOCKD, str(tmp_path / "state"),
                    str(free_port()), str(out)], check=True, timeout=60)
    result = json.loads(out.read_text())
    assert result["returncode"] == 0
    assert result["stderr"] == "", "with JOURNAL_STREAM, nothing goes to stderr"
    ready = [e for e in result["entries"] if e.get("MESSAGE", "").startswith("paddockd ") and
             e["MESSAGE"].endswith(" ready")]
    assert len(ready) == 1, result["entries"]
    entry = ready[0]
    assert entry["PRIORITY"] == "6"
    assert entry["SYSLOG_IDENTIFIER"] == "paddockd"
    assert entry["CODE_FILE"].endswith("daemon.cc")
    assert int(entry["CODE_LINE"]) > 0
    assert entry["PADDOCK_CGROUP_MODE"] in ("unified", "hybrid", "legacy")
    assert entry["PADDOCK_TOKEN_FILE"] == str(tmp_path / "state" / "admin.token")
    assert any(e.get("MESSAGE") == "stopped" for e in result["entries"])
