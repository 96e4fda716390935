"""The versioned store's REST API (/api/v1/repos, /api/v1/store) against a real paddockd: commits
from host directories (as the caller's own user) and from streamed tar uploads, history, trees,
files with ranges, diffs, refs, merge, revert, checkout, archives, gc, fsck, restarts."""
import gzip
import hashlib
import http.client
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse

import pytest

from conftest import UnixHTTPConnection, start_daemon

PROBLEM = "application/problem+json"
NOBODY = 65534
TIMEOUT = 120
# The module's daemon caps ordinary bodies at 64 KiB: uploads must get past that by streaming.
CONFIG = "[api]\nmax_body_bytes = 65536\n[store]\ngc_grace_seconds = 0\n"


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def call(d, method, path, body=None, headers=None, unix=False, token="admin"):
    """One request with a long timeout; `body` may be a dict (JSON), bytes or a file object
    (sent with Content-Length when given in `headers`, else chunked)."""
    hdrs = dict(headers or {})
    if token == "admin":
        token = d.token
    if token and not unix:
        hdrs["Authorization"] = f"Bearer {token}"
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn = UnixHTTPConnection(d.socket, timeout=TIMEOUT) if unix else \
        http.client.HTTPConnection("127.0.0.1", d.port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=hdrs,
                     encode_chunked=body is not None and not isinstance(body, bytes)
                     and "Content-Length" not in hdrs)
        r = conn.getresponse()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def problem(r, status, slug):
    assert r.status == status, r.body
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["type"] == f"urn:paddock:problem:{slug}", body
    return body


def seg(text):
    """A path segment: '/', '~' and '^' percent-encoded."""
    return urllib.parse.quote(text, safe="")


def write_tree(root, files):
    """files: {relative path: bytes | ("x", bytes) executable | ("l", target) symlink | None (empty dir)}."""
    for rel, value in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if value is None:
            os.makedirs(p, exist_ok=True)
        elif isinstance(value, tuple) and value[0] == "l":
            os.symlink(value[1], p)
        else:
            data = value[1] if isinstance(value, tuple) else value
            with open(p, "wb") as f:
                f.write(data)
            os.chmod(p, 0o755 if isinstance(value, tuple) else 0o644)


def read_tree(root):
    """{relative path: ("f"|"x", bytes) | ("l", target) | ("d",) empty directory}."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                if not os.listdir(p):
                    out[rel] = ("d",)
            else:
                with open(p, "rb") as f:
                    out[rel] = ("x" if st.st_mode & 0o100 else "f", f.read())
    return out


@pytest.fixture(scope="module")
def base():
    # Under a 0711 directory, so that the unprivileged caller can reach the socket.
    path = tempfile.mkdtemp(prefix="paddock-store-")
    os.chmod(path, 0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def d(base):
    daemon = start_daemon(os.path.join(base, "state"), config_text=CONFIG)
    yield daemon
    daemon.stop()


@pytest.fixture
def work(base, request):
    path = os.path.join(base, "work-" + request.node.name)
    os.makedirs(path)
    os.chmod(path, 0o755)
    return path


def new_repo(d, name):
    r = call(d, "POST", "/api/v1/repos", {"name": name})
    assert r.status == 201, r.body
    return name


def commit_dir(d, repo, path, **fields):
    r = call(d, "POST", f"/api/v1/repos/{repo}/commits", {"path": path, **fields}, unix=True)
    assert r.status in (200, 201), r.body
    return r.json()


def head(d, repo, branch="main"):
    return call(d, "GET", f"/api/v1/repos/{repo}/commits/{seg(branch)}").json()["id"]


def tar_bytes(entries, compress=None):
    """entries: list of (TarInfo kwargs, data or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in entries:
            ti = tarfile.TarInfo(info.pop("name"))
            for k, v in info.items():
                setattr(ti, k, v)
            if data is not None:
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    raw = buf.getvalue()
    return gzip.compress(raw) if compress == "gzip" else raw


# --- Repositories.

def test_repositories_are_created_listed_shown_and_named_strictly(d):
    r = call(d, "POST", "/api/v1/repos", {"name": "datasets"})
    assert r.status == 201 and r.headers["location"] == "/api/v1/repos/datasets"
    repo = r.json()
    assert repo["name"] == "datasets" and repo["branches"] == [] and repo["tags"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", repo["created_at"])
    assert call(d, "GET", "/api/v1/repos/datasets").json() == repo
    assert "datasets" in [x["name"] for x in call(d, "GET", "/api/v1/repos").json()["repos"]]
    problem(call(d, "POST", "/api/v1/repos", {"name": "datasets"}), 409, "already-exists")
    body = problem(call(d, "POST", "/api/v1/repos", {"name": "../etc"}), 400, "invalid-request")
    assert body["invalid-params"][0]["name"] == "name"
    body = problem(call(d, "POST", "/api/v1/repos", {"name": "x", "nmae": 1}), 400, "invalid-request")
    assert body["invalid-params"][0] == {"name": "nmae", "reason": "unknown field"}
    problem(call(d, "GET", "/api/v1/repos/nothing"), 404, "not-found")
    problem(call(d, "GET", "/api/v1/repos/nothing/commits"), 404, "not-found")


# --- Commits from host directories, history, trees.

def test_commit_a_directory_then_log_show_and_list_the_tree(d, work):
    repo = new_repo(d, "models")
    src = os.path.join(work, "src")
    write_tree(src, {"a.txt": b"alpha\n", "bin/run.sh": ("x", b"#!/bin/sh\necho hi\n"),
                     "link": ("l", "a.txt"), "empty": None, "sub/deep/b.bin": os.urandom(5000)})
    # Files changed within the last moments are never trusted to the stat cache (racy); these
    # are an hour old.
    for rel in ("a.txt", "bin/run.sh", "sub/deep/b.bin"):
        os.utime(os.path.join(src, rel), (1_700_000_000, 1_700_000_000))
    first = commit_dir(d, repo, src, message="first", metadata={"sandbox": "sbx-1"})
    assert first["changed"] is True
    assert (first["files"], first["symlinks"], first["files_hashed"]) == (3, 1, 3)
    assert first["bytes"] == 6 + 18 + 5000 and first["warnings"] == []
    c1 = first["commit"]
    assert c1["parents"] == [] and c1["message"] == "first" and c1["author"] == "root"
    assert c1["metadata"] == {"sandbox": "sbx-1"}
    assert re.fullmatch(r"[0-9a-f]{64}", c1["id"]) and re.fullmatch(r"[0-9a-f]{64}", c1["tree"])

    # Nothing changed: the head comes back, 200, no new commit; the stat cache answered.
    again = commit_dir(d, repo, src)
    assert again["changed"] is False and again["commit"]["id"] == c1["id"] and again["files_hashed"] == 0
    with open(os.path.join(src, "a.txt"), "ab") as f:
        f.write(b"more\n")
    second = commit_dir(d, repo, src, message="second")
    c2 = second["commit"]
    assert second["changed"] and c2["parents"] == [c1["id"]] and second["files_hashed"] == 1

    log = call(d, "GET", f"/api/v1/repos/{repo}/commits").json()["commits"]
    assert [c["id"] for c in log] == [c2["id"], c1["id"]]
    assert log[1] == c1
    assert [c["id"] for c in call(d, "GET", f"/api/v1/repos/{repo}/commits?rev=main&limit=1")
            .json()["commits"]] == [c2["id"]]
    assert call(d, "GET", f"/api/v1/repos/{repo}/commits/{c2['id'][:10]}").json() == c2
    for rev in ("main~1", "main%7E1", "main%5E", seg("main^1")):
        assert call(d, "GET", f"/api/v1/repos/{repo}/commits/{rev}").json()["id"] == c1["id"], rev

    entries = call(d, "GET", f"/api/v1/repos/{repo}/tree/main").json()["entries"]
    kinds = {e["path"]: e["kind"] for e in entries}
    assert kinds == {"a.txt": "file", "bin": "directory", "empty": "directory", "link": "symlink",
                     "sub": "directory"}
    link = next(e for e in entries if e["path"] == "link")
    assert link["target"] == "a.txt" and link["id"] is None
    a = next(e for e in entries if e["path"] == "a.txt")
    assert a["size"] == 11 and a["target"] is None
    sub = call(d, "GET", f"/api/v1/repos/{repo}/tree/main?path=sub/deep").json()["entries"]
    assert [(e["path"], e["size"]) for e in sub] == [("sub/deep/b.bin", 5000)]
    leaves = call(d, "GET", f"/api/v1/repos/{repo}/tree/{c1['id']}?recursive=true").json()["entries"]
    assert {e["path"]: e["kind"] for e in leaves} == {
        "a.txt": "file", "bin/run.sh": "executable", "empty": "directory", "link": "symlink",
        "sub/deep/b.bin": "file"}
    problem(call(d, "GET", f"/api/v1/repos/{repo}/tree/main?path=a.txt"), 400, "invalid-request")
    problem(call(d, "GET", f"/api/v1/repos/{repo}/tree/main?path=nope"), 404, "not-found")


def test_file_downloads_stream_with_ranges_and_etags(d, work):
    repo = new_repo(d, "files")
    data = os.urandom(300_000)
    write_tree(os.path.join(work, "src"), {"blob.bin": data, "dir/x": b"x"})
    commit_dir(d, repo, os.path.join(work, "src"))
    url = f"/api/v1/repos/{repo}/files/main?path=blob.bin"
    full = call(d, "GET", url)
    assert full.status == 200 and full.body == data
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-length"] == str(len(data))
    etag = full.headers["etag"]
    entry = next(e for e in call(d, "GET", f"/api/v1/repos/{repo}/tree/main").json()["entries"]
                 if e["path"] == "blob.bin")
    assert etag == f'"{entry["id"]}"'
    for spec, lo, hi in (("bytes=100-199", 100, 199), ("bytes=299990-", 299990, 299999),
                         ("bytes=-10", 299990, 299999), ("bytes=299000-999999", 299000, 299999)):
        r = call(d, "GET", url, headers={"Range": spec})
        assert r.status == 206, spec
        assert r.body == data[lo:hi + 1], spec
        assert r.headers["content-range"] == f"bytes {lo}-{hi}/{len(data)}"
        assert r.headers["etag"] == etag
    for spec in ("bytes=300000-", "bytes=400000-400010", "bytes=-0"):
        r = call(d, "GET", url, headers={"Range": spec})
        problem(r, 416, "range-not-satisfiable")
        assert r.headers["content-range"] == f"bytes */{len(data)}"
    # Several ranges, or nonsense, are ignored: the whole file.
    assert call(d, "GET", url, headers={"Range": "bytes=0-1,5-6"}).body == data
    head_reply = call(d, "HEAD", url)
    assert head_reply.status == 200 and head_reply.body == b""
    assert head_reply.headers["content-length"] == str(len(data))
    body = problem(call(d, "GET", f"/api/v1/repos/{repo}/files/main?path=dir"), 400, "invalid-request")
    assert body["invalid-params"][0]["name"] == "path" and "directory" in body["detail"]
    problem(call(d, "GET", f"/api/v1/repos/{repo}/files/main?path=missing"), 404, "not-found")
    body = problem(call(d, "GET", f"/api/v1/repos/{repo}/files/main"), 400, "invalid-request")
    assert body["invalid-params"][0] == {"name": "path", "reason": "is required"}


def test_diff_between_commits_and_against_a_host_directory(d, work):
    repo = new_repo(d, "diffs")
    src = os.path.join(work, "src")
    write_tree(src, {"keep": b"same", "edit": b"v1", "gone": b"bye", "old/name": b"moved content"})
    c1 = commit_dir(d, repo, src)["commit"]["id"]
    os.remove(os.path.join(src, "gone"))
    with open(os.path.join(src, "edit"), "wb") as f:
        f.write(b"v2")
    os.makedirs(os.path.join(src, "new"))
    os.rename(os.path.join(src, "old/name"), os.path.join(src, "new/name"))
    os.rmdir(os.path.join(src, "old"))
    write_tree(src, {"added": b"hello"})
    # Against the directory before committing it: what a commit would change.
    r = call(d, "GET", f"/api/v1/repos/{repo}/diff?from=main&path={urllib.parse.quote(src)}", unix=True)
    assert r.status == 200, r.body
    against_dir = r.json()["changes"]
    c2 = commit_dir(d, repo, src)["commit"]["id"]
    changes = call(d, "GET", f"/api/v1/repos/{repo}/diff?from={c1}&to={c2}").json()["changes"]
    assert changes == against_dir
    by_path = {c["path"]: c for c in changes}
    assert {p: c["kind"] for p, c in by_path.items()} == {
        "added": "added", "edit": "modified", "gone": "deleted", "new/name": "renamed"}
    assert by_path["new/name"]["old_path"] == "old/name"
    assert by_path["added"]["old"] is None and by_path["added"]["new"]["size"] == 5
    assert by_path["gone"]["new"] is None and by_path["gone"]["old"]["kind"] == "file"
    assert by_path["edit"]["old"]["id"] != by_path["edit"]["new"]["id"]
    assert call(d, "GET", f"/api/v1/repos/{repo}/diff?from=main&to=main").json() == {"changes": []}
    body = problem(call(d, "GET", f"/api/v1/repos/{repo}/diff?to=main"), 400, "invalid-request")
    assert body["invalid-params"][0]["name"] == "from"
    problem(call(d, "GET", f"/api/v1/repos/{repo}/diff?from=main"), 400, "invalid-request")
    problem(call(d, "GET", f"/api/v1/repos/{repo}/diff?from=main&to=main&path=/tmp"), 400,
            "invalid-request")
    body = problem(call(d, "GET", f"/api/v1/repos/{repo}/diff?from=main&path=relative", unix=True), 400,
                   "invalid-request")
    assert body["invalid-params"][0]["name"] == "path"
    body = problem(call(d, "GET", f"/api/v1/repos/{repo}/diff?from=nope&to=main"), 404, "not-found")


# --- Refs.

def test_branches_with_slashes_and_immutable_tags(d, work):
    repo = new_repo(d, "refs")
    src = os.path.join(work, "src")
    write_tree(src, {"f": b"1"})
    c1 = commit_dir(d, repo, src)["commit"]["id"]
    write_tree(src, {"g": b"2"})
    c2 = commit_dir(d, repo, src)["commit"]["id"]
    r = call(d, "POST", f"/api/v1/repos/{repo}/branches", {"name": "team/exp", "rev": "main~1"})
    assert r.status == 201 and r.json() == {"name": "team/exp", "commit": c1}
    branches = call(d, "GET", f"/api/v1/repos/{repo}/branches").json()["branches"]
    assert branches == [{"name": "main", "commit": c2}, {"name": "team/exp", "commit": c1}]
    assert call(d, "GET", f"/api/v1/repos/{repo}/commits/team%2Fexp").json()["id"] == c1
    assert call(d, "GET", f"/api/v1/repos/{repo}").json()["branches"] == ["main", "team/exp"]
    problem(call(d, "POST", f"/api/v1/repos/{repo}/branches", {"name": "team/exp", "rev": "main"}), 409,
            "already-exists")
    body = problem(call(d, "POST", f"/api/v1/repos/{repo}/branches", {"name": "bad~name", "rev": "main"}),
                   400, "invalid-request")
    assert body["invalid-params"][0]["name"] == "name"
    body = problem(call(d, "POST", f"/api/v1/repos/{repo}/branches", {"name": "x", "rev": "nope~3"}), 404,
                   "not-found")

    assert call(d, "POST", f"/api/v1/repos/{repo}/tags", {"name": "v1.0", "rev": c1[:8]}).status == 201
    body = problem(call(d, "POST", f"/api/v1/repos/{repo}/tags", {"name": "v1.0", "rev": "main"}), 409,
                   "already-exists")
    assert "v1.0" in body["detail"]
    assert call(d, "GET", f"/api/v1/repos/{repo}/tags").json() == {"tags": [{"name": "v1.0", "commit": c1}]}
    assert call(d, "GET", f"/api/v1/repos/{repo}").json()["tags"] == 1
    assert call(d, "GET", f"/api/v1/repos/{repo}/commits/v1.0").json()["id"] == c1
    assert call(d, "DELETE", f"/api/v1/repos/{repo}/tags/v1.0").status == 204
    problem(call(d, "DELETE", f"/api/v1/repos/{repo}/tags/v1.0"), 404, "not-found")
    assert call(d, "DELETE", f"/api/v1/repos/{repo}/branches/team%2Fexp").status == 204
    problem(call(d, "DELETE", f"/api/v1/repos/{repo}/branches/team%2Fexp"), 404, "not-found")
    assert [b["name"] for b in call(d, "GET", f"/api/v1/repos/{repo}/branches").json()["branches"]] == ["main"]


# --- Merge and revert.

def test_merge_fast_forward_three_way_and_conflict(d, work):
    repo = new_repo(d, "merges")
    src = os.path.join(work, "src")
    write_tree(src, {"shared": b"base\n", "other": b"o\n"})
    base_id = commit_dir(d, repo, src)["commit"]["id"]
    call(d, "POST", f"/api/v1/repos/{repo}/branches", {"name": "feature", "rev": "main"})
    write_tree(src, {"feature.txt": b"f\n"})
    f1 = commit_dir(d, repo, src, branch="feature")["commit"]["id"]

    r = call(d, "POST", f"/api/v1/repos/{repo}/merge", {"into": "main", "from": "feature"})
    assert r.status == 200, r.body
    assert r.json()["fast_forward"] is True and r.json()["up_to_date"] is False
    assert r.json()["commit"]["id"] == f1 and head(d, repo) == f1
    r = call(d, "POST", f"/api/v1/repos/{repo}/merge", {"into": "main", "from": "feature"})
    assert r.json()["up_to_date"] is True and r.json()["commit"]["id"] == f1

    # Both sides move: a merge commit with both parents, holding both changes.
    other = os.path.join(work, "other")
    r = call(d, "POST", f"/api/v1/repos/{repo}/checkout", {"rev": "feature", "path": other}, unix=True)
    assert r.status == 200, r.body
    write_tree(other, {"from-feature": b"ff\n"})
    f2 = commit_dir(d, repo, other, branch="feature")["commit"]["id"]
    write_tree(src, {"from-main": b"mm\n"})
    m1 = commit_dir(d, repo, src)["commit"]["id"]
    r = call(d, "POST", f"/api/v1/repos/{repo}/merge", {"into": "main", "from": "feature", "message": "join"})
    assert r.status == 200, r.body
    merged = r.json()
    assert merged["fast_forward"] is False and merged["up_to_date"] is False
    assert merged["commit"]["parents"] == [m1, f2] and merged["commit"]["message"] == "join"
    paths = {e["path"] for e in call(d, "GET", f"/api/v1/repos/{repo}/tree/main?recursive=true")
             .json()["entries"]}
    assert {"from-feature", "from-main", "feature.txt", "shared"} <= paths

    # Both sides edit one file differently: 409 merge-conflict listing it, nothing committed.
    with open(os.path.join(other, "shared"), "wb") as f:
        f.write(b"feature's\n")
    commit_dir(d, repo, other, branch="feature")
    with open(os.path.join(src, "shared"), "wb") as f:
        f.write(b"main's\n")
    os.remove(os.path.join(src, "other"))
    write_tree(other, {"other": b"changed on feature\n"})
    commit_dir(d, repo, other, branch="feature")
    before = commit_dir(d, repo, src)["commit"]["id"]
    body = problem(call(d, "POST", f"/api/v1/repos/{repo}/merge", {"into": "main", "from": "feature"}), 409,
                   "merge-conflict")
    assert body["conflicts"] == [{"path": "other", "kind": "modify_delete"},
                                 {"path": "shared", "kind": "both_modified"}]
    assert head(d, repo) == before
    assert base_id  # the history began there
    body = problem(call(d, "POST", f"/api/v1/repos/{repo}/merge", {"into": "main", "from": "nope"}), 404,
                   "not-found")
    body = problem(call(d, "POST", f"/api/v1/repos/{repo}/merge", {"into": "main"}), 400, "invalid-request")
    assert body["invalid-params"][0] == {"name": "from", "reason": "is required"}


def test_revert_undoes_a_commit(d, work):
    repo = new_repo(d, "reverts")
    src = os.path.join(work, "src")
    write_tree(src, {"a": b"1"})
    commit_dir(d, repo, src)
    write_tree(src, {"b": b"2"})
    bad = commit_dir(d, repo, src, message="add b\n\ndetails")["commit"]["id"]
    write_tree(src, {"c": b"3"})
    commit_dir(d, repo, src)
    r = call(d, "POST", f"/api/v1/repos/{repo}/revert", {"branch": "main", "rev": bad})
    assert r.status == 201, r.body
    commit = r.json()["commit"]
    assert r.json()["changed"] is True
    assert commit["message"].startswith('Revert "add b"') and bad in commit["message"]
    assert r.headers["location"] == f"/api/v1/repos/{repo}/commits/{commit['id']}"
    paths = [e["path"] for e in call(d, "GET", f"/api/v1/repos/{repo}/tree/main").json()["entries"]]
    assert paths == ["a", "c"]
    body = problem(call(d, "POST", f"/api/v1/repos/{repo}/revert", {"branch": "main", "rev": "abc"}), 400,
                   "invalid-request")
    assert body["invalid-params"][0]["name"] == "rev"
    problem(call(d, "POST", f"/api/v1/repos/{repo}/revert", {"branch": "nope", "rev": "main"}), 404,
            "not-found")


# --- Checkout and archives.

def test_checkout_writes_the_same_files_and_refuses_a_non_empty_target(d, work):
    repo = new_repo(d, "checkouts")
    src = os.path.join(work, "src")
    tree = {"a.txt": b"alpha", "tools/run": ("x", b"#!/bin/sh\n"), "ln": ("l", "a.txt"), "hollow": None,
            "data/big": os.urandom(200_000), "data/empty": b""}
    write_tree(src, tree)
    commit_dir(d, repo, src)
    out = os.path.join(work, "out")
    r = call(d, "POST", f"/api/v1/repos/{repo}/checkout", {"path": out}, unix=True)
    assert r.status == 200, r.body
    result = r.json()
    assert result["files"] == 4 and result["symlinks"] == 1
    assert result["bytes"] == 5 + 10 + 200_000
    assert result["reflinked"] + result["hardlinked"] + result["copied"] == 3
    assert read_tree(out) == read_tree(src)
    ro = os.path.join(work, "ro")
    r = call(d, "POST", f"/api/v1/repos/{repo}/checkout", {"path": ro, "rev": "main", "read_only": True},
             unix=True)
    assert r.status == 200 and read_tree(ro) == read_tree(src)
    problem(call(d, "POST", f"/api/v1/repos/{repo}/checkout", {"path": out}, unix=True), 409,
            "failed-precondition")
    body = problem(call(d, "POST", f"/api/v1/repos/{repo}/checkout", {"path": "rel/dir"}, unix=True), 400,
                   "invalid-request")
    assert body["invalid-params"][0]["name"] == "path"


def test_archive_download_extracts_to_the_committed_tree(d, work):
    repo = new_repo(d, "archives")
    src = os.path.join(work, "src")
    write_tree(src, {"a": b"A" * 1000, "d/b": ("x", b"B"), "d/l": ("l", "b"), "e": None,
                     "big": os.urandom(1_000_000)})
    commit = commit_dir(d, repo, src)["commit"]
    r = call(d, "GET", f"/api/v1/repos/{repo}/archive/main")
    assert r.status == 200 and r.headers["content-type"] == "application/x-tar"
    assert r.headers["transfer-encoding"] == "chunked"
    assert r.headers["content-disposition"] == f'attachment; filename="{repo}-{commit["id"][:12]}.tar"'
    out = os.path.join(work, "out")
    os.makedirs(out)
    with tarfile.open(fileobj=io.BytesIO(r.body)) as t:
        t.extractall(out, **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))
    assert read_tree(out) == read_tree(src)
    # Reproducible: the same bytes every time.
    assert call(d, "GET", f"/api/v1/repos/{repo}/archive/{commit['id']}").body == r.body
    problem(call(d, "GET", f"/api/v1/repos/{repo}/archive/nope"), 404, "not-found")


# --- Tar uploads.

def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))


def test_tar_upload_is_streamed_past_max_body_bytes(d, work):
    repo = new_repo(d, "uploads")
    # An ordinary JSON body over api.max_body_bytes (64 KiB here) is refused...
    problem(call(d, "POST", "/api/v1/repos", {"name": "x" * 70_000}), 413, "payload-too-large")
    # ...but a 72 MiB archive goes through, read as it arrives.
    big = os.path.join(work, "big.tar")
    payload = os.urandom(1 << 20)
    with tarfile.open(big, "w") as t:
        for i in range(72):
            info = tarfile.TarInfo(f"shards/{i:03d}.bin")
            info.size = len(payload)
            t.addfile(info, io.BytesIO(payload[i:] + payload[:i]))
    size = os.path.getsize(big)
    assert size > 64 << 20
    rss_before = peak_rss_kib(d.proc.pid)
    with open(big, "rb") as f:
        r = call(d, "POST", f"/api/v1/repos/{repo}/commits?branch=data&message=shards", f,
                 headers={"Content-Type": "application/x-tar", "Content-Length": str(size)})
    assert r.status == 201, r.body
    result = r.json()
    assert result["files"] == 72 and result["bytes"] == 72 << 20
    assert result["commit"]["message"] == "shards" and result["commit"]["author"] == "token:admin"
    # The daemon never held the archive: its peak memory grew far less than the upload's size.
    assert (peak_rss_kib(d.proc.pid) - rss_before) * 1024 < size // 2
    r = call(d, "GET", f"/api/v1/repos/{repo}/files/data?path=shards/071.bin", headers={"Range": "bytes=0-99"})
    assert r.body == (payload[71:] + payload[:71])[:100]

    # Chunked (no Content-Length), gzip-compressed, onto main.
    small = tar_bytes([({"name": "x/y.txt"}, b"why\n"), ({"name": "run", "mode": 0o755}, b"#!/bin/sh\n")],
                      compress="gzip")
    r = call(d, "POST", f"/api/v1/repos/{repo}/commits", iter([small[:10], small[10:]]),
             headers={"Content-Type": "application/gzip"})
    assert r.status == 201, r.body
    entries = call(d, "GET", f"/api/v1/repos/{repo}/tree/main?recursive=true").json()["entries"]
    assert {e["path"]: e["kind"] for e in entries} == {"run": "executable", "x/y.txt": "file"}
    problem(call(d, "POST", f"/api/v1/repos/{repo}/commits", b"hello", headers={"Content-Type": "text/plain"}),
            415, "unsupported-media-type")


def test_hostile_tar_upload_is_refused_naming_the_entry(d):
    repo = new_repo(d, "hostile")
    ok = tar_bytes([({"name": "fine.txt"}, b"ok")])
    assert call(d, "POST", f"/api/v1/repos/{repo}/commits", ok,
                headers={"Content-Type": "application/x-tar"}).status == 201
    before = head(d, repo)
    for entries, name in (
            ([({"name": "fine.txt"}, b"x"), ({"name": "../escape"}, b"evil")], "../escape"),
            ([({"name": "up", "type": tarfile.SYMTYPE, "linkname": "../../etc"}, None)], "up"),
            ([({"name": "/etc/passwd"}, b"root::0:0")], "/etc/passwd"),
            ([({"name": "dev", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, None)], "dev")):
        r = call(d, "POST", f"/api/v1/repos/{repo}/commits", tar_bytes(entries) + b"\0" * 200_000,
                 headers={"Content-Type": "application/x-tar"})
        body = problem(r, 400, "invalid-request")
        assert body["invalid-params"][0]["name"] == "body"
        assert name in body["detail"], body
        assert head(d, repo) == before
    body = problem(call(d, "POST", f"/api/v1/repos/{repo}/commits", b"not a tar at all" * 100,
                        headers={"Content-Type": "application/x-tar"}), 400, "invalid-request")
    assert head(d, repo) == before


def test_uploads_over_max_upload_bytes_get_413_and_commit_nothing(tmp_path):
    d = start_daemon(str(tmp_path / "state"), config_text="[store]\nmax_upload_bytes = 100000\n")
    try:
        repo = new_repo(d, "capped")
        small = tar_bytes([({"name": "ok"}, b"fits")])
        assert call(d, "POST", f"/api/v1/repos/{repo}/commits", small,
                    headers={"Content-Type": "application/x-tar"}).status == 201
        before = head(d, repo)
        big = tar_bytes([({"name": "big"}, os.urandom(200_000))])
        body = problem(call(d, "POST", f"/api/v1/repos/{repo}/commits", big,
                            headers={"Content-Type": "application/x-tar"}), 413, "payload-too-large")
        assert "100000" in body["detail"]
        # Chunked: counted while streaming.
        problem(call(d, "POST", f"/api/v1/repos/{repo}/commits", iter([big[:50_000], big[50_000:]]),
                     headers={"Content-Type": "application/x-tar"}), 413, "payload-too-large")
        assert head(d, repo) == before
    finally:
        d.stop()


# --- Identity.

def test_token_callers_get_403_for_host_paths_but_can_upload_and_download(d, work):
    secret = call(d, "POST", "/api/v1/tokens", {"name": "store-user"}).json()["token"]
    repo = "shared"
    assert call(d, "POST", "/api/v1/repos", {"name": repo}, token=secret).status == 201
    src = os.path.join(work, "src")
    write_tree(src, {"f": b"data"})
    for method, path, body in (
            ("POST", f"/api/v1/repos/{repo}/commits", {"path": src}),
            ("POST", f"/api/v1/repos/{repo}/checkout", {"path": os.path.join(work, "out")}),
            ("GET", f"/api/v1/repos/{repo}/diff?from=main&path={src}", None)):
        b = problem(call(d, method, path, body, token=secret), 403, "forbidden")
        assert "path" in b["detail"] and "tar" in b["detail"]
    r = call(d, "POST", f"/api/v1/repos/{repo}/commits?message=via+token",
             tar_bytes([({"name": "f"}, b"data")]), headers={"Content-Type": "application/x-tar"}, token=secret)
    assert r.status == 201 and r.json()["commit"]["author"] == "token:store-user"
    assert r.json()["commit"]["message"] == "via token"
    assert call(d, "GET", f"/api/v1/repos/{repo}/archive/main", token=secret).status == 200
    assert call(d, "GET", f"/api/v1/repos/{repo}/files/main?path=f", token=secret).body == b"data"
    # Admin-only: deleting repositories, gc, fsck.
    problem(call(d, "DELETE", f"/api/v1/repos/{repo}", token=secret), 403, "forbidden")
    problem(call(d, "POST", "/api/v1/store/gc", {}, token=secret), 403, "forbidden")
    problem(call(d, "GET", "/api/v1/store/fsck", token=secret), 403, "forbidden")
    assert call(d, "DELETE", f"/api/v1/repos/{repo}").status == 204
    problem(call(d, "GET", f"/api/v1/repos/{repo}"), 404, "not-found")
    assert call(d, "DELETE", "/api/v1/tokens/store-user").status == 204


NOBODY_CLIENT = """
import http.client, json, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])
c = C("localhost", timeout=60)
body = sys.argv[4].encode() if sys.argv[4] else None
c.request(sys.argv[2], sys.argv[3], body=body, headers={"Content-Type": "application/json"} if body else {})
r = c.getresponse()
print(json.dumps({"status": r.status, "body": r.read().decode()}))
"""


def as_nobody(d, method, path, body=None):
    def drop():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    p = subprocess.run([sys.executable, "-c", NOBODY_CLIENT, d.socket, method, path,
                        json.dumps(body) if body is not None else ""],
                       preexec_fn=drop, capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    return out["status"], json.loads(out["body"]) if out["body"] else None


def test_unix_callers_commit_and_check_out_as_their_own_user(d, work):
    # Let uid 65534 reach the socket (the package gives it to api.socket_group; here: everyone).
    os.chmod(d.state_dir, 0o711)
    os.chmod(d.socket, 0o666)
    repo = new_repo(d, "nobodys")
    src = os.path.join(work, "src")
    write_tree(src, {"readable.txt": b"for everyone", "sub/more": b"also"})
    status, body = as_nobody(d, "POST", f"/api/v1/repos/{repo}/commits", {"path": src, "message": "mine"})
    assert status == 201, body
    assert body["commit"]["author"] == "nobody" and body["files"] == 2

    # A root-only file: nobody may not read it, so neither may the daemon on nobody's behalf.
    secret = os.path.join(src, "sub", "secret.key")
    with open(secret, "wb") as f:
        f.write(b"root only")
    os.chmod(secret, 0o600)
    status, body = as_nobody(d, "POST", f"/api/v1/repos/{repo}/commits", {"path": src})
    assert status == 403, body
    assert body["type"] == "urn:paddock:problem:forbidden" and "secret.key" in body["detail"]
    status, body = as_nobody(d, "GET", f"/api/v1/repos/{repo}/diff?from=main&path={src}")
    assert status == 403 and "secret.key" in body["detail"]
    # Root, committing the same directory, may.
    assert commit_dir(d, repo, src)["files"] == 3

    # Checkouts are written as the caller: not into a directory only root may write...
    locked = os.path.join(work, "locked")
    os.makedirs(locked)
    os.chmod(locked, 0o755)
    status, body = as_nobody(d, "POST", f"/api/v1/repos/{repo}/checkout",
                             {"path": os.path.join(locked, "out"), "rev": "main~1"})
    assert status == 403, body
    assert not os.path.exists(os.path.join(locked, "out"))
    # ...and owned by the caller where it may write.
    os.chmod(locked, 0o777)
    status, body = as_nobody(d, "POST", f"/api/v1/repos/{repo}/checkout",
                             {"path": os.path.join(locked, "out"), "rev": "main~1"})
    assert status == 200, body
    assert os.stat(os.path.join(locked, "out", "readable.txt")).st_uid == NOBODY
    # Nobody is no admin.
    status, body = as_nobody(d, "DELETE", f"/api/v1/repos/{repo}")
    assert status == 403


# --- Maintenance.

def test_gc_reclaims_what_a_deleted_branch_held_and_fsck_stays_ok(tmp_path):
    # A store of its own: what other tests keep alive would share packs with the garbage.
    d = start_daemon(str(tmp_path / "state"), config_text=CONFIG)
    try:
        collect_and_check(d, str(tmp_path))
    finally:
        d.stop()


def collect_and_check(d, work):
    repo = new_repo(d, "collect")
    src = os.path.join(work, "src")
    write_tree(src, {"keep": b"kept"})
    commit_dir(d, repo, src)
    scratch = os.path.join(work, "scratch")
    write_tree(scratch, {"junk.bin": os.urandom(3 << 20)})
    commit_dir(d, repo, scratch, branch="scratch")
    assert call(d, "DELETE", f"/api/v1/repos/{repo}/branches/scratch").status == 204

    plan = call(d, "POST", "/api/v1/store/gc", {"dry_run": True})
    assert plan.status == 200, plan.body
    assert plan.json()["dry_run"] is True and plan.json()["objects_reclaimed"] > 0
    r = call(d, "POST", "/api/v1/store/gc", {"dry_run": False})
    assert r.status == 200, r.body
    report = r.json()
    assert report["dry_run"] is False
    assert report["objects_reclaimed"] > 0 and report["bytes_reclaimed"] >= 3 << 20
    assert set(report) >= {"objects_live", "bytes_live", "packs_deleted", "packs_rewritten", "packs_created",
                           "packs_in_use", "objects_dead_kept", "seconds"}
    assert call(d, "GET", f"/api/v1/repos/{repo}/files/main?path=keep").body == b"kept"
    problem(call(d, "POST", "/api/v1/store/gc", {"dry": True}), 400, "invalid-request")

    fsck = call(d, "GET", "/api/v1/store/fsck")
    assert fsck.status == 200, fsck.body
    assert fsck.json()["ok"] is True and fsck.json()["problems"] == [] and fsck.json()["objects"] > 0


# --- Errors.

def test_precise_errors(d, work):
    repo = new_repo(d, "errors")
    src = os.path.join(work, "src")
    write_tree(src, {"f": b"1"})
    c1 = commit_dir(d, repo, src)["commit"]["id"]
    write_tree(src, {"g": b"2"})
    c2 = commit_dir(d, repo, src)["commit"]["id"]
    # A commit that expects an older head: 409 naming where the branch is.
    write_tree(src, {"h": b"3"})
    body = problem(call(d, "POST", f"/api/v1/repos/{repo}/commits", {"path": src, "expected_parent": c1},
                        unix=True), 409, "conflict")
    assert body["head"] == c2 and body["branch"] == "main"
    assert commit_dir(d, repo, src, expected_parent=c2)["commit"]["parents"] == [c2]
    body = problem(call(d, "POST", f"/api/v1/repos/{repo}/commits", {"path": src, "expected_parent": "nope"},
                        unix=True), 404, "not-found")
    body = problem(call(d, "POST", f"/api/v1/repos/{repo}/commits", {"path": src, "metadata": [1]},
                        unix=True), 400, "invalid-request")
    assert body["invalid-params"][0]["name"] == "metadata"
    body = problem(call(d, "POST", f"/api/v1/repos/{repo}/commits", {"path": src, "branch": "a..b"},
                        unix=True), 400, "invalid-request")
    problem(call(d, "POST", f"/api/v1/repos/{repo}/commits", {"path": os.path.join(work, "missing")},
                 unix=True), 404, "not-found")
    problem(call(d, "POST", "/api/v1/repos/nothing/commits", {"path": src}, unix=True), 404, "not-found")
    body = problem(call(d, "GET", f"/api/v1/repos/{repo}/commits?limit=lots"), 400, "invalid-request")
    assert body["invalid-params"][0]["name"] == "limit"
    body = problem(call(d, "GET", f"/api/v1/repos/{repo}/tree/main?recursive=yes"), 400, "invalid-request")
    assert body["invalid-params"][0]["name"] == "recursive"
    problem(call(d, "GET", f"/api/v1/repos/{repo}/commits/main~9"), 404, "not-found")
    body = problem(call(d, "GET", f"/api/v1/repos/{repo}/commits/abc"), 400, "invalid-request")
    assert body["invalid-params"][0]["name"] == "rev"
    r = call(d, "PUT", f"/api/v1/repos/{repo}/commits", {})
    problem(r, 405, "method-not-allowed")
    assert set(m.strip() for m in r.headers["allow"].split(",")) == {"GET", "POST"}
    problem(call(d, "POST", f"/api/v1/repos/{repo}/branches", b'{"name": "x", "rev": "main"}',
                 headers={"Content-Type": "text/plain"}), 415, "unsupported-media-type")
    problem(call(d, "DELETE", "/api/v1/repos/nothing"), 404, "not-found")


# --- Lifecycle.

def test_everything_survives_a_restart(tmp_path):
    state = str(tmp_path / "state")
    daemon = start_daemon(state)
    try:
        new_repo(daemon, "durable")
        src = str(tmp_path / "src")
        write_tree(src, {"weights.bin": os.urandom(100_000), "cfg": b"lr=1"})
        c1 = commit_dir(daemon, "durable", src)["commit"]
        call(daemon, "POST", "/api/v1/repos/durable/tags", {"name": "v1", "rev": "main"})
        call(daemon, "POST", "/api/v1/repos/durable/branches", {"name": "exp/a", "rev": "v1"})
        assert daemon.stop() == 0
        daemon = start_daemon(state)
        assert call(daemon, "GET", "/api/v1/repos/durable/commits").json()["commits"] == [c1]
        assert call(daemon, "GET", "/api/v1/repos/durable/commits/v1").json() == c1
        assert call(daemon, "GET", "/api/v1/repos/durable/commits/exp%2Fa").json() == c1
        with open(os.path.join(src, "weights.bin"), "rb") as f:
            want = f.read()
        assert call(daemon, "GET", "/api/v1/repos/durable/files/v1?path=weights.bin").body == want
        assert call(daemon, "GET", "/api/v1/store/fsck").json()["ok"] is True
        assert "versioned store open" in daemon.log()
    finally:
        daemon.stop()


def test_a_store_that_cannot_open_answers_503_and_the_daemon_runs_on(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store should be")
    daemon = start_daemon(str(tmp_path / "state"), config_text=f'[store]\ndir = "{blocker}"\n')
    try:
        body = problem(call(daemon, "GET", "/api/v1/repos"), 503, "store-unavailable")
        assert str(blocker) in body["detail"]
        assert call(daemon, "GET", "/api/v1/status").status == 200
    finally:
        daemon.stop()
    daemon = start_daemon(str(tmp_path / "state2"), config_text="[store]\nenabled = false\n")
    try:
        body = problem(call(daemon, "POST", "/api/v1/repos", {"name": "x"}), 503, "store-unavailable")
        assert "disabled" in body["detail"]
        assert not os.path.exists(str(tmp_path / "state2" / "store"))
    finally:
        daemon.stop()
