// Sandbox start-to-exit latency: how long it takes to run /bin/true in a fully isolated sandbox
// through paddock::sandbox::Launch() (the library path the daemon uses), measured in the same
// process, interleaved, against peer commands (crun, bwrap) that bench/sandbox_start_run sets up.
//
// One paddock sample is: create the sandbox's cgroup with the limits (when a cgroup driver is
// available), Launch() (clone3 into new namespaces, exec paddock-init, which builds the mounts and
// the seccomp filter and starts the workload), waitpid() on paddock-init, read exit.json (must say
// exit 0), wait for the cgroup to be empty and remove it. The state directory is created by
// Launch() and removed after the sample, untimed (the daemon keeps it for the sandbox's logs).
// One peer sample is posix_spawn() of the command and waitpid() for it (exit status must be 0).
//
// Usage:
//   paddock_bench_sandbox_start [options]                 sequential samples, interleaved
//   paddock_bench_sandbox_start --concurrent N [options]  N sandboxes per side started at once
//   paddock_bench_sandbox_start --print-oci-seccomp       the profile as an OCI "seccomp" object
// Options:
//   --iterations N       recorded samples per side (default 50)
//   --warmup N           unrecorded samples per side first (default 3)
//   --peer NAME=COMMAND  a peer side; COMMAND is split on spaces, "{i}" becomes the sample number
//                        (for unique container ids). Repeatable.
//   --init PATH          paddock-init (default: beside this binary)
//   --state-root DIR     where per-sandbox state directories go (default: a fresh /tmp dir)
//   --cgroups MODE       on (fail without a driver), off, auto (default: on when built with the
//                        cgroup driver and it can be created, else off, reported as such)
//   --peer-log FILE      peers' stderr goes here (default /dev/null)
//   --json FILE          write every sample and the summaries as JSON
//   --quiet              no per-iteration lines
//   --probe SCRIPT       instead of measuring: run `/bin/sh -c SCRIPT` once in a paddock sandbox
//                        set up exactly like the measured ones, print its stdout, then the limit
//                        files of its cgroup(s) as "cgroup <file>: <value>" (to check the limits
//                        really are in effect and match the peers')
// Exit status: 0 ok, 1 a failure (a sequential sample failing stops the run), 2 usage, 77 not root.

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <latch>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "sandbox/launcher.h"
#include "sandbox/seccomp_policy.h"
#include "sandbox/spec.h"
#if PADDOCK_BENCH_HAVE_CGROUP_DRIVER
#include "sandbox/cgroup.h"
#endif

extern char** environ;

namespace paddock::bench {
namespace {

using Clock = std::chrono::steady_clock;
using sandbox::SandboxSpec;

// The limits every side gets (crun's config.json is generated with the same values).
constexpr double kCpus = 1.0;
constexpr uint64_t kMemoryBytes = 512ull << 20;
constexpr uint64_t kPidsMax = 256;

double MicrosSince(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double, std::micro>(end - start).count();
}

// CPU time (user + system) in microseconds: of this thread, or of every reaped child (with their
// own reaped descendants).
double CpuMicros(int who) {
  rusage u{};
  ::getrusage(who, &u);
  auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + t.tv_usec; };
  return us(u.ru_utime) + us(u.ru_stime);
}

// CPU a sample costs: what this thread spends (Launch's own work, spawning a peer) plus what the
// processes it starts and reaps spend. Steadier than wall time on a busy machine, because it does
// not depend on how much CPU the sandbox got, only on what it used. Sequential mode only: in
// concurrent mode the children of all threads mix.
class CpuMeter {
 public:
  CpuMeter() : self_(CpuMicros(RUSAGE_THREAD)), children_(CpuMicros(RUSAGE_CHILDREN)) {}
  double Elapsed() const {
    return CpuMicros(RUSAGE_THREAD) - self_ + CpuMicros(RUSAGE_CHILDREN) - children_;
  }

 private:
  double self_;
  double children_;
};

struct Options {
  int iterations = 50;
  int warmup = 3;
  int concurrent = 0;
  std::vector<std::pair<std::string, std::string>> peers;  // name, command
  std::string init_path;
  std::string state_root;
  std::string cgroups = "auto";
  std::string peer_log = "/dev/null";
  std::string json_path;
  bool quiet = false;
  bool print_seccomp = false;
  std::string probe;  // a shell script to run once in a paddock sandbox instead of measuring
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "paddock_bench_sandbox_start: " << why << "\n"
            << "usage: paddock_bench_sandbox_start [--iterations N] [--warmup N] [--concurrent N]\n"
            << "  [--peer NAME=COMMAND]... [--init PATH] [--state-root DIR]\n"
            << "  [--cgroups auto|on|off] [--peer-log FILE] [--json FILE] [--quiet]\n"
            << "  | --print-oci-seccomp | --probe SCRIPT\n";
  std::exit(2);
}

int ParseCount(const std::string& flag, const char* value, int min) {
  char* end = nullptr;
  const long n = std::strtol(value, &end, 10);
  if (end == value || *end != '\0' || n < min || n > 100000) {
    Usage(flag + " needs a whole number >= " + std::to_string(min));
  }
  return static_cast<int>(n);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) Usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--iterations") {
      o.iterations = ParseCount(arg, value(), 1);
    } else if (arg == "--warmup") {
      o.warmup = ParseCount(arg, value(), 0);
    } else if (arg == "--concurrent") {
      o.concurrent = ParseCount(arg, value(), 1);
    } else if (arg == "--peer") {
      const std::string spec = value();
      const size_t eq = spec.find('=');
      if (eq == 0 || eq == std::string::npos || eq + 1 == spec.size()) {
        Usage("--peer needs NAME=COMMAND");
      }
      o.peers.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
    } else if (arg == "--init") {
      o.init_path = value();
    } else if (arg == "--state-root") {
      o.state_root = value();
    } else if (arg == "--cgroups") {
      o.cgroups = value();
      if (o.cgroups != "auto" && o.cgroups != "on" && o.cgroups != "off") {
        Usage("--cgroups is auto, on or off");
      }
    } else if (arg == "--peer-log") {
      o.peer_log = value();
    } else if (arg == "--json") {
      o.json_path = value();
    } else if (arg == "--quiet") {
      o.quiet = true;
    } else if (arg == "--probe") {
      o.probe = value();
    } else if (arg == "--print-oci-seccomp") {
      o.print_seccomp = true;
    } else if (arg == "-h" || arg == "--help") {
      Usage("start-to-exit latency of /bin/true in a sandbox");
    } else {
      Usage("unknown argument: " + arg);
    }
  }
  return o;
}

std::string SelfDir() {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  self[n > 0 ? n : 0] = '\0';
  return std::filesystem::path(self).parent_path();
}

// --- statistics --------------------------------------------------------------------------------

// Linear interpolation between the closest ranks (numpy's default), on a copy.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

nlohmann::json Summary(const std::vector<double>& us) {
  double sum = 0;
  for (double x : us) sum += x;
  return {{"n", us.size()},
          {"p50_us", Percentile(us, 50)},
          {"p95_us", Percentile(us, 95)},
          {"mean_us", us.empty() ? 0 : sum / static_cast<double>(us.size())},
          {"min_us", us.empty() ? 0 : *std::min_element(us.begin(), us.end())},
          {"max_us", us.empty() ? 0 : *std::max_element(us.begin(), us.end())}};
}

// --- sides -------------------------------------------------------------------------------------

struct Sample {
  bool ok = false;
  std::string error;
  double total_us = 0;
  double cpu_us = 0;  // see CpuMeter
  // Paddock only: where the time went.
  double cgroup_create_us = 0;
  double launch_us = 0;   // Launch() call: until the workload has exec'd
  double exit_us = 0;     // from then until paddock-init is reaped and exit.json read
  double cleanup_us = 0;  // cgroup empty and removed
};

class Side {
 public:
  virtual ~Side() = default;
  virtual const std::string& name() const = 0;
  // Runs one sandbox start-to-exit; `seq` is unique per call (ids, state dirs). Thread-safe.
  virtual Sample RunOnce(int seq) = 0;
  virtual bool has_phases() const { return false; }
};

class PaddockSide : public Side {
 public:
  PaddockSide(std::string init_path, std::string state_root, std::string run_tag)
      : init_path_(std::move(init_path)),
        state_root_(std::move(state_root)),
        run_tag_(std::move(run_tag)) {}

#if PADDOCK_BENCH_HAVE_CGROUP_DRIVER
  void UseCgroups(sandbox::CgroupDriver* driver) { driver_ = driver; }
#endif

  const std::string& name() const override { return name_; }
  bool has_phases() const override { return true; }

  // For --probe: the workload instead of /bin/true, and a call made once the workload runs (its
  // cgroup exists then), before waiting for it.
  void SetProbe(std::vector<std::string> argv, std::function<void(const std::string& id)> hook) {
    argv_ = std::move(argv);
    probe_hook_ = std::move(hook);
  }
  const std::string& state_root() const { return state_root_; }
  std::string SandboxId(int seq) const { return "bench-" + run_tag_ + "-" + std::to_string(seq); }

  Sample RunOnce(int seq) override {
    Sample s;
    SandboxSpec spec;
    spec.id = SandboxId(seq);
    spec.argv = argv_;
    spec.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    spec.uid = 65534;
    spec.gid = 65534;
    const std::string state_dir = state_root_ + "/" + spec.id;
    // The daemon compiles the filter once at start and hands it to every paddock-init.
    static const std::string kSeccompProgram = sandbox::SeccompProgram::Build().value().ToBytes();
    sandbox::LaunchOptions options{init_path_, state_dir, nullptr, kSeccompProgram};

    const CpuMeter cpu;
    const auto t0 = Clock::now();
#if PADDOCK_BENCH_HAVE_CGROUP_DRIVER
    std::unique_ptr<sandbox::Cgroup> cgroup;
    if (driver_ != nullptr) {
      sandbox::CgroupLimits limits;
      limits.cpus = kCpus;
      limits.memory_max_bytes = kMemoryBytes;
      limits.pids_max = kPidsMax;
      auto created = driver_->CreateCgroup(spec.id, limits, sandbox::BaseDeviceRules());
      if (!created.ok()) return Fail(s, "create cgroup: " + created.status().ToString(), state_dir);
      cgroup = std::move(created).value();
      options.cgroup = cgroup.get();
    }
#endif
    const auto t1 = Clock::now();
    auto launched = sandbox::Launch(spec, options);
    const auto t2 = Clock::now();
    std::string error;
    if (!launched.ok()) {
      error = "launch: " + launched.status().ToString();
    } else {
      if (probe_hook_) probe_hook_(spec.id);
      int status = 0;
      if (::waitpid(launched->init_pid, &status, 0) != launched->init_pid) {
        error = "waitpid paddock-init: " + std::string(std::strerror(errno));
      } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        error = "paddock-init ended with wait status " + std::to_string(status);
      } else {
        auto record = sandbox::ReadExitRecord(state_dir);
        if (!record.ok()) {
          error = "exit.json: " + record.status().ToString();
        } else if (record->exit_code != 0 || record->signal != 0) {
          error = "/bin/true ended with exit code " + std::to_string(record->exit_code) +
                  ", signal " + std::to_string(record->signal) + " (" + record->reason + ")";
        }
      }
    }
    const auto t3 = Clock::now();
#if PADDOCK_BENCH_HAVE_CGROUP_DRIVER
    if (cgroup) {
      Status gone = cgroup->WaitEmpty(std::chrono::seconds(10));
      if (!gone.ok()) {
        (void)cgroup->Kill();
        (void)cgroup->WaitEmpty(std::chrono::seconds(10));
      }
      Status removed = cgroup->Remove();
      if (error.empty() && !gone.ok()) error = "cgroup not empty: " + gone.ToString();
      if (error.empty() && !removed.ok()) error = "remove cgroup: " + removed.ToString();
    }
#endif
    const auto t4 = Clock::now();
    s.cpu_us = cpu.Elapsed();
    if (!error.empty()) return Fail(s, error, state_dir);
    if (!probe_hook_) {
      std::error_code ignored;
      std::filesystem::remove_all(state_dir, ignored);
    }
    s.ok = true;
    s.total_us = MicrosSince(t0, t4);
    s.cgroup_create_us = MicrosSince(t0, t1);
    s.launch_us = MicrosSince(t1, t2);
    s.exit_us = MicrosSince(t2, t3);
    s.cleanup_us = MicrosSince(t3, t4);
    return s;
  }

 private:
  // Keeps the state directory (its logs say what happened) and reports where it is.
  Sample Fail(Sample s, const std::string& why, const std::string& state_dir) {
    s.ok = false;
    s.error = why + " (state: " + state_dir + ")";
    return s;
  }

  const std::string name_ = "paddock";
  std::vector<std::string> argv_ = {"/bin/true"};
  std::function<void(const std::string&)> probe_hook_;
  std::string init_path_;
  std::string state_root_;
  std::string run_tag_;
#if PADDOCK_BENCH_HAVE_CGROUP_DRIVER
  sandbox::CgroupDriver* driver_ = nullptr;
#endif
};

// The full path of `command` as execvp would find it in PATH, or "" when there is none.
std::string FindInPath(const std::string& command) {
  if (command.find('/') != std::string::npos) return command;
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/" + command;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

class CommandSide : public Side {
 public:
  CommandSide(std::string name, const std::string& command, int stderr_fd)
      : name_(std::move(name)), stderr_fd_(stderr_fd) {
    size_t start = 0;
    while (start < command.size()) {
      const size_t end = std::min(command.find(' ', start), command.size());
      if (end > start) words_.push_back(command.substr(start, end - start));
      start = end + 1;
    }
    if (!words_.empty()) path_ = FindInPath(words_[0]);
  }

  // "" or why the side cannot run.
  std::string Check() const {
    if (words_.empty()) return "peer " + name_ + ": empty command";
    if (path_.empty()) return "peer " + name_ + ": " + words_[0] + " not found in PATH";
    return "";
  }

  const std::string& name() const override { return name_; }

  Sample RunOnce(int seq) override {
    Sample s;
    // Everything is prepared before the clock starts: argv with {i} replaced.
    std::vector<std::string> words = words_;
    for (std::string& w : words) {
      for (size_t pos; (pos = w.find("{i}")) != std::string::npos;) {
        w.replace(pos, 3, std::to_string(seq));
      }
    }
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, stderr_fd_, 2);

    const CpuMeter cpu;
    const auto t0 = Clock::now();
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, path_.c_str(), &actions, nullptr, argv.data(), environ);
    int status = 0;
    const bool waited = rc == 0 && ::waitpid(pid, &status, 0) == pid;
    const auto t1 = Clock::now();
    s.cpu_us = cpu.Elapsed();
    posix_spawn_file_actions_destroy(&actions);

    if (rc != 0) {
      s.error = "spawn " + path_ + ": " + std::strerror(rc);
    } else if (!waited) {
      s.error = "waitpid " + path_ + ": " + std::strerror(errno);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      s.error = name_ + " (" + words[0] + ") ended with wait status " + std::to_string(status) +
                " (its stderr is in the peer log)";
    } else {
      s.ok = true;
      s.total_us = MicrosSince(t0, t1);
    }
    return s;
  }

 private:
  std::string name_;
  std::vector<std::string> words_;
  std::string path_;
  int stderr_fd_;
};

// --- modes -------------------------------------------------------------------------------------

struct SideResults {
  std::vector<double> total_us;
  std::vector<double> cpu_us;
  std::vector<double> cgroup_create_us, launch_us, exit_us, cleanup_us;
};

// Sequential samples, interleaved: iteration i runs every side once, starting with side
// i % sides, so that no side always follows the same neighbour. Any failure stops the run.
bool RunSequential(const Options& o, std::vector<Side*>& sides, nlohmann::json& out) {
  std::vector<SideResults> results(sides.size());
  int seq = 0;
  const int total = o.warmup + o.iterations;
  if (!o.quiet) {
    std::printf("%-6s", "iter");
    for (Side* side : sides) std::printf(" %12s", (side->name() + " us").c_str());
    std::printf("\n");
  }
  for (int i = 0; i < total; ++i) {
    std::vector<double> row(sides.size());
    for (size_t k = 0; k < sides.size(); ++k) {
      const size_t index = (static_cast<size_t>(i) + k) % sides.size();
      Side* side = sides[index];
      Sample s = side->RunOnce(++seq);
      if (!s.ok) {
        std::fprintf(stderr, "paddock_bench_sandbox_start: %s, iteration %d: %s\n",
                     side->name().c_str(), i + 1, s.error.c_str());
        return false;
      }
      row[index] = s.total_us;
      if (i < o.warmup) continue;
      SideResults& r = results[index];
      r.total_us.push_back(s.total_us);
      r.cpu_us.push_back(s.cpu_us);
      if (side->has_phases()) {
        r.cgroup_create_us.push_back(s.cgroup_create_us);
        r.launch_us.push_back(s.launch_us);
        r.exit_us.push_back(s.exit_us);
        r.cleanup_us.push_back(s.cleanup_us);
      }
    }
    if (!o.quiet) {
      std::printf("%-6s", i < o.warmup ? "warm" : std::to_string(i - o.warmup + 1).c_str());
      for (double us : row) std::printf(" %12.1f", us);
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  for (size_t k = 0; k < sides.size(); ++k) {
    const SideResults& r = results[k];
    nlohmann::json side = Summary(r.total_us);
    side["samples_us"] = r.total_us;
    side["cpu_p50_us"] = Percentile(r.cpu_us, 50);
    side["cpu_p95_us"] = Percentile(r.cpu_us, 95);
    side["cpu_samples_us"] = r.cpu_us;
    if (sides[k]->has_phases()) {
      side["phases_p50_us"] = {{"cgroup_create", Percentile(r.cgroup_create_us, 50)},
                               {"launch_until_workload_exec", Percentile(r.launch_us, 50)},
                               {"until_exit_json_read", Percentile(r.exit_us, 50)},
                               {"cgroup_cleanup", Percentile(r.cleanup_us, 50)}};
    }
    out["sides"][sides[k]->name()] = side;
  }
  return true;
}

// N sandboxes of one side started at once from N threads waiting on one latch. Total time runs
// from the latch's release to the last sandbox's end. Failures are counted, not fatal.
nlohmann::json RunConcurrentSide(Side* side, int n, int& seq) {
  std::vector<Sample> samples(static_cast<size_t>(n));
  std::vector<Clock::time_point> ends(static_cast<size_t>(n));
  std::latch ready(n);
  std::latch go(1);
  std::vector<std::thread> threads;
  const int base = seq;
  seq += n;
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      ready.count_down();
      go.wait();
      samples[static_cast<size_t>(t)] = side->RunOnce(base + t + 1);
      ends[static_cast<size_t>(t)] = Clock::now();
    });
  }
  ready.wait();
  const double cpu_self0 = CpuMicros(RUSAGE_SELF);
  const double cpu_children0 = CpuMicros(RUSAGE_CHILDREN);
  const auto start = Clock::now();
  go.count_down();
  for (std::thread& t : threads) t.join();
  const auto last = *std::max_element(ends.begin(), ends.end());
  const double cpu =
      CpuMicros(RUSAGE_SELF) - cpu_self0 + CpuMicros(RUSAGE_CHILDREN) - cpu_children0;

  std::vector<double> ok_us;
  nlohmann::json errors = nlohmann::json::array();
  for (const Sample& s : samples) {
    if (s.ok) {
      ok_us.push_back(s.total_us);
    } else if (errors.size() < 5) {
      errors.push_back(s.error);
    }
  }
  nlohmann::json r = Summary(ok_us);
  r["total_ms"] = MicrosSince(start, last) / 1000.0;
  r["cpu_ms_total"] = cpu / 1000.0;
  r["started"] = n;
  r["failures"] = n - static_cast<int>(ok_us.size());
  r["first_errors"] = errors;
  return r;
}

bool RunConcurrent(const Options& o, std::vector<Side*>& sides, nlohmann::json& out) {
  int seq = 0;
  // One sequential warm-up per side, so that the first batch does not pay for cold caches alone.
  for (Side* side : sides) {
    for (int i = 0; i < o.warmup; ++i) {
      Sample s = side->RunOnce(++seq);
      if (!s.ok) {
        std::fprintf(stderr, "paddock_bench_sandbox_start: %s warm-up: %s\n", side->name().c_str(),
                     s.error.c_str());
        return false;
      }
    }
  }
  bool all_ok = true;
  out["concurrent"]["n"] = o.concurrent;
  for (Side* side : sides) {
    nlohmann::json r = RunConcurrentSide(side, o.concurrent, seq);
    std::printf(
        "concurrent %-8s %d started, %d failed, total %.1f ms, cpu %.1f ms, per sandbox "
        "p50 %.1f ms, max %.1f ms\n",
        side->name().c_str(), o.concurrent, r["failures"].get<int>(), r["total_ms"].get<double>(),
        r["cpu_ms_total"].get<double>(), r["p50_us"].get<double>() / 1000,
        r["max_us"].get<double>() / 1000);
    for (const auto& e : r["first_errors"]) {
      std::printf("  %s failure: %s\n", side->name().c_str(), e.get<std::string>().c_str());
    }
    std::fflush(stdout);
    all_ok &= r["failures"].get<int>() == 0;
    out["concurrent"]["sides"][side->name()] = r;
  }
  (void)all_ok;  // failures are a result here, reported in the JSON; the run itself completed
  return true;
}

// --- seccomp -----------------------------------------------------------------------------------

// The profile as an OCI runtime-spec "seccomp" object, for a peer runtime: the same names with
// the same actions, argument checks mirrored (values as in seccomp_policy.cc's comments: clone
// without namespace flags, socket in unix/inet/inet6/netlink, socketpair unix, personality
// linux/linux32/uname26 or query). Names the linked libseccomp cannot resolve are left out, as
// Build() leaves them out.
nlohmann::json OciSeccomp() {
  auto known = [](std::string_view name) {
    const std::string n(name);
    return seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, n.c_str()) >= 0 ||
           seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, n.c_str()) >= 0;
  };
  nlohmann::json allow = nlohmann::json::array();
  nlohmann::json enosys = nlohmann::json::array();
  nlohmann::json rules = nlohmann::json::array();
  auto masked_eq = [](uint64_t mask, uint64_t value) {
    return nlohmann::json{
        {"index", 0}, {"value", mask}, {"valueTwo", value}, {"op", "SCMP_CMP_MASKED_EQ"}};
  };
  auto arg_rule = [&](const char* name, uint64_t mask, uint64_t value) {
    rules.push_back(
        {{"names", {name}}, {"action", "SCMP_ACT_ALLOW"}, {"args", {masked_eq(mask, value)}}});
  };
  for (const sandbox::SyscallEntry& e : sandbox::SeccompProfile()) {
    if (!known(e.name)) continue;
    switch (e.rule) {
      case sandbox::SyscallRule::kAllow:
        allow.push_back(std::string(e.name));
        break;
      case sandbox::SyscallRule::kDenyEnosys:
        enosys.push_back(std::string(e.name));
        break;
      case sandbox::SyscallRule::kDeny:
        break;
      case sandbox::SyscallRule::kAllowIfArgs:
        if (e.name == "clone") {
          arg_rule("clone",
                   CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                       CLONE_NEWPID | CLONE_NEWNET,
                   0);
        } else if (e.name == "socket") {
          for (uint64_t family : {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK}) {
            arg_rule("socket", 0xffffffffu, family);
          }
        } else if (e.name == "socketpair") {
          arg_rule("socketpair", 0xffffffffu, AF_UNIX);
        } else if (e.name == "personality") {
          for (uint64_t p : {0x0ull, 0x8ull, 0x20000ull, 0x20008ull, 0xffffffffull}) {
            arg_rule("personality", 0xffffffffu, p);
          }
        } else {
          // An argument rule this benchmark does not know: allowed outright, and said so.
          std::fprintf(stderr,
                       "paddock_bench_sandbox_start: %.*s has argument rules the OCI "
                       "profile does not mirror; allowing it\n",
                       static_cast<int>(e.name.size()), e.name.data());
          allow.push_back(std::string(e.name));
        }
        break;
    }
  }
  nlohmann::json syscalls = nlohmann::json::array();
  syscalls.push_back({{"names", allow}, {"action", "SCMP_ACT_ALLOW"}});
  for (auto& r : rules) syscalls.push_back(r);
  if (!enosys.empty()) {
    syscalls.push_back({{"names", enosys}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
  }
  return {{"defaultAction", "SCMP_ACT_ERRNO"},
          {"defaultErrnoRet", EPERM},
          {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
          {"syscalls", syscalls}};
}

// What the profile costs to build with libseccomp, once per daemon start.
nlohmann::json SeccompFacts() {
  nlohmann::json facts;
  std::vector<double> build_us, build_cpu_us;
  size_t instructions = 0;
  for (int i = 0; i < 20; ++i) {
    const double cpu0 = CpuMicros(RUSAGE_THREAD);
    const auto t0 = Clock::now();
    auto program = sandbox::SeccompProgram::Build();
    const auto t1 = Clock::now();
    build_cpu_us.push_back(CpuMicros(RUSAGE_THREAD) - cpu0);
    if (!program.ok()) {
      facts["error"] = program.status().ToString();
      return facts;
    }
    instructions = program->instruction_count();
    build_us.push_back(MicrosSince(t0, t1));
  }
  size_t allowed = 0, conditional = 0, denied = 0;
  for (const sandbox::SyscallEntry& e : sandbox::SeccompProfile()) {
    if (e.rule == sandbox::SyscallRule::kAllow) ++allowed;
    if (e.rule == sandbox::SyscallRule::kAllowIfArgs) ++conditional;
    if (e.rule == sandbox::SyscallRule::kDeny || e.rule == sandbox::SyscallRule::kDenyEnosys) {
      ++denied;
    }
  }
  facts["bpf_instructions"] = instructions;
  facts["profile_names"] = {
      {"allowed", allowed}, {"allowed_if_args", conditional}, {"denied", denied}};
  facts["build_us_p50"] = Percentile(build_us, 50);
  facts["build_cpu_us_p50"] = Percentile(build_cpu_us, 50);
  facts["build_us_first"] = build_us.front();
  return facts;
}

// --- probe -----------------------------------------------------------------------------------

// Prints the limit files of every cgroup directory named `id` below /sys/fs/cgroup (one per v1
// hierarchy, plus the tracking or unified one).
void PrintCgroupLimits(const std::string& id) {
  static const char* const kFiles[] = {"memory.limit_in_bytes",
                                       "memory.memsw.limit_in_bytes",
                                       "memory.max",
                                       "memory.swap.max",
                                       "pids.max",
                                       "cpu.cfs_quota_us",
                                       "cpu.cfs_period_us",
                                       "cpu.max"};
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> found;
  for (auto it = fs::recursive_directory_iterator(
           "/sys/fs/cgroup", fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && it->path().filename() == id) {
      found.push_back(it->path());
      it.disable_recursion_pending();
    }
  }
  std::sort(found.begin(), found.end());
  for (const std::string& dir : found) {
    std::printf("cgroup dir %s\n", dir.c_str());
    for (const char* file : kFiles) {
      std::ifstream in(dir + "/" + file);
      std::string value;
      if (in && std::getline(in, value)) std::printf("cgroup %s: %s\n", file, value.c_str());
    }
  }
  if (found.empty()) std::printf("cgroup: none named %s\n", id.c_str());
}

int Probe(PaddockSide& paddock, const std::string& script) {
  paddock.SetProbe({"/bin/sh", "-c", script}, [](const std::string& id) { PrintCgroupLimits(id); });
  // Keep the state directory: its stdout.log is the probe's answer.
  const int seq = 1;
  Sample s = paddock.RunOnce(seq);
  const std::string state_dir = paddock.state_root() + "/" + paddock.SandboxId(seq);
  if (!s.ok) {
    std::fprintf(stderr, "paddock_bench_sandbox_start: probe: %s\n", s.error.c_str());
    return 1;
  }
  std::fflush(stdout);
  std::ifstream log(state_dir + "/stdout.log");
  std::cout << log.rdbuf();
  return 0;
}

// --- main --------------------------------------------------------------------------------------

int Main(int argc, char** argv) {
  Options o = ParseOptions(argc, argv);
  SetLogLevel(LogLevel::kWarning);
  if (o.print_seccomp) {
    std::cout << OciSeccomp().dump(1) << "\n";
    return 0;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "paddock_bench_sandbox_start: SKIP: sandboxes need root\n");
    return 77;
  }
  // A peer or paddock-init dying early must not kill the benchmark through a pipe write.
  ::signal(SIGPIPE, SIG_IGN);
  if (o.init_path.empty()) o.init_path = SelfDir() + "/paddock-init";
  if (::access(o.init_path.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "paddock_bench_sandbox_start: %s not found (build paddock-init)\n",
                 o.init_path.c_str());
    return 1;
  }
  bool own_state_root = false;
  if (o.state_root.empty()) {
    std::string pattern = "/tmp/paddock-bench-state-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("paddock_bench_sandbox_start: mkdtemp");
      return 1;
    }
    o.state_root = pattern;
    own_state_root = true;
  }
  const std::string run_tag = std::to_string(::getpid());

  nlohmann::json out;
  out["benchmark"] = "sandbox_start";
  out["workload"] = "/bin/true";
  out["mode"] = o.concurrent > 0 ? "concurrent" : "sequential";
  out["iterations"] = o.iterations;
  out["warmup"] = o.warmup;

  PaddockSide paddock(o.init_path, o.state_root, run_tag);
  nlohmann::json cgroups = {{"applied", false}};
#if PADDOCK_BENCH_HAVE_CGROUP_DRIVER
  std::unique_ptr<sandbox::CgroupDriver> driver;
  if (o.cgroups != "off") {
    sandbox::CgroupDriverOptions driver_options;
    driver_options.parent = "paddock-bench-" + run_tag;
    auto created = sandbox::CgroupDriver::Create(driver_options);
    if (created.ok()) {
      driver = std::move(created).value();
      paddock.UseCgroups(driver.get());
      cgroups = {{"applied", true},
                 {"mode", std::string(sandbox::CgroupModeName(driver->mode()))},
                 {"parent", driver_options.parent},
                 {"cpus", kCpus},
                 {"memory_max_bytes", kMemoryBytes},
                 {"pids_max", kPidsMax},
                 {"devices", "BaseDeviceRules()"}};
    } else if (o.cgroups == "on") {
      std::fprintf(stderr, "paddock_bench_sandbox_start: cgroup driver: %s\n",
                   created.status().ToString().c_str());
      return 1;
    } else {
      cgroups["reason"] = "the cgroup driver could not be created: " + created.status().ToString();
    }
  } else {
    cgroups["reason"] = "--cgroups off";
  }
#else
  if (o.cgroups == "on") {
    std::fprintf(stderr,
                 "paddock_bench_sandbox_start: built without the cgroup driver "
                 "(sandbox/cgroup.cmake absent at configure time)\n");
    return 1;
  }
  cgroups["reason"] = "built without the cgroup driver (sandbox/cgroup.h not in the library yet)";
#endif
  out["paddock_cgroup_limits"] = cgroups;
  if (!o.probe.empty()) {
    const int rc = Probe(paddock, o.probe);
#if PADDOCK_BENCH_HAVE_CGROUP_DRIVER
    if (driver) (void)driver->RemoveParent();
#endif
    if (own_state_root) {
      std::error_code ignored;
      std::filesystem::remove_all(o.state_root, ignored);
    }
    return rc;
  }
  out["seccomp"] = SeccompFacts();
  if (!cgroups["applied"].get<bool>()) {
    std::printf("NOTE: paddock sandboxes run WITHOUT cgroup limits: %s\n",
                cgroups["reason"].get<std::string>().c_str());
  }

  const int peer_log = ::open(o.peer_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (peer_log < 0) {
    std::perror(("paddock_bench_sandbox_start: open " + o.peer_log).c_str());
    return 1;
  }
  std::vector<std::unique_ptr<CommandSide>> peers;
  std::vector<Side*> sides = {&paddock};
  for (const auto& [name, command] : o.peers) {
    peers.push_back(std::make_unique<CommandSide>(name, command, peer_log));
    if (std::string why = peers.back()->Check(); !why.empty()) {
      std::fprintf(stderr, "paddock_bench_sandbox_start: %s\n", why.c_str());
      return 1;
    }
    sides.push_back(peers.back().get());
    out["peers"][name] = command;
  }

  const bool ok = o.concurrent > 0 ? RunConcurrent(o, sides, out) : RunSequential(o, sides, out);

#if PADDOCK_BENCH_HAVE_CGROUP_DRIVER
  if (driver) {
    if (Status removed = driver->RemoveParent(); !removed.ok()) {
      std::fprintf(stderr, "paddock_bench_sandbox_start: warning: removing the parent cgroup: %s\n",
                   removed.ToString().c_str());
    }
  }
#endif
  ::close(peer_log);
  if (own_state_root && ok) {
    std::error_code ignored;
    std::filesystem::remove_all(o.state_root, ignored);
  }
  if (!o.json_path.empty()) {
    std::ofstream f(o.json_path);
    f << out.dump(1) << "\n";
    if (!f) {
      std::fprintf(stderr, "paddock_bench_sandbox_start: cannot write %s\n", o.json_path.c_str());
      return 1;
    }
  }
  if (ok && o.concurrent == 0) {
    for (Side* side : sides) {
      const auto& s = out["sides"][side->name()];
      std::printf("%-8s p50 %9.1f us  p95 %9.1f us  cpu p50 %9.1f us  (n=%d)\n",
                  side->name().c_str(), s["p50_us"].get<double>(), s["p95_us"].get<double>(),
                  s["cpu_p50_us"].get<double>(), s["n"].get<int>());
    }
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace paddock::bench

int main(int argc, char** argv) { return paddock::bench::Main(argc, argv); }
