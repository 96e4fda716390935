"""`paddock store ...` against a real paddockd and its versioned store: the whole workflow of a
user (init, commit, log, show, ls, cat, diff, branches, tags, merge, revert, checkout, export,
import, gc, fsck), the --json shapes, exit statuses, and the TCP paths where the CLI moves
directories as tar archives itself.

The daemon runs with gc_grace_seconds = 0 so that `store gc` may reclaim what a test just made
unreachable.
"""
import io
import json
import os
import re
import stat
import subprocess
import tarfile

import pytest

from conftest import bash_complete, PADDOCK, run_cli, start_daemon

SOURCE_DIR = os.environ.get("PADDOCK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
COMPLETION = os.path.join(SOURCE_DIR, "cli/paddock.bash-completion")

EXIT_OK, EXIT_DAMAGE, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_API_ERROR = 0, 1, 2, 3, 4
FULL_ID = re.compile(r"^[0-9a-f]{64}$")


def output(result):
    return f"rc={result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def ok(result):
    assert result.returncode == EXIT_OK, output(result)
    return result


@pytest.fixture
def daemon(tmp_state):
    d = start_daemon(tmp_state, config_text="[store]\ngc_grace_seconds = 0\n")
    yield d
    d.stop()


def store(daemon, *args, env=None, input=None):
    return run_cli(["store", *args], daemon=daemon, env=env, input=input)


def store_json(daemon, *args, env=None):
    return json.loads(ok(store(daemon, *args, "--json", env=env)).stdout)


def store_raw(daemon, *args, env=None, input=None):
    """Runs `paddock store ARGS` with bytes for stdin and stdout (file contents, archives)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PADDOCK_")}
    full_env["PADDOCK_SOCKET"] = daemon.socket
    full_env.update(env or {})
    return subprocess.run([PADDOCK, "store", *args], capture_output=True, env=full_env, input=input,
                          timeout=60)


def tcp_env(daemon, token=None):
    """A TCP call with a token; the socket points nowhere, to prove it is not used."""
    return {"PADDOCK_URL": daemon.url, "PADDOCK_SOCKET": "/nonexistent/paddockd.sock",
            "PADDOCK_TOKEN": token if token is not None else daemon.token}


def write_tree(root, files):
    """files: path -> bytes/str (a file), ("x", content) (executable), ("link", target), or None
    (an empty directory). Existing paths are replaced."""
    for path, spec in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if os.path.lexists(full) and not os.path.isdir(full):
            os.unlink(full)
        if spec is None:
            os.makedirs(full, exist_ok=True)
        elif isinstance(spec, tuple) and spec[0] == "link":
            os.symlink(spec[1], full)
        else:
            executable = isinstance(spec, tuple)
            content = spec[1] if executable else spec
            with open(full, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
            os.chmod(full, 0o755 if executable else 0o644)


def read_tree(root):
    """What the store keeps of a directory: path -> ("file", bytes, executable) | ("link", target)
    | ("dir",)."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            info = os.lstat(full)
            if stat.S_ISLNK(info.st_mode):
                tree[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(info.st_mode):
                tree[rel] = ("dir",)
            else:
                with open(full, "rb") as f:
                    tree[rel] = ("file", f.read(), bool(info.st_mode & stat.S_IXUSR))
    return tree


def modes(root):
    """path -> permission bits of every file and directory (not symlinks)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            info = os.lstat(full)
            if not stat.S_ISLNK(info.st_mode):
                out[os.path.relpath(full, root)] = stat.S_IMODE(info.st_mode)
    return out


BASE_FILES = {
    "a.txt": "alpha\n",
    "bin/run.sh": ("x", "#!/bin/sh\necho run\n"),
    "data/blob.bin": bytes(range(256)) * 64,
    "data/empty": b"",
    "link": ("link", "a.txt"),
    "hollow": None,
}


@pytest.fixture
def repo(daemon, tmp_path):
    """Repository "data" with one commit of BASE_FILES on main; returns the work directory."""
    ok(store(daemon, "init", "data"))
    work = tmp_path / "work"
    work.mkdir()
    write_tree(str(work), BASE_FILES)
    ok(store(daemon, "commit", "data", str(work), "-m", "first"))
    return work


def head(daemon, rev="data@main"):
    return store_json(daemon, "show", rev)["id"]


# --- init, commit, log, show ----------------------------------------------------------------------


def test_init_then_list_repositories(daemon):
    result = ok(store(daemon, "init", "data"))
    assert result.stdout == "created repository data\n"
    assert ok(store(daemon, "ls")).stdout.splitlines()[1].split()[0] == "data"
    repos = store_json(daemon, "ls")["repos"]
    assert [r["name"] for r in repos] == ["data"]
    assert set(repos[0]) >= {"name", "created_at", "branches", "tags"}
    assert store(daemon, "init", "data").returncode == EXIT_API_ERROR  # exists


def test_commit_twice_then_log_is_newest_first(daemon, repo):
    write_tree(str(repo), {"a.txt": "alpha changed\n", "new.txt": "new\n"})
    result = ok(store(daemon, "commit", "data@main", str(repo), "-m", "second\n\nwith a body"))
    assert re.match(r"^\[main [0-9a-f]{12}\] second\n", result.stdout), result.stdout
    assert re.search(r"\d+ files, ", result.stdout)

    log = ok(store(daemon, "log", "data")).stdout
    assert re.match(r"^commit [0-9a-f]{12}\nAuthor: .+\nDate:   \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n\n"
                    r"    second\n\n    with a body\n\ncommit [0-9a-f]{12}\n", log), log
    assert log.index("second") < log.index("first")
    oneline = ok(store(daemon, "log", "data@main", "--oneline")).stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in oneline] == ["second", "first"]
    assert len(ok(store(daemon, "log", "data", "-n", "1", "--oneline")).stdout.splitlines()) == 1

    commits = store_json(daemon, "log", "data")["commits"]
    assert [c["message"] for c in commits] == ["second\n\nwith a body", "first"]
    assert commits[0]["parents"] == [commits[1]["id"]]
    assert commits[1]["parents"] == []
    assert oneline[0].split()[0] == commits[0]["id"][:12]
    # Revision syntax goes through untouched.
    assert store_json(daemon, "show", "data@main~1")["id"] == commits[1]["id"]
    assert store_json(daemon, "show", "data@main^")["id"] == commits[1]["id"]
    assert store_json(daemon, "show", "data@" + commits[1]["id"][:8])["id"] == commits[1]["id"]


def test_show_prints_header_and_changes(daemon, repo):
    write_tree(str(repo), {"a.txt": "alpha changed\n", "new.txt": "new\n"})
    os.unlink(repo / "data/empty")
    ok(store(daemon, "commit", "data", str(repo), "-m", "second", "--metadata", '{"sandbox": "sb-1"}'))
    text = ok(store(daemon, "show", "data@main")).stdout
    assert text.startswith("commit ")
    assert "\n    second\n" in text
    assert "Metadata: {\"sandbox\":\"sb-1\"}" in text
    changes = text.split("\n\n")[-1].splitlines()
    assert sorted(changes) == ["A new.txt", "D data/empty", "M a.txt"]

    commit = store_json(daemon, "show", "data@main")
    assert set(commit) == {"id", "tree", "parents", "author", "message", "time", "metadata"}
    assert FULL_ID.match(commit["id"]) and FULL_ID.match(commit["tree"])
    assert commit["metadata"] == {"sandbox": "sb-1"}


def test_commit_without_changes_keeps_the_branch_unless_allowed(daemon, repo):
    before = head(daemon)
    result = ok(store(daemon, "commit", "data", str(repo), "-m", "again"))
    assert "nothing changed" in result.stdout
    assert head(daemon) == before
    reply = store_json(daemon, "commit", "data", str(repo), "-m", "empty", "--allow-empty")
    assert reply["changed"] is True
    assert reply["commit"]["parents"] == [before]
    assert set(reply) >= {"commit", "changed", "files", "bytes", "bytes_stored", "files_hashed",
                          "warnings"}


def test_commit_takes_relative_directories(daemon, repo, monkeypatch):
    monkeypatch.chdir(repo.parent)
    write_tree(str(repo), {"rel.txt": "relative\n"})
    ok(store(daemon, "commit", "data", "work", "-m", "relative"))
    assert ok(store_raw(daemon, "cat", "data@main", "rel.txt")).stdout == b"relative\n"


# --- ls, cat, diff --------------------------------------------------------------------------------


def test_ls_lists_like_ls_long(daemon, repo):
    lines = ok(store(daemon, "ls", "data@main")).stdout.splitlines()
    by_name = {line.split()[-1] if "->" not in line else line.split()[-3]: line for line in lines}
    assert set(by_name) == {"a.txt", "bin", "data", "hollow", "link"}
    assert re.fullmatch(r"-rw-r--r--\s+6  a\.txt", by_name["a.txt"])
    assert by_name["bin"].startswith("drwxr-xr-x")
    assert re.fullmatch(r"lrwxrwxrwx\s+5  link -> a\.txt", by_name["link"])

    recursive = ok(store(daemon, "ls", "-r", "data@main")).stdout
    assert re.search(r"^-rwxr-xr-x\s+\d+  bin/run\.sh$", recursive, re.M), recursive
    assert re.search(r"^-rw-r--r--\s+16384  data/blob\.bin$", recursive, re.M), recursive
    sub = ok(store(daemon, "ls", "data@main", "data")).stdout
    assert "blob.bin" in sub and "a.txt" not in sub

    entries = store_json(daemon, "ls", "data@main", "-r")["entries"]
    blob = next(e for e in entries if e["path"] == "data/blob.bin")
    assert blob["kind"] == "file" and blob["size"] == 16384 and FULL_ID.match(blob["id"])
    assert set(blob) >= {"path", "kind", "size", "id", "target"}


def test_cat_writes_raw_bytes_and_ranges(daemon, repo):
    blob = BASE_FILES["data/blob.bin"]
    assert ok(store_raw(daemon, "cat", "data@main", "data/blob.bin")).stdout == blob
    assert ok(store_raw(daemon, "cat", "data@main", "/data/blob.bin")).stdout == blob
    assert ok(store_raw(daemon, "cat", "data@main", "data/blob.bin", "--range", "10-19")).stdout == blob[10:20]
    assert ok(store_raw(daemon, "cat", "data@main", "data/blob.bin", "--range", "16000-")).stdout == blob[16000:]
    assert ok(store_raw(daemon, "cat", "data@main", "data/empty")).stdout == b""
    missing = store(daemon, "cat", "data@main", "nope.txt")
    assert missing.returncode == EXIT_API_ERROR, output(missing)
    assert missing.stdout == ""
    beyond = store(daemon, "cat", "data@main", "a.txt", "--range", "100-200")
    assert beyond.returncode == EXIT_API_ERROR, output(beyond)


def test_diff_between_commits_and_against_a_directory(daemon, repo):
    first = head(daemon)
    write_tree(str(repo), {"a.txt": "alpha changed\n", "new.txt": "new\n"})
    os.rename(repo / "data/blob.bin", repo / "data/moved.bin")
    ok(store(daemon, "commit", "data", str(repo), "-m", "second"))

    lines = ok(store(daemon, "diff", f"data@{first[:10]}", "data@main")).stdout.splitlines()
    assert sorted(lines) == ["A new.txt", "M a.txt", "R data/blob.bin -> data/moved.bin"]
    changes = store_json(daemon, "diff", "data@main~1", "data@main")["changes"]
    renamed = next(c for c in changes if c["kind"] == "renamed")
    assert renamed["old_path"] == "data/blob.bin" and renamed["path"] == "data/moved.bin"
    assert set(renamed) >= {"kind", "path", "old_path", "old", "new"}

    write_tree(str(repo), {"a.txt": "third\n"})
    os.unlink(repo / "new.txt")
    assert sorted(ok(store(daemon, "diff", "data@main", str(repo))).stdout.splitlines()) == \
        ["D new.txt", "M a.txt"]
    assert ok(store(daemon, "diff", "data@main", os.path.join(str(repo), "."))).stdout.count("\n") == 2


# --- branches, tags, merge, revert ----------------------------------------------------------------


def test_branches_and_tags(daemon, repo):
    first = head(daemon)
    assert ok(store(daemon, "branch", "data", "dev")).stdout == f"created branch dev at {first[:12]}\n"
    ok(store(daemon, "branch", "data", "feature/x", "main"))
    lines = ok(store(daemon, "branch", "data")).stdout.splitlines()
    assert sorted(line.split()[0] for line in lines) == ["dev", "feature/x", "main"]
    assert all(line.split()[1] == first[:12] for line in lines)
    branches = store_json(daemon, "branch", "data")["branches"]
    assert {"name": "dev", "commit": first} in branches

    ok(store(daemon, "tag", "data", "v1", "main"))
    assert ok(store(daemon, "tag", "data")).stdout.split() == ["v1", first[:12]]
    assert store_json(daemon, "show", "data@v1")["id"] == first
    assert store(daemon, "tag", "data", "v1", "main").returncode == EXIT_API_ERROR  # immutable

    assert ok(store(daemon, "branch", "data", "-d", "feature/x")).stdout == "deleted branch feature/x\n"
    ok(store(daemon, "tag", "data", "-d", "v1"))
    assert store_json(daemon, "tag", "data")["tags"] == []
    assert store(daemon, "branch", "data", "-d", "feature/x").returncode == EXIT_API_ERROR


def test_merge_fast_forward_three_way_and_conflict(daemon, repo, tmp_path):
    ok(store(daemon, "branch", "data", "dev"))
    dev = tmp_path / "dev"
    ok(store(daemon, "checkout", "data@dev", str(dev)))
    write_tree(str(dev), {"dev.txt": "from dev\n"})
    ok(store(daemon, "commit", "data@dev", str(dev), "-m", "on dev"))

    result = ok(store(daemon, "merge", "data@main", "dev"))
    assert result.stdout == f"fast-forwarded main to {head(daemon, 'data@dev')[:12]}\n"
    assert ok(store(daemon, "merge", "data@main", "dev")).stdout == "main is already up to date\n"

    # Diverge on different files: a merge commit with two parents and both changes.
    write_tree(str(dev), {"dev.txt": "dev again\n"})
    ok(store(daemon, "commit", "data@dev", str(dev), "-m", "dev 2"))
    write_tree(str(repo), {"dev.txt": "from dev\n", "main.txt": "from main\n"})
    ok(store(daemon, "commit", "data@main", str(repo), "-m", "main 2"))
    merged = store_json(daemon, "merge", "data@main", "dev", "-m", "merge dev")
    assert merged["fast_forward"] is False and merged["up_to_date"] is False
    assert len(merged["commit"]["parents"]) == 2
    assert merged["commit"]["message"] == "merge dev"
    assert ok(store_raw(daemon, "cat", "data@main", "dev.txt")).stdout == b"dev again\n"
    assert ok(store_raw(daemon, "cat", "data@main", "main.txt")).stdout == b"from main\n"
    assert "Merge: " in ok(store(daemon, "show", "data@main")).stdout

    # The same file changed on both sides: exit 4, the paths listed, nothing committed.
    write_tree(str(dev), {"a.txt": "dev's alpha\n"})
    ok(store(daemon, "commit", "data@dev", str(dev), "-m", "dev alpha"))
    write_tree(str(repo), {"a.txt": "main's alpha\n"})
    ok(store(daemon, "commit", "data@main", str(repo), "-m", "main alpha"))
    before = head(daemon)
    conflict = store(daemon, "merge", "data@main", "dev")
    assert conflict.returncode == EXIT_API_ERROR, output(conflict)
    assert conflict.stdout == "CONFLICT (both_modified): a.txt\n"
    assert "conflict" in conflict.stderr.lower()
    assert head(daemon) == before
    as_json = store(daemon, "merge", "data@main", "dev", "--json")
    assert as_json.returncode == EXIT_API_ERROR
    assert json.loads(as_json.stdout)["conflicts"] == [{"path": "a.txt", "kind": "both_modified"}]


def test_revert_undoes_a_commit(daemon, repo):
    write_tree(str(repo), {"a.txt": "broken\n"})
    ok(store(daemon, "commit", "data", str(repo), "-m", "break it"))
    bad = head(daemon)
    result = ok(store(daemon, "revert", "data@main", bad[:8]))
    assert re.match(r"^\[main [0-9a-f]{12}\] ", result.stdout), result.stdout
    assert ok(store_raw(daemon, "cat", "data@main", "a.txt")).stdout == b"alpha\n"
    assert store_json(daemon, "show", "data@main")["parents"] == [bad]


# --- checkout, export, import ---------------------------------------------------------------------


def test_checkout_gives_identical_bytes_and_modes(daemon, repo, tmp_path):
    target = tmp_path / "out"
    result = ok(store(daemon, "checkout", "data@main", str(target)))
    assert result.stdout.startswith(f"checked out data@main into {target}: 4 files")
    assert read_tree(str(target)) == read_tree(str(repo))
    assert modes(str(target))["bin/run.sh"] == 0o755
    assert modes(str(target))["a.txt"] == 0o644

    read_only = tmp_path / "ro"
    reply = store_json(daemon, "checkout", "data@main", str(read_only), "--read-only")
    assert reply["files"] == 4
    assert read_tree(str(read_only)) == read_tree(str(repo))
    assert modes(str(read_only))["a.txt"] == 0o444
    assert modes(str(read_only))["bin/run.sh"] == 0o555

    # The target must be absent or empty.
    taken = store(daemon, "checkout", "data@main", str(target))
    assert taken.returncode == EXIT_API_ERROR, output(taken)


def test_export_is_a_tar_of_the_tree(daemon, repo, tmp_path):
    archive = tmp_path / "data.tar"
    result = ok(store(daemon, "export", "data@main", str(archive)))
    assert result.stdout.startswith(f"exported data@main to {archive} (")
    with tarfile.open(archive) as tar:
        members = {m.name.rstrip("/").removeprefix("./"): m for m in tar.getmembers()}
        assert {name for name in members if name} == set(read_tree(str(repo)))
        for name, expected in read_tree(str(repo)).items():
            member = members[name]
            if expected[0] == "file":
                assert member.isfile() and tar.extractfile(member).read() == expected[1]
                assert bool(member.mode & 0o100) == expected[2]
            elif expected[0] == "link":
                assert member.issym() and member.linkname == expected[1]
            else:
                assert member.isdir()
    # To stdout, the same bytes; a failed export leaves no file behind.
    assert ok(store_raw(daemon, "export", "data@main", "-")).stdout == archive.read_bytes()
    failed = store(daemon, "export", "data@nope", str(tmp_path / "never.tar"))
    assert failed.returncode == EXIT_API_ERROR
    assert not [name for name in os.listdir(tmp_path) if "never" in name]


def tar_bytes(files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_import_commits_a_tar_from_a_file_or_stdin(daemon, tmp_path):
    ok(store(daemon, "init", "imported"))
    archive = tmp_path / "in.tar"
    archive.write_bytes(tar_bytes({"x/one.txt": b"one\n", "go.sh": b"#!/bin/sh\n"}))
    result = ok(store(daemon, "import", "imported", str(archive), "-m", "from tar"))
    assert re.match(r"^\[main [0-9a-f]{12}\] from tar\n", result.stdout), result.stdout
    assert ok(store_raw(daemon, "cat", "imported@main", "x/one.txt")).stdout == b"one\n"
    listing = ok(store(daemon, "ls", "-r", "imported@main")).stdout
    assert re.search(r"^-rwxr-xr-x\s+10  go\.sh$", listing, re.M), listing

    piped = store_raw(daemon, "import", "imported@other", "-", "-m", "piped",
                      input=tar_bytes({"two.txt": b"two\n"}))
    assert piped.returncode == EXIT_OK, piped.stderr
    assert ok(store_raw(daemon, "cat", "imported@other", "two.txt")).stdout == b"two\n"

    hostile = tmp_path / "evil.tar"
    hostile.write_bytes(tar_bytes({"../escape.txt": b"no\n"}))
    refused = store(daemon, "import", "imported", str(hostile), "-m", "evil")
    assert refused.returncode == EXIT_API_ERROR, output(refused)
    missing = store(daemon, "import", "imported", str(tmp_path / "absent.tar"), "-m", "x")
    assert missing.returncode == EXIT_USAGE and "FILE" in missing.stderr


def test_export_then_import_gives_the_same_tree(daemon, repo, tmp_path):
    archive = tmp_path / "round.tar"
    ok(store(daemon, "export", "data@main", str(archive)))
    ok(store(daemon, "init", "copy"))
    ok(store(daemon, "import", "copy", str(archive), "-m", "copy"))
    assert store_json(daemon, "show", "copy@main")["tree"] == store_json(daemon, "show", "data@main")["tree"]


# --- gc and fsck ----------------------------------------------------------------------------------


def test_gc_reclaims_what_a_deleted_branch_held(daemon, repo, tmp_path):
    ok(store(daemon, "branch", "data", "big"))
    big = tmp_path / "big"
    big.mkdir()
    write_tree(str(big), {"random.bin": os.urandom(3 * 1024 * 1024)})
    ok(store(daemon, "commit", "data@big", str(big), "-m", "big data"))
    ok(store(daemon, "branch", "data", "-d", "big"))

    dry = ok(store(daemon, "gc", "--dry-run")).stdout
    assert dry.startswith("would reclaim "), dry
    report = store_json(daemon, "gc")
    assert report["bytes_reclaimed"] >= 3 * 1024 * 1024, report
    assert report["objects_reclaimed"] >= 1
    again = ok(store(daemon, "gc")).stdout
    assert again.startswith("reclaimed 0B (0 objects)"), again
    # What main holds is intact.
    assert ok(store_raw(daemon, "cat", "data@main", "data/blob.bin")).stdout == BASE_FILES["data/blob.bin"]


def largest_pack(daemon):
    packs_dir = os.path.join(daemon.state_dir, "store", "packs")
    packs = [os.path.join(packs_dir, name) for name in os.listdir(packs_dir)
             if os.path.isfile(os.path.join(packs_dir, name)) and name.endswith(".pack")]
    assert packs, os.listdir(packs_dir)
    return max(packs, key=os.path.getsize)


def test_fsck_exit_zero_then_one_after_damage(daemon, repo):
    clean = ok(store(daemon, "fsck"))
    assert clean.stdout.startswith("store ok: "), clean.stdout
    report = store_json(daemon, "fsck")
    assert report["ok"] is True and report["problems"] == []

    pack = largest_pack(daemon)
    with open(pack, "r+b") as f:
        f.seek(os.path.getsize(pack) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))

    damaged = store(daemon, "fsck")
    assert damaged.returncode == EXIT_DAMAGE, output(damaged)
    assert damaged.stdout.startswith("store damaged: "), damaged.stdout
    assert os.path.basename(pack) in damaged.stdout
    as_json = store(daemon, "fsck", "--json")
    assert as_json.returncode == EXIT_DAMAGE
    assert json.loads(as_json.stdout)["ok"] is False


def test_gc_and_fsck_need_an_admin(daemon):
    token = json.loads(ok(run_cli(["token", "create", "user", "--json"], daemon=daemon)).stdout)["token"]
    for args in (["gc"], ["fsck"]):
        result = store(daemon, *args, env=tcp_env(daemon, token))
        assert result.returncode == EXIT_API_ERROR, output(result)


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, names", [
    (["show", "data"], "REPO@REF"),
    (["log", "data@main~x"], "REPO[@REF]"),
    (["log", "data", "-n", "0"], "--max-count"),
    (["init", "bad/name"], "REPO"),
    (["init", "data@main"], "REPO"),
    (["cat", "data@main", "a", "--range", "9-3"], "--range"),
    (["cat", "data@main", "a", "--range", "x"], "--range"),
    (["commit", "data", "/nonexistent/dir", "-m", "x"], "DIR"),
    (["commit", "data@main~1", "/tmp", "-m", "x"], "REPO[@BRANCH]"),
    (["commit", "data", "/tmp"], "--message"),
    (["commit", "data", "/tmp", "-m", "x", "--metadata", "[1]"], "--metadata"),
    (["diff", "data@main", "other@main"], "REPO@B"),
    (["merge", "data", "dev"], "REPO@BRANCH"),
    (["tag", "data", "v1"], "REV"),
    (["branch", "data", "x", "-d", "y"], "--delete"),
    (["branch", "data", "bad name"], "NAME"),
    (["ls", "-r"], "--recursive"),
    (["bogus"], "bogus"),
])
def test_usage_errors_exit_2_and_name_the_argument(daemon, args, names):
    result = store(daemon, *args)
    assert result.returncode == EXIT_USAGE, output(result)
    assert names in result.stderr, output(result)
    assert result.stdout == ""


def test_unknown_repository_exits_4(daemon, tmp_path):
    for args in (["log", "nope"], ["show", "nope@main"], ["ls", "nope@main"],
                 ["commit", "nope", str(tmp_path), "-m", "x"], ["branch", "nope"]):
        result = store(daemon, *args)
        assert result.returncode == EXIT_API_ERROR, output(result)
        assert "not found" in result.stderr.lower(), output(result)
    as_json = store(daemon, "log", "nope", "--json")
    assert json.loads(as_json.stdout)["status"] == 404


def test_unreachable_daemon_exits_3(tmp_path):
    result = run_cli(["store", "log", "data"], env={"PADDOCK_SOCKET": str(tmp_path / "none.sock")})
    assert result.returncode == EXIT_UNREACHABLE, output(result)


# --- over TCP -------------------------------------------------------------------------------------


def test_tcp_commit_uploads_a_tar_and_checkout_downloads_the_archive(daemon, tmp_path):
    token = json.loads(ok(run_cli(["token", "create", "ci", "--json"], daemon=daemon)).stdout)["token"]
    env = tcp_env(daemon, token)
    ok(store(daemon, "init", "remote", env=env))
    work = tmp_path / "work"
    work.mkdir()
    write_tree(str(work), dict(BASE_FILES, **{"deep/er/x.bin": os.urandom(300_000)}))
    os.mkfifo(work / "fifo")

    result = ok(store(daemon, "commit", "remote", str(work), "-m", "over tcp", env=env))
    assert re.match(r"^\[main [0-9a-f]{12}\] over tcp\n", result.stdout), result.stdout
    assert "skipped" in result.stderr and "fifo" in result.stderr
    os.unlink(work / "fifo")
    assert store_json(daemon, "show", "remote@main", env=env)["author"]  # the token's name, say

    target = tmp_path / "out"
    checked = store_json(daemon, "checkout", "remote@main", str(target), env=env)
    assert checked["files"] == 5
    assert read_tree(str(target)) == read_tree(str(work))
    assert modes(str(target))["bin/run.sh"] == 0o755 and modes(str(target))["a.txt"] == 0o644

    read_only = tmp_path / "ro"
    ok(store(daemon, "checkout", "remote@main", str(read_only), "--read-only", env=env))
    assert read_tree(str(read_only)) == read_tree(str(work))
    assert modes(str(read_only))["a.txt"] == 0o444 and modes(str(read_only))["bin/run.sh"] == 0o555

    # The same over the socket gives the same tree.
    ok(store(daemon, "commit", "remote@viasocket", str(work), "-m", "socket"))
    assert store_json(daemon, "show", "remote@viasocket")["tree"] == \
        store_json(daemon, "show", "remote@main")["tree"]

    # Changes after the first commit; a second upload commits them.
    write_tree(str(work), {"a.txt": "changed over tcp\n"})
    ok(store(daemon, "commit", "remote", str(work), "-m", "second", env=env))
    assert ok(store_raw(daemon, "cat", "remote@main", "a.txt", env=env)).stdout == b"changed over tcp\n"


def test_tcp_checkout_refuses_a_non_empty_target_and_reports_api_errors(daemon, repo, tmp_path):
    env = tcp_env(daemon)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("x")
    result = store(daemon, "checkout", "data@main", str(taken), env=env)
    assert result.returncode == EXIT_USAGE and "DIR" in result.stderr, output(result)
    missing = store(daemon, "checkout", "data@nope", str(tmp_path / "fresh"), env=env)
    assert missing.returncode == EXIT_API_ERROR, output(missing)
    assert not (tmp_path / "fresh").exists()
    # Host paths are not for token callers: the daemon answers 403.
    denied = store(daemon, "diff", "data@main", str(repo), env=env)
    assert denied.returncode == EXIT_API_ERROR, output(denied)
    assert "Forbidden" in denied.stderr, output(denied)


def test_tcp_commit_keeps_relative_symlinks_and_names_refused_entries(daemon, repo):
    env = tcp_env(daemon)
    os.symlink("missing.txt", repo / "dangling")
    ok(store(daemon, "commit", "data", str(repo), "-m", "tcp", env=env))
    entries = {e["path"]: e for e in store_json(daemon, "ls", "data@main")["entries"]}
    assert entries["dangling"]["kind"] == "symlink"
    assert entries["dangling"]["target"] == "missing.txt"
    # A tar may not carry absolute symlinks (the daemon refuses them); over the socket they are
    # committed as they are.
    os.symlink("/etc/hostname", repo / "absolute")
    before = head(daemon)
    refused = store(daemon, "commit", "data", str(repo), "-m", "tcp", env=env)
    assert refused.returncode == EXIT_API_ERROR, output(refused)
    assert "absolute" in refused.stderr
    assert head(daemon) == before
    ok(store(daemon, "commit", "data", str(repo), "-m", "socket"))
    assert head(daemon) != before


# --- completion -----------------------------------------------------------------------------------


def test_bash_completion_for_store(daemon):
    ok(store(daemon, "init", "data"))
    ok(store(daemon, "init", "other"))
    env = {"PADDOCK_SOCKET": daemon.socket}
    words = bash_complete(COMPLETION, "paddock", "store", "", env=env)
    assert {"init", "commit", "log", "show", "ls", "cat", "diff", "branch", "tag", "merge", "revert",
            "checkout", "gc", "fsck", "import", "export"} <= set(words)
    assert bash_complete(COMPLETION, "paddock", "store", "log", "", env=env) == ["data", "other"]
    assert bash_complete(COMPLETION, "paddock", "store", "show", "d", env=env) == ["data"]
    assert "--allow-empty" in bash_complete(COMPLETION, "paddock", "store", "commit", "--", env=env)
    assert "--read-only" in bash_complete(COMPLETION, "paddock", "store", "checkout", "--", env=env)
