// Prometheus text exposition (format 0.0.4) for /metrics.
//
// Written by hand because no Prometheus client library is packaged for Debian 12; the format is a
// few lines per family. Label values are bounded: routes are patterns ("/api/v1/tokens/{name}"),
// never raw paths, so a scan of random URLs cannot grow the series count.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

namespace paddock {

class HttpMetrics {
 public:
  // Upper bounds (seconds) of the latency histogram buckets; +Inf is implied.
  static constexpr std::array<double, 12> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.5,    1.0};

  // Records one finished request. Thread-safe.
  void Observe(std::string_view method, std::string_view route, int status, double seconds);
  // Appends the http families to `out`.
  void Render(std::string* out) const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};  // non-cumulative counts
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::pair<std::string, std::string>, Histogram> latency_;
};

// Appends process_* families (CPU, memory, fds, start time) read from /proc/self.
void RenderProcessMetrics(std::string* out);

// Escapes a label value (backslash, quote, newline) as the text format requires.
std::string EscapeLabelValue(std::string_view value);

}  // namespace paddock
