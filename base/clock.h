// Wall-clock time as the project records it: Unix milliseconds.
#pragma once

#include <chrono>
#include <cstdint>

namespace paddock {

// Milliseconds since the Unix epoch, from the system (wall) clock: what records, logs and the
// API show. Durations are measured with std::chrono::steady_clock instead.
inline int64_t UnixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace paddock
