#include "daemon/config.h"

#include <gtest/gtest.h>

#include "base/file_util.h"

namespace paddock {
namespace {

std::string ErrorOf(std::string_view text) {
  auto r = ParseConfig(text, "/etc/paddock/paddockd.toml");
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text;
  return r.ok() ? "" : r.status().message();
}

TEST(ConfigTest, EmptyFileGivesDefaults) {
  auto c = ParseConfig("", "x.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state_dir, "/var/lib/paddock");
  EXPECT_EQ(c->listen.ToString(), "127.0.0.1:7070");
  EXPECT_TRUE(c->tcp_enabled);
  EXPECT_EQ(c->max_body_bytes, 1u << 20);
  EXPECT_EQ(c->http_threads, 64);
  EXPECT_EQ(c->log_level, LogLevel::kInfo);
  EXPECT_FALSE(c->tls_enabled());
}

TEST(ConfigTest, ShippedDefaultFileParsesToTheBuiltInDefaults) {
  auto text = ReadFileToString(std::string(PADDOCK_SOURCE_DIR) + "/packaging/paddockd.toml");
  ASSERT_TRUE(text.ok());
  auto shipped = ParseConfig(*text, "paddockd.toml");
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  DaemonConfig builtin;
  EXPECT_EQ(shipped->state_dir, builtin.state_dir);
  EXPECT_EQ(shipped->listen.ToString(), builtin.listen.ToString());
  EXPECT_EQ(shipped->socket_group, builtin.socket_group);
  EXPECT_EQ(shipped->max_body_bytes, builtin.max_body_bytes);
  EXPECT_EQ(shipped->http_threads, builtin.http_threads);
  EXPECT_EQ(shipped->log_level, builtin.log_level);
  EXPECT_EQ(shipped->store_enabled, builtin.store_enabled);
  EXPECT_EQ(shipped->store_dir, builtin.store_dir);
  EXPECT_EQ(shipped->store_gc_grace_seconds, builtin.store_gc_grace_seconds);
  EXPECT_EQ(shipped->store_max_upload_bytes, builtin.store_max_upload_bytes);
}

TEST(ConfigTest, ReadsEveryKey) {
  auto c = ParseConfig(R"(
[daemon]
state_dir = "/srv/paddock"
log_level = "debug"
[api]
listen = "0.0.0.0:8443"
socket_group = "gpu"
tls_certificate = "/etc/ssl/c.pem"
tls_private_key = "/etc/ssl/k.pem"
max_body_bytes = 4096
threads = 4
)",
                       "x.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->state_dir, "/srv/paddock");
  EXPECT_EQ(c->log_level, LogLevel::kDebug);
  EXPECT_EQ(c->listen.host, "0.0.0.0");
  EXPECT_EQ(c->listen.port, 8443);
  EXPECT_EQ(c->socket_group, "gpu");
  EXPECT_TRUE(c->tls_enabled());
  EXPECT_EQ(c->max_body_bytes, 4096u);
  EXPECT_EQ(c->http_threads, 4);
}

TEST(ConfigTest, ReadsTheGpuSectionAndPartitions) {
  auto c = ParseConfig(R"(
[gpu]
enabled = true
nvml_library = "/opt/test/libnvidia-ml.so.1"
topology_xml = "/etc/paddock/box.xml"
device_dir = "/srv/dev"
proc_dir = "/srv/proc"
history_seconds = 120
[gpu.partitions]
"0" = { mode = "mig", mig_layout = ["3g.40gb", "1g.10gb"] }
"1" = { mode = "shared", shares = 4, share_memory = "10G" }
"GPU-11111111-2222-3333-4444-555555555555" = { mode = "exclusive" }
)",
                       "x.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->nvml_library, "/opt/test/libnvidia-ml.so.1");
  EXPECT_EQ(c->gpu_topology_xml, "/etc/paddock/box.xml");
  EXPECT_EQ(c->gpu_device_dir, "/srv/dev");
  EXPECT_EQ(c->gpu_proc_dir, "/srv/proc");
  EXPECT_EQ(c->gpu_history_seconds, 120);
  ASSERT_EQ(c->gpu_partitions.size(), 3u);
  EXPECT_EQ(c->gpu_partitions.at("0").mode, "mig");
  EXPECT_EQ(c->gpu_partitions.at("0").mig_layout, (std::vector<std::string>{"3g.40gb", "1g.10gb"}));
  EXPECT_EQ(c->gpu_partitions.at("1").shares, 4u);
  EXPECT_EQ(c->gpu_partitions.at("1").share_memory_bytes, 10ull << 30);
  EXPECT_EQ(c->gpu_partitions.at("GPU-11111111-2222-3333-4444-555555555555").mode, "exclusive");
}

TEST(ConfigTest, BadGpuPartitionsNameTheGpuAndTheProblem) {
  EXPECT_NE(ErrorOf("[gpu.partitions]\n\"0\" = { mode = \"half\" }\n").find("\"0\": mode must be"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[gpu.partitions]\n\"1\" = { mode = \"mig\" }\n").find("needs a mig_layout"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[gpu.partitions]\n\"1\" = { mode = \"shared\", shares = 2, share_memory = "
                    "\"lots\" }\n")
                .find("share_memory"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[gpu.partitions]\n\"1\" = { mode = \"exclusive\", shares = 2 }\n")
                .find("need mode \"shared\""),
            std::string::npos);
  EXPECT_NE(ErrorOf("[gpu]\ndevice_dir = \"dev\"\n").find("gpu.device_dir"), std::string::npos);
}

TEST(ConfigTest, StoreDefaultsToTheStateDir) {
  auto c = ParseConfig("[daemon]\nstate_dir = \"/srv/paddock\"\n", "x.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->store_enabled);
  EXPECT_EQ(c->store_dir, "");
  EXPECT_EQ(c->store_directory(), "/srv/paddock/store");
  EXPECT_EQ(c->store_gc_grace_seconds, 3600);
  EXPECT_EQ(c->store_max_upload_bytes, 0u);
}

TEST(ConfigTest, ReadsTheStoreSection) {
  auto c = ParseConfig(R"(
[store]
enabled = false
dir = "/data/paddock-store"
gc_grace_seconds = 0
max_upload_bytes = 1099511627776
)",
                       "x.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->store_enabled);
  EXPECT_EQ(c->store_directory(), "/data/paddock-store");
  EXPECT_EQ(c->store_gc_grace_seconds, 0);
  EXPECT_EQ(c->store_max_upload_bytes, 1ull << 40);
}

TEST(ConfigTest, BadStoreKeysNameTheKey) {
  EXPECT_NE(ErrorOf("[store]\ndir = \"store\"\n").find("key 'store.dir': must be an absolute path"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[store]\ngc_grace_seconds = -1\n").find("store.gc_grace_seconds"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[store]\nmax_upload_bytes = -5\n").find("store.max_upload_bytes"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[store]\nenabled = \"yes\"\n").find("expected a boolean"), std::string::npos);
  EXPECT_NE(ErrorOf("[store]\n\ngc_grace = 5\n").find(":3: key 'store.gc_grace': unknown key"),
            std::string::npos);
}

TEST(ConfigTest, EmptyListenTurnsTcpOff) {
  auto c = ParseConfig("[api]\nlisten = \"\"\n", "x.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->tcp_enabled);
}

TEST(ConfigTest, SyntaxErrorNamesFileAndLine) {
  const std::string m = ErrorOf("[api]\nlisten = \"127.0.0.1:1\"\nthreads = = 3\n");
  EXPECT_NE(m.find("/etc/paddock/paddockd.toml:3:"), std::string::npos) << m;
}

TEST(ConfigTest, UnknownKeyNamesKeyAndLine) {
  const std::string m = ErrorOf("[api]\n\nlsten = \"127.0.0.1:1\"\n");
  EXPECT_NE(m.find("paddockd.toml:3: key 'api.lsten': unknown key"), std::string::npos) << m;
}

TEST(ConfigTest, UnknownSectionIsAnError) {
  const std::string m = ErrorOf("[deamon]\nstate_dir = \"/x\"\n");
  EXPECT_NE(m.find("key 'deamon': unknown section"), std::string::npos) << m;
}

TEST(ConfigTest, WrongTypeNamesBothTypes) {
  const std::string m = ErrorOf("[api]\nthreads = \"many\"\n");
  EXPECT_NE(m.find(":2: key 'api.threads': wrong type: expected an integer, got a string"),
            std::string::npos)
      << m;
}

TEST(ConfigTest, BadValuesAreRejected) {
  EXPECT_NE(ErrorOf("[api]\nthreads = 0\n").find("between 1 and 256"), std::string::npos);
  EXPECT_NE(ErrorOf("[api]\nlisten = \"127.0.0.1\"\n").find("HOST:PORT"), std::string::npos);
  EXPECT_NE(ErrorOf("[api]\nlisten = \"127.0.0.1:99999\"\n").find("1-65535"), std::string::npos);
  EXPECT_NE(ErrorOf("[api]\nlisten = \"example.com:80\"\n").find("IPv4"), std::string::npos);
  EXPECT_NE(ErrorOf("[daemon]\nlog_level = \"loud\"\n").find("debug, info"), std::string::npos);
  EXPECT_NE(ErrorOf("[daemon]\nstate_dir = \"relative\"\n").find("absolute"), std::string::npos);
  EXPECT_NE(ErrorOf("[api]\ntls_certificate = \"/c.pem\"\n").find("set together"),
            std::string::npos);
  EXPECT_NE(ErrorOf("api = 3\n").find("expected a table"), std::string::npos);
}

TEST(ConfigTest, MissingFileIsAClearError) {
  auto r = LoadConfigFile("/nonexistent/paddockd.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/paddockd.toml"), std::string::npos);
}

}  // namespace
}  // namespace paddock
