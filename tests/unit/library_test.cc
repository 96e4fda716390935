// Tests of the small starting pieces of the sandbox, gpu and storage libraries.
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/vfs.h>

#include "gpu/pci_address.h"
#include "sandbox/cgroup_mode.h"
#include "storage/object_id.h"

namespace paddock {
namespace {

TEST(CgroupModeTest, DetectsThisHostsLayout) {
  struct statfs root, unified;
  ASSERT_EQ(::statfs("/sys/fs/cgroup", &root), 0);
  auto mode = sandbox::DetectCgroupMode();
  ASSERT_TRUE(mode.ok()) << mode.status().ToString();
  if (root.f_type == CGROUP2_SUPER_MAGIC) {
    EXPECT_EQ(*mode, sandbox::CgroupMode::kUnified);
  } else if (::statfs("/sys/fs/cgroup/unified", &unified) == 0 &&
             unified.f_type == CGROUP2_SUPER_MAGIC) {
    EXPECT_EQ(*mode, sandbox::CgroupMode::kHybrid);
  } else {
    EXPECT_EQ(*mode, sandbox::CgroupMode::kLegacy);
  }
}

TEST(CgroupModeTest, NoCgroupFilesystemIsAnError) {
  auto mode = sandbox::DetectCgroupMode("/tmp");
  EXPECT_EQ(mode.status().code(), StatusCode::kFailedPrecondition);
}

TEST(PciAddressTest, NvmlAndSysfsFormsMeetInOneCanonicalForm) {
  auto nvml = gpu::ParsePciAddress("00000000:4F:00.0");
  auto sysfs = gpu::ParsePciAddress("0000:4f:00.0");
  ASSERT_TRUE(nvml.ok());
  ASSERT_TRUE(sysfs.ok());
  EXPECT_EQ(*nvml, *sysfs);
  EXPECT_EQ(nvml->ToString(), "0000:4f:00.0");
  auto short_form = gpu::ParsePciAddress("4f:00.1");
  ASSERT_TRUE(short_form.ok());
  EXPECT_EQ(short_form->ToString(), "0000:4f:00.1");
}

TEST(PciAddressTest, RejectsMalformed) {
  for (const char* bad : {"", "4f", "0000:4f:00", "0000:4f:00.8", "0000:4f:20.0", "zz:00.0",
                          "000000000:4f:00.0", "0000:4f:00.0x"}) {
    EXPECT_FALSE(gpu::ParsePciAddress(bad).ok()) << bad;
  }
}

TEST(ObjectIdTest, HashAndHexRoundTrip) {
  auto id = storage::ObjectId::Hash("abc");
  EXPECT_EQ(id.ToHex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto parsed = storage::ObjectId::FromHex(
      "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, id);
  EXPECT_FALSE(storage::ObjectId::FromHex("abc").ok());
  EXPECT_FALSE(storage::ObjectId::FromHex(std::string(64, 'g')).ok());
}

}  // namespace
}  // namespace paddock
