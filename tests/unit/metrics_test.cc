#include "daemon/metrics.h"

#include <gtest/gtest.h>

#include <chrono>

namespace paddock {
namespace {

TEST(MetricsTest, CountsAndCumulativeBuckets) {
  HttpMetrics m;
  m.Observe("GET", "/api/v1/status", 200, 0.0002);
  m.Observe("GET", "/api/v1/status", 200, 0.003);
  m.Observe("GET", "/api/v1/status", 401, 2.0);
  std::string out;
  m.Render(&out);
  EXPECT_NE(
      out.find(
          "paddock_http_requests_total{method=\"GET\",route=\"/api/v1/status\",code=\"200\"} 2\n"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("code=\"401\"} 1\n"), std::string::npos);
  const std::string prefix =
      "paddock_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/status\",le=";
  EXPECT_NE(out.find(prefix + "\"0.0001\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find(prefix + "\"0.00025\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find(prefix + "\"0.005\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find(prefix + "\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find(prefix + "\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("paddock_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/"
                     "status\"} 3\n"),
            std::string::npos);
  EXPECT_NE(out.find("# TYPE paddock_http_request_duration_seconds histogram"), std::string::npos);
}

TEST(MetricsTest, ProcessMetricsArePlausible) {
  // Burn a few clock ticks so CPU time is measurably above zero.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  volatile uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;
  std::string out;
  RenderProcessMetrics(&out);
  for (const char* family :
       {"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ",
        "process_max_fds ", "process_start_time_seconds "}) {
    const auto pos = out.find(std::string("\n") + family);
    ASSERT_NE(pos, std::string::npos) << family;
    const double v = std::stod(out.substr(pos + 1 + std::string(family).size()));
    EXPECT_GT(v, 0) << family;
  }
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace paddock
