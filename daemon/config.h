// paddockd's configuration: the TOML file (/etc/paddock/paddockd.toml by default) plus flags.
//
// Every key is documented in packaging/paddockd.toml. Parsing is strict: a syntax error, an
// unknown section or key, a wrong type or a bad value is an error whose message names the file,
// the line and the key, so a typo never leaves the daemon half-configured.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "base/status.h"

namespace paddock {

inline constexpr std::string_view kDefaultConfigPath = "/etc/paddock/paddockd.toml";
inline constexpr std::string_view kDefaultStateDir = "/var/lib/paddock";

struct ListenAddress {
  std::string host;  // IPv4 address or "localhost"
  int port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

// What one GPU offers, from [gpu.partitions] (key: the GPU's index or UUID).
struct GpuPartitionConfig {
  std::string mode = "exclusive";       // "exclusive", "mig" or "shared"
  std::vector<std::string> mig_layout;  // mig: profile names, e.g. ["3g.40gb", "1g.10gb"]
  uint32_t shares = 0;                  // shared: number of shares
  uint64_t share_memory_bytes = 0;      // shared: cap of each share; 0 = memory / shares
};

struct DaemonConfig {
  std::string source;  // the file read, or "" when running on defaults
  std::string state_dir{kDefaultStateDir};
  LogLevel log_level = LogLevel::kInfo;
  bool tcp_enabled = true;
  ListenAddress listen{"127.0.0.1", 7070};
  std::string socket_group = "paddock";
  std::string tls_certificate;
  std::string tls_private_key;
  size_t max_body_bytes = 1 << 20;
  int http_threads = 64;

  // [sandbox]
  std::string sandbox_init_path;                // "" = beside paddockd, then libexec
  std::vector<std::string> allowed_bind_paths;  // host paths (and below) binds may come from
  uint32_t root_host_uid = 65534;               // host uid of root-in-sandbox (user namespace)
  uint32_t token_uid = 65534;                   // uid for callers known only by a token
  uint64_t max_memory_bytes = 0;                // per-sandbox ceiling; 0 = the host's RAM
  int64_t stop_grace_seconds = 10;

  // [gpu]
  bool gpu_enabled = true;
  std::string nvml_library = "libnvidia-ml.so.1";  // dlopen()ed; a bare name uses ld.so's search
  std::string gpu_topology_xml;                    // "" = the host's topology through hwloc
  std::string gpu_device_dir = "/dev";             // where nvidia* device nodes live
  std::string gpu_proc_dir = "/proc";              // where driver/nvidia* files live
  int64_t gpu_history_seconds = 600;               // 1 Hz samples kept per GPU
  std::map<std::string, GpuPartitionConfig> gpu_partitions;

  // [store]
  bool store_enabled = true;
  std::string store_dir;                  // "" = <state_dir>/store
  int64_t store_gc_grace_seconds = 3600;  // objects and commits younger than this survive gc
  uint64_t store_max_upload_bytes = 0;    // tar uploads; 0 = unlimited

  bool tls_enabled() const { return !tls_certificate.empty(); }
  std::string store_directory() const {
    return store_dir.empty() ? state_dir + "/store" : store_dir;
  }
};

// Parses TOML `text`; `source_name` is used in error messages ("<source_name>:<line>: ...").
Result<DaemonConfig> ParseConfig(std::string_view text, const std::string& source_name);

// Reads and parses the file at `path`.
Result<DaemonConfig> LoadConfigFile(const std::string& path);

// Parses "HOST:PORT" (IPv4 or "localhost"; port 1-65535). Used for the config key and --listen.
Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace paddock
