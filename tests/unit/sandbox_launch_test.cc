// Real-kernel tests of sandbox isolation: every test starts real sandboxes (namespaces, mounts,
// pivot_root, capabilities, seccomp) through the same Launch() the daemon uses. Needs root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <sstream>
#include <string>

#include "base/file_util.h"
#include "sandbox/init_process.h"
#include "sandbox/launcher.h"
#include "sandbox/seccomp_policy.h"
#include "sandbox/terminal.h"
#include "tests/unit/temp_dir.h"

namespace paddock::sandbox {
namespace {

std::string InitPath() {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  self[n > 0 ? n : 0] = '\0';
  return std::filesystem::path(self).parent_path() / "paddock-init";
}

struct Outcome {
  Status started;
  ExitRecord exit;
  std::string out;
  std::string err;
};

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIP: sandboxes need root";
  }

  SandboxSpec Spec(std::vector<std::string> argv) {
    SandboxSpec spec;
    spec.id = "t" + std::to_string(++counter_);
    spec.argv = std::move(argv);
    spec.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"};
    return spec;
  }
  std::string StateDir(const SandboxSpec& spec) { return tmp_.Join(spec.id); }

  Result<LaunchedSandbox> Start(const SandboxSpec& spec) {
    // Compiled once, as the daemon does.
    static const std::string precompiled = SeccompProgram::Build().value().ToBytes();
    return Launch(spec, {InitPath(), StateDir(spec), nullptr, precompiled});
  }

  Outcome Finish(const SandboxSpec& spec, LaunchedSandbox launched) {
    Outcome o;
    int status = 0;
    EXPECT_EQ(::waitpid(launched.init_pid, &status, 0), launched.init_pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "paddock-init status " << status;
    auto record = ReadExitRecord(StateDir(spec));
    EXPECT_TRUE(record.ok()) << record.status().ToString();
    if (record.ok()) o.exit = *record;
    o.out = ReadFileToString(JoinPath(StateDir(spec), "stdout.log")).value();
    o.err = ReadFileToString(JoinPath(StateDir(spec), "stderr.log")).value();
    return o;
  }

  Outcome Run(const SandboxSpec& spec) {
    auto launched = Start(spec);
    if (!launched.ok()) return Outcome{launched.status(), {}, "", ""};
    return Finish(spec, std::move(launched).value());
  }

  Outcome Sh(const std::string& script) { return Run(Spec({"/bin/sh", "-c", script})); }

  TempDir tmp_;
  int counter_ = 0;
};

std::string StatusField(const std::string& status, const std::string& key) {
  const auto pos = status.find(key + ":");
  if (pos == std::string::npos) return "";
  const auto start = status.find_first_not_of(" \t", pos + key.size() + 1);
  return status.substr(start, status.find('\n', start) - start);
}

TEST_F(SandboxTest, RunsACommandAndReportsItsExitCode) {
  Outcome o = Sh("echo hello; echo oops >&2; exit 7");
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  EXPECT_EQ(o.exit.exit_code, 7);
  EXPECT_EQ(o.exit.signal, 0);
  EXPECT_EQ(o.exit.reason, "exit");
  EXPECT_EQ(o.out, "hello\n");
  EXPECT_EQ(o.err, "oops\n");
}

TEST_F(SandboxTest, NoCapabilitiesNoNewPrivsAndSeccompFilter) {
  Outcome o = Run(Spec({"/bin/cat", "/proc/self/status"}));
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  for (const char* set : {"CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(StatusField(o.out, set), "0000000000000000") << set;
  }
  EXPECT_EQ(StatusField(o.out, "NoNewPrivs"), "1");
  EXPECT_EQ(StatusField(o.out, "Seccomp"), "2");
  EXPECT_EQ(StatusField(o.out, "Uid"), "65534\t65534\t65534\t65534");
  EXPECT_EQ(StatusField(o.out, "Groups"), "");
}

TEST_F(SandboxTest, SeesOnlyItsOwnProcesses) {
  Outcome o = Sh("for p in /proc/[0-9]*; do echo ${p#/proc/}; done");
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  std::istringstream pids(o.out);
  int count = 0;
  bool saw_init = false;
  for (std::string pid; pids >> pid; ++count) {
    saw_init |= pid == "1";
    EXPECT_LT(std::stoi(pid), 10) << "a host pid leaked in: " << pid;
  }
  EXPECT_TRUE(saw_init);
  EXPECT_LE(count, 3);
}

TEST_F(SandboxTest, HostFilesAreReadOnlyScratchIsWritable) {
  Outcome o =
      Sh("touch /usr/paddock-x 2>/dev/null && echo usr-writable;"
         "touch /etc/paddock-x 2>/dev/null && echo etc-writable;"
         "touch /paddock-x 2>/dev/null && echo root-writable;"
         "touch /tmp/x /run/x /dev/shm/x && echo scratch-ok; cat /etc/hostname >/dev/null && echo "
         "read-ok");
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  EXPECT_EQ(o.out, "scratch-ok\nread-ok\n");
  EXPECT_FALSE(std::filesystem::exists("/usr/paddock-x"));
}

TEST_F(SandboxTest, MaskedProcPathsRevealNothingAndProcSysIsReadOnly) {
  std::string script, expected;
  for (const char* path : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"}) {
    if (!std::filesystem::exists(path)) continue;  // not every kernel has every file
    script += std::string("wc -c < ") + path + ";";
    expected += "0\n";
  }
  Outcome o = Sh(script +
                 "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable;"
                 "echo b > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable;"
                 "ls /proc/acpi 2>/dev/null | wc -l; echo done");
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  EXPECT_EQ(o.out, expected + "0\ndone\n");
}

TEST_F(SandboxTest, BindTargetUnderAReadOnlyHostDirectoryIsAClearError) {
  SandboxSpec spec = Spec({"/bin/true"});
  spec.binds.push_back({tmp_.path(), "/usr/share/paddock-nowhere", false});
  auto r = Start(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("parent is read-only in the sandbox root"), std::string::npos)
      << r.status().message();
}

TEST_F(SandboxTest, SetuidBinaryDoesNotElevate) {
  const std::string dir = tmp_.Join("suid");
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file("/usr/bin/id", dir + "/id");
  ASSERT_EQ(::chmod((dir + "/id").c_str(), 04755), 0);
  SandboxSpec spec = Spec({"/suid/id", "-u"});
  spec.binds.push_back({dir, "/suid", false});
  Outcome o = Run(spec);
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  EXPECT_EQ(o.out, "65534\n");
}

TEST_F(SandboxTest, DaemonDescriptorsDoNotLeakIn) {
  const int leaked = ::open("/etc/hostname", O_RDONLY);  // deliberately not close-on-exec
  ASSERT_GE(leaked, 0);
  Outcome o = Sh("ls /proc/self/fd");
  ::close(leaked);
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  EXPECT_EQ(o.out, "0\n1\n2\n3\n");  // 3 is ls's own directory handle
}

TEST_F(SandboxTest, TimeLimitStopsTheSandbox) {
  SandboxSpec spec = Spec({"/bin/sleep", "30"});
  spec.timeout_ms = 300;
  const auto start = std::chrono::steady_clock::now();
  Outcome o = Run(spec);
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  EXPECT_EQ(o.exit.reason, "timeout");
  EXPECT_EQ(o.exit.signal, SIGTERM);
  EXPECT_EQ(o.exit.exit_code, 128 + SIGTERM);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(SandboxTest, StopKillsTheWholeTreeEvenWhenItIgnoresSigterm) {
  SandboxSpec spec =
      Spec({"/bin/sh", "-c", "trap '' TERM; sleep 100 & sleep 100 & echo ready; wait"});
  spec.stop_grace_ms = 200;
  auto launched = Start(spec);
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  // Stop only once the trap is in place, so that the grace period really has to expire.
  const std::string log = JoinPath(StateDir(spec), "stdout.log");
  for (int i = 0; i < 500; ++i) {
    auto text = ReadFileToString(log);
    if (text.ok() && *text == "ready\n") break;
    ::usleep(10000);
  }
  ASSERT_EQ(::syscall(SYS_pidfd_send_signal, launched->pidfd.get(), SIGTERM, nullptr, 0), 0);
  Outcome o = Finish(spec, std::move(launched).value());
  EXPECT_EQ(o.exit.reason, "stopped");
  EXPECT_EQ(o.exit.signal, SIGKILL);
}

TEST_F(SandboxTest, RootInsideAUserNamespaceIsAnUnprivilegedHostUid) {
  SandboxSpec spec =
      Spec({"/bin/sh", "-c", "id -u; cat /proc/self/uid_map; grep CapEff /proc/self/status"});
  spec.user_namespace = true;
  spec.uid = 0;
  spec.gid = 0;
  spec.host_uid = 200000;
  spec.host_gid = 200000;
  Outcome o = Run(spec);
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  std::istringstream lines(o.out);
  std::string id, map_inside, map_host, map_count, cap_key, cap_value;
  lines >> id >> map_inside >> map_host >> map_count >> cap_key >> cap_value;
  EXPECT_EQ(id, "0");
  EXPECT_EQ(map_host, "200000");
  EXPECT_EQ(map_count, "1");
  EXPECT_EQ(cap_value, "0000000000000000");
}

TEST_F(SandboxTest, WorkspaceIsWritableAndBindsAreReadOnly) {
  const std::string workspace = tmp_.Join("ws");
  const std::string data = tmp_.Join("data");
  std::filesystem::create_directories(workspace);
  std::filesystem::create_directories(data);
  ::chmod(workspace.c_str(), 0777);
  ASSERT_TRUE(WriteFileAtomically(data + "/in.txt", "dataset\n", 0644).ok());
  SandboxSpec spec = Spec({"/bin/sh", "-c",
                           "cat /data/in.txt; echo result > /workspace/out.txt;"
                           "touch /data/x 2>/dev/null && echo data-writable; echo done"});
  spec.workspace = BindMount{workspace, "/workspace", true};
  spec.binds.push_back({data, "/data", false});
  Outcome o = Run(spec);
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  EXPECT_EQ(o.out, "dataset\ndone\n");
  EXPECT_EQ(ReadFileToString(workspace + "/out.txt").value(), "result\n");
}

TEST_F(SandboxTest, FilteredDirectoryShowsOnlyTheKeptEntries) {
  // The mechanism behind /proc/driver/nvidia/gpus listing only the granted GPUs.
  const std::string data = tmp_.Join("gpus");
  for (const char* bus : {"0000:07:00.0", "0000:0f:00.0", "0000:47:00.0"}) {
    std::filesystem::create_directories(data + "/" + bus);
    ASSERT_TRUE(WriteFileAtomically(data + "/" + bus + "/information",
                                    std::string("Bus Location: ") + bus + "\n", 0644)
                    .ok());
  }
  SandboxSpec spec = Spec({"/bin/sh", "-c",
                           "ls /gpus; cat /gpus/0000:0f:00.0/information;"
                           "cat /gpus/0000:07:00.0/information 2>/dev/null || echo hidden;"
                           "mkdir /gpus/x 2>/dev/null || echo read-only"});
  spec.binds.push_back({data, "/gpus", false});
  spec.filtered_dirs.push_back({"/gpus", {"0000:0f:00.0", "0000:99:00.0"}});
  spec.filtered_dirs.push_back({"/no/such/dir", {"a"}});
  Outcome o = Run(spec);
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  EXPECT_EQ(o.out, "0000:0f:00.0\nBus Location: 0000:0f:00.0\nhidden\nread-only\n") << o.err;
}

TEST_F(SandboxTest, OwnHostnameAndOnlyLoopback) {
  Outcome o = Sh("hostname; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  EXPECT_EQ(o.out, "t1\nlo\n");
}

TEST_F(SandboxTest, GrantedDeviceNodeIsReachableAndMknodIsRefused) {
  const std::string nodes = tmp_.Join("dev");
  std::filesystem::create_directories(nodes);
  // NVIDIA's major; no driver behind it here, so an allowed open fails with ENXIO.
  ASSERT_EQ(::mknod((nodes + "/nvidia1").c_str(), S_IFCHR | 0666, makedev(195, 1)), 0);
  ASSERT_EQ(::mknod((nodes + "/nvidia2").c_str(), S_IFCHR | 0666, makedev(195, 2)), 0);
  SandboxSpec spec = Spec({"/bin/sh", "-c",
                           "cat /dev/nvidia1 2>&1; cat /dev/nvidia2 2>&1;"
                           "mknod /tmp/n c 195 2 2>&1; echo done"});
  spec.devices.push_back({nodes + "/nvidia1", "/dev/nvidia1"});
  Outcome o = Run(spec);
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  EXPECT_NE(o.out.find("/dev/nvidia1: No such device or address"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("/dev/nvidia2: No such file or directory"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Operation not permitted"), std::string::npos) << o.out;
}

TEST_F(SandboxTest, LogsRotatePastTheCap) {
  SandboxSpec spec = Spec({"/bin/sh", "-c",
                           "i=0; while [ $i -lt 200 ]; do echo "
                           "0123456789012345678901234567890123456789; i=$((i+1)); done"});
  spec.log_max_bytes = 4096;
  Outcome o = Run(spec);
  ASSERT_TRUE(o.started.ok()) << o.started.ToString();
  // 200 lines of 41 bytes = 8200: two full files of 4096 (the older one gone), 8 bytes left.
  EXPECT_EQ(o.out.size(), 8200u % 4096u);
  EXPECT_EQ(std::filesystem::file_size(JoinPath(StateDir(spec), "stdout.log.1")), 4096u);
}

// Waits until <state_dir>/stdout.log contains `needle`; returns the log.
std::string WaitForLog(const std::string& state_dir, const std::string& needle) {
  std::string text;
  for (int i = 0; i < 1000 && text.find(needle) == std::string::npos; ++i) {
    auto read = ReadFileToString(JoinPath(state_dir, "stdout.log"));
    text = read.ok() ? *read : "";
    if (text.find(needle) == std::string::npos) ::usleep(10000);
  }
  return text;
}

TEST_F(SandboxTest, TerminalIsTheControllingTtyAndTakesInputAndResizes) {
  // A shell reading commands from its terminal: what we type is run, resizes reach `stty`, and
  // Ctrl-C interrupts the foreground command through the terminal's line discipline. The
  // terminal echoes what is typed, so each awaited line is one only the command's output has.
  SandboxSpec spec = Spec({"/bin/sh"});
  spec.tty = TerminalSize{30, 100};
  auto launched = Start(spec);
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  const std::string dir = StateDir(spec);
  ASSERT_TRUE(
      SendTerminalInput(dir, "tty; stty size; test -t 0 && echo stdin-is-a-$(echo tty)\n").ok());
  std::string log = WaitForLog(dir, "stdin-is-a-tty\r\n");
  EXPECT_NE(log.find("/dev/pts/0"), std::string::npos) << log;
  EXPECT_NE(log.find("30 100"), std::string::npos) << log;

  ASSERT_TRUE(ResizeTerminal(dir, {50, 132}).ok());
  ASSERT_TRUE(SendTerminalInput(dir, "stty size\n").ok());
  log = WaitForLog(dir, "50 132");
  EXPECT_NE(log.find("50 132"), std::string::npos) << log;

  ASSERT_TRUE(SendTerminalInput(dir, "sleep 100\n").ok());
  ::usleep(200000);
  ASSERT_TRUE(SendTerminalInput(dir, "\x03").ok());  // Ctrl-C
  ASSERT_TRUE(SendTerminalInput(dir, "echo sleep-ended-with $?\n").ok());
  log = WaitForLog(dir, "sleep-ended-with 130");
  EXPECT_NE(log.find("sleep-ended-with 130"), std::string::npos) << log;

  ASSERT_TRUE(SendTerminalInput(dir, "exit 3\n").ok());
  Outcome o = Finish(spec, std::move(launched).value());
  EXPECT_EQ(o.exit.exit_code, 3);
  EXPECT_EQ(o.err, "");  // a terminal has one stream
  // Once the sandbox has ended, nobody takes input: a clear error, not a hang.
  Status late = SendTerminalInput(dir, "x");
  EXPECT_EQ(late.code(), StatusCode::kUnavailable) << late.ToString();
}

TEST_F(SandboxTest, TerminalControlRejectsBadInputAndSandboxesWithoutATerminal) {
  SandboxSpec spec = Spec({"/bin/sleep", "30"});
  spec.stop_grace_ms = 100;
  auto launched = Start(spec);
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  EXPECT_EQ(SendTerminalInput(StateDir(spec), "ls\n").code(), StatusCode::kUnavailable);
  EXPECT_EQ(SendTerminalInput(StateDir(spec), "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SendTerminalInput(StateDir(spec), std::string(kMaxTerminalInput + 1, 'x')).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ResizeTerminal(StateDir(spec), {0, 80}).code(), StatusCode::kInvalidArgument);
  ASSERT_EQ(::syscall(SYS_pidfd_send_signal, launched->pidfd.get(), SIGTERM, nullptr, 0), 0);
  Finish(spec, std::move(launched).value());

  SandboxSpec bad = Spec({"/bin/true"});
  bad.tty = TerminalSize{0, 80};
  EXPECT_EQ(Start(bad).status().code(), StatusCode::kInvalidArgument);
}

TEST(TerminalMessageTest, ParsesInputAndResizeAndRejectsEverythingElse) {
  auto input = ParseTerminalMessage("iabc");
  ASSERT_TRUE(input.ok());
  EXPECT_EQ(input->kind, TerminalMessage::Kind::kInput);
  EXPECT_EQ(input->input, "abc");
  auto resize = ParseTerminalMessage(std::string("w\x01\x02\x00\x50", 5));
  ASSERT_TRUE(resize.ok());
  EXPECT_EQ(resize->kind, TerminalMessage::Kind::kResize);
  EXPECT_EQ(resize->size, (TerminalSize{258, 80}));
  for (std::string bad :
       {std::string(""), std::string("i"), std::string("x123"), std::string("w\x00\x00\x00\x50", 5),
        std::string("w\x00\x01", 3), "i" + std::string(kMaxTerminalInput + 1, 'a')}) {
    EXPECT_FALSE(ParseTerminalMessage(bad).ok()) << bad.size();
  }
}

TEST_F(SandboxTest, NoSeccompProgramMeansNoSandbox) {
  SandboxSpec spec = Spec({"/bin/true"});
  auto refused = Launch(spec, {InitPath(), StateDir(spec), nullptr, ""});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("no seccomp program"), std::string::npos)
      << refused.status().message();
}

TEST_F(SandboxTest, BadSpecsAndFailedExecsAreClearErrors) {
  SandboxSpec bad = Spec({});
  EXPECT_EQ(Start(bad).status().code(), StatusCode::kInvalidArgument);
  SandboxSpec root_without_userns = Spec({"/bin/true"});
  root_without_userns.uid = 0;
  auto refused = Start(root_without_userns);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().rfind("uid:", 0), 0u) << refused.status().message();
  auto missing = Start(Spec({"/nonexistent/program"}));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("exec /nonexistent/program: No such file or directory"),
            std::string::npos)
      << missing.status().message();
  SandboxSpec bad_bind = Spec({"/bin/true"});
  bad_bind.binds.push_back({"/nonexistent-source", "/data", false});
  auto unbound = Start(bad_bind);
  ASSERT_FALSE(unbound.ok());
  EXPECT_NE(unbound.status().message().find("/nonexistent-source"), std::string::npos);
}

TEST_F(SandboxTest, InitCanBeFoundAgainByPidAndStartTimeButNotAfterItEnded) {
  SandboxSpec spec = Spec({"/bin/sleep", "30"});
  auto launched = Start(spec);
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  auto again = OpenInitProcess(launched->init_pid, launched->init_start_time);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(ProcessEnded(again->get()));
  EXPECT_EQ(OpenInitProcess(launched->init_pid, launched->init_start_time + 1).status().code(),
            StatusCode::kNotFound);
  ASSERT_EQ(::syscall(SYS_pidfd_send_signal, again->get(), SIGTERM, nullptr, 0), 0);
  const pid_t pid = launched->init_pid;
  const uint64_t start = launched->init_start_time;
  Outcome o = Finish(spec, std::move(launched).value());
  EXPECT_EQ(o.exit.reason, "stopped");
  EXPECT_TRUE(ProcessEnded(again->get()));
  EXPECT_EQ(OpenInitProcess(pid, start).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace paddock::sandbox
