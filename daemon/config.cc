#include "daemon/config.h"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <charconv>
#include <cstdint>
#include <functional>
#include <map>

#include "base/byte_size.h"
#include "base/file_util.h"

namespace paddock {
namespace {

// One error message format for everything the file can get wrong.
Status ConfigError(const std::string& source, const toml::source_region& where,
                   std::string_view key, std::string_view what) {
  std::string m = source;
  if (where.begin.line > 0) m += ":" + std::to_string(where.begin.line);
  m += ": ";
  if (!key.empty()) {
    m += "key '";
    m += key;
    m += "': ";
  }
  m += what;
  return Status::InvalidArgument(std::move(m));
}

std::string_view TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    default:
      return "a date/time";
  }
}

// A key the file may set: its TOML type and how to store a value of that type.
struct KeySpec {
  toml::node_type type;
  // Returns "" when the value was stored, else what is wrong with it.
  std::function<std::string(const toml::node&, DaemonConfig&)> apply;
};

KeySpec StringKey(std::function<std::string(const std::string&, DaemonConfig&)> set) {
  return {toml::node_type::string, [set = std::move(set)](const toml::node& n, DaemonConfig& c) {
            return set(n.as_string()->get(), c);
          }};
}

KeySpec StringListKey(std::function<std::string(std::vector<std::string>, DaemonConfig&)> set) {
  return {toml::node_type::array,
          [set = std::move(set)](const toml::node& n, DaemonConfig& c) -> std::string {
            std::vector<std::string> values;
            for (const toml::node& item : *n.as_array()) {
              if (!item.is_string()) return "must be an array of strings";
              values.push_back(item.as_string()->get());
            }
            return set(std::move(values), c);
          }};
}

KeySpec IntegerKey(int64_t min, int64_t max, std::function<void(int64_t, DaemonConfig&)> set) {
  return {toml::node_type::integer,
          [=, set = std::move(set)](const toml::node& n, DaemonConfig& c) -> std::string {
            const int64_t v = n.as_integer()->get();
            if (v < min || v > max) {
              return "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                     ", got " + std::to_string(v);
            }
            set(v, c);
            return "";
          }};
}

KeySpec BoolKey(std::function<void(bool, DaemonConfig&)> set) {
  return {toml::node_type::boolean, [set = std::move(set)](const toml::node& n, DaemonConfig& c) {
            set(n.as_boolean()->get(), c);
            return std::string();
          }};
}

KeySpec AbsolutePathKey(std::string DaemonConfig::*field, bool allow_empty) {
  return StringKey([=](const std::string& v, DaemonConfig& c) -> std::string {
    if (v.empty() && allow_empty) {
      c.*field = v;
      return "";
    }
    if (v.empty() || v.front() != '/') return "must be an absolute path";
    c.*field = v;
    return "";
  });
}

// One entry of [gpu.partitions]: { mode = "...", mig_layout = [...], shares = N, share_memory =
// "10G" }.
std::string ParsePartition(const toml::table& t, GpuPartitionConfig* out) {
  for (const auto& [key, node] : t) {
    const std::string k(key.str());
    if (k == "mode") {
      if (!node.is_string()) return "mode must be a string";
      out->mode = node.as_string()->get();
      if (out->mode != "exclusive" && out->mode != "mig" && out->mode != "shared") {
        return "mode must be \"exclusive\", \"mig\" or \"shared\", got \"" + out->mode + "\"";
      }
    } else if (k == "mig_layout") {
      if (!node.is_array()) return "mig_layout must be an array of profile names";
      for (const toml::node& item : *node.as_array()) {
        if (!item.is_string()) return "mig_layout must be an array of profile names";
        out->mig_layout.push_back(item.as_string()->get());
      }
    } else if (k == "shares") {
      if (!node.is_integer() || node.as_integer()->get() < 1 || node.as_integer()->get() > 64) {
        return "shares must be an integer between 1 and 64";
      }
      out->shares = static_cast<uint32_t>(node.as_integer()->get());
    } else if (k == "share_memory") {
      if (!node.is_string()) return "share_memory must be a size string like \"10G\"";
      auto bytes = ParseByteSize(node.as_string()->get());
      if (!bytes.ok()) return "share_memory: " + bytes.status().message();
      out->share_memory_bytes = *bytes;
    } else {
      return "unknown key '" + k + "' (expected mode, mig_layout, shares, share_memory)";
    }
  }
  if (out->mode == "mig" && out->mig_layout.empty()) return "mode \"mig\" needs a mig_layout";
  if (out->mode != "mig" && !out->mig_layout.empty()) return "mig_layout needs mode \"mig\"";
  if (out->mode == "shared" && out->shares == 0) return "mode \"shared\" needs shares";
  if (out->mode != "shared" && (out->shares != 0 || out->share_memory_bytes != 0)) {
    return "shares and share_memory need mode \"shared\"";
  }
  return "";
}

KeySpec PartitionsKey() {
  return {toml::node_type::table, [](const toml::node& n, DaemonConfig& c) -> std::string {
            c.gpu_partitions.clear();
            for (const auto& [key, node] : *n.as_table()) {
              const std::string gpu(key.str());
              if (!node.is_table()) {
                return "\"" + gpu + "\" must be a table like { mode = \"exclusive\" }";
              }
              GpuPartitionConfig partition;
              std::string problem = ParsePartition(*node.as_table(), &partition);
              if (!problem.empty()) return "\"" + gpu + "\": " + problem;
              c.gpu_partitions[gpu] = std::move(partition);
            }
            return "";
          }};
}

const std::map<std::string, std::map<std::string, KeySpec>>& Schema() {
  static const auto* schema = new std::map<std::string, std::map<std::string, KeySpec>>{
      {"daemon",
       {
           {"state_dir", StringKey([](const std::string& v, DaemonConfig& c) -> std::string {
              if (v.empty() || v.front() != '/') return "must be an absolute path";
              c.state_dir = v;
              return "";
            })},
           {"log_level", StringKey([](const std::string& v, DaemonConfig& c) -> std::string {
              auto level = ParseLogLevel(v);
              if (!level) return "must be one of debug, info, warning, error; got \"" + v + "\"";
              c.log_level = *level;
              return "";
            })},
       }},
      {"api",
       {
           {"listen", StringKey([](const std::string& v, DaemonConfig& c) -> std::string {
              if (v.empty()) {
                c.tcp_enabled = false;
                return "";
              }
              auto addr = ParseListenAddress(v);
              if (!addr.ok()) return addr.status().message();
              c.tcp_enabled = true;
              c.listen = *addr;
              return "";
            })},
           {"socket_group", StringKey([](const std::string& v, DaemonConfig& c) -> std::string {
              c.socket_group = v;
              return "";
            })},
           {"tls_certificate", StringKey([](const std::string& v, DaemonConfig& c) -> std::string {
              c.tls_certificate = v;
              return "";
            })},
           {"tls_private_key", StringKey([](const std::string& v, DaemonConfig& c) -> std::string {
              c.tls_private_key = v;
              return "";
            })},
           {"max_body_bytes", IntegerKey(1024, int64_t{1} << 34,
                                         [](int64_t v, DaemonConfig& c) {
                                           c.max_body_bytes = static_cast<size_t>(v);
                                         })},
           {"threads",
            IntegerKey(1, 256,
                       [](int64_t v, DaemonConfig& c) { c.http_threads = static_cast<int>(v); })},
       }},
      {"sandbox",
       {
           {"init_path", StringKey([](const std::string& v, DaemonConfig& c) -> std::string {
              if (!v.empty() && v.front() != '/') return "must be an absolute path";
              c.sandbox_init_path = v;
              return "";
            })},
           {"allowed_bind_paths",
            StringListKey([](std::vector<std::string> v, DaemonConfig& c) -> std::string {
              for (const std::string& p : v) {
                if (p.empty() || p.front() != '/') return "\"" + p + "\" is not an absolute path";
              }
              c.allowed_bind_paths = std::move(v);
              return "";
            })},
           {"root_host_uid", IntegerKey(1, 4294967294,
                                        [](int64_t v, DaemonConfig& c) {
                                          c.root_host_uid = static_cast<uint32_t>(v);
                                        })},
           {"token_uid",
            IntegerKey(1, 4294967294,
                       [](int64_t v, DaemonConfig& c) { c.token_uid = static_cast<uint32_t>(v); })},
           {"max_memory_bytes", IntegerKey(0, INT64_MAX,
                                           [](int64_t v, DaemonConfig& c) {
                                             c.max_memory_bytes = static_cast<uint64_t>(v);
                                           })},
           {"stop_grace_seconds",
            IntegerKey(0, 3600, [](int64_t v, DaemonConfig& c) { c.stop_grace_seconds = v; })},
       }},
      {"gpu",
       {
           {"enabled", BoolKey([](bool v, DaemonConfig& c) { c.gpu_enabled = v; })},
           {"nvml_library", StringKey([](const std::string& v, DaemonConfig& c) -> std::string {
              if (v.empty()) return "must name a library (a file name or an absolute path)";
              c.nvml_library = v;
              return "";
            })},
           {"topology_xml", AbsolutePathKey(&DaemonConfig::gpu_topology_xml, true)},
           {"device_dir", AbsolutePathKey(&DaemonConfig::gpu_device_dir, false)},
           {"proc_dir", AbsolutePathKey(&DaemonConfig::gpu_proc_dir, false)},
           {"history_seconds",
            IntegerKey(10, 86400, [](int64_t v, DaemonConfig& c) { c.gpu_history_seconds = v; })},
           {"partitions", PartitionsKey()},
       }},
      {"store",
       {
           {"enabled", BoolKey([](bool v, DaemonConfig& c) { c.store_enabled = v; })},
           {"dir", AbsolutePathKey(&DaemonConfig::store_dir, true)},
           // Up to 30 days; 0 is allowed for tests, but a commit running longer than the grace
           // period may then lose objects to a concurrent gc (storage/gc.h).
           {"gc_grace_seconds",
            IntegerKey(0, 30 * 86400,
                       [](int64_t v, DaemonConfig& c) { c.store_gc_grace_seconds = v; })},
           {"max_upload_bytes", IntegerKey(0, INT64_MAX,
                                           [](int64_t v, DaemonConfig& c) {
                                             c.store_max_upload_bytes = static_cast<uint64_t>(v);
                                           })},
       }},
  };
  return *schema;
}

Status ApplySection(const std::string& source, const std::string& section, const toml::table& table,
                    const std::map<std::string, KeySpec>& keys, DaemonConfig& config) {
  for (const auto& [key, node] : table) {
    const std::string name = section + "." + std::string(key.str());
    auto spec = keys.find(std::string(key.str()));
    if (spec == keys.end()) return ConfigError(source, key.source(), name, "unknown key");
    if (node.type() != spec->second.type) {
      return ConfigError(source, node.source(), name,
                         "wrong type: expected " + std::string(TypeName(spec->second.type)) +
                             ", got " + std::string(TypeName(node.type())));
    }
    std::string problem = spec->second.apply(node, config);
    if (!problem.empty()) return ConfigError(source, node.source(), name, problem);
  }
  return Status::Ok();
}

Status CheckConsistency(const std::string& source, const DaemonConfig& config) {
  if (config.tls_certificate.empty() != config.tls_private_key.empty()) {
    return ConfigError(source, {}, "api.tls_certificate",
                       "tls_certificate and tls_private_key must be set together");
  }
  return Status::Ok();
}

}  // namespace

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument("expected HOST:PORT, got \"" + std::string(text) + "\"");
  }
  ListenAddress addr;
  addr.host = std::string(text.substr(0, colon));
  const std::string_view port = text.substr(colon + 1);
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), addr.port);
  if (ec != std::errc() || end != port.data() + port.size() || addr.port < 1 || addr.port > 65535) {
    return Status::InvalidArgument("port must be 1-65535 in \"" + std::string(text) + "\"");
  }
  in_addr ignored;
  if (addr.host != "localhost" && ::inet_pton(AF_INET, addr.host.c_str(), &ignored) != 1) {
    return Status::InvalidArgument("host must be an IPv4 address or localhost in \"" +
                                   std::string(text) + "\"");
  }
  return addr;
}

Result<DaemonConfig> ParseConfig(std::string_view text, const std::string& source_name) {
  DaemonConfig config;
  config.source = source_name;
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return ConfigError(source_name, e.source(), "", std::string(e.description()));
  }
  for (const auto& [section, node] : root) {
    const std::string name(section.str());
    auto keys = Schema().find(name);
    if (keys == Schema().end())
      return ConfigError(source_name, section.source(), name, "unknown section");
    if (!node.is_table()) {
      return ConfigError(
          source_name, node.source(), name,
          "expected a table [" + name + "], got " + std::string(TypeName(node.type())));
    }
    PADDOCK_RETURN_IF_ERROR(
        ApplySection(source_name, name, *node.as_table(), keys->second, config));
  }
  PADDOCK_RETURN_IF_ERROR(CheckConsistency(source_name, config));
  return config;
}

Result<DaemonConfig> LoadConfigFile(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.status().WithContext("cannot read config");
  return ParseConfig(*text, path);
}

}  // namespace paddock
