// SystemdNotifier: the daemon's side of the sd_notify protocol (Type=notify units).
//
// Every call is a no-op when NOTIFY_SOCKET is unset (running in a terminal), so callers never
// branch on "under systemd or not". The watchdog interval comes from WATCHDOG_USEC via
// sd_watchdog_enabled(); the daemon pings at half of it from its main loop.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace paddock {

class SystemdNotifier {
 public:
  SystemdNotifier();

  void Ready();
  void Status(std::string_view text);
  // RELOADING=1 with MONOTONIC_USEC (systemd ≥ 253 requires it; older ones ignore it).
  void Reloading();
  void Stopping();
  void WatchdogPing();

  // How often to ping, when the unit sets WatchdogSec=.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

 private:
  void Send(std::string_view message);
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace paddock
