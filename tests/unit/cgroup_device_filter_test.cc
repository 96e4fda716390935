// The BPF device program, run by a small interpreter of the few instructions it uses, so that its
// logic is checked on any machine; the kernel's verdicts are checked in cgroup_kernel_test.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>

#include "sandbox/device_filter.h"

namespace paddock::sandbox {
namespace {

// Runs `prog` on a context; nullopt for an instruction the interpreter does not know (the
// builder must not emit one) or a jump out of the program.
std::optional<uint64_t> Interpret(const std::vector<bpf_insn>& prog, uint32_t access_type,
                                  uint32_t major, uint32_t minor) {
  bpf_cgroup_dev_ctx ctx{access_type, major, minor};
  uint64_t reg[11] = {};
  size_t pc = 0;
  for (int steps = 0; steps < 10000 && pc < prog.size(); ++steps) {
    const bpf_insn& in = prog[pc++];
    uint64_t& dst = reg[in.dst_reg];
    switch (in.code) {
      case BPF_LDX | BPF_MEM | BPF_W: {
        if (in.src_reg != 1 || in.off < 0 || in.off + 4 > static_cast<int>(sizeof ctx)) {
          return std::nullopt;
        }
        uint32_t v;
        std::memcpy(&v, reinterpret_cast<const char*>(&ctx) + in.off, 4);
        dst = v;
        break;
      }
      case BPF_ALU | BPF_AND | BPF_K:
        dst = static_cast<uint32_t>(dst) & static_cast<uint32_t>(in.imm);
        break;
      case BPF_ALU | BPF_RSH | BPF_K:
        dst = static_cast<uint32_t>(dst) >> in.imm;
        break;
      case BPF_ALU | BPF_MOV | BPF_X:
        dst = static_cast<uint32_t>(reg[in.src_reg]);
        break;
      case BPF_ALU64 | BPF_MOV | BPF_K:
        dst = static_cast<uint64_t>(static_cast<int64_t>(in.imm));
        break;
      case BPF_JMP | BPF_JNE | BPF_K:
        if (dst != static_cast<uint64_t>(static_cast<int64_t>(in.imm))) pc += in.off;
        break;
      case BPF_JMP | BPF_EXIT:
        return reg[0];
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

constexpr uint32_t kChar = BPF_DEVCG_DEV_CHAR;
constexpr uint32_t kBlock = BPF_DEVCG_DEV_BLOCK;
constexpr uint32_t kRead = BPF_DEVCG_ACC_READ << 16;
constexpr uint32_t kWrite = BPF_DEVCG_ACC_WRITE << 16;
constexpr uint32_t kMknod = BPF_DEVCG_ACC_MKNOD << 16;

TEST(DeviceFilterTest, NoRulesDeniesEverything) {
  const auto prog = BuildDeviceFilter({});
  EXPECT_EQ(Interpret(prog, kChar | kRead, 1, 3), 0u);
  EXPECT_EQ(Interpret(prog, kBlock | kWrite, 8, 0), 0u);
}

TEST(DeviceFilterTest, AllowsExactlyTheListedDevicesAndAccess) {
  const auto prog = BuildDeviceFilter({{'c', 1, 3, "rw"}, {'c', 195, 0, "rw"}, {'b', 8, 0, "r"}});
  EXPECT_EQ(Interpret(prog, kChar | kRead | kWrite, 1, 3), 1u);
  EXPECT_EQ(Interpret(prog, kChar | kRead, 195, 0), 1u);
  EXPECT_EQ(Interpret(prog, kChar | kRead, 195, 1), 0u);  // another GPU
  EXPECT_EQ(Interpret(prog, kChar | kRead, 1, 4), 0u);
  EXPECT_EQ(Interpret(prog, kBlock | kRead, 1, 3), 0u);  // right numbers, wrong type
  EXPECT_EQ(Interpret(prog, kChar | kRead, 8, 0), 0u);
  EXPECT_EQ(Interpret(prog, kBlock | kRead, 8, 0), 1u);
  EXPECT_EQ(Interpret(prog, kBlock | kWrite, 8, 0), 0u);  // read-only rule
  EXPECT_EQ(Interpret(prog, kBlock | kRead | kWrite, 8, 0), 0u);
}

TEST(DeviceFilterTest, MknodIsDeniedEvenForAllowedDevices) {
  const auto prog = BuildDeviceFilter({{'c', 1, 3, "rw"}, {'c', 136, kAnyMinor, "rw"}});
  EXPECT_EQ(Interpret(prog, kChar | kMknod, 1, 3), 0u);
  EXPECT_EQ(Interpret(prog, kChar | kMknod, 136, 4), 0u);
}

TEST(DeviceFilterTest, WildcardMinorMatchesAnyMinorOfThatMajor) {
  const auto prog = BuildDeviceFilter({{'c', 136, kAnyMinor, "rw"}});
  EXPECT_EQ(Interpret(prog, kChar | kRead | kWrite, 136, 0), 1u);
  EXPECT_EQ(Interpret(prog, kChar | kWrite, 136, 1048575), 1u);
  EXPECT_EQ(Interpret(prog, kChar | kRead, 137, 0), 0u);
}

TEST(DeviceFilterTest, BaseRulesCoverTheStandardNodes) {
  const auto prog = BuildDeviceFilter(BaseDeviceRules());
  for (auto [major, minor] : {std::pair{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 2}}) {
    EXPECT_EQ(Interpret(prog, kChar | kRead | kWrite, major, minor), 1u) << major << ":" << minor;
  }
  EXPECT_EQ(Interpret(prog, kChar | kRead, 136, 7), 1u);
  EXPECT_EQ(Interpret(prog, kChar | kRead, 5, 1), 0u);     // /dev/console
  EXPECT_EQ(Interpret(prog, kChar | kRead, 1, 1), 0u);     // /dev/mem
  EXPECT_EQ(Interpret(prog, kChar | kRead, 10, 200), 0u);  // /dev/net/tun
}

TEST(DeviceRulesTest, ValidationNamesTheRuleAndField) {
  EXPECT_TRUE(ValidateDeviceRules(BaseDeviceRules()).ok());
  auto bad = [](DeviceRule r) {
    std::vector<DeviceRule> rules = BaseDeviceRules();
    rules.push_back(r);
    return ValidateDeviceRules(rules);
  };
  Status s = bad({'c', 195, 0, "rwm"});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("devices[8].access"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("mknod"), std::string::npos);
  s = bad({'c', -1, 0, "rw"});
  EXPECT_NE(s.message().find("devices[8].major"), std::string::npos) << s.message();
  s = bad({'a', 1, 3, "rw"});
  EXPECT_NE(s.message().find("devices[8].type"), std::string::npos) << s.message();
  s = bad({'c', 195, -2, "rw"});
  EXPECT_NE(s.message().find("devices[8].minor"), std::string::npos) << s.message();
  s = bad({'c', 195, 0, ""});
  EXPECT_NE(s.message().find("devices[8].access"), std::string::npos) << s.message();
  s = bad({'c', 195, 0, "x"});
  EXPECT_NE(s.message().find("devices[8].access"), std::string::npos) << s.message();
  EXPECT_EQ(bad({'c', 4096, 0, "rw"}).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace paddock::sandbox
