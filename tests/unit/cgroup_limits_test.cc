// Limit validation and the parsers the cgroup drivers share.
#include "sandbox/cgroup_limits.h"

#include <gtest/gtest.h>

#include <cmath>

#include "sandbox/cgroup_fs.h"

namespace paddock::sandbox {
namespace {

CgroupCapabilities AllControllers() {
  CgroupCapabilities caps;
  caps.cpu = caps.cpuset = caps.memory = caps.pids = true;
  caps.cpus_available = "0-3";
  caps.mems_available = "0";
  caps.online_cpus = 4;
  return caps;
}

// The status must have `code` and a message starting with `field`.
void ExpectFieldError(const Status& s, StatusCode code, const std::string& field) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_EQ(s.message().rfind(field + ":", 0), 0u) << s.message();
}

TEST(CgroupLimitsTest, AcceptsSensibleLimits) {
  CgroupLimits l;
  l.cpus = 2.5;
  l.cpuset_cpus = "0-2";
  l.cpuset_mems = "0";
  l.memory_max_bytes = 1 << 30;
  l.pids_max = 512;
  l.io_weight = 100;
  EXPECT_TRUE(CheckLimits(l, AllControllers()).ok());
  EXPECT_TRUE(CheckLimits(CgroupLimits{}, CgroupCapabilities{}).ok());
}

TEST(CgroupLimitsTest, BadValuesAreInvalidArguments) {
  CgroupLimits l;
  for (double bad : {0.0, -1.0, 0.001, std::nan(""), static_cast<double>(INFINITY)}) {
    l.cpus = bad;
    ExpectFieldError(CheckLimits(l, AllControllers()), StatusCode::kInvalidArgument, "cpus");
  }
  l = {};
  l.cpuset_cpus = "0-x";
  ExpectFieldError(CheckLimits(l, AllControllers()), StatusCode::kInvalidArgument, "cpuset_cpus");
  l = {};
  l.cpuset_mems = "3-1";
  ExpectFieldError(CheckLimits(l, AllControllers()), StatusCode::kInvalidArgument, "cpuset_mems");
  l = {};
  l.memory_max_bytes = 100;
  ExpectFieldError(CheckLimits(l, AllControllers()), StatusCode::kInvalidArgument,
                   "memory_max_bytes");
  l = {};
  l.pids_max = 0;
  ExpectFieldError(CheckLimits(l, AllControllers()), StatusCode::kInvalidArgument, "pids_max");
  l = {};
  l.io_weight = 0;
  ExpectFieldError(CheckLimits(l, AllControllers()), StatusCode::kInvalidArgument, "io_weight");
  l.io_weight = 10001;
  ExpectFieldError(CheckLimits(l, AllControllers()), StatusCode::kInvalidArgument, "io_weight");
}

TEST(CgroupLimitsTest, WhatTheHostCannotHonourIsAFailedPrecondition) {
  CgroupLimits l;
  l.cpuset_cpus = "2-5";
  Status s = CheckLimits(l, AllControllers());
  ExpectFieldError(s, StatusCode::kFailedPrecondition, "cpuset_cpus");
  EXPECT_NE(s.message().find("4,5"), std::string::npos) << s.message();
  l = {};
  l.cpuset_mems = "1";
  ExpectFieldError(CheckLimits(l, AllControllers()), StatusCode::kFailedPrecondition,
                   "cpuset_mems");
  l = {};
  l.cpus = 5;
  ExpectFieldError(CheckLimits(l, AllControllers()), StatusCode::kFailedPrecondition, "cpus");
  l.cpus = 1.5;
  l.cpuset_cpus = "0";  // more CPU time than the cpuset has CPUs
  ExpectFieldError(CheckLimits(l, AllControllers()), StatusCode::kFailedPrecondition, "cpus");

  CgroupCapabilities none;
  l = {};
  l.cpus = 1;
  ExpectFieldError(CheckLimits(l, none), StatusCode::kFailedPrecondition, "cpus");
  l = {};
  l.memory_max_bytes = 1 << 20;
  ExpectFieldError(CheckLimits(l, none), StatusCode::kFailedPrecondition, "memory_max_bytes");
  l = {};
  l.pids_max = 10;
  ExpectFieldError(CheckLimits(l, none), StatusCode::kFailedPrecondition, "pids_max");
  l = {};
  l.cpuset_cpus = "0";
  ExpectFieldError(CheckLimits(l, none), StatusCode::kFailedPrecondition, "cpuset_cpus");
  l = {};
  l.io_weight = 500;  // "where available": never an error
  EXPECT_TRUE(CheckLimits(l, none).ok());
}

TEST(CgroupLimitsTest, Conversions) {
  EXPECT_EQ(CpuQuotaUs(0.5), 50000u);
  EXPECT_EQ(CpuQuotaUs(2.25), 225000u);
  EXPECT_EQ(CpuQuotaUs(0.01), 1000u);
  EXPECT_EQ(ScaleIoWeight(100, 500, 10, 1000), 500u);  // v2 default -> blkio default
  EXPECT_EQ(ScaleIoWeight(1, 500, 10, 1000), 10u);
  EXPECT_EQ(ScaleIoWeight(10000, 500, 10, 1000), 1000u);
  EXPECT_EQ(ScaleIoWeight(100, 100, 1, 1000), 100u);
}

TEST(CgroupParseTest, CpuLists) {
  auto ids = ParseCpuList("0-2,5,7-8\n");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::set<unsigned>{0, 1, 2, 5, 7, 8}));
  EXPECT_FALSE(ParseCpuList("").ok());
  EXPECT_FALSE(ParseCpuList("1,,2").ok());
  EXPECT_FALSE(ParseCpuList("-1").ok());
  EXPECT_FALSE(ParseCpuList("4-2").ok());
  EXPECT_FALSE(ParseCpuList("0-99999").ok());
}

TEST(CgroupParseTest, SelfCgroup) {
  auto self = ParseSelfCgroup(
      "12:cpu,cpuacct:/system.slice/paddock.service\n"
      "4:memory:/process_api/ab:c\n"
      "1:name=systemd:/init.scope\n"
      "0::/system.slice/paddock.service\n");
  ASSERT_TRUE(self.ok());
  ASSERT_TRUE(self->unified.has_value());
  EXPECT_EQ(*self->unified, "/system.slice/paddock.service");
  EXPECT_EQ(self->v1.at("cpu"), "/system.slice/paddock.service");
  EXPECT_EQ(self->v1.at("cpuacct"), "/system.slice/paddock.service");
  EXPECT_EQ(self->v1.at("memory"), "/process_api/ab:c");
  EXPECT_EQ(self->v1.at("name=systemd"), "/init.scope");
  EXPECT_FALSE(ParseSelfCgroup("garbage\n").ok());
  auto pure = ParseSelfCgroup("0::/\n");
  ASSERT_TRUE(pure.ok());
  EXPECT_EQ(*pure->unified, "/");
  EXPECT_TRUE(pure->v1.empty());
}

TEST(CgroupParseTest, Names) {
  EXPECT_TRUE(ValidateCgroupName("sbx-01_a", "name").ok());
  for (const char* bad : {"", "..", "a/b", "memory.max", "a b", "x\n"}) {
    Status s = ValidateCgroupName(bad, "name");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.message().rfind("name:", 0), 0u);
  }
  EXPECT_FALSE(ValidateCgroupName(std::string(65, 'a'), "name").ok());
}

}  // namespace
}  // namespace paddock::sandbox
