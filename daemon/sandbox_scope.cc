#include "daemon/sandbox_scope.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <thread>

#include "base/file_util.h"
#include "base/log.h"
#include "base/pipe.h"
#include "base/strings.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace paddock {
namespace {

constexpr uint64_t kBusTimeoutUs = 10'000'000;
// systemd moves the holder into the scope when the start job runs, moments after the call.
constexpr auto kJoinTimeout = std::chrono::seconds(10);

struct BusCloser {
  void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
struct MessageUnref {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using Bus = std::unique_ptr<sd_bus, BusCloser>;
using Message = std::unique_ptr<sd_bus_message, MessageUnref>;

// sd_bus_error freed on scope exit.
struct BusError {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  ~BusError() { sd_bus_error_free(&error); }
  std::string Describe(int rc) const {
    if (error.message != nullptr) return error.message;
    return Status::FromErrno("", -rc).message();
  }
};

Result<Bus> OpenSystemBus() {
  sd_bus* bus = nullptr;
  const int rc = sd_bus_open_system(&bus);
  if (rc < 0) return Status::Unavailable("connect to the system bus: " + BusError().Describe(rc));
  return Bus(bus);
}

// The cgroup2 path of `pid`, from its "0::" line in /proc/<pid>/cgroup; "" when unreadable.
std::string UnifiedCgroupOf(pid_t pid) {
  auto text = ReadFileToString("/proc/" + std::to_string(pid) + "/cgroup");
  if (!text.ok()) return "";
  size_t start = 0;
  while (start < text->size()) {
    const size_t end = std::min(text->find('\n', start), text->size());
    const std::string_view line(text->data() + start, end - start);
    if (line.starts_with("0::")) return std::string(TrimWhitespace(line.substr(3)));
    start = end + 1;
  }
  return "";
}

bool Populated(const std::string& cgroup) {
  auto events = ReadFileToString("/sys/fs/cgroup" + cgroup + "/cgroup.events");
  return events.ok() && events->find("populated 1") != std::string::npos;
}

// The ControlGroup of the existing scope, or "" when systemd has no such unit.
std::string ExistingScopeCgroup(sd_bus* bus) {
  BusError error;
  sd_bus_message* raw = nullptr;
  int rc = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                              "org.freedesktop.systemd1.Manager", "GetUnit", &error.error, &raw,
                              "s", kSandboxScopeUnit);
  Message reply(raw);
  if (rc < 0) return "";
  const char* path = nullptr;
  if (sd_bus_message_read(reply.get(), "o", &path) < 0 || path == nullptr) return "";
  char* cgroup = nullptr;
  rc = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path,
                                  "org.freedesktop.systemd1.Scope", "ControlGroup", &error.error,
                                  &cgroup);
  if (rc < 0 || cgroup == nullptr) return "";
  std::string out(cgroup);
  std::free(cgroup);
  return out;
}

// Starts `init_path --hold` as a grandchild, so that it is nobody's child here and init reaps it
// when it ends. Runs early, but other threads may exist: between fork and exec only
// async-signal-safe calls.
Result<pid_t> SpawnHolder(const std::string& init_path) {
  auto pipe = MakePipe();
  if (!pipe.ok()) return pipe.status();
  std::string arg0 = "paddock-init", arg1 = "--hold";
  char* const argv[] = {arg0.data(), arg1.data(), nullptr};
  char* const envp[] = {nullptr};
  const pid_t child = ::fork();
  if (child < 0) return Status::FromErrno("fork");
  if (child == 0) {
    ::setsid();
    const pid_t holder = ::fork();
    if (holder == 0) {
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      const int null = ::open("/dev/null", O_RDWR);
      if (null >= 0) {
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
      }
      ::close_range(3, ~0U, 0);
      ::execve(init_path.c_str(), argv, envp);
      ::_exit(127);
    }
    (void)!::write(pipe->write.get(), &holder, sizeof holder);
    ::_exit(holder > 0 ? 0 : 1);
  }
  pipe->write.reset();
  ::waitpid(child, nullptr, 0);
  pid_t holder = -1;
  if (::read(pipe->read.get(), &holder, sizeof holder) != sizeof holder || holder <= 0) {
    return Status::Internal("could not start the scope's holder process");
  }
  return holder;
}

Status StartScope(sd_bus* bus, pid_t holder) {
  sd_bus_message* raw = nullptr;
  int rc = sd_bus_message_new_method_call(bus, &raw, "org.freedesktop.systemd1",
                                          "/org/freedesktop/systemd1",
                                          "org.freedesktop.systemd1.Manager", "StartTransientUnit");
  Message call(raw);
  if (rc >= 0) rc = sd_bus_message_append(call.get(), "ss", kSandboxScopeUnit, "fail");
  if (rc >= 0) rc = sd_bus_message_open_container(call.get(), 'a', "(sv)");
  if (rc >= 0) {
    rc = sd_bus_message_append(call.get(), "(sv)(sv)(sv)(sv)", "Description", "s",
                               "Paddock sandboxes", "PIDs", "au", 1, static_cast<uint32_t>(holder),
                               "Delegate", "b", 1, "TasksMax", "t", UINT64_MAX);
  }
  if (rc >= 0) rc = sd_bus_message_close_container(call.get());
  if (rc >= 0) rc = sd_bus_message_append(call.get(), "a(sa(sv))", 0);
  if (rc < 0) return Status::Internal("build StartTransientUnit: " + BusError().Describe(rc));
  BusError error;
  sd_bus_message* reply = nullptr;
  rc = sd_bus_call(bus, call.get(), kBusTimeoutUs, &error.error, &reply);
  Message owned_reply(reply);
  if (rc < 0) {
    return Status::Unavailable(std::string("systemd refused ") + kSandboxScopeUnit + ": " +
                               error.Describe(rc));
  }
  return Status::Ok();
}

// A scope whose processes all ended may linger as "failed"; starting it anew needs it reset.
void ResetFailedScope(sd_bus* bus) {
  BusError error;
  sd_bus_message* reply = nullptr;
  (void)sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                           "org.freedesktop.systemd1.Manager", "ResetFailedUnit", &error.error,
                           &reply, "s", kSandboxScopeUnit);
  sd_bus_message_unref(reply);
}

// Waits until systemd has moved `holder` into the scope; returns the scope's cgroup.
Result<std::string> WaitForScope(pid_t holder) {
  const std::string suffix = std::string("/") + kSandboxScopeUnit;
  const auto deadline = std::chrono::steady_clock::now() + kJoinTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string cgroup = UnifiedCgroupOf(holder);
    if (cgroup.ends_with(suffix)) return cgroup;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::Unavailable(std::string("the holder never joined ") + kSandboxScopeUnit);
}

}  // namespace

bool WantsSandboxScope() {
  struct statfs fs {};
  return sd_booted() > 0 && std::getenv("INVOCATION_ID") != nullptr &&
         ::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

Result<std::string> EnsureSandboxScope(const std::string& init_path) {
  auto bus = OpenSystemBus();
  if (!bus.ok()) return bus.status();
  const std::string existing = ExistingScopeCgroup(bus->get());
  if (!existing.empty() && Populated(existing)) {
    LogInfo("sandboxes: using the existing scope", {{"CGROUP", existing}});
    return existing;
  }
  auto holder = SpawnHolder(init_path);
  if (!holder.ok()) return holder.status();
  if (!existing.empty()) ResetFailedScope(bus->get());
  Status started = StartScope(bus->get(), *holder);
  if (!started.ok()) {
    ::kill(*holder, SIGKILL);
    return started;
  }
  auto cgroup = WaitForScope(*holder);
  if (!cgroup.ok()) {
    ::kill(*holder, SIGKILL);
    return cgroup.status();
  }
  LogInfo("sandboxes: created the scope that holds them",
          {{"CGROUP", *cgroup}, {"UNIT", kSandboxScopeUnit}, {"HOLDER", std::to_string(*holder)}});
  return cgroup;
}

}  // namespace paddock
