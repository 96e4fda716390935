"""Versioned data in sandboxes through the real daemon: a repository revision mounted read-only,
and an output directory committed to a branch when the sandbox ends (docs/api.md, "Sandboxes")."""
import json
import os
import time

import pytest

from conftest import PADDOCK, run_cli

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="SKIP: sandboxes need root")


def api(d, method, path, body=None, expect=None):
    r = d.request(method, path, body=body, unix=True, token=None)
    if expect is not None:
        assert r.status == expect, r.body
    return r


def wait_exit(d, sid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = api(d, "GET", f"/api/v1/sandboxes/{sid}").json()
        if s["state"] == "exited":
            return s
        time.sleep(0.05)
    raise AssertionError(f"sandbox {sid} still running")


def logs(d, sid):
    return api(d, "GET", f"/api/v1/sandboxes/{sid}/logs", expect=200).body.decode()


@pytest.fixture
def dataset(daemon, tmp_path):
    """Repository `data` with two commits: v1 (tagged) and a newer main."""
    src = tmp_path / "src"
    (src / "train").mkdir(parents=True)
    (src / "train" / "a.csv").write_text("x,y\n1,2\n")
    (src / "labels.json").write_text('{"classes": 2}\n')
    api(daemon, "POST", "/api/v1/repos", {"name": "data"}, expect=201)
    first = api(daemon, "POST", "/api/v1/repos/data/commits",
                {"branch": "main", "path": str(src), "message": "v1"}, expect=201).json()
    api(daemon, "POST", "/api/v1/repos/data/tags", {"name": "v1", "rev": "main"}, expect=201)
    (src / "train" / "a.csv").write_text("x,y\n1,2\n3,4\n")
    api(daemon, "POST", "/api/v1/repos/data/commits",
        {"branch": "main", "path": str(src), "message": "v2"}, expect=201)
    return first["commit"]["id"]


def test_mount_reads_the_revision_asked_for_read_only(daemon, dataset):
    s = api(daemon, "POST", "/api/v1/sandboxes", {
        "command": ["sh", "-c", "cat /data/train/a.csv; cat /data/labels.json; "
                                "touch /data/new 2>/dev/null && echo WRITABLE || echo read-only"],
        "mounts": [{"repo": "data", "rev": "v1", "target": "/data"}]}, expect=201).json()
    assert s["mounts"] == [{"repo": "data", "rev": "v1", "commit": dataset, "target": "/data"}]
    assert wait_exit(daemon, s["id"])["exit_code"] == 0
    assert logs(daemon, s["id"]) == 'x,y\n1,2\n{"classes": 2}\nread-only\n'


def test_two_sandboxes_share_one_view_and_unused_views_go(daemon, dataset):
    body = {"command": ["sh", "-c", "stat -c %i /data/labels.json"],
            "mounts": [{"repo": "data", "rev": "main", "target": "/data"}]}
    inodes = []
    for _ in range(2):
        s = api(daemon, "POST", "/api/v1/sandboxes", body, expect=201).json()
        wait_exit(daemon, s["id"])
        inodes.append(logs(daemon, s["id"]))
    assert inodes[0] == inodes[1], "the second sandbox reuses the materialised view"


def test_output_is_committed_to_the_branch_with_the_sandbox_in_its_metadata(daemon, dataset):
    api(daemon, "POST", "/api/v1/repos", {"name": "runs"}, expect=201)
    s = api(daemon, "POST", "/api/v1/sandboxes", {
        "command": ["sh", "-c", "wc -l < /data/train/a.csv > /output/lines; mkdir /output/ckpt; "
                                "echo w > /output/ckpt/model.bin; exit 3"],
        "mounts": [{"repo": "data", "rev": "main", "target": "/data"}],
        "output": {"repo": "runs", "branch": "exp-1"}}, expect=201).json()
    done = wait_exit(daemon, s["id"])
    assert done["exit_code"] == 3
    out = done["output"]
    assert out["repo"] == "runs" and out["branch"] == "exp-1" and out["target"] == "/output"
    assert "error" not in out, out
    commit = api(daemon, "GET", "/api/v1/repos/runs/commits/exp-1", expect=200).json()
    assert commit["id"] == out["commit"]
    assert commit["metadata"]["sandbox"] == s["id"]
    assert commit["metadata"]["exit_code"] == 3
    assert s["id"] in commit["message"]
    tree = api(daemon, "GET", "/api/v1/repos/runs/tree/exp-1?recursive=true", expect=200).json()
    assert sorted(e["path"] for e in tree["entries"]) == ["ckpt/model.bin", "lines"]
    lines = api(daemon, "GET", "/api/v1/repos/runs/files/exp-1?path=lines", expect=200).body
    assert lines == b"3\n"


def test_cli_mount_and_output(daemon, dataset):
    api(daemon, "POST", "/api/v1/repos", {"name": "runs"}, expect=201)
    result = run_cli(["sandbox", "run", "--mount", "data@v1:/in", "--output", "runs@cli:/out", "--",
                      "sh", "-c", "cp /in/labels.json /out/; cat /in/train/a.csv"], daemon=daemon)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "x,y\n1,2\n"
    listing = run_cli(["sandbox", "ls", "--json"], daemon=daemon)
    newest = json.loads(listing.stdout)["sandboxes"][0]
    inspect = run_cli(["sandbox", "inspect", newest["id"]], daemon=daemon)
    assert "data@v1" in inspect.stdout and "runs@cli <- /out, committed" in inspect.stdout, inspect.stdout
    files = api(daemon, "GET", "/api/v1/repos/runs/files/cli?path=labels.json", expect=200).body
    assert files == b'{"classes": 2}\n'


def test_unknown_repository_or_revision_is_a_400_naming_the_field(daemon, dataset):
    def problem(body):
        r = api(daemon, "POST", "/api/v1/sandboxes", {"command": ["true"], **body})
        assert r.status == 400, r.body
        return r.json()["invalid-params"][0]["name"]

    assert problem({"mounts": [{"repo": "nope", "target": "/d"}]}) == "mounts[0]"
    assert problem({"mounts": [{"repo": "data", "rev": "no-such-tag", "target": "/d"}]}) == "mounts[0]"
    assert problem({"mounts": [{"repo": "data"}]}) == "mounts[0].target"
    assert problem({"output": {"repo": "nope"}}) == "output.repo"
    assert api(daemon, "GET", "/api/v1/sandboxes").json()["sandboxes"] == []
