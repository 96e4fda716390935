"""The REST API over real HTTP: authentication, errors as problem+json, tokens, metrics, TLS."""
import grp
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

import pytest

from conftest import PADDOCKD, free_port, start_daemon

PROBLEM = "application/problem+json"


def assert_problem(r, status, slug):
    assert r.status == status, r.body
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["type"] == f"urn:paddock:problem:{slug}"
    assert body["status"] == status
    assert body["title"]
    return body


def test_healthz_needs_no_token(daemon):
    r = daemon.request("GET", "/healthz", token=None)
    assert r.status == 200
    assert r.json() == {"status": "ok"}
    head = daemon.request("HEAD", "/healthz", token=None)
    assert head.status == 200 and head.body == b""


def test_api_over_tcp_requires_a_valid_bearer_token(daemon):
    r = daemon.request("GET", "/api/v1/status", token=None)
    assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert_problem(daemon.request("GET", "/api/v1/status", token="pdk_wrong"), 401, "unauthorized")
    # Unknown API routes do not reveal themselves to anonymous callers either.
    assert_problem(daemon.request("GET", "/api/v1/nothing", token=None), 401, "unauthorized")
    assert daemon.request("GET", "/api/v1/status").status == 200


def test_status_reports_version_uptime_cgroup_mode_and_caller(daemon):
    version = subprocess.run([PADDOCKD, "--version"], capture_output=True, text=True).stdout.split()[-1]
    s = daemon.request("GET", "/api/v1/status").json()
    assert s["version"] == version
    assert s["uptime_seconds"] >= 0
    assert s["cgroup_mode"] in ("unified", "hybrid", "legacy")
    assert s["state_dir"] == daemon.state_dir
    assert s["listen"] == f"127.0.0.1:{daemon.port}"
    assert s["caller"] == {"kind": "token", "token_name": "admin", "admin": True}
    assert s["counts"]["api_tokens"] == 1
    assert s["counts"]["daemon_starts"] == 1


def test_unix_socket_caller_is_identified_by_peer_credentials(daemon):
    r = daemon.request("GET", "/api/v1/status", unix=True, token=None)
    assert r.status == 200
    caller = r.json()["caller"]
    assert caller["kind"] == "unix"
    assert caller["uid"] == os.getuid()
    assert caller["pid"] == os.getpid()
    assert caller["admin"] == (os.getuid() == 0)


def test_unknown_route_is_404_and_wrong_method_is_405_with_allow(daemon):
    assert_problem(daemon.request("GET", "/api/v1/nothing"), 404, "not-found")
    assert_problem(daemon.request("GET", "/nothing", token=None), 404, "not-found")
    r = daemon.request("PUT", "/api/v1/tokens", body={})
    assert_problem(r, 405, "method-not-allowed")
    assert set(a.strip() for a in r.headers["allow"].split(",")) == {"GET", "POST"}
    r = daemon.request("POST", "/healthz", token=None)
    assert_problem(r, 405, "method-not-allowed")
    assert r.headers["allow"] == "GET"


def test_bad_bodies_get_precise_errors(daemon):
    post = lambda body, ctype="application/json": daemon.request(
        "POST", "/api/v1/tokens", body=body, headers={"Content-Type": ctype})
    assert_problem(post(b'{"name": "x",'), 400, "malformed-json")
    assert_problem(post(b"[1, 2]"), 400, "invalid-request")
    body = assert_problem(post({"name": "x", "amdin": True}), 400, "invalid-request")
    assert body["invalid-params"] == [{"name": "amdin", "reason": "unknown field"}]
    assert "amdin" in body["detail"]
    body = assert_problem(post({"name": 7}), 400, "invalid-request")
    assert body["invalid-params"][0]["name"] == "name"
    body = assert_problem(post({}), 400, "invalid-request")
    assert body["invalid-params"][0] == {"name": "name", "reason": "is required"}
    assert_problem(post({"name": "has space"}), 400, "invalid-request")
    assert_problem(post(b'{"name": "x"}', "text/plain"), 415, "unsupported-media-type")
    assert_problem(daemon.request("POST", "/api/v1/tokens", body=b'{"name": "x"}'), 415,
                   "unsupported-media-type")
    # Nothing was created by any of the above.
    names = [t["name"] for t in daemon.request("GET", "/api/v1/tokens").json()["tokens"]]
    assert names == ["admin"]


def send_refused_body(conn, method, path, headers, body):
    """Sends a request whose body the server may refuse before reading it all, then reads the reply."""
    conn.putrequest(method, path)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    try:
        conn.send(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered early and stopped reading, as it may
    return conn.getresponse()


def test_body_over_the_limit_is_413_declared_or_chunked(daemon):
    big = b'{"name": "' + b"a" * (1 << 20) + b'"}'
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    r = send_refused_body(conn, "POST", "/api/v1/tokens",
                          {"Authorization": f"Bearer {daemon.token}", "Content-Type": "application/json",
                           "Content-Length": str(len(big))}, big)
    assert r.status == 413
    assert json.loads(r.read())["type"] == "urn:paddock:problem:payload-too-large"
    conn.close()
    # Chunked: no Content-Length, the server must count while reading.
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    conn.putrequest("POST", "/api/v1/tokens")
    conn.putheader("Authorization", f"Bearer {daemon.token}")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    try:
        for _ in range(20):
            chunk = b"a" * 65536
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may stop reading once over the limit
    r = conn.getresponse()
    assert r.status == 413
    conn.close()
    assert daemon.request("GET", "/healthz", token=None).status == 200


def test_token_lifecycle(daemon):
    r = daemon.request("POST", "/api/v1/tokens", body={"name": "ci"})
    assert r.status == 201
    assert r.headers["location"] == "/api/v1/tokens/ci"
    created = r.json()
    assert created["name"] == "ci" and created["admin"] is False
    secret = created["token"]
    assert secret.startswith("pdk_")
    assert_problem(daemon.request("POST", "/api/v1/tokens", body={"name": "ci"}), 409, "already-exists")

    # The new token reaches the API but is not an admin.
    s = daemon.request("GET", "/api/v1/status", token=secret)
    assert s.status == 200 and s.json()["caller"] == {"kind": "token", "token_name": "ci", "admin": False}
    assert_problem(daemon.request("GET", "/api/v1/tokens", token=secret), 403, "forbidden")
    assert_problem(daemon.request("DELETE", "/api/v1/tokens/admin", token=secret), 403, "forbidden")

    listed = daemon.request("GET", "/api/v1/tokens").json()["tokens"]
    assert [t["name"] for t in listed] == ["admin", "ci"]
    assert all("token" not in t and "sha256" not in t for t in listed)

    assert daemon.request("DELETE", "/api/v1/tokens/ci").status == 204
    assert_problem(daemon.request("GET", "/api/v1/status", token=secret), 401, "unauthorized")
    assert_problem(daemon.request("DELETE", "/api/v1/tokens/ci"), 404, "not-found")
    assert_problem(daemon.request("DELETE", "/api/v1/tokens/admin"), 409, "failed-precondition")


def test_tokens_persist_across_restart(tmp_state):
    d = start_daemon(tmp_state)
    secret = d.request("POST", "/api/v1/tokens", body={"name": "keep", "admin": True}).json()["token"]
    admin = d.token
    assert d.stop() == 0
    d = start_daemon(tmp_state)
    try:
        assert d.token == admin
        s = d.request("GET", "/api/v1/status", token=secret).json()
        assert s["caller"]["token_name"] == "keep" and s["caller"]["admin"] is True
        assert s["counts"]["daemon_starts"] == 2
    finally:
        d.stop()


def test_openapi_document_is_served(daemon):
    r = daemon.request("GET", "/api/v1/openapi.json")
    assert r.status == 200
    doc = r.json()
    with open(os.path.join(os.environ.get("PADDOCK_SOURCE_DIR", "."), "daemon/openapi.json")) as f:
        assert doc == json.load(f)


def test_metrics_count_requests_in_prometheus_format(daemon):
    for _ in range(3):
        daemon.request("GET", "/api/v1/status")
    daemon.request("GET", "/api/v1/status", token=None)
    r = daemon.request("GET", "/metrics", token=None)
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.body.decode()
    assert 'paddock_http_requests_total{method="GET",route="/api/v1/status",code="200"} 3' in text
    assert 'paddock_http_requests_total{method="GET",route="/api/v1/status",code="401"} 1' in text
    assert 'paddock_http_request_duration_seconds_bucket{method="GET",route="/api/v1/status",le="+Inf"} 4' in text
    assert 'paddock_http_request_duration_seconds_count{method="GET",route="/api/v1/status"} 4' in text
    for family in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                   "process_start_time_seconds", "paddock_build_info"):
        assert f"# TYPE {family} " in text, family


def test_state_files_are_private(daemon):
    mode = lambda name: os.stat(os.path.join(daemon.state_dir, name)).st_mode & 0o777
    assert mode("admin.token") == 0o600
    assert mode("paddockd.sock") == 0o660
    assert mode("state.db") & 0o007 == 0
    assert mode(".") & 0o007 == 0


@pytest.fixture
def tls_files(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


def test_tls_listener_serves_https_with_the_configured_certificate(tmp_state, tls_files):
    cert, key = tls_files
    d = start_daemon(tmp_state, config_text=f'[api]\ntls_certificate = "{cert}"\ntls_private_key = "{key}"\n')
    try:
        ctx = ssl.create_default_context(cafile=cert)
        conn = http.client.HTTPSConnection("127.0.0.1", d.port, context=ctx, timeout=10)
        conn.request("GET", "/api/v1/status", headers={"Authorization": f"Bearer {d.token}"})
        r = conn.getresponse()
        assert r.status == 200
        assert json.loads(r.read())["tls"] is True
        conn.close()
        # Plain HTTP to the TLS port gets no API answer.
        with pytest.raises((http.client.HTTPException, ConnectionError, socket.timeout)):
            plain = http.client.HTTPConnection("127.0.0.1", d.port, timeout=3)
            plain.request("GET", "/healthz")
            resp = plain.getresponse()
            if resp.status == 200:
                pytest.fail("plain HTTP answered on the TLS port")
            raise ConnectionError(resp.status)
    finally:
        d.stop()


def test_tls_with_a_key_that_does_not_match_fails_to_start(tmp_path, tls_files):
    cert, _ = tls_files
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out", str(other)], check=True,
                   capture_output=True)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[api]\nlisten = "127.0.0.1:1"\ntls_certificate = "{cert}"\ntls_private_key = "{other}"\n')
    p = subprocess.run([PADDOCKD, "--config", str(cfg), "--state-dir", str(tmp_path / "s"), "--listen",
                        f"127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert "private key" in p.stderr


@pytest.fixture
def socket_group():
    if os.geteuid() != 0 or not shutil.which("groupadd"):
        pytest.skip("SKIP: needs root and groupadd to create a test group")
    name = f"pdk-test-{os.getpid()}"
    subprocess.run(["groupadd", "--system", name], check=True)
    try:
        yield name, grp.getgrnam(name).gr_gid
    finally:
        subprocess.run(["groupdel", name], check=False)


def unix_request_as(daemon, uid, gid, groups, path):
    """GET `path` over the unix socket from a child process running as uid/gid/groups."""
    code = ("import http.client, socket, sys\n"
            "class C(http.client.HTTPConnection):\n"
            "    def connect(self):\n"
            "        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])\n"
            "try:\n"
            "    c = C('localhost'); c.request('GET', sys.argv[2]); r = c.getresponse()\n"
            "    print(r.status); print(r.read().decode())\n"
            "except PermissionError:\n"
            "    print('EACCES')\n")

    def drop():
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)

    p = subprocess.run([sys.executable, "-c", code, daemon.socket, path], preexec_fn=drop,
                       capture_output=True, text=True, timeout=20)
    lines = p.stdout.splitlines()
    return lines[0], ("\n".join(lines[1:]) if len(lines) > 1 else "")


def test_socket_group_members_reach_the_api_as_themselves_and_others_cannot(socket_group):
    name, gid = socket_group
    # pytest's tmp_path is under a 0700 directory; other users need to traverse to the socket.
    base = tempfile.mkdtemp(prefix="paddock-group-")
    os.chmod(base, 0o711)
    d = start_daemon(os.path.join(base, "state"), config_text=f'[api]\nsocket_group = "{name}"\n')
    try:
        assert os.stat(d.socket).st_gid == gid
        os.chown(d.state_dir, 0, gid)  # as the package's postinst does for /var/lib/paddock
        nobody = 65534
        status, body = unix_request_as(d, nobody, nobody, [gid], "/api/v1/status")
        assert status == "200"
        caller = json.loads(body)["caller"]
        assert caller == {"kind": "unix", "uid": nobody, "gid": nobody, "pid": caller["pid"], "admin": False}
        status, body = unix_request_as(d, nobody, nobody, [gid], "/api/v1/tokens")
        assert status == "403" and "forbidden" in body
        status, _ = unix_request_as(d, nobody, nobody, [], "/api/v1/status")
        assert status == "EACCES"
    finally:
        d.stop()
        shutil.rmtree(base)
