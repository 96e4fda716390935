// The cgroup drivers against the real kernel (root only). Each test runs on up to three layouts:
//   Host:         the layout detected under /sys/fs/cgroup (hybrid on the dev machines, unified on
//                 a Debian 12 systemd host).
//   Legacy:       the v1 hierarchies alone, on a host that has them (devices controller only,
//                 freezer-based kill).
//   UnifiedMount: the unified driver on a hybrid host's cgroup2 mount, which has no controllers:
//                 the BPF device program, cgroup.kill and cgroup.events run for real; limits skip.
// A test that needs what the host lacks prints SKIP with the reason. Every cgroup a test creates is
// removed in TearDown, also after a failure; the parents carry this process's pid in their name.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "base/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/device_filter.h"
#include "tests/unit/temp_dir.h"

namespace paddock::sandbox {
namespace {

using namespace std::chrono_literals;

constexpr char kCgroupRoot[] = "/sys/fs/cgroup";

struct Layout {
  std::string label;
};
void PrintTo(const Layout& layout, std::ostream* os) { *os << layout.label; }

// A forked process that waits until it is in the sandbox's cgroup, then runs a body that reports
// through `results`.
struct Child {
  pid_t pid = -1;
  UniqueFd results;
};

void WriteInt(int fd, int v) { (void)!::write(fd, &v, sizeof v); }

std::vector<int> ReadInts(int fd, size_t n) {
  std::vector<int> out;
  int v;
  while (out.size() < n && ::read(fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v)) {
    out.push_back(v);
  }
  return out;
}

// Whether a character device driver owns `major` here (then a node with it would not give ENXIO).
bool CharMajorRegistered(int major) {
  std::ifstream in("/proc/devices");
  std::string line;
  bool chars = false;
  while (std::getline(in, line)) {
    if (line.rfind("Character", 0) == 0) chars = true;
    if (line.rfind("Block", 0) == 0) chars = false;
    int m = -1;
    if (chars && std::sscanf(line.c_str(), "%d", &m) == 1 && m == major) return true;
  }
  return false;
}

std::string UnifiedLine(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "";
}

class CgroupKernelTest : public ::testing::TestWithParam<Layout> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIP: needs root to create cgroups";
    Result<CgroupMode> detected = DetectCgroupMode(kCgroupRoot);
    if (!detected.ok()) GTEST_SKIP() << "SKIP: " << detected.status().ToString();
    CgroupDriverOptions options;
    options.parent = "paddock-test-" + std::to_string(::getpid()) + "-" + GetParam().label;
    const std::string& label = GetParam().label;
    if (label == "Host") {
      options.root = kCgroupRoot;
    } else if (label == "Legacy") {
      if (*detected == CgroupMode::kUnified) GTEST_SKIP() << "SKIP: no v1 hierarchies here";
      options.root = kCgroupRoot;
      options.mode = CgroupMode::kLegacy;
    } else {
      if (*detected != CgroupMode::kHybrid) {
        GTEST_SKIP() << "SKIP: no separate cgroup2 mount (host is " << CgroupModeName(*detected)
                     << ")";
      }
      options.root = std::string(kCgroupRoot) + "/unified";
      options.mode = CgroupMode::kUnified;
    }
    auto driver = CgroupDriver::Create(options);
    ASSERT_TRUE(driver.ok()) << driver.status().ToString();
    driver_ = std::move(driver).value();
  }

  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    for (auto& cg : cgroups_) {
      EXPECT_TRUE(cg->Kill().ok());
      EXPECT_TRUE(cg->WaitEmpty(5s).ok()) << cg->name();
      Status removed = cg->Remove();
      EXPECT_TRUE(removed.ok()) << removed.ToString();
    }
    if (driver_) {
      Status removed = driver_->RemoveParent();
      EXPECT_TRUE(removed.ok()) << removed.ToString();
    }
  }

  // Creates a sandbox cgroup that TearDown removes; nullptr (with a failure) when it cannot.
  Cgroup* Create(const std::string& name, const CgroupLimits& limits,
                 const std::vector<DeviceRule>& devices = BaseDeviceRules()) {
    auto cg = driver_->CreateCgroup(name, limits, devices);
    EXPECT_TRUE(cg.ok()) << cg.status().ToString();
    if (!cg.ok()) return nullptr;
    cgroups_.push_back(std::move(cg).value());
    return cgroups_.back().get();
  }

  // Skips (returning true) when the host cannot honour `limits`, naming why.
  bool Unsupported(const CgroupLimits& limits, std::string* why) {
    Status s = driver_->ValidateLimits(limits);
    if (s.code() == StatusCode::kFailedPrecondition) {
      *why = s.message();
      return true;
    }
    EXPECT_TRUE(s.ok()) << s.ToString();
    return false;
  }

  // Forks a child, moves it into `cg`, then lets it run `body`; the child exits 0 afterwards.
  Child Spawn(Cgroup* cg, const std::function<void(int results_fd)>& body) {
    int go[2];
    int results[2];
    EXPECT_EQ(::pipe2(go, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(results, O_CLOEXEC), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(go[1]);
      ::close(results[0]);
      char byte;
      if (::read(go[0], &byte, 1) != 1) ::_exit(2);
      body(results[1]);
      ::_exit(0);
    }
    ::close(go[0]);
    ::close(results[1]);
    children_.push_back(pid);
    Child child{pid, UniqueFd(results[0])};
    Status added = cg->AddProcess(pid);
    EXPECT_TRUE(added.ok()) << added.ToString();
    if (added.ok()) (void)!::write(go[1], "g", 1);
    ::close(go[1]);
    return child;
  }

  // waitpid for a child Spawn made; returns the wait status.
  int Reap(pid_t pid) {
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    std::erase(children_, pid);
    return status;
  }

  std::unique_ptr<CgroupDriver> driver_;
  std::vector<std::unique_ptr<Cgroup>> cgroups_;
  std::vector<pid_t> children_;
};

TEST_P(CgroupKernelTest, DeviceRulesAllowTheListAndDenyEverythingElseAndMknod) {
  constexpr int kGpuMajor = 195;  // NVIDIA's major
  if (CharMajorRegistered(kGpuMajor)) {
    GTEST_SKIP() << "SKIP: a driver owns char major 195 here, so an allowed node would not give "
                    "ENXIO";
  }
  TempDir tmp;
  const std::string granted = tmp.Join("nvidia7");
  const std::string denied = tmp.Join("nvidia8");
  ASSERT_EQ(::mknod(granted.c_str(), S_IFCHR | 0666, makedev(kGpuMajor, 7)), 0) << strerror(errno);
  ASSERT_EQ(::mknod(denied.c_str(), S_IFCHR | 0666, makedev(kGpuMajor, 8)), 0) << strerror(errno);
  std::vector<DeviceRule> rules = BaseDeviceRules();
  rules.push_back({'c', kGpuMajor, 7, "rw"});
  Cgroup* cg = Create("devices", {}, rules);
  ASSERT_NE(cg, nullptr);

  if (!cg->unified_path().empty()) {
    // The program is attached where the kernel looks for it.
    UniqueFd dir(::open(cg->unified_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir.valid());
    Result<uint32_t> programs = CountDeviceFilters(dir.get());
    ASSERT_TRUE(programs.ok()) << programs.status().ToString();
    EXPECT_EQ(*programs, 1u);
  }

  const std::string made_null = tmp.Join("made-null");
  const std::string made_gpu = tmp.Join("made-gpu");
  Child child = Spawn(cg, [&](int out) {
    auto open_errno = [](const std::string& path) {
      const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
      if (fd >= 0) ::close(fd);
      return fd >= 0 ? 0 : errno;
    };
    WriteInt(out, open_errno("/dev/null"));
    WriteInt(out, open_errno(granted));
    WriteInt(out, open_errno(denied));
    WriteInt(out, ::mknod(made_null.c_str(), S_IFCHR | 0600, makedev(1, 3)) == 0 ? 0 : errno);
    WriteInt(out,
             ::mknod(made_gpu.c_str(), S_IFCHR | 0600, makedev(kGpuMajor, 7)) == 0 ? 0 : errno);
  });
  const std::vector<int> r = ReadInts(child.results.get(), 5);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0], 0) << "/dev/null: " << strerror(r[0]);
  EXPECT_EQ(r[1], ENXIO) << "granted 195:7 (allowed, no driver): " << strerror(r[1]);
  EXPECT_EQ(r[2], EPERM) << "denied 195:8: " << strerror(r[2]);
  EXPECT_EQ(r[3], EPERM) << "mknod of /dev/null's numbers: " << strerror(r[3]);
  EXPECT_EQ(r[4], EPERM) << "mknod of the granted GPU: " << strerror(r[4]);
  EXPECT_EQ(Reap(child.pid), 0);
}

TEST_P(CgroupKernelTest, KillTakesDownATreeThatKeepsForking) {
  Cgroup* cg = Create("kill", {});
  ASSERT_NE(cg, nullptr);
  Child child = Spawn(cg, [](int out) {
    // Four forkers, each starting a short-lived process every millisecond, plus this process.
    for (int i = 0; i < 4; ++i) {
      if (::fork() == 0) {
        for (;;) {
          if (::fork() == 0) {
            ::usleep(50 * 1000);
            ::_exit(0);
          }
          while (::waitpid(-1, nullptr, WNOHANG) > 0) {
          }
          ::usleep(1000);
        }
      }
    }
    WriteInt(out, 1);
    for (;;) ::pause();
  });
  ASSERT_EQ(ReadInts(child.results.get(), 1).size(), 1u);
  std::this_thread::sleep_for(200ms);
  ASSERT_FALSE(*cg->Empty());

  const auto start = std::chrono::steady_clock::now();
  Status killed = cg->Kill();
  ASSERT_TRUE(killed.ok()) << killed.ToString();
  Status empty = cg->WaitEmpty(5s);
  EXPECT_TRUE(empty.ok()) << empty.ToString();
  const int status = Reap(child.pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  std::cout << "killed and empty after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
                   .count()
            << " ms\n";
}

TEST_P(CgroupKernelTest, MemoryLimitOomKillsAndIsCounted) {
  CgroupLimits limits;
  limits.memory_max_bytes = 32 << 20;
  std::string why;
  if (Unsupported(limits, &why)) {
    EXPECT_EQ(why.rfind("memory_max_bytes:", 0), 0u) << why;
    GTEST_SKIP() << "SKIP: " << why;
  }
  Cgroup* cg = Create("oom", limits);
  ASSERT_NE(cg, nullptr);
  Child child = Spawn(cg, [](int) {
    // Touch 256 MiB, page by page, in 1 MiB blocks that are never freed.
    for (int i = 0; i < 256; ++i) {
      char* block = static_cast<char*>(::malloc(1 << 20));
      if (block == nullptr) ::_exit(3);
      for (size_t off = 0; off < (1 << 20); off += 4096) block[off] = 1;
    }
    ::_exit(4);  // not killed: the limit did not hold
  });
  const int status = Reap(child.pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "exit status " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  auto stats = cg->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_GE(stats->oom_kills, 1u);
  EXPECT_LE(stats->memory_peak, uint64_t{32} << 20);
  EXPECT_GT(stats->memory_peak, uint64_t{16} << 20);
}

TEST_P(CgroupKernelTest, PidsMaxCapsForks) {
  CgroupLimits limits;
  limits.pids_max = 5;
  std::string why;
  if (Unsupported(limits, &why)) GTEST_SKIP() << "SKIP: " << why;
  Cgroup* cg = Create("pids", limits);
  ASSERT_NE(cg, nullptr);
  Child child = Spawn(cg, [](int out) {
    int forked = 0;
    int err = 0;
    for (int i = 0; i < 20; ++i) {
      const pid_t pid = ::fork();
      if (pid == 0) {
        for (;;) ::pause();
      }
      if (pid < 0) {
        err = errno;
        break;
      }
      ++forked;
    }
    WriteInt(out, forked);
    WriteInt(out, err);
    for (;;) ::pause();
  });
  const std::vector<int> r = ReadInts(child.results.get(), 2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], 4) << "the child itself is the fifth task";
  EXPECT_EQ(r[1], EAGAIN) << strerror(r[1]);
  auto stats = cg->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pids_current, 5u);
}

TEST_P(CgroupKernelTest, HalfACpuQuotaGivesAboutHalfACpu) {
  CgroupLimits limits;
  limits.cpus = 0.5;
  std::string why;
  if (Unsupported(limits, &why)) GTEST_SKIP() << "SKIP: " << why;
  Cgroup* cg = Create("cpu", limits);
  ASSERT_NE(cg, nullptr);
  Child child = Spawn(cg, [](int out) {
    WriteInt(out, 1);
    volatile uint64_t spins = 0;
    for (;;) spins = spins + 1;
  });
  ASSERT_EQ(ReadInts(child.results.get(), 1).size(), 1u);
  std::this_thread::sleep_for(200ms);  // past the first period, which may start with full quota
  // The quota caps usage, so the upper bound holds on any host. Other work on a shared host can
  // push usage below half a CPU for a while, so a low window is measured again (at most twice).
  double share = 0;
  for (int window = 0; window < 3; ++window) {
    auto before = cg->Stats();
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(1s);
    auto after = cg->Stats();
    const auto t1 = std::chrono::steady_clock::now();
    ASSERT_TRUE(before.ok() && after.ok());
    const double wall_ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
    share = static_cast<double>(after->cpu_usage_ns - before->cpu_usage_ns) / wall_ns;
    std::cout << "busy loop under a 0.5 CPU quota used " << share << " CPU over 1 s\n";
    ASSERT_LE(share, 0.6);
    if (share >= 0.4) break;
  }
  EXPECT_GE(share, 0.4);
}

TEST_P(CgroupKernelTest, ARestartedDriverListsAndReadoptsItsSandboxes) {
  Cgroup* cg = Create("readopt", {});
  ASSERT_NE(cg, nullptr);
  Child first = Spawn(cg, [](int) {
    for (;;) ::pause();
  });

  CgroupDriverOptions options;
  options.parent = "paddock-test-" + std::to_string(::getpid()) + "-" + GetParam().label;
  options.mode = driver_->mode();
  if (GetParam().label == "UnifiedMount") options.root = std::string(kCgroupRoot) + "/unified";
  auto restarted = CgroupDriver::Create(options);
  ASSERT_TRUE(restarted.ok()) << restarted.status().ToString();
  auto names = (*restarted)->List();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"readopt"});
  auto adopted = (*restarted)->Open("readopt");
  ASSERT_TRUE(adopted.ok()) << adopted.status().ToString();
  EXPECT_FALSE(*(*adopted)->Empty());
  Child second = Spawn(adopted->get(), [](int) {
    for (;;) ::pause();
  });
  ASSERT_TRUE((*adopted)->Kill().ok());
  EXPECT_TRUE((*adopted)->WaitEmpty(5s).ok());
  Reap(first.pid);
  Reap(second.pid);
}

INSTANTIATE_TEST_SUITE_P(Layouts, CgroupKernelTest,
                         ::testing::Values(Layout{"Host"}, Layout{"Legacy"},
                                           Layout{"UnifiedMount"}),
                         [](const auto& info) { return info.param.label; });

// The unified driver's first step under systemd, for real: a process in a non-root cgroup2
// cgroup moves itself into a leaf and creates the sandbox parent beside it. Run in a child so the
// test process stays where it is.
TEST(CgroupKernelUnifiedTest, TheDaemonMovesItselfIntoALeafOfItsOwnCgroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "SKIP: needs root to create cgroups";
  Result<CgroupMode> detected = DetectCgroupMode(kCgroupRoot);
  if (!detected.ok() || *detected == CgroupMode::kLegacy) {
    GTEST_SKIP() << "SKIP: no cgroup2 hierarchy here";
  }
  const std::string root = *detected == CgroupMode::kHybrid ? std::string(kCgroupRoot) + "/unified"
                                                            : std::string(kCgroupRoot);
  const std::string own = "/paddock-test-svc-" + std::to_string(::getpid());
  const std::string svc = root + own;
  ASSERT_EQ(::mkdir(svc.c_str(), 0755), 0) << strerror(errno);
  struct Cleanup {
    std::string svc;
    ~Cleanup() {
      for (const char* sub : {"/sandboxes", "/daemon", ""}) ::rmdir((svc + sub).c_str());
    }
  } cleanup{svc};

  int go[2];
  int results[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(results, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    char byte;
    if (::read(go[0], &byte, 1) != 1) ::_exit(2);
    CgroupDriverOptions options;
    options.root = root;
    options.mode = CgroupMode::kUnified;
    options.parent = "sandboxes";
    auto driver = CgroupDriver::Create(options);
    WriteInt(results[1], static_cast<int>(driver.status().code()));
    ::_exit(0);
  }
  ::close(go[0]);
  ::close(results[1]);
  std::ofstream(svc + "/cgroup.procs") << pid << "\n";
  ASSERT_EQ(UnifiedLine(pid), own);
  (void)!::write(go[1], "g", 1);
  ::close(go[1]);
  const std::vector<int> r = ReadInts(results[0], 1);
  ::close(results[0]);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], static_cast<int>(StatusCode::kOk));
  EXPECT_EQ(UnifiedLine(pid), own + "/daemon");  // a zombie until reaped, still readable
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  struct stat st;
  EXPECT_EQ(::stat((svc + "/sandboxes").c_str(), &st), 0);
  std::ifstream procs(svc + "/cgroup.procs");
  std::string left;
  EXPECT_FALSE(std::getline(procs, left)) << "the delegated cgroup must hold no process";
}

}  // namespace
}  // namespace paddock::sandbox
