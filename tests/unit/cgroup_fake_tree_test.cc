// The cgroup drivers against fake trees: a temp dir laid out like a cgroup v2 or v1 mount, whose
// new directories the test hooks fill with empty interface files the way the kernel would. The
// drivers append one value per line, so each file shows exactly what was written to it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "sandbox/cgroup.h"
#include "sandbox/cgroup_fs.h"
#include "tests/unit/temp_dir.h"

namespace paddock::sandbox {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Put(const std::string& path, const std::string& contents) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << contents;
}

class FakeTree {
 public:
  explicit FakeTree(CgroupMode mode) : mode_(mode) { fs::create_directories(root()); }

  std::string root() const { return tmp_.Join("root"); }
  std::string Path(const std::string& rel) const { return root() + "/" + rel; }
  std::string Read(const std::string& rel) const { return Slurp(Path(rel)); }
  bool Exists(const std::string& rel) const { return fs::exists(Path(rel)); }
  void Write(const std::string& rel, const std::string& contents) { Put(Path(rel), contents); }
  void SetSelf(const std::string& contents) { Put(tmp_.Join("self_cgroup"), contents); }

  // Makes `rel` a populated cgroup directory, as the kernel shows an existing one.
  void MakeCgroup(const std::string& rel) {
    fs::create_directories(Path(rel));
    Populate(Path(rel));
  }

  CgroupDriverOptions Options() {
    CgroupDriverOptions o;
    o.root = root();
    o.mode = mode_;
    o.proc_self_cgroup = tmp_.Join("self_cgroup");
    o.test_hooks.after_mkdir = [this](const std::string& dir) { Populate(dir); };
    o.test_hooks.before_rmdir = [](const std::string& dir) {
      for (const auto& e : fs::directory_iterator(dir)) {
        if (e.is_regular_file()) fs::remove(e.path());
      }
    };
    o.test_hooks.install_device_filter = [this](const std::string& dir,
                                                const std::vector<DeviceRule>& rules) {
      installed[dir] = rules;
      return install_result;
    };
    o.test_hooks.count_device_filters = [this](const std::string& dir) -> Result<uint32_t> {
      return installed.count(dir) != 0 ? filters_per_cgroup : 0u;
    };
    return o;
  }

  std::map<std::string, std::vector<DeviceRule>> installed;
  Status install_result;
  uint32_t filters_per_cgroup = 1;
  std::set<std::string> skip_files;       // interface files this "kernel" does not have
  std::string devices_list_for_new_dirs;  // what devices.list shows in a new v1 cgroup

 private:
  // Fills a new directory with the interface files of its hierarchy.
  void Populate(const std::string& dir) {
    const std::string rel = dir.substr(root().size() + 1);
    const std::string top = rel.substr(0, rel.find('/'));
    std::map<std::string, std::string> files;
    if (mode_ == CgroupMode::kUnified || top == "unified") {
      PopulateV2(dir, &files);
    } else {
      files["cgroup.procs"] = "";
      std::stringstream controllers(top);
      for (std::string c; std::getline(controllers, c, ',');) PopulateV1(c, &files);
    }
    for (const auto& [name, contents] : files) {
      if (skip_files.count(name) == 0) Put(dir + "/" + name, contents);
    }
  }

  void PopulateV2(const std::string& dir, std::map<std::string, std::string>* files) {
    auto& f = *files;
    f["cgroup.procs"] = "";
    f["cgroup.events"] = "populated 0\nfrozen 0\n";
    f["cgroup.kill"] = "";
    f["cgroup.freeze"] = "";
    f["cgroup.type"] = "domain\n";
    f["cgroup.subtree_control"] = "";
    f["cpu.stat"] = "usage_usec 0\nuser_usec 0\nsystem_usec 0\n";
    // The parent's subtree_control says which controllers this directory gets; the fake parent
    // shows the "+name" lines the driver appended.
    const std::string parent = fs::path(dir).parent_path();
    std::string offered;
    std::stringstream enabled(Slurp(parent + "/cgroup.subtree_control"));
    for (std::string word; enabled >> word;) {
      const std::string c = word[0] == '+' ? word.substr(1) : word;
      offered += (offered.empty() ? "" : " ") + c;
      if (c == "cpu") f["cpu.max"] = "";
      if (c == "cpuset") {
        f["cpuset.cpus"] = "";
        f["cpuset.mems"] = "";
        f["cpuset.cpus.effective"] = Slurp(parent + "/cpuset.cpus.effective");
        f["cpuset.mems.effective"] = Slurp(parent + "/cpuset.mems.effective");
      }
      if (c == "memory") {
        f["memory.max"] = "";
        f["memory.swap.max"] = "";
        f["memory.current"] = "0\n";
        f["memory.peak"] = "0\n";
        f["memory.events"] = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n";
      }
      if (c == "pids") {
        f["pids.max"] = "";
        f["pids.current"] = "0\n";
      }
      if (c == "io") f["io.weight"] = "";
    }
    f["cgroup.controllers"] = offered + "\n";
  }

  void PopulateV1(const std::string& c, std::map<std::string, std::string>* files) {
    auto& f = *files;
    if (c == "devices") {
      f["devices.allow"] = "";
      f["devices.deny"] = "";
      f["devices.list"] = devices_list_for_new_dirs;
    }
    if (c == "freezer") f["freezer.state"] = "";
    if (c == "cpuset") {
      f["cpuset.cpus"] = "";
      f["cpuset.mems"] = "";
    }
    if (c == "cpu") {
      f["cpu.cfs_period_us"] = "";
      f["cpu.cfs_quota_us"] = "";
    }
    if (c == "cpuacct") f["cpuacct.usage"] = "0\n";
    if (c == "memory") {
      f["memory.limit_in_bytes"] = "";
      f["memory.memsw.limit_in_bytes"] = "";
      f["memory.swappiness"] = "";
      f["memory.usage_in_bytes"] = "0\n";
      f["memory.max_usage_in_bytes"] = "0\n";
      f["memory.failcnt"] = "0\n";
      f["memory.oom_control"] = "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n";
    }
    if (c == "pids") {
      f["pids.max"] = "";
      f["pids.current"] = "0\n";
    }
    if (c == "blkio") f["blkio.weight"] = "";
  }

  TempDir tmp_;
  CgroupMode mode_;
};

CgroupLimits FullLimits() {
  CgroupLimits l;
  l.cpus = 1.5;
  l.cpuset_cpus = "1-2";
  l.cpuset_mems = "0";
  l.memory_max_bytes = 1073741824;
  l.pids_max = 64;
  l.io_weight = 200;
  return l;
}

std::vector<DeviceRule> GpuRules() {
  std::vector<DeviceRule> rules = BaseDeviceRules();
  rules.push_back({'c', 195, 0, "rw"});
  rules.push_back({'c', 195, 255, "rw"});
  return rules;
}

// --- unified (v2) ---

class UnifiedFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The daemon's unit cgroup, with the daemon and a helper process in it, offered the usual
    // systemd controllers (hugetlb is offered but not wanted).
    tree_.Write("cgroup.subtree_control", "cpu cpuset io memory pids\n");
    tree_.Write("cpuset.cpus.effective", "0-3\n");
    tree_.Write("cpuset.mems.effective", "0\n");
    tree_.MakeCgroup("system.slice");
    tree_.MakeCgroup("system.slice/paddock.service");
    tree_.Write("system.slice/paddock.service/cgroup.controllers",
                "cpuset cpu io memory hugetlb pids\n");
    tree_.Write("system.slice/paddock.service/cgroup.procs", "100\n200\n");
    tree_.Write("system.slice/paddock.service/cpuset.cpus.effective", "0-3\n");
    tree_.Write("system.slice/paddock.service/cpuset.mems.effective", "0\n");
    tree_.SetSelf("0::/system.slice/paddock.service\n");
  }

  std::unique_ptr<CgroupDriver> Driver() {
    auto driver = CgroupDriver::Create(tree_.Options());
    EXPECT_TRUE(driver.ok()) << driver.status().ToString();
    return driver.ok() ? std::move(driver).value() : nullptr;
  }

  const std::string svc_ = "system.slice/paddock.service";
  FakeTree tree_{CgroupMode::kUnified};
};

TEST_F(UnifiedFakeTest, CreateMovesTheDaemonIntoALeafAndEnablesControllers) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  EXPECT_EQ(driver->mode(), CgroupMode::kUnified);
  // Every process of the unit cgroup moved, then the controllers enabled one by one.
  EXPECT_EQ(tree_.Read(svc_ + "/daemon/cgroup.procs"), "100\n200\n");
  EXPECT_EQ(tree_.Read(svc_ + "/cgroup.subtree_control"), "+cpu\n+cpuset\n+io\n+memory\n+pids\n");
  EXPECT_EQ(tree_.Read(svc_ + "/paddock/cgroup.subtree_control"),
            "+cpu\n+cpuset\n+io\n+memory\n+pids\n");
  // Idempotent: a restarted daemon gets the same layout.
  EXPECT_NE(Driver(), nullptr);
}

TEST_F(UnifiedFakeTest, ADaemonAlreadyInItsLeafIsNotNestedAgain) {
  tree_.SetSelf("0::/system.slice/paddock.service/daemon\n");
  ASSERT_NE(Driver(), nullptr);
  EXPECT_TRUE(tree_.Exists(svc_ + "/paddock"));
  EXPECT_FALSE(tree_.Exists(svc_ + "/daemon/daemon"));
  EXPECT_FALSE(tree_.Exists(svc_ + "/daemon/paddock"));
}

TEST_F(UnifiedFakeTest, ADelegatedScopeHoldsTheSandboxesAndTheDaemonStaysInItsUnit) {
  // The systemd scope the daemon creates for its sandboxes, with its holder process.
  const std::string scope = "system.slice/paddock-sandboxes.scope";
  tree_.MakeCgroup(scope);
  tree_.Write(scope + "/cgroup.controllers", "cpuset cpu io memory pids\n");
  tree_.Write(scope + "/cgroup.procs", "300\n");
  tree_.Write(scope + "/cpuset.cpus.effective", "0-3\n");
  tree_.Write(scope + "/cpuset.mems.effective", "0\n");
  CgroupDriverOptions options = tree_.Options();
  options.delegated_cgroup = "/" + scope;
  options.daemon_leaf = "holder";
  auto driver = CgroupDriver::Create(options);
  ASSERT_TRUE(driver.ok()) << driver.status().ToString();
  EXPECT_EQ(tree_.Read(scope + "/holder/cgroup.procs"), "300\n");
  EXPECT_EQ(tree_.Read(scope + "/paddock/cgroup.subtree_control"),
            "+cpu\n+cpuset\n+io\n+memory\n+pids\n");
  auto cgroup = (*driver)->CreateCgroup("sb-1", {}, BaseDeviceRules());
  ASSERT_TRUE(cgroup.ok()) << cgroup.status().ToString();
  EXPECT_TRUE(tree_.Exists(scope + "/paddock/sb-1"));
  // The daemon's own unit is left as it is: nothing moved, no controllers handed down, so
  // systemd can start the daemon there again while sandboxes run.
  EXPECT_FALSE(tree_.Exists(svc_ + "/daemon"));
  EXPECT_FALSE(tree_.Exists(svc_ + "/paddock"));
  EXPECT_EQ(tree_.Read(svc_ + "/cgroup.subtree_control"), "");
}

TEST_F(UnifiedFakeTest, TheHierarchyRootKeepsItsProcesses) {
  // The real root has no cgroup.type and may hold processes beside enabled children.
  tree_.SetSelf("0::/\n");
  tree_.Write("cgroup.controllers", "cpu memory pids\n");
  ASSERT_NE(Driver(), nullptr);
  EXPECT_FALSE(tree_.Exists("daemon"));
  EXPECT_TRUE(tree_.Exists("paddock"));
}

TEST_F(UnifiedFakeTest, CreateCgroupWritesEveryLimitAndInstallsTheDeviceProgram) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  auto cg = driver->CreateCgroup("sbx1", FullLimits(), GpuRules());
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  const std::string d = svc_ + "/paddock/sbx1";
  EXPECT_EQ((*cg)->unified_path(), tree_.Path(d));
  EXPECT_EQ(tree_.Read(d + "/cpu.max"), "150000 100000\n");
  EXPECT_EQ(tree_.Read(d + "/cpuset.cpus"), "1-2\n");
  EXPECT_EQ(tree_.Read(d + "/cpuset.mems"), "0\n");
  EXPECT_EQ(tree_.Read(d + "/memory.max"), "1073741824\n");
  EXPECT_EQ(tree_.Read(d + "/memory.swap.max"), "0\n");
  EXPECT_EQ(tree_.Read(d + "/pids.max"), "64\n");
  EXPECT_EQ(tree_.Read(d + "/io.weight"), "default 200\n");
  EXPECT_EQ(tree_.Read(d + "/cgroup.procs"), "");
  ASSERT_EQ(tree_.installed.count(tree_.Path(d)), 1u);
  EXPECT_EQ(tree_.installed[tree_.Path(d)].size(), GpuRules().size());
}

TEST_F(UnifiedFakeTest, UnsetLimitsWriteNothingButSwapStaysOff) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  CgroupLimits none;
  auto cg = driver->CreateCgroup("plain", none, BaseDeviceRules());
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  const std::string d = svc_ + "/paddock/plain";
  for (const char* f :
       {"cpu.max", "cpuset.cpus", "cpuset.mems", "memory.max", "pids.max", "io.weight"}) {
    EXPECT_EQ(tree_.Read(d + "/" + f), "") << f;
  }
  EXPECT_EQ(tree_.Read(d + "/memory.swap.max"), "0\n");
  none.allow_swap = true;
  ASSERT_TRUE(driver->CreateCgroup("swappy", none, {}).ok());
  EXPECT_EQ(tree_.Read(svc_ + "/paddock/swappy/memory.swap.max"), "max\n");
}

TEST_F(UnifiedFakeTest, IoWeightAndSwapFilesThatDoNotExistAreSkipped) {
  tree_.skip_files = {"io.weight", "memory.swap.max"};
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  auto cg = driver->CreateCgroup("sbx", FullLimits(), BaseDeviceRules());
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  EXPECT_EQ(tree_.Read(svc_ + "/paddock/sbx/memory.max"), "1073741824\n");
}

TEST_F(UnifiedFakeTest, AMissingControllerFailsNamingTheFieldAndLeavesNothing) {
  tree_.Write(svc_ + "/cgroup.controllers", "cpu io pids\n");
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  CgroupLimits l;
  l.memory_max_bytes = 1 << 20;
  auto cg = driver->CreateCgroup("sbx", l, BaseDeviceRules());
  EXPECT_EQ(cg.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(cg.status().message().rfind("memory_max_bytes:", 0), 0u) << cg.status().message();
  EXPECT_FALSE(tree_.Exists(svc_ + "/paddock/sbx"));
  l = {};
  l.cpuset_cpus = "0";
  EXPECT_EQ(driver->ValidateLimits(l).code(), StatusCode::kFailedPrecondition);
  l = {};
  l.io_weight = 300;  // io is there
  EXPECT_TRUE(driver->ValidateLimits(l).ok());
}

TEST_F(UnifiedFakeTest, CpusetOutsideTheParentsIsRefused) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  CgroupLimits l;
  l.cpuset_cpus = "2-7";
  Status s = driver->ValidateLimits(l);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("cpuset_cpus: CPUs 4,5,6,7 not available"), std::string::npos)
      << s.message();
}

TEST_F(UnifiedFakeTest, ADeviceProgramThatFailsFailsTheCreation) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  tree_.install_result = Status::PermissionDenied("BPF_PROG_LOAD: Operation not permitted");
  auto cg = driver->CreateCgroup("sbx", FullLimits(), BaseDeviceRules());
  EXPECT_EQ(cg.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(cg.status().message().rfind("devices:", 0), 0u) << cg.status().message();
  EXPECT_FALSE(tree_.Exists(svc_ + "/paddock/sbx"));
}

TEST_F(UnifiedFakeTest, BadNamesRulesAndDuplicatesAreRefused) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  EXPECT_EQ(driver->CreateCgroup("../x", {}, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(driver->CreateCgroup("memory.max", {}, {}).status().code(),
            StatusCode::kInvalidArgument);
  auto bad_rule = driver->CreateCgroup("x", {}, {{'c', 1, 3, "rwm"}});
  EXPECT_EQ(bad_rule.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(tree_.Exists(svc_ + "/paddock/x"));
  ASSERT_TRUE(driver->CreateCgroup("x", {}, {}).ok());
  EXPECT_EQ(driver->CreateCgroup("x", {}, {}).status().code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(tree_.Exists(svc_ + "/paddock/x"));  // the existing one is left alone
}

TEST_F(UnifiedFakeTest, ProcessesStatsKillEmptyAndRemove) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  auto cg = driver->CreateCgroup("sbx", FullLimits(), BaseDeviceRules());
  ASSERT_TRUE(cg.ok());
  const std::string d = svc_ + "/paddock/sbx";
  ASSERT_TRUE((*cg)->AddProcess(4242).ok());
  EXPECT_EQ(tree_.Read(d + "/cgroup.procs"), "4242\n");

  tree_.Write(d + "/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
  tree_.Write(d + "/memory.current", "1048576\n");
  tree_.Write(d + "/memory.peak", "2097152\n");
  tree_.Write(d + "/pids.current", "3\n");
  tree_.Write(d + "/memory.events", "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\n");
  auto stats = (*cg)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->cpu_usage_ns, 1500000u);
  EXPECT_EQ(stats->memory_current, 1048576u);
  EXPECT_EQ(stats->memory_peak, 2097152u);
  EXPECT_EQ(stats->pids_current, 3u);
  EXPECT_EQ(stats->oom_kills, 2u);
  EXPECT_EQ(stats->memory_max_hits, 7u);

  tree_.Write(d + "/cgroup.events", "populated 1\nfrozen 0\n");
  EXPECT_FALSE(*(*cg)->Empty());
  ASSERT_TRUE((*cg)->Kill().ok());
  EXPECT_EQ(tree_.Read(d + "/cgroup.kill"), "1\n");
  EXPECT_EQ((*cg)->WaitEmpty(std::chrono::milliseconds(20)).code(), StatusCode::kUnavailable);
  tree_.Write(d + "/cgroup.events", "populated 0\nfrozen 0\n");
  EXPECT_TRUE((*cg)->WaitEmpty(std::chrono::milliseconds(20)).ok());
  ASSERT_TRUE((*cg)->Remove().ok());
  EXPECT_FALSE(tree_.Exists(d));
  EXPECT_TRUE((*cg)->Remove().ok());  // again: already gone is fine
  EXPECT_TRUE(driver->RemoveParent().ok());
  EXPECT_FALSE(tree_.Exists(svc_ + "/paddock"));
}

TEST_F(UnifiedFakeTest, ListAndOpenReadoptSandboxes) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  ASSERT_TRUE(driver->CreateCgroup("b", {}, BaseDeviceRules()).ok());
  ASSERT_TRUE(driver->CreateCgroup("a", {}, BaseDeviceRules()).ok());
  auto restarted = Driver();
  ASSERT_NE(restarted, nullptr);
  auto names = restarted->List();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b"}));
  auto a = restarted->Open("a");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ((*a)->name(), "a");
  EXPECT_TRUE((*a)->AddProcess(77).ok());
  EXPECT_EQ(restarted->Open("zz").status().code(), StatusCode::kNotFound);

  // A cgroup that lost its device program can be killed and removed, never joined.
  tree_.installed.erase(tree_.Path(svc_ + "/paddock/b"));
  auto b = restarted->Open("b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->AddProcess(78).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*b)->Kill().ok());
  EXPECT_TRUE((*b)->Remove().ok());
}

TEST_F(UnifiedFakeTest, NoCgroup2EntryIsAFailedPrecondition) {
  tree_.SetSelf("4:memory:/x\n");
  auto driver = CgroupDriver::Create(tree_.Options());
  EXPECT_EQ(driver.status().code(), StatusCode::kFailedPrecondition);
}

// --- legacy and hybrid (v1) ---

class V1FakeTest : public ::testing::TestWithParam<CgroupMode> {
 protected:
  void SetUp() override {
    for (const char* c :
         {"devices", "freezer", "cpuset", "cpu", "cpuacct", "memory", "pids", "blkio"}) {
      tree_.MakeCgroup(c);
    }
    tree_.Write("cpuset/cpuset.cpus", "0-3\n");
    tree_.Write("cpuset/cpuset.mems", "0\n");
    // The daemon's memory cgroup is nested, as on this project's dev machines.
    tree_.MakeCgroup("memory/process_api/abc");
    tree_.MakeCgroup("systemd");
    if (hybrid()) tree_.MakeCgroup("unified");
    tree_.SetSelf(
        "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
        "4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n");
  }

  bool hybrid() const { return GetParam() == CgroupMode::kHybrid; }

  std::unique_ptr<CgroupDriver> Driver() {
    auto driver = CgroupDriver::Create(tree_.Options());
    EXPECT_TRUE(driver.ok()) << driver.status().ToString();
    return driver.ok() ? std::move(driver).value() : nullptr;
  }

  FakeTree tree_{GetParam()};
};

TEST_P(V1FakeTest, ParentsGoUnderTheDaemonsOwnCgroupsWithTheCpusetCopiedDown) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  EXPECT_EQ(driver->mode(), GetParam());
  for (const char* c : {"devices", "freezer", "cpuset", "cpu", "cpuacct", "pids", "blkio"}) {
    EXPECT_TRUE(tree_.Exists(std::string(c) + "/paddock")) << c;
  }
  EXPECT_TRUE(tree_.Exists("memory/process_api/abc/paddock"));
  EXPECT_FALSE(tree_.Exists("memory/paddock"));
  EXPECT_FALSE(tree_.Exists("systemd/paddock"));
  EXPECT_EQ(tree_.Exists("unified/paddock"), hybrid());
  EXPECT_EQ(tree_.Read("cpuset/paddock/cpuset.cpus"), "0-3\n");
  EXPECT_EQ(tree_.Read("cpuset/paddock/cpuset.mems"), "0\n");
  // A restart keeps the parent's values rather than appending them again.
  ASSERT_NE(Driver(), nullptr);
  EXPECT_EQ(tree_.Read("cpuset/paddock/cpuset.cpus"), "0-3\n");
}

TEST_P(V1FakeTest, CreateCgroupWritesEveryLimitAndTheDeviceRules) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  auto cg = driver->CreateCgroup("sbx1", FullLimits(), GpuRules());
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  EXPECT_EQ(tree_.Read("devices/paddock/sbx1/devices.deny"), "a\n");
  EXPECT_EQ(tree_.Read("devices/paddock/sbx1/devices.allow"),
            "c 1:3 rw\nc 1:5 rw\nc 1:7 rw\nc 1:8 rw\nc 1:9 rw\nc 5:0 rw\nc 5:2 rw\nc 136:* rw\n"
            "c 195:0 rw\nc 195:255 rw\n");
  EXPECT_EQ(tree_.Read("cpu/paddock/sbx1/cpu.cfs_period_us"), "100000\n");
  EXPECT_EQ(tree_.Read("cpu/paddock/sbx1/cpu.cfs_quota_us"), "150000\n");
  EXPECT_EQ(tree_.Read("cpuset/paddock/sbx1/cpuset.cpus"), "1-2\n");
  EXPECT_EQ(tree_.Read("cpuset/paddock/sbx1/cpuset.mems"), "0\n");
  const std::string mem = "memory/process_api/abc/paddock/sbx1/";
  EXPECT_EQ(tree_.Read(mem + "memory.limit_in_bytes"), "1073741824\n");
  EXPECT_EQ(tree_.Read(mem + "memory.memsw.limit_in_bytes"), "1073741824\n");
  EXPECT_EQ(tree_.Read(mem + "memory.swappiness"), "");
  EXPECT_EQ(tree_.Read("pids/paddock/sbx1/pids.max"), "64\n");
  EXPECT_EQ(tree_.Read("blkio/paddock/sbx1/blkio.weight"), "1000\n");  // 200 on the v2 scale
  EXPECT_TRUE(tree_.Exists("freezer/paddock/sbx1"));
  EXPECT_TRUE(tree_.Exists("cpuacct/paddock/sbx1"));
  if (hybrid()) {
    EXPECT_EQ((*cg)->unified_path(), tree_.Path("unified/paddock/sbx1"));
    ASSERT_EQ(tree_.installed.count(tree_.Path("unified/paddock/sbx1")), 1u);
  } else {
    EXPECT_EQ((*cg)->unified_path(), "");
    EXPECT_TRUE(tree_.installed.empty());
  }
}

TEST_P(V1FakeTest, WithoutLimitsTheCpusetIsStillCopiedAndSwapLowered) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  ASSERT_TRUE(driver->CreateCgroup("sbx", {}, BaseDeviceRules()).ok());
  EXPECT_EQ(tree_.Read("cpuset/paddock/sbx/cpuset.cpus"), "0-3\n");
  EXPECT_EQ(tree_.Read("cpuset/paddock/sbx/cpuset.mems"), "0\n");
  EXPECT_EQ(tree_.Read("cpu/paddock/sbx/cpu.cfs_quota_us"), "");
  EXPECT_EQ(tree_.Read("memory/process_api/abc/paddock/sbx/memory.swappiness"), "0\n");
  EXPECT_EQ(tree_.Read("devices/paddock/sbx/devices.deny"), "a\n");
}

TEST_P(V1FakeTest, WithoutSwapAccountingSwappinessIsZeroAndWithoutBlkioWeightItIsSkipped) {
  tree_.skip_files = {"memory.memsw.limit_in_bytes", "blkio.weight"};
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  ASSERT_TRUE(driver->CreateCgroup("sbx", FullLimits(), BaseDeviceRules()).ok());
  const std::string mem = "memory/process_api/abc/paddock/sbx/";
  EXPECT_EQ(tree_.Read(mem + "memory.limit_in_bytes"), "1073741824\n");
  EXPECT_EQ(tree_.Read(mem + "memory.swappiness"), "0\n");
}

TEST_P(V1FakeTest, ADevicesListWiderThanTheRulesFailsTheCreation) {
  tree_.devices_list_for_new_dirs = "a *:* rwm\n";  // as if "deny a" had not taken
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  auto cg = driver->CreateCgroup("sbx", {}, BaseDeviceRules());
  EXPECT_FALSE(cg.ok());
  EXPECT_EQ(cg.status().message().rfind("devices:", 0), 0u) << cg.status().message();
  EXPECT_FALSE(tree_.Exists("devices/paddock/sbx"));
  EXPECT_FALSE(tree_.Exists("memory/process_api/abc/paddock/sbx"));
  EXPECT_FALSE(tree_.Exists("unified/paddock/sbx"));

  tree_.devices_list_for_new_dirs = "c 1:3 rw\nc 195:* rw\n";  // a wildcard the rules lack
  EXPECT_FALSE(driver->CreateCgroup("sbx", {}, BaseDeviceRules()).ok());
  tree_.devices_list_for_new_dirs = "c 1:3 rw\nc 136:* rw\n";  // what the kernel shows
  EXPECT_TRUE(driver->CreateCgroup("sbx", {}, BaseDeviceRules()).ok());
}

TEST_P(V1FakeTest, AFailingStepRemovesEveryDirectory) {
  tree_.skip_files = {"pids.max"};  // the kernel "refuses" the pids limit
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  auto cg = driver->CreateCgroup("sbx", FullLimits(), BaseDeviceRules());
  EXPECT_EQ(cg.status().message().rfind("pids_max:", 0), 0u) << cg.status().message();
  auto names = driver->List();
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty());
}

TEST_P(V1FakeTest, AddProcessKillStatsAndRemove) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  auto cg = driver->CreateCgroup("sbx", {}, BaseDeviceRules());
  ASSERT_TRUE(cg.ok());
  ASSERT_TRUE((*cg)->AddProcess(4242).ok());
  for (const char* c : {"devices", "freezer", "cpuset", "cpu", "cpuacct", "pids", "blkio"}) {
    EXPECT_EQ(tree_.Read(std::string(c) + "/paddock/sbx/cgroup.procs"), "4242\n") << c;
  }
  const std::string mem = "memory/process_api/abc/paddock/sbx/";
  EXPECT_EQ(tree_.Read(mem + "cgroup.procs"), "4242\n");
  if (hybrid()) {
    EXPECT_EQ(tree_.Read("unified/paddock/sbx/cgroup.procs"), "4242\n");
  }

  tree_.Write("cpuacct/paddock/sbx/cpuacct.usage", "123456789\n");
  tree_.Write(mem + "memory.usage_in_bytes", "4096\n");
  tree_.Write(mem + "memory.max_usage_in_bytes", "8192\n");
  tree_.Write(mem + "memory.failcnt", "5\n");
  tree_.Write(mem + "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  tree_.Write("pids/paddock/sbx/pids.current", "2\n");
  auto stats = (*cg)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->cpu_usage_ns, 123456789u);
  EXPECT_EQ(stats->memory_current, 4096u);
  EXPECT_EQ(stats->memory_peak, 8192u);
  EXPECT_EQ(stats->memory_max_hits, 5u);
  EXPECT_EQ(stats->oom_kills, 1u);
  EXPECT_EQ(stats->pids_current, 2u);

  // The fake "processes" are gone from every cgroup.procs before Kill reads them.
  for (const char* c : {"devices", "freezer", "cpuset", "cpu", "cpuacct", "pids", "blkio"}) {
    tree_.Write(std::string(c) + "/paddock/sbx/cgroup.procs", "");
  }
  tree_.Write(mem + "cgroup.procs", "");
  if (hybrid()) tree_.Write("unified/paddock/sbx/cgroup.procs", "");
  ASSERT_TRUE((*cg)->Kill().ok());
  if (hybrid()) {
    EXPECT_EQ(tree_.Read("unified/paddock/sbx/cgroup.kill"), "1\n");
    EXPECT_EQ(tree_.Read("freezer/paddock/sbx/freezer.state"), "");
  } else {
    EXPECT_EQ(tree_.Read("freezer/paddock/sbx/freezer.state"), "FROZEN\nTHAWED\n");
  }
  EXPECT_TRUE(*(*cg)->Empty());
  ASSERT_TRUE((*cg)->Remove().ok());
  EXPECT_FALSE(tree_.Exists("devices/paddock/sbx"));
  EXPECT_FALSE(tree_.Exists(mem));
  EXPECT_FALSE(tree_.Exists("unified/paddock/sbx"));
  EXPECT_TRUE(driver->RemoveParent().ok());
  EXPECT_FALSE(tree_.Exists("devices/paddock"));
  EXPECT_FALSE(tree_.Exists("unified/paddock"));
}

TEST_P(V1FakeTest, EmptyLooksAtEveryHierarchy) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  auto cg = driver->CreateCgroup("sbx", {}, BaseDeviceRules());
  ASSERT_TRUE(cg.ok());
  EXPECT_TRUE(*(*cg)->Empty());
  tree_.Write("pids/paddock/sbx/cgroup.procs", "99\n");
  EXPECT_FALSE(*(*cg)->Empty());
}

TEST_P(V1FakeTest, ListAndOpenIncludingAnIncompleteCgroup) {
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  ASSERT_TRUE(driver->CreateCgroup("one", {}, BaseDeviceRules()).ok());
  ASSERT_TRUE(driver->CreateCgroup("two", {}, BaseDeviceRules()).ok());
  // A crash mid-creation left a directory in one hierarchy only.
  tree_.MakeCgroup("pids/paddock/half");
  auto names = driver->List();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"half", "one", "two"}));

  auto one = driver->Open("one");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_TRUE((*one)->AddProcess(5).ok());
  auto half = driver->Open("half");
  ASSERT_TRUE(half.ok());
  EXPECT_EQ((*half)->AddProcess(6).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*half)->Remove().ok());
  EXPECT_FALSE(tree_.Exists("pids/paddock/half"));
  EXPECT_EQ(driver->Open("none").status().code(), StatusCode::kNotFound);

  // devices.list wide open again (rules lost): adopted, but no new processes.
  tree_.Write("devices/paddock/two/devices.list", "a *:* rwm\n");
  auto two = driver->Open("two");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ((*two)->AddProcess(7).code(), StatusCode::kFailedPrecondition);
}

TEST_P(V1FakeTest, CoMountedControllersShareOneDirectory) {
  fs::remove_all(tree_.Path("cpu"));
  fs::remove_all(tree_.Path("cpuacct"));
  tree_.MakeCgroup("cpu,cpuacct");
  fs::create_directory_symlink("cpu,cpuacct", tree_.Path("cpu"));
  fs::create_directory_symlink("cpu,cpuacct", tree_.Path("cpuacct"));
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  CgroupLimits l;
  l.cpus = 0.5;
  auto cg = driver->CreateCgroup("sbx", l, BaseDeviceRules());
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  EXPECT_EQ(tree_.Read("cpu,cpuacct/paddock/sbx/cpu.cfs_quota_us"), "50000\n");
  ASSERT_TRUE((*cg)->AddProcess(11).ok());
  EXPECT_EQ(tree_.Read("cpu,cpuacct/paddock/sbx/cgroup.procs"), "11\n");  // written once
}

TEST_P(V1FakeTest, MissingControllersFailOnlyTheLimitsThatNeedThem) {
  fs::remove_all(tree_.Path("pids"));
  fs::remove_all(tree_.Path("blkio"));
  auto driver = Driver();
  ASSERT_NE(driver, nullptr);
  CgroupLimits l;
  l.pids_max = 10;
  Status s = driver->ValidateLimits(l);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message().rfind("pids_max:", 0), 0u) << s.message();
  l = {};
  l.io_weight = 50;
  EXPECT_TRUE(driver->CreateCgroup("sbx", l, BaseDeviceRules()).ok());
}

TEST(V1FakeLayoutTest, LegacyWithoutTheDevicesControllerIsRefused) {
  FakeTree tree(CgroupMode::kLegacy);
  tree.MakeCgroup("memory");
  tree.MakeCgroup("cpu");
  tree.SetSelf("4:memory:/\n1:cpu:/\n");
  auto driver = CgroupDriver::Create(tree.Options());
  EXPECT_EQ(driver.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(driver.status().message().find("devices"), std::string::npos);
}

TEST(V1FakeLayoutTest, HybridWithoutTheDevicesControllerReliesOnTheBpfProgram) {
  FakeTree tree(CgroupMode::kHybrid);
  tree.MakeCgroup("memory");
  tree.MakeCgroup("unified");
  tree.SetSelf("4:memory:/\n0::/\n");
  auto driver = CgroupDriver::Create(tree.Options());
  ASSERT_TRUE(driver.ok()) << driver.status().ToString();
  ASSERT_TRUE((*driver)->CreateCgroup("sbx", {}, BaseDeviceRules()).ok());
  EXPECT_EQ(tree.installed.count(tree.Path("unified/paddock/sbx")), 1u);
}

INSTANTIATE_TEST_SUITE_P(Layouts, V1FakeTest,
                         ::testing::Values(CgroupMode::kLegacy, CgroupMode::kHybrid),
                         [](const auto& info) { return std::string(CgroupModeName(info.param)); });

}  // namespace
}  // namespace paddock::sandbox
