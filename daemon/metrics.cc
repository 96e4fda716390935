#include "daemon/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "base/file_util.h"

namespace paddock {
namespace {

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void AppendFamilyHeader(std::string* out, std::string_view name, std::string_view type,
                        std::string_view help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

void AppendSample(std::string* out, std::string_view name, std::string_view labels, double value) {
  *out += name;
  if (!labels.empty()) {
    *out += '{';
    *out += labels;
    *out += '}';
  }
  *out += ' ';
  *out += FormatDouble(value);
  *out += '\n';
}

int CountOpenFds() {
  int n = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(dir)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(dir);
    --n;  // the descriptor opendir itself holds
  }
  return n;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void HttpMetrics::Observe(std::string_view method, std::string_view route, int status,
                          double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{std::string(method), std::string(route), status}];
  Histogram& h = latency_[{std::string(method), std::string(route)}];
  size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  if (i < kBuckets.size()) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

void HttpMetrics::Render(std::string* out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  AppendFamilyHeader(out, "paddock_http_requests_total", "counter",
                     "HTTP requests served, by method, route pattern and status code.");
  for (const auto& [key, count] : requests_) {
    const auto& [method, route, code] = key;
    AppendSample(out, "paddock_http_requests_total",
                 "method=\"" + EscapeLabelValue(method) + "\",route=\"" + EscapeLabelValue(route) +
                     "\",code=\"" + std::to_string(code) + "\"",
                 static_cast<double>(count));
  }
  AppendFamilyHeader(
      out, "paddock_http_request_duration_seconds", "histogram",
      "Time from request received to response ready to send (a streamed body not included).");
  for (const auto& [key, h] : latency_) {
    const std::string labels = "method=\"" + EscapeLabelValue(key.first) + "\",route=\"" +
                               EscapeLabelValue(key.second) + "\"";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      AppendSample(out, "paddock_http_request_duration_seconds_bucket",
                   labels + ",le=\"" + FormatDouble(kBuckets[i]) + "\"",
                   static_cast<double>(cumulative));
    }
    AppendSample(out, "paddock_http_request_duration_seconds_bucket", labels + ",le=\"+Inf\"",
                 static_cast<double>(h.count));
    AppendSample(out, "paddock_http_request_duration_seconds_sum", labels, h.sum);
    AppendSample(out, "paddock_http_request_duration_seconds_count", labels,
                 static_cast<double>(h.count));
  }
}

void RenderProcessMetrics(std::string* out) {
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  auto stat = ReadFileToString("/proc/self/stat");
  if (stat.ok()) {
    // Fields after the parenthesised command name; see proc(5). utime=14 stime=15 starttime=22
    // vsize=23 rss=24 (1-based, counting the pid as 1).
    const auto close = stat->rfind(')');
    std::istringstream fields(stat->substr(close + 2));
    std::string f;
    double utime = 0, stime = 0, starttime = 0, vsize = 0, rss = 0, threads = 0;
    for (int i = 3; fields >> f; ++i) {
      if (i == 14) utime = std::stod(f);
      if (i == 15) stime = std::stod(f);
      if (i == 20) threads = std::stod(f);
      if (i == 22) starttime = std::stod(f);
      if (i == 23) vsize = std::stod(f);
      if (i == 24) rss = std::stod(f);
    }
    double boot_time = 0;
    if (auto procstat = ReadFileToString("/proc/stat"); procstat.ok()) {
      const auto pos = procstat->find("\nbtime ");
      if (pos != std::string::npos) boot_time = std::stod(procstat->substr(pos + 7));
    }
    AppendFamilyHeader(out, "process_cpu_seconds_total", "counter",
                       "Total user and system CPU time spent in seconds.");
    AppendSample(out, "process_cpu_seconds_total", "", (utime + stime) / ticks);
    AppendFamilyHeader(out, "process_start_time_seconds", "gauge",
                       "Start time of the process since unix epoch in seconds.");
    AppendSample(out, "process_start_time_seconds", "", boot_time + starttime / ticks);
    AppendFamilyHeader(out, "process_virtual_memory_bytes", "gauge",
                       "Virtual memory size in bytes.");
    AppendSample(out, "process_virtual_memory_bytes", "", vsize);
    AppendFamilyHeader(out, "process_resident_memory_bytes", "gauge",
                       "Resident memory size in bytes.");
    AppendSample(out, "process_resident_memory_bytes", "", rss * page);
    AppendFamilyHeader(out, "process_threads", "gauge", "Number of OS threads in the process.");
    AppendSample(out, "process_threads", "", threads);
  }
  AppendFamilyHeader(out, "process_open_fds", "gauge", "Number of open file descriptors.");
  AppendSample(out, "process_open_fds", "", CountOpenFds());
  rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    AppendFamilyHeader(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    AppendSample(out, "process_max_fds", "", static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace paddock
