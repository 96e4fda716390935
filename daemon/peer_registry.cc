#include "daemon/peer_registry.h"

namespace paddock {

void PeerRegistry::Add(int local_port, PeerCredentials creds) {
  std::lock_guard<std::mutex> lock(mutex_);
  by_port_[local_port] = creds;
}

void PeerRegistry::Remove(int local_port) {
  std::lock_guard<std::mutex> lock(mutex_);
  by_port_.erase(local_port);
}

std::optional<PeerCredentials> PeerRegistry::Find(int local_port) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_port_.find(local_port);
  if (it == by_port_.end()) return std::nullopt;
  return it->second;
}

}  // namespace paddock
