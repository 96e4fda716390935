"""The `paddock` CLI against a real paddockd: output, exit statuses, tokens, bash completion."""
import json
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import bash_complete, PADDOCK, free_port, run_cli

SOURCE_DIR = os.environ.get("PADDOCK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
COMPLETION = os.path.join(SOURCE_DIR, "cli/paddock.bash-completion")

EXIT_OK, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_API_ERROR = 0, 2, 3, 4
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def tcp_env(daemon, token=None):
    """Environment for a TCP call; the socket is pointed elsewhere to prove it is not used."""
    env = {"PADDOCK_URL": daemon.url, "PADDOCK_SOCKET": "/nonexistent/paddockd.sock"}
    if token is not None:
        env["PADDOCK_TOKEN"] = token
    return env


def ok(result):
    assert result.returncode == EXIT_OK, \
        f"rc={result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def create_token(daemon, name):
    return ok(run_cli(["token", "create", name], daemon=daemon)).stdout.strip()


# --- status -------------------------------------------------------------------------------------


def test_status_over_socket_prints_key_value_table(daemon):
    out = ok(run_cli(["status"], daemon=daemon)).stdout
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in out.splitlines())
    status = daemon.request("GET", "/api/v1/status").json()
    assert rows["version"] == status["version"]
    assert re.fullmatch(r"(\d+d)?(\d+h)?(\d+m)?\d+s", rows["uptime"])
    assert rows["state dir"] == status["state_dir"]
    assert rows["cgroup mode"] == status["cgroup_mode"]
    assert rows["listen"] == status["listen"]
    assert rows["caller"].startswith("unix ")
    assert rows["api tokens"] == str(status["counts"]["api_tokens"])


def test_status_json_over_socket(daemon):
    status = json.loads(ok(run_cli(["status", "--json"], daemon=daemon)).stdout)
    for field in ("version", "started_at", "uptime_seconds", "pid", "cgroup_mode", "state_dir", "listen",
                  "caller", "counts"):
        assert field in status
    assert status["pid"] == daemon.proc.pid
    assert os.path.samefile(status["state_dir"], daemon.state_dir)
    assert status["caller"]["kind"] == "unix"
    assert status["caller"]["uid"] == os.getuid()


def test_global_options_work_before_the_command(daemon):
    status = json.loads(ok(run_cli(["--json", "--timeout", "5", "status"], daemon=daemon)).stdout)
    assert status["caller"]["kind"] == "unix"


def test_status_over_tcp_with_token_from_env(daemon):
    result = ok(run_cli(["--json", "status"], env=tcp_env(daemon, daemon.token)))
    caller = json.loads(result.stdout)["caller"]
    assert caller["kind"] == "token"
    assert caller["token_name"] == "admin"


def test_status_over_tcp_with_token_file(daemon, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(daemon.token + "\n")
    env = tcp_env(daemon, "not-the-token")  # --token-file wins over the environment
    result = ok(run_cli(["--token-file", str(token_file), "status", "--json"], env=env))
    assert json.loads(result.stdout)["caller"]["token_name"] == "admin"


def test_url_flag_selects_tcp(daemon):
    env = {"PADDOCK_TOKEN": daemon.token}
    result = ok(run_cli(["--url", daemon.url + "/", "status", "--json"], daemon=daemon, env=env))
    assert json.loads(result.stdout)["caller"]["kind"] == "token"


# --- API errors (exit 4) --------------------------------------------------------------------------


def test_wrong_token_exits_4_with_problem_title(daemon):
    problem = daemon.request("GET", "/api/v1/status", token="wrong").json()
    assert problem["status"] == 401
    result = run_cli(["status"], env=tcp_env(daemon, "wrong"))
    assert result.returncode == EXIT_API_ERROR
    assert result.stdout == ""
    assert result.stderr.startswith(f"paddock: {problem['title']}")


def test_wrong_token_with_json_prints_problem_on_stdout(daemon):
    result = run_cli(["status", "--json"], env=tcp_env(daemon, "wrong"))
    assert result.returncode == EXIT_API_ERROR
    problem = json.loads(result.stdout)
    assert problem["status"] == 401
    assert problem["type"].startswith("urn:paddock:problem:")
    assert f"paddock: {problem['title']}" in result.stderr


def test_missing_token_over_tcp_exits_4(daemon):
    result = run_cli(["status"], env=tcp_env(daemon))
    assert result.returncode == EXIT_API_ERROR
    assert result.stderr.startswith("paddock: ")


# --- daemon unreachable (exit 3) ------------------------------------------------------------------


def test_missing_socket_exits_3(tmp_path):
    missing = str(tmp_path / "nope.sock")
    result = run_cli(["--socket", missing, "status"])
    assert result.returncode == EXIT_UNREACHABLE
    assert missing in result.stderr


def test_socket_nobody_listens_on_exits_3(tmp_path):
    path = str(tmp_path / "stale.sock")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(path)  # the file exists but nothing accepts
    result = run_cli(["status"], env={"PADDOCK_SOCKET": path})
    assert result.returncode == EXIT_UNREACHABLE
    assert "paddock: " in result.stderr


def test_closed_port_exits_3():
    result = run_cli(["status"], env={"PADDOCK_URL": f"http://127.0.0.1:{free_port()}", "PADDOCK_TOKEN": "x"})
    assert result.returncode == EXIT_UNREACHABLE
    assert "paddock: " in result.stderr


def test_silent_daemon_times_out_with_exit_3(tmp_path):
    path = str(tmp_path / "silent.sock")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(path)
        s.listen(1)  # connections are queued but never answered
        start = time.monotonic()
        result = run_cli(["--socket", path, "--timeout", "0.5", "status"])
        elapsed = time.monotonic() - start
    assert result.returncode == EXIT_UNREACHABLE
    assert elapsed < 10
    assert "timed out" in result.stderr.lower()


# --- usage (exit 2) -------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    [],
    ["bogus"],
    ["token"],
    ["token", "create"],
    ["token", "rm"],
    ["token", "frobnicate"],
    ["status", "--no-such-flag"],
    ["status", "extra-argument"],
    ["--timeout", "0", "status"],
    ["--timeout", "soon", "status"],
    ["--url", "ftp://127.0.0.1:1", "status"],
    ["--url", "http://127.0.0.1:1", "--token-file", "/nonexistent/token", "status"],
    ["--token", "secret", "status"],  # never a token on the command line
])
def test_usage_errors_exit_2(args):
    result = run_cli(args)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert result.stderr != ""


def test_empty_token_file_is_a_usage_error(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("\n")
    result = run_cli(["--url", "http://127.0.0.1:1", "--token-file", str(token_file), "status"])
    assert result.returncode == EXIT_USAGE
    assert "empty" in result.stderr


def test_help_documents_exit_statuses():
    out = ok(run_cli(["--help"])).stdout
    for code in range(5):
        assert re.search(rf"^\s+{code}\s+\S", out, re.MULTILINE), out
    for word in ("status", "token", "version", "--socket", "--url", "--token-file", "--json", "--timeout"):
        assert word in out
    assert "PADDOCK_TOKEN" in out


def test_subcommand_help_exits_0():
    out = ok(run_cli(["token", "--help"])).stdout
    for sub in ("create", "ls", "rm"):
        assert sub in out


# --- tokens ---------------------------------------------------------------------------------------


def test_token_round_trip(daemon):
    result = ok(run_cli(["token", "create", "ci-bot"], daemon=daemon))
    secret = result.stdout.strip()
    assert result.stdout == secret + "\n", "the secret alone on stdout"
    assert secret and " " not in secret
    assert "ci-bot" in result.stderr  # the hint goes to stderr

    listing = ok(run_cli(["token", "ls"], daemon=daemon)).stdout.splitlines()
    assert listing[0].split() == ["NAME", "ADMIN", "CREATED"]
    rows = {line.split()[0]: line.split()[1:] for line in listing[1:]}
    assert rows["admin"][0] == "yes"
    assert rows["ci-bot"][0] == "no"
    assert ISO_TIME.match(rows["ci-bot"][1])

    # The new token authenticates over TCP, as itself and without admin rights.
    status = json.loads(ok(run_cli(["status", "--json"], env=tcp_env(daemon, secret))).stdout)
    assert status["caller"]["kind"] == "token"
    assert status["caller"]["token_name"] == "ci-bot"
    assert status["caller"]["admin"] is False
    forbidden = run_cli(["token", "ls"], env=tcp_env(daemon, secret))
    assert forbidden.returncode == EXIT_API_ERROR
    assert forbidden.stderr.startswith("paddock: ")

    removed = ok(run_cli(["token", "rm", "ci-bot"], daemon=daemon))
    assert removed.stdout == "removed ci-bot\n"
    assert "ci-bot" not in ok(run_cli(["token", "ls"], daemon=daemon)).stdout
    assert run_cli(["status"], env=tcp_env(daemon, secret)).returncode == EXIT_API_ERROR


def test_token_json_output(daemon):
    created = ok(run_cli(["--json", "token", "create", "ops.v1_2", "--admin"], daemon=daemon))
    created = json.loads(created.stdout)
    assert created["name"] == "ops.v1_2"
    assert created["admin"] is True
    assert ISO_TIME.match(created["created_at"])
    assert created["token"]

    tokens = json.loads(ok(run_cli(["token", "ls", "--json"], daemon=daemon)).stdout)["tokens"]
    by_name = {t["name"]: t for t in tokens}
    assert by_name["ops.v1_2"]["admin"] is True
    assert all("token" not in t for t in tokens), "listing never reveals secrets"

    # An admin token created by the CLI can manage tokens over TCP.
    over_tcp = ok(run_cli(["token", "ls", "--json"], env=tcp_env(daemon, created["token"])))
    over_tcp = json.loads(over_tcp.stdout)
    assert {t["name"] for t in over_tcp["tokens"]} == set(by_name)

    removed = json.loads(ok(run_cli(["token", "rm", "ops.v1_2", "--json"], daemon=daemon)).stdout)
    assert removed == {"name": "ops.v1_2", "removed": True}


def test_token_create_twice_exits_4(daemon):
    create_token(daemon, "twice")
    result = run_cli(["token", "create", "twice"], daemon=daemon)
    assert result.returncode == EXIT_API_ERROR
    assert result.stdout == ""
    assert result.stderr.startswith("paddock: ")


def test_token_create_bad_name_exits_4_with_problem(daemon):
    result = run_cli(["token", "create", "no spaces/allowed", "--json"], daemon=daemon)
    assert result.returncode == EXIT_API_ERROR
    problem = json.loads(result.stdout)
    assert problem["status"] == 400
    assert f"paddock: {problem['title']}" in result.stderr
    for param in problem.get("invalid-params", []):
        assert param["reason"] in result.stderr


def test_token_rm_unknown_exits_4(daemon):
    result = run_cli(["token", "rm", "ghost", "--json"], daemon=daemon)
    assert result.returncode == EXIT_API_ERROR
    assert json.loads(result.stdout)["status"] == 404


def test_token_rm_builtin_admin_exits_4(daemon):
    result = run_cli(["token", "rm", "admin"], daemon=daemon)
    assert result.returncode == EXIT_API_ERROR
    assert "admin" in ok(run_cli(["token", "ls"], daemon=daemon)).stdout


def test_token_rm_escapes_the_name(daemon):
    # A name that is not a valid token must reach the daemon as one path segment, never as a
    # different resource such as the token collection or /api/v1.
    for name in ("a/b", "..", "x?admin=1"):
        result = run_cli(["token", "rm", name], daemon=daemon)
        assert result.returncode == EXIT_API_ERROR, name
    assert "admin" in ok(run_cli(["token", "ls"], daemon=daemon)).stdout


def test_every_token_name_the_daemon_accepts_can_be_removed(daemon):
    # Dot-only names could never be named in a URL path, so the daemon refuses them up front.
    for name in (".", ".."):
        created = run_cli(["token", "create", name], daemon=daemon)
        assert created.returncode == EXIT_API_ERROR, name
    for name in ("a.b", "..x", "x-y_z.1"):
        ok(run_cli(["token", "create", name], daemon=daemon))
        ok(run_cli(["token", "rm", name], daemon=daemon))


# --- version --------------------------------------------------------------------------------------


def test_version_with_daemon(daemon):
    server_version = daemon.request("GET", "/api/v1/status").json()["version"]
    out = ok(run_cli(["version"], daemon=daemon)).stdout
    rows = dict(line.split() for line in out.splitlines())
    assert rows["server"] == server_version
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", rows["client"])

    versions = json.loads(ok(run_cli(["version", "--json"], daemon=daemon)).stdout)
    assert versions["client"]["version"] == rows["client"]
    assert versions["server"]["version"] == server_version


def test_version_without_daemon(tmp_path):
    env = {"PADDOCK_SOCKET": str(tmp_path / "nope.sock")}
    result = ok(run_cli(["version"], env=env))
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["client"]
    assert "daemon not reachable" in result.stderr

    versions = json.loads(ok(run_cli(["version", "--json"], env=env)).stdout)
    assert versions["server"] is None
    assert versions["client"]["version"]


def test_version_flag():
    assert re.fullmatch(r"paddock \d+\.\d+\.\d+\S*\n", ok(run_cli(["--version"])).stdout)


# --- bash completion ------------------------------------------------------------------------------


def complete(*words, env=None):
    """Runs the completion function for `words` (the last one is being typed); returns the words."""
    return bash_complete(COMPLETION, *words, env=env)


def test_completion_of_commands():
    assert complete("paddock", "") == ["gpus", "sandbox", "status", "store", "token", "version"]
    assert complete("paddock", "st") == ["status", "store"]
    assert complete("paddock", "g") == ["gpus"]
    assert complete("paddock", "gpus", "") == ["history"]
    assert complete("paddock", "--json", "tok") == ["token"]
    assert complete("paddock", "token", "") == ["create", "ls", "rm"]
    assert complete("paddock", "--socket", "/tmp/x.sock", "token", "r") == ["rm"]


def test_completion_of_flags():
    flags = complete("paddock", "--")
    for flag in ("--socket", "--url", "--token-file", "--json", "--timeout", "--help", "--version"):
        assert flag in flags
    assert complete("paddock", "--js") == ["--json"]
    assert "--admin" in complete("paddock", "token", "create", "--")


def test_completion_of_files_after_socket(tmp_path):
    (tmp_path / "daemon.sock").write_text("")
    assert complete("paddock", "--socket", str(tmp_path / "dae")) == [str(tmp_path / "daemon.sock")]


def test_completion_of_token_names_asks_the_daemon(daemon):
    create_token(daemon, "completion-me")
    names = complete("paddock", "token", "rm", "", env={"PADDOCK_SOCKET": daemon.socket})
    assert "completion-me" in names
    assert "admin" not in names  # the built-in token cannot be removed
