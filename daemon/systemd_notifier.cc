#include "daemon/systemd_notifier.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

#include "base/log.h"

namespace paddock {

SystemdNotifier::SystemdNotifier() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) > 0 && usec > 0) {
    watchdog_ = std::chrono::microseconds(usec / 2);
  }
}

void SystemdNotifier::Send(std::string_view message) {
  const int rc = sd_notify(/*unset_environment=*/0, std::string(message).c_str());
  if (rc < 0) LogWarning("sd_notify failed", {{"MESSAGE_SENT", std::string(message)}});
}

void SystemdNotifier::Ready() { Send("READY=1"); }

void SystemdNotifier::Status(std::string_view text) { Send("STATUS=" + std::string(text)); }

void SystemdNotifier::Reloading() {
  timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const uint64_t usec = static_cast<uint64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void SystemdNotifier::Stopping() { Send("STOPPING=1"); }

void SystemdNotifier::WatchdogPing() { Send("WATCHDOG=1"); }

}  // namespace paddock
