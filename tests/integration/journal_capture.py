"""Runs paddockd with stderr as a "journal stream" and captures what it sends to journald.

Run inside a private mount namespace (`unshare --mount`): it mounts a tmpfs over /run so that
/run/systemd/journal/socket is a datagram socket of ours, the path sd_journal_send() writes to.
Usage: journal_capture.py PADDOCKD STATE_DIR PORT OUT_JSON
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

paddockd, state_dir, port, out_path = sys.argv[1:5]
subprocess.run(["mount", "--make-rprivate", "/"], check=True)
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run"], check=True)
os.makedirs("/run/systemd/journal")
journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
journal.bind("/run/systemd/journal/socket")
journal.settimeout(0.2)

stderr_path = state_dir + ".stderr"
with open(stderr_path, "w") as stderr:
    st = os.fstat(stderr.fileno())
    env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    env.pop("NOTIFY_SOCKET", None)
    proc = subprocess.Popen([paddockd, "--state-dir", state_dir, "--listen", f"127.0.0.1:{port}"],
                            stderr=stderr, stdout=subprocess.DEVNULL, env=env)
    entries = []
    deadline = time.time() + 15
    stopping = False
    while time.time() < deadline:
        try:
            data = journal.recv(65536).decode()
        except socket.timeout:
            if proc.poll() is not None:
                break
            continue
        entry = dict(line.split("=", 1) for line in data.split("\n") if "=" in line)
        entries.append(entry)
        message = entry.get("MESSAGE", "")
        if not stopping and message.startswith("paddockd ") and message.endswith(" ready"):
            proc.send_signal(signal.SIGTERM)
            stopping = True
    rc = proc.wait(timeout=10)
with open(stderr_path) as f:
    stderr_text = f.read()
with open(out_path, "w") as f:
    json.dump({"entries": entries, "returncode": rc, "stderr": stderr_text}, f)
