"""`paddock sandbox ...` against a real paddockd running real sandboxes: output streaming, exit
statuses, limits, stop/rm, logs, usage errors and bash completion.

The tests run as root, so every sandbox runs as uid 0 inside a user namespace that maps it to an
unprivileged host uid (65534 by default): host files a sandbox must write have to be writable by
that uid.
"""
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from conftest import bash_complete, PADDOCK, run_cli, start_daemon

SOURCE_DIR = os.environ.get("PADDOCK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
COMPLETION = os.path.join(SOURCE_DIR, "cli/paddock.bash-completion")

EXIT_OK, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_API_ERROR = 0, 2, 3, 4
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
SANDBOX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def ok(result):
    assert result.returncode == EXIT_OK, \
        f"rc={result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def output(result):
    return f"rc={result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


@pytest.fixture
def sandboxes(daemon):
    """Ids registered here are force-removed after the test: sandboxes outlive their daemon."""
    ids = []
    yield ids
    for sandbox_id in ids:
        run_cli(["sandbox", "rm", "--force", sandbox_id], daemon=daemon)


def run_detached(daemon, sandboxes, *args):
    """`sandbox run --detach ARGS`; returns the new id (the last word of the output)."""
    result = ok(run_cli(["sandbox", "run", "--detach", *args], daemon=daemon))
    sandbox_id = result.stdout.split()[-1]
    assert SANDBOX_ID.match(sandbox_id), result.stdout
    sandboxes.append(sandbox_id)
    return sandbox_id


def inspect(daemon, sandbox_id):
    return json.loads(ok(run_cli(["sandbox", "inspect", "--json", sandbox_id], daemon=daemon)).stdout)


def wait_exited(daemon, sandbox_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sandbox = inspect(daemon, sandbox_id)
        if sandbox["state"] == "exited":
            return sandbox
        time.sleep(0.1)
    raise AssertionError(f"{sandbox_id} still running after {timeout}s")


def newest(daemon):
    """The newest sandbox, as `sandbox ls --json` lists newest first."""
    return json.loads(ok(run_cli(["sandbox", "ls", "--json"], daemon=daemon)).stdout)["sandboxes"][0]


def table_rows(text):
    """A key/value listing as a dict."""
    return dict(re.split(r"\s{2,}", line, maxsplit=1) for line in text.splitlines())


# --- run in the foreground -------------------------------------------------------------------------


def test_run_streams_stdout_and_stderr_and_exits_with_the_code(daemon):
    result = run_cli(["sandbox", "run", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], daemon=daemon)
    assert result.returncode == 3, output(result)
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"

    sandbox = newest(daemon)
    assert sandbox["state"] == "exited"
    assert sandbox["exit_code"] == 3
    assert sandbox["signal"] is None
    assert sandbox["reason"] == "exit"
    assert ISO_TIME.match(sandbox["created_at"]) and ISO_TIME.match(sandbox["finished_at"])


def test_run_passes_arguments_after_dashes_untouched(daemon):
    args = ["printf", "%s|", "a", "b c", "--json", "--timeout", "1", "-d", "", "it's"]
    result = ok(run_cli(["sandbox", "run", "--", *args], daemon=daemon))
    assert result.stdout == "a|b c|--json|--timeout|1|-d||it's|"
    assert newest(daemon)["command"] == args


def test_run_without_dashes_for_plain_words(daemon):
    result = ok(run_cli(["sandbox", "run", "echo", "plain", "words"], daemon=daemon))
    assert result.stdout == "plain words\n"


def test_run_output_is_streamed_while_the_sandbox_runs(daemon):
    proc = subprocess.Popen(
        [PADDOCK, "sandbox", "run", "--", "sh", "-c", "echo first; sleep 2; echo second"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PADDOCK_SOCKET": daemon.socket})
    try:
        start = time.monotonic()
        assert proc.stdout.readline() == "first\n"
        assert time.monotonic() - start < 1.5, "the first line waited for the sandbox to end"
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out == "second\n"


def test_run_environment_and_workspace(daemon, tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    # The sandbox's root is an unprivileged uid on the host (see the module docstring).
    workspace.chmod(0o777)
    result = run_cli(["sandbox", "run", "--workspace", str(workspace), "--root", "host",
                      "--env", "GREETING=hi there", "--env", "EMPTY=", "--", "sh", "-c",
                      'printf "%s|%s|" "$GREETING" "${EMPTY-unset}" > /workspace/out.txt'], daemon=daemon)
    assert result.returncode == 0, output(result)
    assert (workspace / "out.txt").read_text() == "hi there||"
    sandbox = newest(daemon)
    assert sandbox["workspace"] == str(workspace)
    assert sandbox["root"] == "host"


def test_run_makes_host_paths_absolute(daemon, tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir()
    real.chmod(0o777)
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path)
    result = run_cli(["sandbox", "run", "--workspace", "link", "--", "touch", "/workspace/made"],
                     daemon=daemon)
    assert result.returncode == 0, output(result)
    assert newest(daemon)["workspace"] == os.path.realpath(real)
    assert (real / "made").exists()


def test_run_over_tcp_with_a_token(daemon):
    env = {"PADDOCK_URL": daemon.url, "PADDOCK_TOKEN": daemon.token, "PADDOCK_SOCKET": "/nonexistent.sock"}
    result = run_cli(["sandbox", "run", "--", "sh", "-c", "echo over tcp; echo e >&2; exit 4"], env=env)
    assert (result.returncode, result.stdout, result.stderr) == (4, "over tcp\n", "e\n"), output(result)
    sandbox = json.loads(ok(run_cli(["sandbox", "ls", "--json"], env=env)).stdout)["sandboxes"][0]
    assert sandbox["owner"] == {"token": "admin"}
    assert sandbox["run_as"]["uid"] != 0, "a token caller never runs as root"


def test_run_timeout_exits_143_with_reason_timeout(daemon):
    start = time.monotonic()
    result = run_cli(["sandbox", "run", "--timeout", "1s", "--", "sleep", "30"], daemon=daemon)
    assert result.returncode == 143, output(result)
    assert time.monotonic() - start < 15
    sandbox = newest(daemon)
    assert sandbox["reason"] == "timeout"
    assert sandbox["signal"] == signal.SIGTERM
    assert sandbox["limits"]["timeout_seconds"] == 1


def test_run_out_of_memory_exits_137_with_reason_oom(daemon):
    # Writing 512 MiB (not just reserving it) under a 32 MiB limit.
    result = run_cli(["sandbox", "run", "--memory", "32M", "--", "python3", "-c", 'x = b"x" * (512 << 20)'],
                     daemon=daemon, timeout=60)
    assert result.returncode == 137, output(result)
    sandbox = newest(daemon)
    assert sandbox["reason"] == "oom"
    assert sandbox["limits"]["memory_bytes"] == 32 << 20
    rows = ok(run_cli(["sandbox", "ls"], daemon=daemon)).stdout.splitlines()
    assert rows[1].split()[0] == sandbox["id"]
    assert rows[1].endswith("137 (oom)")


def test_run_json_in_the_foreground_prints_the_finished_sandbox(daemon):
    result = run_cli(["--json", "sandbox", "run", "--", "sh", "-c", "exit 9"], daemon=daemon)
    assert result.returncode == 9, output(result)
    sandbox = json.loads(result.stdout)
    assert sandbox["state"] == "exited"
    assert sandbox["exit_code"] == 9


def test_ctrl_c_stops_the_sandbox_and_keeps_streaming_until_it_exits(daemon):
    script = 'trap "echo got TERM; exit 5" TERM; echo ready; while :; do sleep 0.1; done'
    proc = subprocess.Popen([PADDOCK, "sandbox", "run", "--", "sh", "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PADDOCK_SOCKET": daemon.socket})
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # The trap's output, printed while stopping, still arrives; the status is the sandbox's.
    assert out == "got TERM\n"
    assert proc.returncode == 5, err
    assert "interrupted" in err
    sandbox = newest(daemon)
    assert sandbox["state"] == "exited"
    assert sandbox["reason"] == "stopped"
    assert sandbox["exit_code"] == 5


def test_closed_output_pipe_stops_the_sandbox(daemon):
    result = subprocess.run(f"'{PADDOCK}' sandbox run -- yes | head -n 1", shell=True, capture_output=True,
                            text=True, timeout=30, env={**os.environ, "PADDOCK_SOCKET": daemon.socket})
    assert result.stdout == "y\n"
    sandbox = newest(daemon)
    assert sandbox["state"] == "exited", "nobody reads it, so it must not run on"
    assert sandbox["reason"] == "stopped"


class Terminal:
    """A real pseudo-terminal for the CLI to run on, as a user's terminal emulator gives it."""

    def __init__(self, rows=40, cols=120):
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.settings = termios.tcgetattr(self.slave)
        self.seen = b""

    def spawn(self, daemon, *args):
        return subprocess.Popen([PADDOCK, *args], stdin=self.slave, stdout=self.slave, stderr=self.slave,
                                env={**os.environ, "PADDOCK_SOCKET": daemon.socket}, start_new_session=True)

    def type(self, text):
        os.write(self.master, text.encode() if isinstance(text, str) else text)

    def expect(self, text, timeout=20):
        """Reads the terminal until `text` has appeared; returns everything seen so far."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            ready, _, _ = select.select([self.master], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"{text!r} never appeared; the terminal showed:\n{self.seen!r}")
            try:
                self.seen += os.read(self.master, 65536)
            except OSError:  # EIO: the CLI closed its side
                raise AssertionError(f"{text!r} never appeared; the terminal showed:\n{self.seen!r}")
        return self.seen.decode(errors="replace")

    def close(self):
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal():
    t = Terminal()
    yield t
    t.close()


def test_tty_run_gives_the_command_our_terminal(daemon, terminal):
    proc = terminal.spawn(daemon, "sandbox", "run", "--tty", "--", "sh")
    try:
        # Our size travels with the request; each awaited text is one only the output has, as
        # the sandbox's terminal echoes what is typed.
        terminal.type("tty; stty size; echo sum-$((2+3))\r")
        seen = terminal.expect("sum-5")
        assert "/dev/pts/0" in seen and "40 120" in seen, seen
        # Ctrl-C reaches the sandbox's terminal as a key and interrupts its foreground command
        # there, not the CLI.
        terminal.type("sleep 100\r")
        time.sleep(0.5)
        terminal.type(b"\x03")
        terminal.type("echo after-$((100+30))\r")
        terminal.expect("after-130")
        # Our window changes follow.
        fcntl.ioctl(terminal.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
        proc.send_signal(signal.SIGWINCH)
        time.sleep(0.3)
        terminal.type("stty size | tr ' ' x\r")
        terminal.expect("50x132")
        terminal.type("exit 7\r")
        assert proc.wait(timeout=30) == 7
    finally:
        if proc.poll() is None:
            proc.kill()
    # Our terminal is given back as it was.
    assert termios.tcgetattr(terminal.slave) == terminal.settings
    assert newest(daemon)["exit_code"] == 7


def test_tty_detach_then_attach(daemon, sandboxes, terminal):
    proc = terminal.spawn(daemon, "sandbox", "run", "--tty", "--", "sh")
    try:
        terminal.type("echo first-$((1+1))\r")
        terminal.expect("first-2")
        terminal.type(b"\x10\x11")  # Ctrl-P Ctrl-Q
        assert proc.wait(timeout=30) == EXIT_OK
        terminal.expect("paddock sandbox attach")
    finally:
        if proc.poll() is None:
            proc.kill()
    sandbox = newest(daemon)
    sandboxes.append(sandbox["id"])
    assert sandbox["state"] == "running"

    again = Terminal()
    try:
        proc = again.spawn(daemon, "sandbox", "attach", sandbox["id"])
        time.sleep(0.5)
        again.type("echo second-$((2+2))\r")
        seen = again.expect("second-4")
        assert "first-2" not in seen, "attach shows output from now on"
        again.type("exit 3\r")
        assert proc.wait(timeout=30) == 3
        assert termios.tcgetattr(again.slave) == again.settings
    finally:
        if proc.poll() is None:
            proc.kill()
        again.close()


def test_tty_with_piped_input_ends_it_with_ctrl_d(daemon):
    result = run_cli(["sandbox", "run", "--tty", "--", "sh"], daemon=daemon, input="echo piped-$((2+3))\n")
    assert result.returncode == EXIT_OK, output(result)
    assert "piped-5" in result.stdout


def test_attach_to_a_sandbox_without_a_terminal_is_a_usage_error(daemon, sandboxes):
    sandbox_id = run_detached(daemon, sandboxes, "sleep", "30")
    result = run_cli(["sandbox", "attach", sandbox_id], daemon=daemon)
    assert result.returncode == EXIT_USAGE, output(result)
    assert "has no terminal" in result.stderr


def ok_json(result):
    """stdout of a command that failed with an API error (its problem, with --json)."""
    assert result.returncode == EXIT_API_ERROR, output(result)
    return result.stdout


# --- detached sandboxes, ls and inspect --------------------------------------------------------------


def test_detach_then_ls_and_inspect(daemon, sandboxes):
    sandbox_id = run_detached(daemon, sandboxes, "--", "sh", "-c", "sleep 1; exit 7")

    listed = json.loads(ok(run_cli(["sandbox", "ls", "--json"], daemon=daemon)).stdout)["sandboxes"]
    assert [s["id"] for s in listed] == [sandbox_id]
    assert listed[0]["state"] in ("running", "exited")
    running = inspect(daemon, sandbox_id)
    assert running["command"] == ["sh", "-c", "sleep 1; exit 7"]
    assert running["owner"] == {"uid": 0, "gid": 0}
    assert running["run_as"]["uid"] == 0 and running["run_as"]["user_namespace"] is True
    assert running["run_as"]["host_uid"] != 0
    assert running["root"] == "host"

    finished = wait_exited(daemon, sandbox_id)
    assert finished["exit_code"] == 7
    assert finished["signal"] is None
    assert finished["reason"] == "exit"
    assert ISO_TIME.match(finished["finished_at"])

    lines = ok(run_cli(["sandbox", "ls"], daemon=daemon)).stdout.splitlines()
    assert lines[0].split() == ["ID", "STATE", "COMMAND", "CREATED", "EXIT"]
    row = re.split(r"\s{2,}", lines[1])
    assert row == [sandbox_id, "exited", "sh -c 'sleep 1; exit 7'", finished["created_at"], "7"]

    rows = table_rows(ok(run_cli(["sandbox", "inspect", sandbox_id], daemon=daemon)).stdout)
    assert rows["id"] == sandbox_id
    assert rows["state"] == "exited"
    assert rows["command"] == "sh -c 'sleep 1; exit 7'"
    assert rows["owner"] == "uid 0 gid 0"
    assert rows["run as"].startswith("uid 0 gid 0 in a user namespace")
    assert rows["exit code"] == "7"
    assert rows["reason"] == "exit"
    assert rows["memory"] == "-"


def test_detach_json_prints_the_created_sandbox(daemon, sandboxes):
    result = ok(run_cli(["sandbox", "run", "--detach", "--json", "--", "true"], daemon=daemon))
    sandbox = json.loads(result.stdout)
    sandboxes.append(sandbox["id"])
    assert sandbox["command"] == ["true"]
    assert sandbox["state"] in ("running", "exited")


def test_ls_truncates_long_commands(daemon, sandboxes):
    sandbox_id = run_detached(daemon, sandboxes, "--", "echo", "x" * 100)
    lines = ok(run_cli(["sandbox", "ls"], daemon=daemon)).stdout.splitlines()
    row = re.split(r"\s{2,}", lines[1])
    assert row[0] == sandbox_id
    assert row[2].startswith("echo xxx") and row[2].endswith("...")
    assert len(row[2]) <= 40
    assert "x" * 100 in ok(run_cli(["sandbox", "inspect", sandbox_id], daemon=daemon)).stdout


@pytest.mark.parametrize("flags, limits", [
    (["--memory", "1.5G", "--timeout", "10m", "--pids", "64", "--cpus", "0.5"],
     {"memory_bytes": 1610612736, "timeout_seconds": 600, "pids": 64, "cpus": 0.5}),
    (["--memory", "268435456", "--timeout", "90"], {"memory_bytes": 268435456, "timeout_seconds": 90}),
    (["--memory", "64m", "--timeout", "1h"], {"memory_bytes": 64 << 20, "timeout_seconds": 3600}),
    (["--memory", "2G", "--timeout", "30s"], {"memory_bytes": 2 << 30, "timeout_seconds": 30}),
])
def test_sizes_and_durations_are_sent_as_integers(daemon, sandboxes, flags, limits):
    sandbox_id = run_detached(daemon, sandboxes, *flags, "--", "true")
    sent = inspect(daemon, sandbox_id)["limits"]
    for key, value in limits.items():
        assert sent[key] == value, key
    rows = table_rows(ok(run_cli(["sandbox", "inspect", sandbox_id], daemon=daemon)).stdout)
    assert rows["memory"] in {1610612736: "1536M", 268435456: "256M", 64 << 20: "64M", 2 << 30: "2G"}[
        limits["memory_bytes"]]


# --- logs --------------------------------------------------------------------------------------------


def test_logs_and_follow(daemon, sandboxes):
    sandbox_id = run_detached(daemon, sandboxes, "--", "sh", "-c", "echo one; echo two >&2; sleep 1; echo three")
    start = time.monotonic()
    followed = ok(run_cli(["sandbox", "logs", "-f", sandbox_id], daemon=daemon))
    assert followed.stdout == "one\nthree\n", "followed until the sandbox exited"
    assert followed.stderr == "two\n"
    assert time.monotonic() - start >= 0.5
    assert inspect(daemon, sandbox_id)["state"] == "exited"

    logs = ok(run_cli(["sandbox", "logs", sandbox_id], daemon=daemon))
    assert (logs.stdout, logs.stderr) == ("one\nthree\n", "two\n")
    only_stdout = ok(run_cli(["sandbox", "logs", "--stream", "stdout", sandbox_id], daemon=daemon))
    assert (only_stdout.stdout, only_stdout.stderr) == ("one\nthree\n", "")
    only_stderr = ok(run_cli(["sandbox", "logs", "--follow", "--stream", "stderr", sandbox_id], daemon=daemon))
    assert (only_stderr.stdout, only_stderr.stderr) == ("", "two\n")


def test_logs_follow_streams_both_outputs_concurrently(daemon, sandboxes):
    sandbox_id = run_detached(daemon, sandboxes, "--", "sh", "-c",
                              "echo e1 >&2; sleep 1; echo o1; sleep 1; echo e2 >&2")
    proc = subprocess.Popen([PADDOCK, "sandbox", "logs", "-f", sandbox_id], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PADDOCK_SOCKET": daemon.socket})
    try:
        assert proc.stderr.readline() == "e1\n"
        assert proc.stdout.readline() == "o1\n"
        assert proc.stderr.readline() == "e2\n"
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


# --- stop and rm -------------------------------------------------------------------------------------


def test_stop_waits_until_exited(daemon, sandboxes):
    sandbox_id = run_detached(daemon, sandboxes, "--", "sleep", "300")
    start = time.monotonic()
    result = ok(run_cli(["sandbox", "stop", sandbox_id], daemon=daemon))
    assert result.stdout == f"stopped {sandbox_id}\n"
    assert time.monotonic() - start < 15
    sandbox = inspect(daemon, sandbox_id)
    assert sandbox["state"] == "exited"
    assert sandbox["reason"] == "stopped"
    assert sandbox["signal"] == signal.SIGTERM
    lines = ok(run_cli(["sandbox", "ls"], daemon=daemon)).stdout.splitlines()
    assert lines[1].endswith("143 (stopped)")

    # Stopping an exited sandbox is a no-op.
    again = json.loads(ok(run_cli(["sandbox", "stop", "--json", sandbox_id], daemon=daemon)).stdout)
    assert again["reason"] == "stopped"


def test_rm_of_a_running_sandbox_exits_4_and_force_removes_it(daemon, sandboxes):
    sandbox_id = run_detached(daemon, sandboxes, "--", "sleep", "300")
    refused = run_cli(["sandbox", "rm", sandbox_id], daemon=daemon)
    assert refused.returncode == EXIT_API_ERROR
    assert refused.stderr.startswith("paddock: ")
    problem = json.loads(ok_json(run_cli(["sandbox", "rm", "--json", sandbox_id], daemon=daemon)))
    assert problem["status"] == 409
    assert inspect(daemon, sandbox_id)["state"] == "running"

    removed = ok(run_cli(["sandbox", "rm", "--force", sandbox_id], daemon=daemon))
    assert removed.stdout == f"removed {sandbox_id}\n"
    assert run_cli(["sandbox", "inspect", sandbox_id], daemon=daemon).returncode == EXIT_API_ERROR
    listed = json.loads(ok(run_cli(["sandbox", "ls", "--json"], daemon=daemon)).stdout)["sandboxes"]
    assert sandbox_id not in [s["id"] for s in listed]


def test_rm_of_an_exited_sandbox(daemon):
    ok(run_cli(["sandbox", "run", "--", "true"], daemon=daemon))
    sandbox_id = newest(daemon)["id"]
    removed = json.loads(ok(run_cli(["sandbox", "rm", "--json", sandbox_id], daemon=daemon)).stdout)
    assert removed == {"id": sandbox_id, "removed": True}
    assert run_cli(["sandbox", "logs", sandbox_id], daemon=daemon).returncode == EXIT_API_ERROR


@pytest.mark.parametrize("args", [
    ["inspect"], ["logs"], ["logs", "-f"], ["stop"], ["rm"], ["rm", "--force"],
])
def test_unknown_sandbox_exits_4(daemon, args):
    result = run_cli(["sandbox", *args, "sb-0000000000"], daemon=daemon)
    assert result.returncode == EXIT_API_ERROR, output(result)
    assert result.stderr.startswith("paddock: ")
    problem = json.loads(ok_json(run_cli(["--json", "sandbox", *args, "sb-0000000000"], daemon=daemon)))
    assert problem["status"] == 404


def test_ids_are_escaped(daemon, sandboxes):
    sandbox_id = run_detached(daemon, sandboxes, "--", "sleep", "300")
    # Never the collection, another sandbox or another route.
    for bad in ("..", ".", f"{sandbox_id}/stop", f"{sandbox_id}?x=1"):
        assert run_cli(["sandbox", "rm", "--force", bad], daemon=daemon).returncode == EXIT_API_ERROR, bad
    assert inspect(daemon, sandbox_id)["state"] == "running"


# --- binds and the daemon's refusals -----------------------------------------------------------------


def test_bind_mounts_read_only_unless_rw(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / "hello.txt").write_text("hello\n")
    (shared / "hello.txt").chmod(0o644)
    config = f'[sandbox]\nallowed_bind_paths = ["{tmp_path}"]\n'
    daemon = start_daemon(str(tmp_path / "state"), config_text=config)
    try:
        read = run_cli(["sandbox", "run", "--bind", f"{shared}:/data", "--", "cat", "/data/hello.txt"],
                       daemon=daemon)
        assert (read.returncode, read.stdout) == (0, "hello\n"), output(read)
        read_only = run_cli(["sandbox", "run", "--bind", f"{shared}:/data", "--", "touch", "/data/new"],
                            daemon=daemon)
        assert read_only.returncode != 0
        assert not (shared / "new").exists()
        writable = run_cli(["sandbox", "run", "--bind", f"{shared}:/data:rw", "--", "touch", "/data/new"],
                           daemon=daemon)
        assert writable.returncode == 0, output(writable)
        assert (shared / "new").exists()
        # A relative source is made absolute on this side; the daemon has no working directory.
        monkeypatch.chdir(tmp_path)
        relative = run_cli(["sandbox", "run", "--bind", "shared:/data:ro", "--", "cat", "/data/hello.txt"],
                           daemon=daemon)
        assert (relative.returncode, relative.stdout) == (0, "hello\n"), output(relative)
    finally:
        daemon.stop()


def test_bind_outside_the_allowed_paths_exits_4(daemon, tmp_path):
    result = run_cli(["sandbox", "run", "--bind", f"{tmp_path}:/data", "--", "true"], daemon=daemon)
    assert result.returncode == EXIT_API_ERROR, output(result)
    problem = json.loads(ok_json(run_cli(["--json", "sandbox", "run", "--bind", f"{tmp_path}:/data", "--", "true"],
                                         daemon=daemon)))
    assert problem["status"] == 403


@pytest.mark.parametrize("flags", [["--memory", "1000T"], ["--cpus", "100000"]])
def test_unsatisfiable_limits_exit_4(daemon, flags):
    result = run_cli(["sandbox", "run", *flags, "--", "true"], daemon=daemon)
    assert result.returncode == EXIT_API_ERROR, output(result)
    assert result.stderr.startswith("paddock: ")
    problem = json.loads(ok_json(run_cli(["--json", "sandbox", "run", *flags, "--", "true"], daemon=daemon)))
    assert problem["status"] == 422


# --- usage errors (exit 2, nothing sent) -------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["sandbox"],
    ["sandbox", "run"],
    ["sandbox", "run", "--"],
    ["sandbox", "run", "--memory", "lots", "--", "true"],
    ["sandbox", "run", "--memory", "1.5", "--", "true"],
    ["sandbox", "run", "--memory", "0", "--", "true"],
    ["sandbox", "run", "--memory", "-1G", "--", "true"],
    ["sandbox", "run", "--memory", "2GB", "--", "true"],
    ["sandbox", "run", "--memory", "99999999999T", "--", "true"],
    ["sandbox", "run", "--gpus", "two", "--", "true"],
    ["sandbox", "run", "--gpus", "2:fast", "--", "true"],
    ["sandbox", "run", "--gpus", "mig:", "--", "true"],
    ["sandbox", "run", "--gpus", "share:lots", "--", "true"],
    ["sandbox", "run", "--gpus", "GPU-1,gpu-2", "--", "true"],
    ["gpus", "history"],
    ["gpus", "frobnicate"],
    ["sandbox", "run", "--timeout", "soon", "--", "true"],
    ["sandbox", "run", "--timeout", "0", "--", "true"],
    ["sandbox", "run", "--timeout", "1.5h", "--", "true"],
    ["sandbox", "run", "--timeout", "10d", "--", "true"],
    ["sandbox", "run", "--cpus", "0", "--", "true"],
    ["sandbox", "run", "--cpus", "many", "--", "true"],
    ["sandbox", "run", "--pids", "-1", "--", "true"],
    ["sandbox", "run", "--env", "NO_EQUALS", "--", "true"],
    ["sandbox", "run", "--env", "=value", "--", "true"],
    ["sandbox", "run", "--bind", "/tmp", "--", "true"],
    ["sandbox", "run", "--bind", "/tmp:relative", "--", "true"],
    ["sandbox", "run", "--bind", "/tmp:/data:rx", "--", "true"],
    ["sandbox", "run", "--bind", "/nonexistent/source:/data", "--", "true"],
    ["sandbox", "run", "--workspace", "/nonexistent/workspace", "--", "true"],
    ["sandbox", "run", "--workspace", "/etc/hostname", "--", "true"],
    ["sandbox", "run", "--root", "/nonexistent/rootfs", "--", "true"],
    ["sandbox", "logs"],
    ["sandbox", "logs", "--stream", "both", "sb-1"],
    ["sandbox", "inspect"],
    ["sandbox", "inspect", "sb-1", "sb-2"],
    ["sandbox", "stop"],
    ["sandbox", "rm"],
    ["sandbox", "frobnicate"],
])
def test_usage_errors_exit_2(args, tmp_path):
    # No daemon: a usage error must be found before anything is sent (that would be exit 3).
    result = run_cli(args, env={"PADDOCK_SOCKET": str(tmp_path / "nope.sock")})
    assert result.returncode == EXIT_USAGE, output(result)
    assert result.stderr != ""


def test_bad_memory_names_the_flag_and_the_forms(tmp_path):
    result = run_cli(["sandbox", "run", "--memory", "lots", "--", "true"],
                     env={"PADDOCK_SOCKET": str(tmp_path / "nope.sock")})
    assert result.returncode == EXIT_USAGE
    assert "--memory" in result.stderr and "lots" in result.stderr and "512M" in result.stderr


def test_bad_gpus_names_the_flag_and_the_forms(tmp_path):
    result = run_cli(["sandbox", "run", "--gpus", "2:fast", "--", "true"],
                     env={"PADDOCK_SOCKET": str(tmp_path / "nope.sock")})
    assert result.returncode == EXIT_USAGE
    for text in ("--gpus", "fast", "N:nvlink", "mig:PROFILE", "share:SIZE", "GPU-"):
        assert text in result.stderr, text


def test_command_with_options_needs_dashes(tmp_path):
    result = run_cli(["sandbox", "run", "sh", "-c", "true"], env={"PADDOCK_SOCKET": str(tmp_path / "nope.sock")})
    assert result.returncode == EXIT_USAGE
    assert "--" in result.stderr


def test_run_without_daemon_exits_3(tmp_path):
    result = run_cli(["sandbox", "run", "--", "true"], env={"PADDOCK_SOCKET": str(tmp_path / "nope.sock")})
    assert result.returncode == EXIT_UNREACHABLE


def test_sandbox_help():
    out = ok(run_cli(["sandbox", "--help"])).stdout
    for sub in ("run", "ls", "inspect", "logs", "stop", "rm"):
        assert re.search(rf"^\s+{sub}\s", out, re.MULTILINE), sub
    run_help = ok(run_cli(["sandbox", "run", "--help"])).stdout
    for flag in ("--cpus", "--memory", "--pids", "--gpus", "--timeout", "--workspace", "--bind", "--root",
                 "--env", "--tty", "--detach"):
        assert flag in run_help
    assert "137" in run_help and "128" in run_help


# --- bash completion -----------------------------------------------------------------------------------


def complete(*words, env=None):
    """Runs the completion function for `words` (the last one is being typed); returns the words."""
    return sorted(set(bash_complete(COMPLETION, *words, env=env)))


def test_completion_of_sandbox_commands_and_flags():
    assert "sandbox" in complete("paddock", "")
    assert complete("paddock", "sa") == ["sandbox"]
    assert complete("paddock", "sandbox", "") == ["attach", "inspect", "logs", "ls", "rm", "run", "stop"]
    assert complete("paddock", "--json", "sandbox", "r") == ["rm", "run"]
    run_flags = complete("paddock", "sandbox", "run", "--")
    for flag in ("--cpus", "--memory", "--pids", "--gpus", "--timeout", "--workspace", "--bind", "--root",
                 "--env", "--tty", "--detach", "--"):
        assert flag in run_flags
    assert complete("paddock", "sandbox", "rm", "--f") == ["--force"]
    assert complete("paddock", "sandbox", "logs", "--f") == ["--follow"]
    assert complete("paddock", "sandbox", "logs", "--stream", "") == ["stderr", "stdout"]
    assert "host" in complete("paddock", "sandbox", "run", "--root", "")
    assert complete("paddock", "sandbox", "run", "--memory", "") == []
    assert complete("paddock", "sandbox", "run", "--gpus", "") == []


def test_completion_after_dashes_is_the_sandboxed_command(tmp_path):
    assert "sh" in complete("paddock", "sandbox", "run", "--memory", "1G", "--", "sh")
    (tmp_path / "script.py").write_text("")
    assert complete("paddock", "sandbox", "run", "--", "python3", str(tmp_path / "scr")) == \
        [str(tmp_path / "script.py")]
    # Flags after -- belong to the command, not to paddock.
    assert complete("paddock", "sandbox", "run", "--", "grep", "--memory", str(tmp_path / "scr")) == \
        [str(tmp_path / "script.py")]


def test_completion_of_directories_after_workspace(tmp_path):
    (tmp_path / "wsdir").mkdir()
    (tmp_path / "wsfile").write_text("")
    assert complete("paddock", "sandbox", "run", "--workspace", str(tmp_path / "ws")) == [str(tmp_path / "wsdir")]


def test_completion_of_sandbox_ids_asks_the_daemon(daemon, sandboxes):
    sandbox_id = run_detached(daemon, sandboxes, "--", "sleep", "300")
    env = {"PADDOCK_SOCKET": daemon.socket}
    for sub in ("inspect", "logs", "stop", "rm"):
        assert complete("paddock", "sandbox", sub, "", env=env) == [sandbox_id], sub
    assert complete("paddock", "sandbox", "logs", "-f", "", env=env) == [sandbox_id]
    assert complete("paddock", "sandbox", "rm", sandbox_id, "", env=env) == []  # one id only
    # The connection options of the command line being completed are used.
    assert complete("paddock", "--socket", daemon.socket, "sandbox", "stop", "",
                    env={"PADDOCK_SOCKET": "/nonexistent.sock"}) == [sandbox_id]
