"""GPUs through the real daemon, API and CLI, on machines described to the test NVML library.

The daemon loads build/test-nvml/libnvidia-ml.so.1 (a real shared object answering NVML calls
from a JSON machine); device nodes are real character nodes made with mknod 195:N, so a
sandbox's open() of its GPU reaches the kernel (ENXIO: no driver here) and the device cgroup
decides about the others.
"""
import errno
import json
import os
import shutil
import stat
import time

import pytest

from conftest import BIN_DIR, start_daemon, run_cli

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="SKIP: sandboxes and mknod need root")

SOURCE = os.environ.get("PADDOCK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
MACHINES = os.path.join(SOURCE, "tests/fixtures/machines")
TEST_NVML = os.path.join(BIN_DIR, "..", "test-nvml", "libnvidia-ml.so.1")


def load_machine(name):
    with open(os.path.join(MACHINES, name)) as f:
        return json.load(f)


def write_machine(path, machine):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(machine, f)
    os.rename(tmp, path)


def make_nodes(dev_dir, minors):
    os.makedirs(dev_dir, exist_ok=True)
    for m in list(minors) + [255]:
        name = "nvidiactl" if m == 255 else f"nvidia{m}"
        os.mknod(os.path.join(dev_dir, name), 0o666 | stat.S_IFCHR, os.makedev(195, m))
        os.chmod(os.path.join(dev_dir, name), 0o666)  # as the driver makes them; mknod obeys umask


class GpuBox:
    def __init__(self, tmp_path, machine, partitions="", extra=""):
        os.makedirs(tmp_path, exist_ok=True)
        self.machine_path = str(tmp_path / "machine.json")
        self.machine = machine
        write_machine(self.machine_path, machine)
        self.dev_dir = str(tmp_path / "dev")
        make_nodes(self.dev_dir, [g.get("minor", i) for i, g in enumerate(machine["gpus"])])
        self.proc_dir = str(tmp_path / "proc")
        os.makedirs(self.proc_dir)
        self.state = str(tmp_path / "state")
        self.config = (f'[gpu]\nnvml_library = "{TEST_NVML}"\ndevice_dir = "{self.dev_dir}"\n'
                       f'proc_dir = "{self.proc_dir}"\n{extra}\n[gpu.partitions]\n{partitions}\n')
        self.daemon = None

    def start(self):
        self.daemon = start_daemon(self.state, env={"PADDOCK_NVML_MOCK": self.machine_path},
                                   config_text=self.config)
        return self.daemon

    def update(self, change):
        change(self.machine)
        write_machine(self.machine_path, self.machine)

    def get(self, path):
        r = self.daemon.request("GET", path, unix=True, token=None)
        assert r.status == 200, r.body
        return r.json()

    def create(self, body, expect=201):
        r = self.daemon.request("POST", "/api/v1/sandboxes", body=body, unix=True, token=None)
        assert r.status == expect, r.body
        return r.json()

    def sandbox(self, sid):
        return self.get(f"/api/v1/sandboxes/{sid}")

    def wait_exit(self, sid, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.sandbox(sid)
            if s["state"] == "exited":
                return s
            time.sleep(0.05)
        raise AssertionError(f"sandbox {sid} still running")

    def stdout(self, sid):
        r = self.daemon.request("GET", f"/api/v1/sandboxes/{sid}/logs?stream=stdout", unix=True,
                                token=None)
        return r.body.decode()

    def holders(self):
        return {u["id"]: (u["holder"] or {}).get("sandbox")
                for g in self.get("/api/v1/gpus")["gpus"] for u in g["units"]}


@pytest.fixture
def box(tmp_path):
    boxes = []

    def make(machine_name, **kw):
        machine = load_machine(machine_name)
        b = GpuBox(tmp_path / f"box{len(boxes)}", machine, **kw)
        boxes.append(b)
        return b

    yield make
    for b in boxes:
        if b.daemon:
            for s in b.daemon.request("GET", "/api/v1/sandboxes", unix=True, token=None).json()["sandboxes"]:
                b.daemon.request("POST", f"/api/v1/sandboxes/{s['id']}/stop", unix=True, token=None)
            b.daemon.stop()


def sandbox_host_pid(sid):
    """A host pid of a process inside sandbox `sid` (its environment names the sandbox)."""
    needle = f"PADDOCK_SANDBOX_ID={sid}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    return int(entry)
        except OSError:
            continue
    raise AssertionError(f"no process of {sid} found")


def test_lists_the_machine_with_locality_links_and_units(box):
    b = box("h100-pcie-4x.json")
    b.start()
    doc = b.get("/api/v1/gpus")
    assert doc["nvml"]["status"] == "ok" and doc["nvml"]["driver_version"] == "550.54.15"
    gpus = doc["gpus"]
    assert [g["pci_bus_id"] for g in gpus] == ["0000:17:00.0", "0000:31:00.0", "0000:b1:00.0", "0000:ca:00.0"]
    assert [g["minor"] for g in gpus] == [2, 3, 0, 1]
    assert [g["numa_nodes"] for g in gpus] == [[0], [0], [1], [1]]
    assert gpus[2]["local_cpus"] == "32-63,96-127"
    assert gpus[0]["memory_total_bytes"] == 81920 << 20 and gpus[0]["compute_capability"] == "9.0"
    assert gpus[0]["nvlink_peers"] == [gpus[1]["uuid"]]
    assert gpus[0]["links"][gpus[1]["uuid"]] == "nvlink"
    assert gpus[0]["links"][gpus[2]["uuid"]] == "system"
    assert [[u["id"] for u in g["units"]] for g in gpus] == [["gpu0"], ["gpu1"], ["gpu2"], ["gpu3"]]
    assert all(g["telemetry"]["state"] == "ok" for g in gpus)
    # The CLI's table shows the same machine; --json is the API's document.
    table = run_cli(["gpus"], daemon=b.daemon)
    assert table.returncode == 0, table.stderr
    assert "NVIDIA H100 80GB HBM3" in table.stdout and "0000:ca:00.0" in table.stdout
    as_json = run_cli(["--json", "gpus"], daemon=b.daemon)
    assert [g["uuid"] for g in json.loads(as_json.stdout)["gpus"]] == [g["uuid"] for g in gpus]


def test_sandbox_reaches_only_its_gpu_and_runs_on_its_local_cpus(box, tmp_path):
    machine = load_machine("h100-pcie-4x.json")
    # This box has 2 cpus: GPU 1's local cpus are made "1,8-15" so the intersection is cpu 1.
    machine["gpus"][1]["cpu_affinity"] = "1,8-15"
    b = GpuBox(tmp_path / "b", machine)
    b.start()
    try:
        target = b.get("/api/v1/gpus")["gpus"][1]
        probe = (
            "import errno, os\n"
            "for m in range(4):\n"
            "    try:\n"
            "        os.close(os.open(f'/dev/nvidia{m}', os.O_RDWR)); r = 'opened'\n"
            "    except OSError as e:\n"
            "        r = errno.errorcode[e.errno]\n"
            "    print(m, r)\n"
            "print(os.environ['CUDA_VISIBLE_DEVICES'])\n"
            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('Cpus_allowed_list')][0])\n"
        )
        s = b.create({"command": ["python3", "-c", probe], "gpus": {"uuids": [target["uuid"]]}})
        assert s["gpus"]["granted"]["units"] == ["gpu1"]
        assert "/dev/nvidia3" in s["gpus"]["granted"]["devices"]
        done = b.wait_exit(s["id"])
        assert done["exit_code"] == 0, b.stdout(s["id"])
        lines = b.stdout(s["id"]).splitlines()
        # GPU 1 has minor 3: its node opens as far as the kernel (no driver: ENXIO); the other
        # GPUs' nodes are not in the sandbox at all.
        assert lines[:4] == ["0 ENOENT", "1 ENOENT", "2 ENOENT", "3 ENXIO"]
        assert lines[4] == target["uuid"]
        assert lines[5] == "1"
        # Released when the sandbox ended.
        assert b.holders()["gpu1"] is None
    finally:
        b.daemon.stop()


def test_count_placement_busy_and_never_satisfiable(box):
    b = box("h100-pcie-4x.json")
    b.start()
    first = b.create({"command": ["sleep", "30"], "gpus": {"count": 2, "nvlink": True}})
    units = first["gpus"]["granted"]["units"]
    assert units in (["gpu0", "gpu1"], ["gpu2", "gpu3"])
    busy = b.daemon.request("POST", "/api/v1/sandboxes", unix=True, token=None,
                            body={"command": ["true"], "gpus": {"count": 3}})
    assert busy.status == 409 and busy.json()["type"].endswith("resources-busy")
    never = b.daemon.request("POST", "/api/v1/sandboxes", unix=True, token=None,
                             body={"command": ["true"], "gpus": {"count": 3, "nvlink": True}})
    assert never.status == 422, never.body
    bad = b.daemon.request("POST", "/api/v1/sandboxes", unix=True, token=None,
                           body={"command": ["true"], "gpus": {"count": 1, "mig": "1g.10gb"}})
    assert bad.status == 400 and "gpus" in bad.body.decode()
    holders = b.holders()
    assert [holders[u] for u in units] == [first["id"], first["id"]]
    b.daemon.request("POST", f"/api/v1/sandboxes/{first['id']}/stop", unix=True, token=None)
    b.wait_exit(first["id"])
    assert all(h is None for h in b.holders().values())


def test_share_over_its_gpu_memory_is_stopped_with_reason_gpu_memory(box):
    b = box("h100-pcie-4x.json", partitions='"3" = { mode = "shared", shares = 4, share_memory = "20G" }')
    b.start()
    gpus = b.get("/api/v1/gpus")["gpus"]
    assert [u["id"] for u in gpus[3]["units"]] == [f"gpu3/share/{k}" for k in range(4)]
    s = b.create({"command": ["sleep", "60"], "gpus": {"share": {"memory": "10G"}}})
    assert s["gpus"]["granted"]["memory_limit_bytes"] == 10 << 30
    pid = sandbox_host_pid(s["id"])
    b.update(lambda m: m["gpus"][3]["processes"].append({"pid": pid, "used_memory_mib": 8192}))
    time.sleep(2.5)
    assert b.sandbox(s["id"])["state"] == "running"  # under its cap
    listed = b.get("/api/v1/gpus")["gpus"][3]["processes"]
    assert listed == [{"pid": pid, "used_memory_bytes": 8192 << 20, "mig_uuid": None, "sandbox": s["id"]}]
    b.update(lambda m: m["gpus"][3]["processes"].__setitem__(0, {"pid": pid, "used_memory_mib": 12288}))
    done = b.wait_exit(s["id"], timeout=20)
    assert done["reason"] == "gpu_memory"


def test_allocations_survive_a_daemon_restart_and_are_freed_after(box):
    b = box("rtx4090-2x.json")
    b.start()
    s = b.create({"command": ["sleep", "60"], "gpus": {"count": 1}})
    unit = s["gpus"]["granted"]["units"][0]
    b.daemon.stop()
    b.start()
    assert b.holders()[unit] == s["id"]
    again = b.create({"command": ["sleep", "60"], "gpus": {"count": 1}})
    assert again["gpus"]["granted"]["units"] != [unit]
    full = b.daemon.request("POST", "/api/v1/sandboxes", unix=True, token=None,
                            body={"command": ["true"], "gpus": {"count": 1}})
    assert full.status == 409
    b.daemon.request("POST", f"/api/v1/sandboxes/{s['id']}/stop", unix=True, token=None)
    b.wait_exit(s["id"])
    assert b.holders()[unit] is None


def test_telemetry_history_lost_gpu_xid_and_metrics(box):
    b = box("rtx4090-2x.json")
    b.start()
    uuid = b.get("/api/v1/gpus")["gpus"][1]["uuid"]
    time.sleep(2.2)
    history = b.get(f"/api/v1/gpus/{uuid}/history")
    assert history["interval_ms"] == 1000 and len(history["samples"]) >= 2
    assert history["samples"][-1]["state"] == "ok"
    b.update(lambda m: m["gpus"][0].__setitem__("xid_events", [79]))
    b.update(lambda m: m["gpus"][1].__setitem__("lost", True))
    deadline = time.time() + 10
    while b.get("/api/v1/gpus")["gpus"][1]["telemetry"]["state"] != "lost":
        assert time.time() < deadline, "GPU 1 never reported lost"
        time.sleep(0.2)
    b.daemon.wait_for_log("XID")
    metrics = b.daemon.request("GET", "/metrics", token=None).body.decode()
    assert f'paddock_gpu_up{{gpu="1",uuid="{uuid}"}} 0' in metrics
    assert 'paddock_gpu_units{gpu="0"' in metrics
    missing = b.daemon.request("GET", "/api/v1/gpus/GPU-nope/history", unix=True, token=None)
    assert missing.status == 404


def test_mig_layout_is_applied_to_an_idle_gpu_and_granted_with_its_access_nodes(box):
    b = box("h100-mig.json",
            partitions='"0" = { mode = "mig", mig_layout = ["1g.10gb", "1g.10gb", "3g.40gb"] }\n'
                       '"1" = { mode = "mig", mig_layout = ["7g.80gb"] }')
    # The driver's access nodes for every possible GPU instance of GPU 0 (minor 0).
    caps = os.path.join(b.dev_dir, "nvidia-caps")
    os.makedirs(caps)
    lines = []
    for gi in range(1, 15):
        for n, path in ((2 * gi + 100, f"gpu0/gi{gi}/access"), (2 * gi + 101, f"gpu0/gi{gi}/ci0/access")):
            lines.append(f"{path} {n}")
            os.mknod(os.path.join(caps, f"nvidia-cap{n}"), 0o444 | stat.S_IFCHR, os.makedev(235, n))
    os.makedirs(os.path.join(b.proc_dir, "driver/nvidia-caps"))
    with open(os.path.join(b.proc_dir, "driver/nvidia-caps/mig-minors"), "w") as f:
        f.write("\n".join(lines) + "\n")
    # A layout changes only on an idle GPU: first with a process on it, the instances stay.
    busy = b.start()
    assert any("in use" in w for w in b.get("/api/v1/gpus")["warnings"])
    busy.stop()
    b.update(lambda m: m["gpus"][0].__setitem__("processes", []))
    b.start()
    gpus = b.get("/api/v1/gpus")["gpus"]
    assert sorted(i["profile"] for i in gpus[0]["mig"]["instances"]) == ["1g.10gb", "1g.10gb", "3g.40gb"]
    assert sorted(u["profile"] for u in gpus[0]["units"]) == ["1g.10gb", "1g.10gb", "3g.40gb"]
    # GPU 1 has MIG mode off: it offers nothing and says why.
    assert gpus[1]["units"] == [] and "MIG mode is off" in gpus[1]["partition"]["error"]
    # The layout was written to the driver (the machine file), as a real driver keeps it.
    with open(b.machine_path) as f:
        assert len(json.load(f)["gpus"][0]["mig"]["instances"]) == 3
    s = b.create({"command": ["sh", "-c", "ls /dev/nvidia-caps; echo $CUDA_VISIBLE_DEVICES"],
                  "gpus": {"mig": "3g.40gb"}})
    unit = s["gpus"]["granted"]["units"][0]
    assert unit.startswith("gpu0/mig/")
    done = b.wait_exit(s["id"])
    out = b.stdout(s["id"]).split()
    assert done["exit_code"] == 0 and len(out) == 3 and all(o.startswith("nvidia-cap") for o in out[:2])
    assert out[2].startswith("MIG-") and out[2] == s["gpus"]["granted"]["uuids"][0]


def test_without_nvml_gpus_are_listed_from_hwloc_and_requests_are_clear_errors(tmp_path):
    state = str(tmp_path / "state")
    xml = os.path.join(SOURCE, "tests/fixtures/hwloc/32em64t-2n8c2t-pci-normalio.xml")
    d = start_daemon(state, config_text=f'[gpu]\nnvml_library = "/nonexistent/libnvidia-ml.so.1"\n'
                                        f'topology_xml = "{xml}"\n')
    try:
        doc = d.request("GET", "/api/v1/gpus", unix=True, token=None).json()
        assert "not found" in doc["nvml"]["status"]
        gpus = doc["gpus"]
        assert [g["pci_bus_id"] for g in gpus] == ["0000:03:00.0", "0000:83:00.0", "0000:84:00.0"]
        assert [g["numa_nodes"] for g in gpus] == [[0], [1], [1]]
        assert all(g["source"] == "pci" and g["telemetry"]["state"] == "no_telemetry" for g in gpus)
        assert [len(g["units"]) for g in gpus] == [1, 1, 1]
        never = d.request("POST", "/api/v1/sandboxes", unix=True, token=None,
                          body={"command": ["true"], "gpus": {"count": 4}})
        assert never.status == 422, never.body
    finally:
        d.stop()
