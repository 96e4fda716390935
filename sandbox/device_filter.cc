#include "sandbox/device_filter.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/log.h"
#include "base/unique_fd.h"

namespace paddock::sandbox {
namespace {

// Registers the program uses. r1 holds the context on entry; r0 is the verdict.
constexpr uint8_t kRegVerdict = 0;
constexpr uint8_t kRegContext = 1;
constexpr uint8_t kRegType = 2;
constexpr uint8_t kRegAccess = 3;
constexpr uint8_t kRegMajor = 4;
constexpr uint8_t kRegMinor = 5;

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn insn;
  std::memset(&insn, 0, sizeof insn);
  insn.code = code;
  insn.dst_reg = dst & 0xf;
  insn.src_reg = src & 0xf;
  insn.off = off;
  insn.imm = imm;
  return insn;
}

// dst = *(u32*)(ctx + off)
bpf_insn LoadContextWord(uint8_t dst, int16_t off) {
  return Insn(BPF_LDX | BPF_MEM | BPF_W, dst, kRegContext, off, 0);
}
// 32-bit ALU with an immediate; the upper half of dst becomes zero.
bpf_insn Alu32Imm(uint8_t op, uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn Mov32Reg(uint8_t dst, uint8_t src) {
  return Insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
}
bpf_insn Mov64Imm(uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}
// if dst != imm goto pc + 1 + off. dst holds a zero-extended u32 and imm is non-negative, so the
// 64-bit comparison equals the 32-bit one (and runs on kernels older than JMP32).
bpf_insn JumpIfNotEqual(uint8_t dst, int32_t imm, int16_t off) {
  return Insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm);
}
bpf_insn Exit() { return Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

int32_t AccessMask(const std::string& access) {
  int32_t mask = 0;
  for (char c : access) {
    if (c == 'r') mask |= BPF_DEVCG_ACC_READ;
    if (c == 'w') mask |= BPF_DEVCG_ACC_WRITE;
    if (c == 'm') mask |= BPF_DEVCG_ACC_MKNOD;
  }
  return mask;
}

long Bpf(int cmd, union bpf_attr* attr) { return ::syscall(__NR_bpf, cmd, attr, sizeof *attr); }

uint64_t Pointer(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

Result<UniqueFd> LoadProgram(const std::vector<bpf_insn>& insns, std::string* log) {
  // The licence string only gates GPL-only helpers, and the program calls no helper at all.
  static const char kLicense[] = "Proprietary";
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = Pointer(insns.data());
  attr.insn_cnt = static_cast<uint32_t>(insns.size());
  attr.license = Pointer(kLicense);
  // Named so that `bpftool cgroup tree` shows whose program it is.
  static const char kName[] = "paddock_devices";
  static_assert(sizeof kName <= sizeof attr.prog_name);
  std::memcpy(attr.prog_name, kName, sizeof kName);
  if (log != nullptr) {
    attr.log_buf = Pointer(log->data());
    attr.log_size = static_cast<uint32_t>(log->size());
    attr.log_level = 1;
  }
  const int fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &attr));
  if (fd < 0) return Status::FromErrno("load the device program (BPF_PROG_LOAD)");
  return UniqueFd(fd);
}

// Loads without a log first: a verbose log can overflow its buffer (ENOSPC) even for a good
// program. Only when that fails, loads again with the log to explain why.
Result<UniqueFd> Load(const std::vector<bpf_insn>& insns) {
  Result<UniqueFd> prog = LoadProgram(insns, nullptr);
  if (prog.ok()) return prog;
  const Status first = prog.status();
  std::string log(64 * 1024, '\0');
  (void)LoadProgram(insns, &log);
  log.resize(std::strlen(log.c_str()));
  constexpr size_t kKeep = 2000;  // the verdict sits at the end of the log
  if (log.size() > kKeep) log = "..." + log.substr(log.size() - kKeep);
  std::string message = first.message();
  if (first.code() == StatusCode::kPermissionDenied) {
    message += " (needs CAP_BPF and CAP_SYS_ADMIN, or CAP_SYS_ADMIN)";
  }
  if (!log.empty()) message += "; verifier log: " + log;
  return Status(first.code(), message);
}

Result<uint32_t> ProgramId(int prog_fd) {
  struct bpf_prog_info info;
  std::memset(&info, 0, sizeof info);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.info.bpf_fd = static_cast<uint32_t>(prog_fd);
  attr.info.info_len = sizeof info;
  attr.info.info = Pointer(&info);
  if (Bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) != 0) {
    return Status::FromErrno("read the device program's id (BPF_OBJ_GET_INFO_BY_FD)");
  }
  return info.id;
}

// Ids of the device programs the kernel runs for the cgroup: `effective` includes those
// inherited from ancestors.
Result<std::vector<uint32_t>> QueryPrograms(int cgroup_fd, bool effective) {
  std::vector<uint32_t> ids(16);
  for (int attempt = 0; attempt < 4; ++attempt) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.query.target_fd = static_cast<uint32_t>(cgroup_fd);
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.query_flags = effective ? BPF_F_QUERY_EFFECTIVE : 0;
    attr.query.prog_ids = Pointer(ids.data());
    attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
    if (Bpf(BPF_PROG_QUERY, &attr) == 0) {
      ids.resize(attr.query.prog_cnt);
      return ids;
    }
    if (errno != ENOSPC) break;
    ids.resize(std::max<size_t>(attr.query.prog_cnt, ids.size() * 2));
  }
  return Status::FromErrno("list the cgroup's device programs (BPF_PROG_QUERY)");
}

}  // namespace

std::vector<bpf_insn> BuildDeviceFilter(const std::vector<DeviceRule>& rules) {
  std::vector<bpf_insn> p;
  // Split the context into registers once; every rule then compares registers with constants.
  p.push_back(LoadContextWord(kRegType, offsetof(bpf_cgroup_dev_ctx, access_type)));
  p.push_back(Alu32Imm(BPF_AND, kRegType, 0xffff));
  p.push_back(LoadContextWord(kRegAccess, offsetof(bpf_cgroup_dev_ctx, access_type)));
  p.push_back(Alu32Imm(BPF_RSH, kRegAccess, 16));
  p.push_back(LoadContextWord(kRegMajor, offsetof(bpf_cgroup_dev_ctx, major)));
  p.push_back(LoadContextWord(kRegMinor, offsetof(bpf_cgroup_dev_ctx, minor)));

  for (const DeviceRule& rule : rules) {
    // One block per rule. Each test jumps to the first instruction after the block when it fails,
    // so the jump offsets are patched once the block's length is known.
    std::vector<size_t> jumps;
    const int32_t type = rule.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
    jumps.push_back(p.size());
    p.push_back(JumpIfNotEqual(kRegType, type, 0));
    // Requested bits outside the rule's access mean no match: r0 = access & ~granted.
    p.push_back(Mov32Reg(kRegVerdict, kRegAccess));
    p.push_back(Alu32Imm(BPF_AND, kRegVerdict, ~AccessMask(rule.access)));
    jumps.push_back(p.size());
    p.push_back(JumpIfNotEqual(kRegVerdict, 0, 0));
    jumps.push_back(p.size());
    p.push_back(JumpIfNotEqual(kRegMajor, static_cast<int32_t>(rule.major), 0));
    if (rule.minor != kAnyMinor) {
      jumps.push_back(p.size());
      p.push_back(JumpIfNotEqual(kRegMinor, static_cast<int32_t>(rule.minor), 0));
    }
    p.push_back(Mov64Imm(kRegVerdict, 1));
    p.push_back(Exit());
    const size_t end = p.size();
    for (size_t j : jumps) p[j].off = static_cast<int16_t>(end - (j + 1));
  }
  p.push_back(Mov64Imm(kRegVerdict, 0));
  p.push_back(Exit());
  return p;
}

namespace {

struct LoadedProgram {
  UniqueFd fd;
  uint32_t id = 0;
};

// Loading (and verifying) a program costs more than the rest of creating a sandbox's cgroup,
// and most sandboxes have the same rules (all those without GPUs): one loaded program serves
// every cgroup with the same instructions. Attaching holds the program in the kernel; the
// descriptors kept here only make reuse possible. Bounded: past kMaxCachedPrograms distinct rule
// sets the cache starts over (descriptors of programs still attached somewhere are dropped,
// which detaches nothing).
constexpr size_t kMaxCachedPrograms = 64;

Result<std::shared_ptr<const LoadedProgram>> LoadCached(const std::vector<bpf_insn>& insns) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const LoadedProgram>> cache;
  const std::string key(reinterpret_cast<const char*>(insns.data()),
                        insns.size() * sizeof(bpf_insn));
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  Result<UniqueFd> prog = Load(insns);
  if (!prog.ok()) return prog.status();
  Result<uint32_t> id = ProgramId(prog->get());
  if (!id.ok()) return id.status();
  auto loaded = std::make_shared<LoadedProgram>(LoadedProgram{std::move(prog).value(), *id});
  if (cache.size() >= kMaxCachedPrograms) cache.clear();
  cache.emplace(key, loaded);
  return std::shared_ptr<const LoadedProgram>(loaded);
}

}  // namespace

Status InstallDeviceFilter(int cgroup_fd, const std::vector<DeviceRule>& rules) {
  const std::vector<bpf_insn> insns = BuildDeviceFilter(rules);
  Result<std::shared_ptr<const LoadedProgram>> loaded = LoadCached(insns);
  if (!loaded.ok()) return loaded.status();
  const UniqueFd* prog = &(*loaded)->fd;
  const uint32_t* id = &(*loaded)->id;

  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.attach_bpf_fd = static_cast<uint32_t>(prog->get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, &attr) != 0) {
    const int err = errno;
    std::string what = "attach the device program (BPF_PROG_ATTACH)";
    // EPERM as root means an ancestor holds a program attached without ALLOW_MULTI.
    if (err == EPERM) what += ", an ancestor cgroup may forbid more device programs";
    return Status::FromErrno(what, err);
  }

  // Trust the kernel's own list rather than the attach call's return: the program must be among
  // those it runs for this cgroup.
  Result<std::vector<uint32_t>> effective = QueryPrograms(cgroup_fd, /*effective=*/true);
  Status failure;
  if (!effective.ok()) {
    failure = effective.status();
  } else if (std::find(effective->begin(), effective->end(), *id) == effective->end()) {
    failure = Status::Internal("the device program (id " + std::to_string(*id) +
                               ") is attached but the kernel does not list it as effective");
  }
  if (!failure.ok()) {
    std::memset(&attr, 0, sizeof attr);
    attr.target_fd = static_cast<uint32_t>(cgroup_fd);
    attr.attach_bpf_fd = static_cast<uint32_t>(prog->get());
    attr.attach_type = BPF_CGROUP_DEVICE;
    (void)Bpf(BPF_PROG_DETACH, &attr);
    return failure;
  }
  LogDebug("cgroup: device program attached", {{"BPF_PROG_ID", std::to_string(*id)},
                                               {"DEVICE_RULES", std::to_string(rules.size())},
                                               {"BPF_INSNS", std::to_string(insns.size())}});
  return Status::Ok();
}

Result<uint32_t> CountDeviceFilters(int cgroup_fd) {
  Result<std::vector<uint32_t>> ids = QueryPrograms(cgroup_fd, /*effective=*/false);
  if (!ids.ok()) return ids.status();
  return static_cast<uint32_t>(ids->size());
}

}  // namespace paddock::sandbox
