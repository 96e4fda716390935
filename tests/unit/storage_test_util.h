// Helpers shared by the storage core tests: deterministic pseudo-random bytes and a timer.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <random>
#include <string>

namespace paddock::storage::testing {

// `size` bytes from a seeded generator: the same seed always gives the same bytes.
inline std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  for (; i < size; ++i) out[i] = static_cast<char>(rng());
  return out;
}

// Wall-clock and CPU seconds (all threads of the process) since construction. Both are shown
// because build machines are shared: wall time there says more about the neighbours.
class Stopwatch {
 public:
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  double CpuSeconds() const { return CpuNow() - cpu_start_; }

 private:
  static double CpuNow() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }

  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double cpu_start_ = CpuNow();
};

inline double MegabytesPerSecond(size_t bytes, double seconds) {
  return static_cast<double>(bytes) / (1 << 20) / seconds;
}

}  // namespace paddock::storage::testing
