#include "daemon/connection_registry.h"

namespace paddock {

void ConnectionRegistry::Add(int local_port, ConnectionOrigin origin) {
  std::lock_guard<std::mutex> lock(mutex_);
  by_port_[local_port] = std::move(origin);
}

void ConnectionRegistry::Remove(int local_port) {
  std::lock_guard<std::mutex> lock(mutex_);
  by_port_.erase(local_port);
}

std::optional<ConnectionOrigin> ConnectionRegistry::Find(int local_port) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_port_.find(local_port);
  if (it == by_port_.end()) return std::nullopt;
  return it->second;
}

}  // namespace paddock
