// Tests of the sandbox's seccomp profile (sandbox/seccomp_policy.h), in three layers:
//
//   - the profile table: complete and free of typos against the linked libseccomp;
//   - the compiled program: evaluated here with a small BPF interpreter for every syscall number on
//     x86-64, i386 and x32 and for the argument checks (no kernel support needed);
//   - the kernel (root only): each probe is a syscall with harmless arguments (invalid fds, NULL
//     pointers, invalid flags), run twice, each time in a forked child: once without the filter and
//     once with it (PR_SET_NO_NEW_PRIVS, then SeccompProgram::Install). A denied call must fail
//     with the profile's errno under the filter; without the filter it reaches the kernel and
//     usually fails differently (EBADF, EFAULT, EINVAL...), which shows that the errno came from
//     the filter. An allowed call must behave the same with and without the filter. Every probe is
//     reported on stdout, one line each. Root lets the unfiltered calls get past the kernel's
//     capability checks to the harmless argument errors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/aio_abi.h>
#include <linux/audit.h>
#include <linux/mempolicy.h>
#include <linux/personality.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/seccomp_policy.h"

namespace paddock::sandbox {
namespace {

constexpr long kX32Bit = 0x40000000;  // __X32_SYSCALL_BIT

// --- Raw syscalls: each returns the result, or -errno.

long Sys(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  const long r = ::syscall(nr, a, b, c, d, e, f);
  return r == -1 ? -errno : r;
}

// An i386 syscall from this 64-bit process (int $0x80 enters the kernel's ia32 path, which
// reports AUDIT_ARCH_I386 to seccomp). Arguments are truncated to 32 bits.
long Int80(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  long ret;
  asm volatile("int $0x80"
               : "=a"(ret)
               : "0"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
               : "memory", "cc", "r8", "r9", "r10", "r11");
  return static_cast<int>(ret);
}

// libseccomp reports the i386 socket calls as multiplexed (pseudo numbers); the direct ones exist
// since Linux 4.3.
constexpr long kI386Socketcall = 102;
constexpr long kI386Socket = 359;

int I386Nr(const char* name) { return seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, name); }

long I386(const char* name, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  const int nr = I386Nr(name);
  return nr < 0 ? -ENOTSUP : Int80(nr, a, b, c, d, e);
}

// A fork-like raw clone; the child leaves at once. Returns the child's pid or -errno.
long CloneAndReap(long flags) {
  const long pid = Sys(SYS_clone, flags, 0, 0, 0, 0);
  if (pid == 0) ::_exit(0);
  if (pid > 0) ::waitpid(static_cast<pid_t>(pid), nullptr, __WALL);
  return pid;
}

long I386CloneAndReap(long flags) {
  const long pid = I386("clone", flags);
  if (pid == 0) ::_exit(0);
  if (pid > 0) ::waitpid(static_cast<pid_t>(pid), nullptr, __WALL);
  return pid;
}

// Closes a descriptor a probe opened (the probe children exit anyway; this keeps them tidy).
long Fd(long r) {
  if (r >= 0) ::close(static_cast<int>(r));
  return r;
}

long ForkAndReap() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  if (pid < 0) return -errno;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

long VforkAndReap() {
  const pid_t pid = ::vfork();
  if (pid == 0) ::_exit(0);
  if (pid < 0) return -errno;
  ::waitpid(pid, nullptr, 0);
  return 0;
}

// glibc 2.34+ tries clone3 first and falls back to clone on ENOSYS.
long ThreadAndJoin() {
  pthread_t thread;
  const int rc = ::pthread_create(
      &thread, nullptr, [](void*) -> void* { return nullptr; }, nullptr);
  if (rc != 0) return -rc;
  ::pthread_join(thread, nullptr);
  return 0;
}

// gdb's way in: the child asks to be traced and stops; the parent reads its memory, resumes it.
volatile long traced_value = 0x5eccu;
long PtraceChild() {
  const pid_t pid = ::fork();
  if (pid < 0) return -errno;
  if (pid == 0) {
    if (::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != 0) ::_exit(1);
    ::raise(SIGSTOP);
    ::_exit(7);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  long result = 0;
  if (!WIFSTOPPED(status)) result = -ECHILD;
  errno = 0;
  const long word = ::ptrace(PTRACE_PEEKDATA, pid, const_cast<long*>(&traced_value), nullptr);
  if (result == 0 && (errno != 0 || word != traced_value)) result = errno != 0 ? -errno : -EIO;
  long copy = 0;
  iovec local{&copy, sizeof copy};
  iovec remote{const_cast<long*>(&traced_value), sizeof copy};
  if (result == 0 && ::process_vm_readv(pid, &local, 1, &remote, 1, 0) != sizeof copy) {
    result = -errno;
  }
  if (result == 0 && copy != traced_value) result = -EIO;
  ::ptrace(PTRACE_CONT, pid, nullptr, nullptr);
  ::waitpid(pid, &status, 0);
  if (result == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 7)) result = -ECHILD;
  return result;
}

long Mbind() {
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -errno;
  const long r = Sys(SYS_mbind, reinterpret_cast<long>(p), 4096, MPOL_DEFAULT, 0, 0, 0);
  ::munmap(p, 4096);
  return r;
}

long Madvise() {
  void* p = ::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -errno;
  const long r = ::madvise(p, 1 << 20, MADV_HUGEPAGE) == 0 && ::madvise(p, 4096, MADV_DONTNEED) == 0
                     ? 0
                     : -errno;
  ::munmap(p, 1 << 20);
  return r;
}

long Aio() {
  aio_context_t ctx = 0;
  const long r = Sys(SYS_io_setup, 8, reinterpret_cast<long>(&ctx));
  if (r == 0) Sys(SYS_io_destroy, static_cast<long>(ctx));
  return r;
}

long Vhangup() {
  // Only without a controlling terminal (the probe children call setsid) is vhangup a no-op.
  if (::getsid(0) != ::getpid()) return -EDEADLK;
  return Sys(SYS_vhangup);
}

// --- Probes.

enum class Expect {
  kEperm,    // denied by the profile
  kEnosys,   // newer than the profile, or clone3 / socketcall
  kUnknown,  // unknown to the profile and to the kernel: ENOSYS either way, but never EPERM
  kSame,     // allowed: same outcome (success, or the same errno) as without the filter
};

struct Probe {
  const char* name;
  Expect expect;
  long (*call)();
};

const std::vector<Probe>& NativeProbes() {
  static const std::vector<Probe> probes = {
      // Always denied.
      {"keyctl", Expect::kEperm, [] { return Sys(SYS_keyctl, 0xdead); }},
      {"add_key", Expect::kEperm, [] { return Sys(SYS_add_key, 0, 0, 0, 0, 0); }},
      {"request_key", Expect::kEperm, [] { return Sys(SYS_request_key, 0, 0, 0, 0); }},
      {"bpf", Expect::kEperm, [] { return Sys(SYS_bpf, 0xdead, 0, 0); }},
      {"perf_event_open", Expect::kEperm, [] { return Sys(SYS_perf_event_open, 0, 0, -1, -1, 0); }},
      {"kexec_load", Expect::kEperm, [] { return Sys(SYS_kexec_load, 0, 0xffff, 0, 0x100); }},
      {"kexec_file_load", Expect::kEperm,
       [] { return Sys(SYS_kexec_file_load, -1, -1, 0, 0, 0x100); }},
      {"init_module", Expect::kEperm, [] { return Sys(SYS_init_module, 0, 0, 0); }},
      {"finit_module", Expect::kEperm, [] { return Sys(SYS_finit_module, -1, 0, 0); }},
      {"delete_module", Expect::kEperm, [] { return Sys(SYS_delete_module, 0, 0); }},
      {"mount", Expect::kEperm, [] { return Sys(SYS_mount, 0, 0, 0, 0, 0); }},
      {"umount2", Expect::kEperm, [] { return Sys(SYS_umount2, 0, 0xdead0000); }},
      {"pivot_root", Expect::kEperm, [] { return Sys(SYS_pivot_root, 0, 0); }},
      {"chroot", Expect::kEperm, [] { return Sys(SYS_chroot, 0); }},
      {"fsopen", Expect::kEperm, [] { return Sys(SYS_fsopen, 0, 0xdead); }},
      {"fsconfig", Expect::kEperm, [] { return Sys(SYS_fsconfig, -1, 0, 0, 0, 0); }},
      {"fsmount", Expect::kEperm, [] { return Sys(SYS_fsmount, -1, 0, 0); }},
      {"fspick", Expect::kEperm, [] { return Sys(SYS_fspick, -1, 0, 0xdead); }},
      {"move_mount", Expect::kEperm, [] { return Sys(SYS_move_mount, -1, 0, -1, 0, 0xdead0000); }},
      {"open_tree", Expect::kEperm, [] { return Sys(SYS_open_tree, -1, 0, 0xdead0000); }},
      {"mount_setattr", Expect::kEperm, [] { return Sys(SYS_mount_setattr, -1, 0, 0, 0, 0); }},
      {"unshare(0)", Expect::kEperm, [] { return Sys(SYS_unshare, 0); }},
      {"setns", Expect::kEperm, [] { return Sys(SYS_setns, -1, 0); }},
      {"open_by_handle_at", Expect::kEperm, [] { return Sys(SYS_open_by_handle_at, -1, 0, 0); }},
      {"userfaultfd", Expect::kEperm, [] { return Fd(Sys(SYS_userfaultfd, 0xdead0000)); }},
      {"io_uring_setup", Expect::kEperm, [] { return Fd(Sys(SYS_io_uring_setup, 0, 0)); }},
      {"io_uring_enter", Expect::kEperm, [] { return Sys(SYS_io_uring_enter, -1, 0, 0, 0, 0, 0); }},
      {"io_uring_register", Expect::kEperm, [] { return Sys(SYS_io_uring_register, -1, 0, 0, 0); }},
      {"swapon", Expect::kEperm, [] { return Sys(SYS_swapon, 0, 0); }},
      {"swapoff", Expect::kEperm, [] { return Sys(SYS_swapoff, 0); }},
      {"reboot (bad magic)", Expect::kEperm, [] { return Sys(SYS_reboot, 0, 0, 0, 0); }},
      {"acct", Expect::kEperm, [] { return Sys(SYS_acct, 1); }},
      {"quotactl", Expect::kEperm, [] { return Sys(SYS_quotactl, 0xdead, 0, 0, 0); }},
      {"quotactl_fd", Expect::kEperm, [] { return Sys(SYS_quotactl_fd, -1, 0xdead, 0, 0); }},
      {"settimeofday", Expect::kEperm, [] { return Sys(SYS_settimeofday, 1, 0); }},
      {"clock_settime", Expect::kEperm, [] { return Sys(SYS_clock_settime, CLOCK_REALTIME, 0); }},
      {"sethostname", Expect::kEperm, [] { return Sys(SYS_sethostname, 0, 1 << 20); }},
      {"setdomainname", Expect::kEperm, [] { return Sys(SYS_setdomainname, 0, 1 << 20); }},
      {"syslog", Expect::kEperm, [] { return Sys(SYS_syslog, 0xdead, 0, 0); }},
      {"vhangup", Expect::kEperm, Vhangup},
      {"iopl(4)", Expect::kEperm, [] { return Sys(SYS_iopl, 4); }},
      {"ioperm", Expect::kEperm, [] { return Sys(SYS_ioperm, 0, 0, 0); }},
      {"modify_ldt(read 0)", Expect::kEperm, [] { return Sys(SYS_modify_ldt, 0, 0, 0); }},
      {"fanotify_init", Expect::kEperm, [] { return Fd(Sys(SYS_fanotify_init, 0xdead0000, 0)); }},
      {"lookup_dcookie", Expect::kEperm, [] { return Sys(SYS_lookup_dcookie, 0, 0, 0); }},
      {"_sysctl", Expect::kEperm, [] { return Sys(SYS__sysctl, 0); }},
      {"nfsservctl", Expect::kEperm, [] { return Sys(SYS_nfsservctl, 0, 0, 0); }},

      // clone: namespace flags denied. The CLONE_THREAD-without-CLONE_SIGHAND forms are invalid,
      // so without the filter the kernel refuses them (EINVAL) before creating anything.
      {"clone(NEWNS|THREAD)", Expect::kEperm,
       [] { return CloneAndReap(CLONE_NEWNS | CLONE_THREAD); }},
      {"clone(NEWCGROUP|THREAD)", Expect::kEperm,
       [] { return CloneAndReap(CLONE_NEWCGROUP | CLONE_THREAD); }},
      {"clone(NEWUTS|THREAD)", Expect::kEperm,
       [] { return CloneAndReap(CLONE_NEWUTS | CLONE_THREAD); }},
      {"clone(NEWIPC|THREAD)", Expect::kEperm,
       [] { return CloneAndReap(CLONE_NEWIPC | CLONE_THREAD); }},
      {"clone(NEWUSER|THREAD)", Expect::kEperm,
       [] { return CloneAndReap(CLONE_NEWUSER | CLONE_THREAD); }},
      {"clone(NEWPID|THREAD)", Expect::kEperm,
       [] { return CloneAndReap(CLONE_NEWPID | CLONE_THREAD); }},
      {"clone(NEWNET|THREAD)", Expect::kEperm,
       [] { return CloneAndReap(CLONE_NEWNET | CLONE_THREAD); }},
      // The real thing: without the filter these create a child in new namespaces (which exits
      // at once); with it, EPERM.
      {"clone(NEWUSER|SIGCHLD)", Expect::kEperm,
       [] { return CloneAndReap(CLONE_NEWUSER | SIGCHLD); }},
      {"clone(NEWNS|NEWPID|SIGCHLD)", Expect::kEperm,
       [] { return CloneAndReap(CLONE_NEWNS | CLONE_NEWPID | SIGCHLD); }},
      {"clone3 (size 0)", Expect::kEnosys, [] { return Sys(SYS_clone3, 0, 0); }},

      // Processes and threads keep working.
      {"clone(SIGCHLD)", Expect::kSame, [] { return CloneAndReap(SIGCHLD) > 0 ? 0L : -ECHILD; }},
      {"clone(CLONE_VM|CLONE_VFORK) via vfork()", Expect::kSame, VforkAndReap},
      {"fork()", Expect::kSame, ForkAndReap},
      {"pthread_create (clone3 -> clone)", Expect::kSame, ThreadAndJoin},
      {"ptrace+process_vm_readv on a child", Expect::kSame, PtraceChild},

      // socket / socketpair: address families.
      {"socket(AF_VSOCK)", Expect::kEperm,
       [] { return Fd(Sys(SYS_socket, AF_VSOCK, SOCK_STREAM, 0)); }},
      {"socket(AF_ALG)", Expect::kEperm,
       [] { return Fd(Sys(SYS_socket, AF_ALG, SOCK_SEQPACKET, 0)); }},
      {"socket(AF_PACKET)", Expect::kEperm,
       [] { return Fd(Sys(SYS_socket, AF_PACKET, SOCK_RAW, 0)); }},
      {"socket(1<<32 | AF_VSOCK)", Expect::kEperm,
       [] { return Fd(Sys(SYS_socket, (1L << 32) | AF_VSOCK, SOCK_STREAM, 0)); }},
      {"socket(AF_INET)", Expect::kSame,
       [] { return Fd(Sys(SYS_socket, AF_INET, SOCK_STREAM, 0)); }},
      {"socket(AF_INET6)", Expect::kSame,
       [] { return Fd(Sys(SYS_socket, AF_INET6, SOCK_DGRAM, 0)); }},
      {"socket(AF_UNIX)", Expect::kSame,
       [] { return Fd(Sys(SYS_socket, AF_UNIX, SOCK_STREAM, 0)); }},
      {"socket(AF_NETLINK)", Expect::kSame,
       [] { return Fd(Sys(SYS_socket, AF_NETLINK, SOCK_RAW, 0 /*NETLINK_ROUTE*/)); }},
      {"socket(1<<32 | AF_INET)", Expect::kSame,
       [] { return Fd(Sys(SYS_socket, (1L << 32) | AF_INET, SOCK_STREAM, 0)); }},
      {"socketpair(AF_UNIX)", Expect::kSame,
       [] {
         int sv[2];
         const long r = Sys(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, reinterpret_cast<long>(sv));
         if (r == 0) ::close(sv[0]), ::close(sv[1]);
         return r;
       }},
      {"socketpair(AF_INET)", Expect::kEperm,
       [] {
         int sv[2];
         return Sys(SYS_socketpair, AF_INET, SOCK_STREAM, 0, reinterpret_cast<long>(sv));
       }},

      // personality: no ADDR_NO_RANDOMIZE (nor the other flags a setuid exec would clear).
      {"personality(ADDR_NO_RANDOMIZE)", Expect::kEperm,
       [] { return Sys(SYS_personality, ADDR_NO_RANDOMIZE); }},
      {"personality(READ_IMPLIES_EXEC)", Expect::kEperm,
       [] { return Sys(SYS_personality, READ_IMPLIES_EXEC); }},
      {"personality(0xffffffff) query", Expect::kSame,
       [] { return Sys(SYS_personality, 0xffffffff); }},
      {"personality(-1L) query", Expect::kSame, [] { return Sys(SYS_personality, -1L); }},
      {"personality(PER_LINUX)", Expect::kSame, [] { return Sys(SYS_personality, PER_LINUX); }},

      // Unknown numbers: above the profile's highest known syscall -> ENOSYS.
      {"statmount (457, newer than the profile)", Expect::kEnosys,
       [] { return Sys(457, 0, 0, 0, 0); }},
      {"mseal (462, newer than the profile)", Expect::kEnosys,
       [] { return Sys(462, 0, 0, 0xdead); }},
      {"syscall 1000", Expect::kUnknown, [] { return Sys(1000); }},
      {"syscall -1", Expect::kUnknown, [] { return Sys(-1); }},
      // A hole in the numbering below the highest known number is known-but-denied: EPERM.
      {"syscall 400 (unassigned, below the cut-off)", Expect::kEperm, [] { return Sys(400); }},

      // What AI workloads need.
      {"get_mempolicy", Expect::kSame,
       [] {
         int mode = -1;
         return Sys(SYS_get_mempolicy, reinterpret_cast<long>(&mode), 0, 0, 0, 0);
       }},
      {"set_mempolicy(MPOL_DEFAULT)", Expect::kSame,
       [] { return Sys(SYS_set_mempolicy, MPOL_DEFAULT, 0, 0); }},
      {"mbind(MPOL_DEFAULT)", Expect::kSame, Mbind},
      {"move_pages(self, 0 pages)", Expect::kSame,
       [] { return Sys(SYS_move_pages, 0, 0, 0, 0, 0, 0); }},
      {"migrate_pages(self)", Expect::kSame, [] { return Sys(SYS_migrate_pages, 0, 0, 0, 0); }},
      {"memfd_create", Expect::kSame,
       [] { return Fd(Sys(SYS_memfd_create, reinterpret_cast<long>("t"), 0)); }},
      {"madvise(HUGEPAGE, DONTNEED)", Expect::kSame, Madvise},
      {"io_setup/io_destroy", Expect::kSame, Aio},
      {"ioctl(-1)", Expect::kSame, [] { return Sys(SYS_ioctl, -1, 0, 0); }},
      {"sched_getaffinity", Expect::kSame,
       [] {
         cpu_set_t set;
         return Sys(SYS_sched_getaffinity, 0, sizeof set, reinterpret_cast<long>(&set)) > 0 ? 0L
                                                                                            : -EIO;
       }},
      {"sched_setscheduler(SCHED_BATCH)", Expect::kSame,
       [] {
         sched_param param{};
         return Sys(SYS_sched_setscheduler, 0, SCHED_BATCH, reinterpret_cast<long>(&param));
       }},
      {"membarrier(QUERY)", Expect::kSame, [] { return Sys(SYS_membarrier, 0, 0); }},
      {"process_vm_readv(self)", Expect::kSame,
       [] {
         long in = 42, out = 0;
         iovec local{&out, sizeof out}, remote{&in, sizeof in};
         return Sys(SYS_process_vm_readv, ::getpid(), reinterpret_cast<long>(&local), 1,
                    reinterpret_cast<long>(&remote), 1, 0);
       }},
      {"prctl(PR_GET_NAME)", Expect::kSame,
       [] {
         char name[16];
         return Sys(SYS_prctl, PR_GET_NAME, reinterpret_cast<long>(name));
       }},
  };
  return probes;
}

// i386 probes (int $0x80); used only where the kernel has IA32 emulation.
const std::vector<Probe>& I386Probes() {
  static const std::vector<Probe> probes = {
      {"i386 getpid", Expect::kSame, [] { return I386("getpid") == ::getpid() ? 0L : -EIO; }},
      {"i386 mount", Expect::kEperm, [] { return I386("mount", 0, 0, 0, 0, 0); }},
      {"i386 keyctl", Expect::kEperm, [] { return I386("keyctl", 0xdead); }},
      {"i386 unshare(0)", Expect::kEperm, [] { return I386("unshare", 0); }},
      {"i386 io_uring_setup", Expect::kEperm, [] { return Fd(I386("io_uring_setup", 0, 0)); }},
      {"i386 socketcall(SYS_SOCKET, NULL)", Expect::kEnosys,
       [] { return Int80(kI386Socketcall, 1 /*SYS_SOCKET*/, 0); }},
      {"i386 socketcall(SYS_BIND, NULL)", Expect::kEnosys,
       [] { return Int80(kI386Socketcall, 2 /*SYS_BIND*/, 0); }},
      {"i386 socket(AF_VSOCK)", Expect::kEperm,
       [] { return Fd(Int80(kI386Socket, AF_VSOCK, SOCK_STREAM, 0)); }},
      {"i386 socket(AF_INET)", Expect::kSame,
       [] { return Fd(Int80(kI386Socket, AF_INET, SOCK_STREAM, 0)); }},
      {"i386 personality(ADDR_NO_RANDOMIZE)", Expect::kEperm,
       [] { return I386("personality", ADDR_NO_RANDOMIZE); }},
      {"i386 personality(0xffffffff)", Expect::kSame,
       [] { return I386("personality", 0xffffffff); }},
      {"i386 clone(NEWUSER|THREAD)", Expect::kEperm,
       [] { return I386CloneAndReap(CLONE_NEWUSER | CLONE_THREAD); }},
      {"i386 clone(SIGCHLD)", Expect::kSame,
       [] { return I386CloneAndReap(SIGCHLD) > 0 ? 0L : -ECHILD; }},
      {"i386 clone3", Expect::kEnosys, [] { return I386("clone3", 0, 0); }},
      {"i386 mmap2 (bad fd)", Expect::kSame,
       [] { return I386("mmap2", 0, 4096, PROT_READ, MAP_PRIVATE, -1); }},
      {"i386 statmount (457)", Expect::kEnosys, [] { return Int80(457, 0, 0, 0, 0); }},
      {"i386 syscall 1000", Expect::kUnknown, [] { return Int80(1000); }},
  };
  return probes;
}

// x32 probes: the profile refuses the whole x32 ABI with ENOSYS.
const std::vector<Probe>& X32Probes() {
  static const std::vector<Probe> probes = {
      {"x32 getpid", Expect::kEnosys, [] { return Sys(kX32Bit | 39); }},
      {"x32 mount", Expect::kEnosys, [] { return Sys(kX32Bit | 165, 0, 0, 0, 0, 0); }},
  };
  return probes;
}

// --- Running probes in a child.

const SeccompProgram& Program() {
  static const SeccompProgram* program = [] {
    Result<SeccompProgram> built = SeccompProgram::Build();
    if (!built.ok()) {
      ADD_FAILURE() << built.status().ToString();
      std::abort();
    }
    return new SeccompProgram(std::move(built).value());
  }();
  return *program;
}

// Child exit codes that mean "could not set up".
constexpr int kNoNewPrivsFailed = 90;
constexpr int kInstallFailed = 91;

struct Run {
  std::vector<long> results;  // one per probe that finished
  int exit_status = 0;        // waitpid status of the child
};

// Runs `probes` in a forked child, under the filter when `filtered`; results come back on a pipe.
Run RunProbes(const std::vector<Probe>& probes, bool filtered) {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const SeccompProgram& program = Program();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ::setsid();  // no controlling terminal: vhangup and friends stay harmless
    if (filtered) {
      if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(kNoNewPrivsFailed);
      if (program.Install() != 0) ::_exit(kInstallFailed);
    }
    for (const Probe& probe : probes) {
      const long r = probe.call();
      if (::write(fds[1], &r, sizeof r) != sizeof r) ::_exit(92);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  Run run;
  long r;
  while (::read(fds[0], &r, sizeof r) == sizeof r) run.results.push_back(r);
  ::close(fds[0]);
  ::waitpid(pid, &run.exit_status, 0);
  return run;
}

std::string Outcome(long r) {
  if (r >= 0) return "ok(" + std::to_string(r) + ")";
  const char* name = strerrorname_np(static_cast<int>(-r));
  return name != nullptr ? name : "errno " + std::to_string(-r);
}

int ExpectedErrno(Expect e) { return e == Expect::kEperm ? EPERM : ENOSYS; }

struct Report {
  int inconclusive = 0;  // denied calls the kernel itself answers with the same errno
};

// Runs the probes both ways and checks each; prints one line per probe.
// `same_errno_note` explains a denied probe whose unfiltered errno equals the filter's.
Report CheckProbes(const std::vector<Probe>& probes, const char* same_errno_note) {
  Report report;
  std::printf("[ seccomp  ] %-44s %-18s %-12s %s\n", "call", "without filter", "with filter",
              "verdict");
  const Run plain = RunProbes(probes, false);
  const Run filtered = RunProbes(probes, true);
  EXPECT_TRUE(WIFEXITED(plain.exit_status) && WEXITSTATUS(plain.exit_status) == 0)
      << "unfiltered probe child: status " << plain.exit_status;
  EXPECT_TRUE(WIFEXITED(filtered.exit_status) && WEXITSTATUS(filtered.exit_status) == 0)
      << "filtered probe child: status " << filtered.exit_status << " after "
      << filtered.results.size() << " probes (exit 90: no_new_privs, 91: Install failed)";
  for (size_t i = 0; i < probes.size(); ++i) {
    const Probe& probe = probes[i];
    if (i >= plain.results.size() || i >= filtered.results.size()) {
      ADD_FAILURE() << probe.name << ": no result (a probe child died)";
      continue;
    }
    const long before = plain.results[i];
    const long after = filtered.results[i];
    std::string verdict;
    if (probe.expect == Expect::kSame) {
      const bool same = (before >= 0 && after >= 0) || before == after;
      EXPECT_TRUE(same) << probe.name << ": without filter " << Outcome(before) << ", with filter "
                        << Outcome(after);
      verdict = same ? "allowed" : "FAIL";
    } else {
      const int want = ExpectedErrno(probe.expect);
      EXPECT_EQ(after, -want) << probe.name << ": with filter " << Outcome(after);
      if (after != -want) {
        verdict = "FAIL";
      } else if (probe.expect == Expect::kUnknown) {
        verdict = "ENOSYS (no such syscall)";
      } else if (before == -want && want == ENOSYS) {
        // A syscall newer than the running kernel (statmount on 6.1): both say ENOSYS, which is
        // the filter's answer for calls past its cut-off, so nothing is left to tell apart.
        verdict = "ENOSYS (this kernel lacks it too)";
      } else if (before == -want) {
        verdict = std::string("filtered? ") + same_errno_note;
        ++report.inconclusive;
      } else {
        verdict = "filtered";
      }
    }
    std::printf("[ seccomp  ] %-44s %-18s %-12s %s\n", probe.name, Outcome(before).c_str(),
                Outcome(after).c_str(), verdict.c_str());
  }
  std::fflush(stdout);
  return report;
}

bool HaveIa32Emulation() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(Int80(20 /* i386 getpid */) == ::getpid() ? 0 : 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

class SeccompTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIP: the probes need root to reach the kernel";
  }
};

// --- The profile table.

std::set<std::string> LibseccompNames(uint32_t arch, int base) {
  std::set<std::string> names;
  for (int nr = 0; nr < 1024; ++nr) {
    char* name = seccomp_syscall_resolve_num_arch(arch, base + nr);
    if (name != nullptr) names.insert(name);
    std::free(name);
  }
  return names;
}

SyscallRule RuleOf(std::string_view name) {
  for (const SyscallEntry& e : SeccompProfile()) {
    if (e.name == name) return e.rule;
  }
  ADD_FAILURE() << name << " is not in the profile";
  return SyscallRule::kAllow;
}

TEST(SeccompProfileTest, EveryNameIsUniqueAndKnownToLibseccomp) {
  std::set<std::string_view> seen;
  for (const SyscallEntry& e : SeccompProfile()) {
    EXPECT_TRUE(seen.insert(e.name).second) << e.name << " is listed twice";
    const std::string name(e.name);
    EXPECT_TRUE(seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name.c_str()) >= 0 ||
                seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, name.c_str()) >= 0)
        << e.name << " is neither an x86-64 nor an i386 syscall for libseccomp (a typo?)";
  }
}

// The profile is exhaustive up to its cut-off: every syscall the linked libseccomp knows is
// classified, so no known call falls through to ENOSYS by being forgotten. A newer libseccomp
// that knows newer calls makes this fail on purpose: decide for each, then list it.
TEST(SeccompProfileTest, ClassifiesEverySyscallLibseccompKnows) {
  std::set<std::string_view> listed;
  for (const SyscallEntry& e : SeccompProfile()) listed.insert(e.name);
  std::string missing;
  for (const auto& names :
       {LibseccompNames(SCMP_ARCH_X86_64, 0), LibseccompNames(SCMP_ARCH_X86, 0)}) {
    for (const std::string& name : names) {
      if (!listed.contains(name)) missing += " " + name;
    }
  }
  EXPECT_EQ(missing, "") << "syscalls libseccomp knows but the profile does not classify";
}

TEST(SeccompProfileTest, RulesTheIssueAsksFor) {
  for (const char* name :
       {"keyctl",          "add_key",        "request_key",     "bpf",
        "perf_event_open", "kexec_load",     "kexec_file_load", "init_module",
        "finit_module",    "delete_module",  "mount",           "umount",
        "umount2",         "fsopen",         "fsconfig",        "fsmount",
        "fspick",          "move_mount",     "open_tree",       "mount_setattr",
        "pivot_root",      "unshare",        "setns",           "open_by_handle_at",
        "userfaultfd",     "io_uring_setup", "io_uring_enter",  "io_uring_register",
        "swapon",          "swapoff",        "reboot",          "acct",
        "quotactl",        "quotactl_fd"}) {
    EXPECT_EQ(RuleOf(name), SyscallRule::kDeny) << name;
  }
  EXPECT_EQ(RuleOf("clone3"), SyscallRule::kDenyEnosys);
  for (const char* name : {"clone", "socket", "socketpair", "personality"}) {
    EXPECT_EQ(RuleOf(name), SyscallRule::kAllowIfArgs) << name;
  }
  for (const char* name :
       {"mbind", "set_mempolicy", "get_mempolicy", "move_pages", "migrate_pages", "ptrace",
        "process_vm_readv", "ioctl", "mmap", "madvise", "memfd_create", "io_setup", "io_submit",
        "io_getevents", "sched_setaffinity", "fork", "vfork", "execve"}) {
    EXPECT_EQ(RuleOf(name), SyscallRule::kAllow) << name;
  }
}

TEST(SeccompProgramTest, BuildsTheSameSmallProgramEveryTime) {
  Result<SeccompProgram> a = SeccompProgram::Build();
  Result<SeccompProgram> b = SeccompProgram::Build();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(a->instruction_count(), b->instruction_count());
  EXPECT_EQ(std::memcmp(a->instructions().data(), b->instructions().data(),
                        a->instruction_count() * sizeof(sock_filter)),
            0);
  EXPECT_GT(a->instruction_count(), 100u);
  EXPECT_LE(a->instruction_count(), static_cast<size_t>(BPF_MAXINSNS));
  std::printf("[ seccomp  ] program: %zu BPF instructions\n", a->instruction_count());
}

// --- The program's decisions, evaluated here for every syscall number (no kernel needed).

// Runs a classic BPF program on `data` like the kernel's seccomp does. Returns nullopt for an
// instruction this interpreter does not know, an out-of-range load, or running off the end.
std::optional<uint32_t> Evaluate(std::span<const sock_filter> program, const seccomp_data& data) {
  uint32_t a = 0;
  uint32_t x = 0;
  uint32_t mem[BPF_MEMWORDS] = {};
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& f = program[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (f.k % 4 != 0 || f.k + 4 > sizeof data) return std::nullopt;
        std::memcpy(&a, reinterpret_cast<const char*>(&data) + f.k, 4);
        break;
      case BPF_LD | BPF_IMM:
        a = f.k;
        break;
      case BPF_LDX | BPF_IMM:
        x = f.k;
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (f.k >= BPF_MEMWORDS) return std::nullopt;
        if (f.code == (BPF_LD | BPF_MEM)) a = mem[f.k];
        if (f.code == (BPF_LDX | BPF_MEM)) x = mem[f.k];
        if (f.code == BPF_ST) mem[f.k] = a;
        if (f.code == BPF_STX) mem[f.k] = x;
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        a &= f.k;
        break;
      case BPF_ALU | BPF_OR | BPF_K:
        a |= f.k;
        break;
      case BPF_MISC | BPF_TAX:
        x = a;
        break;
      case BPF_MISC | BPF_TXA:
        a = x;
        break;
      case BPF_JMP | BPF_JA:
        pc += f.k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += a == f.k ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGT | BPF_K:
        pc += a > f.k ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += a >= f.k ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += (a & f.k) != 0 ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JEQ | BPF_X:
        pc += a == x ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGT | BPF_X:
        pc += a > x ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_X:
        pc += a >= x ? f.jt : f.jf;
        break;
      case BPF_RET | BPF_K:
        return f.k;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

constexpr uint32_t kAllowed = SECCOMP_RET_ALLOW;
constexpr uint32_t kEperm = SECCOMP_RET_ERRNO | EPERM;
constexpr uint32_t kEnosys = SECCOMP_RET_ERRNO | ENOSYS;

class DecisionTest : public ::testing::Test {
 protected:
  // The program's answer for syscall `nr` on `arch` with arguments `args`.
  uint32_t Decide(uint32_t arch, uint32_t nr, std::initializer_list<uint64_t> args = {}) {
    seccomp_data data{};
    data.nr = static_cast<int>(nr);
    data.arch = arch;
    size_t i = 0;
    for (uint64_t arg : args) data.args[i++] = arg;
    const std::optional<uint32_t> action = Evaluate(Program().instructions(), data);
    EXPECT_TRUE(action.has_value()) << "the program did not finish for nr " << nr;
    return action.value_or(0xdeadbeef);
  }
  static uint32_t Nr(uint32_t arch, const char* name) {
    const int nr = seccomp_syscall_resolve_name_arch(arch, name);
    EXPECT_GE(nr, 0) << name;
    return static_cast<uint32_t>(nr);
  }
  // The highest syscall number of any profile name on `arch`: the ENOSYS cut-off.
  static uint32_t Highest(uint32_t arch) {
    int highest = 0;
    for (const SyscallEntry& e : SeccompProfile()) {
      highest =
          std::max(highest, seccomp_syscall_resolve_name_arch(arch, std::string(e.name).c_str()));
    }
    return static_cast<uint32_t>(highest);
  }
};

// Every number on both arches: profile entries get their rule, numbers the profile does not know
// get EPERM below the cut-off and ENOSYS above it; every x32 number gets ENOSYS.
TEST_F(DecisionTest, EverySyscallNumberOnBothArches) {
  struct Arch {
    uint32_t token;  // libseccomp's and the kernel's AUDIT_ARCH value
    const char* label;
  };
  for (const Arch arch : {Arch{SCMP_ARCH_X86_64, "x86_64"}, Arch{SCMP_ARCH_X86, "i386"}}) {
    const uint32_t highest = Highest(arch.token);
    std::printf("[ seccomp  ] %s: numbers above %u get ENOSYS\n", arch.label, highest);
    int checked = 0;
    for (uint32_t nr = 0; nr < 1100; ++nr) {
      char* resolved = seccomp_syscall_resolve_num_arch(arch.token, static_cast<int>(nr));
      const std::string name = resolved != nullptr ? resolved : "";
      std::free(resolved);
      uint32_t want = nr > highest ? kEnosys : kEperm;
      if (nr <= highest && !name.empty()) {
        const SyscallRule rule = RuleOf(name);
        if (rule == SyscallRule::kAllowIfArgs) continue;  // checked below
        want = rule == SyscallRule::kAllow  ? kAllowed
               : rule == SyscallRule::kDeny ? kEperm
                                            : kEnosys;
      }
      EXPECT_EQ(Decide(arch.token, nr), want) << arch.label << " " << nr << " " << name;
      ++checked;
    }
    EXPECT_GT(checked, 1000);
  }
  for (uint32_t nr = 0; nr < 1100; ++nr) {
    EXPECT_EQ(Decide(AUDIT_ARCH_X86_64, kX32Bit | nr), kEnosys) << "x32 " << nr;
  }
  EXPECT_EQ(Decide(AUDIT_ARCH_X86_64, 0xffffffffu), kEnosys) << "nr -1";
  EXPECT_EQ(Decide(AUDIT_ARCH_AARCH64, 0), SECCOMP_RET_KILL_PROCESS) << "a foreign arch";
}

TEST_F(DecisionTest, ArgumentChecks) {
  for (const uint32_t arch : {uint32_t{SCMP_ARCH_X86_64}, uint32_t{SCMP_ARCH_X86}}) {
    auto d = [&](const char* name, std::initializer_list<uint64_t> args) {
      return Decide(arch, Nr(arch, name), args);
    };
    const bool i386 = arch == SCMP_ARCH_X86;
    for (uint64_t flag : {CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                          CLONE_NEWPID, CLONE_NEWNET}) {
      EXPECT_EQ(d("clone", {flag | SIGCHLD}), kEperm) << flag;
      EXPECT_EQ(d("clone", {flag | CLONE_VM | CLONE_THREAD | CLONE_SIGHAND}), kEperm) << flag;
    }
    EXPECT_EQ(d("clone", {SIGCHLD}), kAllowed);
    EXPECT_EQ(
        d("clone", {CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                    CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID}),
        kAllowed);                                                        // glibc's pthread_create
    EXPECT_EQ(d("clone", {CLONE_VM | CLONE_VFORK | SIGCHLD}), kAllowed);  // posix_spawn
    for (uint64_t family = 0; family < 64; ++family) {
      const bool allowed =
          family == AF_UNIX || family == AF_INET || family == AF_INET6 || family == AF_NETLINK;
      if (!i386) {  // on i386 libseccomp names the socket calls by pseudo numbers
        EXPECT_EQ(d("socket", {family, SOCK_STREAM, 0}), allowed ? kAllowed : kEperm) << family;
        EXPECT_EQ(d("socketpair", {family, SOCK_STREAM, 0}), family == AF_UNIX ? kAllowed : kEperm)
            << family;
        // The kernel reads the family as an int: junk in the high half changes nothing.
        EXPECT_EQ(d("socket", {(7ull << 32) | family}), allowed ? kAllowed : kEperm) << family;
      } else {
        EXPECT_EQ(Decide(AUDIT_ARCH_I386, kI386Socket, {family}), allowed ? kAllowed : kEperm);
      }
    }
    for (uint64_t persona : {0x0ull, 0x8ull, 0x20000ull, 0x20008ull, 0xffffffffull}) {
      EXPECT_EQ(d("personality", {persona}), kAllowed) << persona;
    }
    for (uint64_t persona :
         {uint64_t{ADDR_NO_RANDOMIZE}, uint64_t{READ_IMPLIES_EXEC}, uint64_t{MMAP_PAGE_ZERO},
          uint64_t{ADDR_NO_RANDOMIZE} | PER_LINUX32, uint64_t{PER_BSD}, uint64_t{0xfffffffe}}) {
      EXPECT_EQ(d("personality", {persona}), kEperm) << persona;
    }
  }
  // The i386 socket multiplexer answers ENOSYS whatever the call, even for allowed ones.
  for (uint64_t call = 0; call < 21; ++call) {
    EXPECT_EQ(Decide(AUDIT_ARCH_I386, kI386Socketcall, {call, 0}), kEnosys) << call;
  }
}

// --- The filter in the kernel.

TEST_F(SeccompTest, NativeSyscalls) {
  const Report report = CheckProbes(NativeProbes(), "(the kernel gives the same errno)");
  // Only a few denied calls may be indistinguishable on this kernel (e.g. kexec or modules
  // compiled out give ENOSYS, never EPERM, so those stay conclusive; lockdown could add some).
  EXPECT_LE(report.inconclusive, 3);
}

TEST_F(SeccompTest, I386Syscalls) {
  if (!HaveIa32Emulation()) {
    std::printf("[ seccomp  ] SKIP i386: the kernel has no IA32 emulation (int $0x80)\n");
    GTEST_SKIP() << "no IA32 emulation";
  }
  const Report report = CheckProbes(I386Probes(), "(the kernel gives the same errno)");
  EXPECT_EQ(report.inconclusive, 0);
}

TEST_F(SeccompTest, X32Syscalls) {
  const Report report = CheckProbes(X32Probes(), "SKIP: this kernel has no x32 ABI");
  if (report.inconclusive > 0) {
    std::printf(
        "[ seccomp  ] SKIP x32 behaviour: the kernel refuses x32 itself; checked only "
        "that the filter answers ENOSYS and does not kill\n");
  }
}

TEST_F(SeccompTest, InstallNeedsNoNewPrivsWithoutCapSysAdmin) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Dropping to an unprivileged uid clears every capability (no SECBIT_KEEP_CAPS).
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    if (Program().Install() != -EACCES) ::_exit(3);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(4);
    ::_exit(Program().Install() == 0 ? 0 : 5);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "2: could not drop root, 3: Install did not fail with EACCES, 5: Install failed";
}

// Runs `argv` under the filter (installed in a child, then fork+exec), with stdout captured.
struct Exec {
  int status = -1;
  std::string out;
};
Exec RunFiltered(const std::vector<const char*>& argv) {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const SeccompProgram& program = Program();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(kNoNewPrivsFailed);
    if (program.Install() != 0) ::_exit(kInstallFailed);
    // fork + exec under the filter: the filter must hold across both.
    const pid_t worker = ::fork();
    if (worker == 0) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      std::vector<char*> args;
      for (const char* a : argv) args.push_back(const_cast<char*>(a));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    int status = 0;
    if (worker < 0 || ::waitpid(worker, &status, 0) != worker) ::_exit(93);
    if (WIFSIGNALED(status)) ::_exit(128 + WTERMSIG(status));
    ::_exit(WEXITSTATUS(status));
  }
  ::close(fds[1]);
  Exec result;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) result.out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  ::waitpid(pid, &result.status, 0);
  return result;
}

TEST_F(SeccompTest, DynamicallyLinkedProgramsRun) {
  const Exec t = RunFiltered({"/bin/true"});
  EXPECT_TRUE(WIFEXITED(t.status) && WEXITSTATUS(t.status) == 0)
      << "/bin/true under the filter: status " << t.status << " " << t.out;
  std::printf("[ seccomp  ] /bin/true: exit %d\n", WEXITSTATUS(t.status));

  if (::access("/usr/bin/unshare", X_OK) == 0) {
    // The filter survives execve: util-linux's unshare cannot create a user namespace.
    const Exec u = RunFiltered({"/usr/bin/unshare", "--user", "/bin/true"});
    EXPECT_TRUE(WIFEXITED(u.status) && WEXITSTATUS(u.status) != 0) << u.out;
    EXPECT_NE(u.out.find("Operation not permitted"), std::string::npos) << u.out;
    std::printf("[ seccomp  ] unshare --user: exit %d (%s)\n", WEXITSTATUS(u.status),
                u.out.substr(0, u.out.find('\n')).c_str());
  }

  if (::access("/usr/bin/python3", X_OK) != 0) {
    std::printf("[ seccomp  ] SKIP python3: not installed\n");
    return;
  }
  // The everyday paths of Jupyter- and PyTorch-style Python: TLS setup, TCP over loopback, unix
  // sockets, netlink (interface list), threads, fork and spawn multiprocessing pools (semaphores
  // in /dev/shm), subprocess (posix_spawn / vfork), CPU affinity; and denied families fail.
  static const char kScript[] = R"PY(
import multiprocessing, os, socket, ssl, subprocess, threading
ssl.create_default_context()
server = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(server.getsockname())
conn, _ = server.accept()
client.sendall(b"x")
assert conn.recv(1) == b"x"
a, b = socket.socketpair()
a.sendall(b"y")
assert b.recv(1) == b"y"
assert socket.if_nameindex()
t = threading.Thread(target=lambda: None)
t.start()
t.join()
with multiprocessing.get_context("fork").Pool(2) as pool:
    assert pool.map(abs, [-1, -2, -3]) == [1, 2, 3]
with multiprocessing.get_context("spawn").Pool(1) as pool:
    assert pool.map(abs, [-4]) == [4]
q = multiprocessing.Queue()
q.put(5)
assert q.get() == 5
assert subprocess.run(["/bin/true"]).returncode == 0
assert os.sched_getaffinity(0)
for family in (socket.AF_VSOCK, socket.AF_ALG):
    try:
        socket.socket(family, socket.SOCK_SEQPACKET)
        raise SystemExit("family %d was allowed" % family)
    except PermissionError:
        pass
print("python ok")
)PY";
  const Exec py = RunFiltered({"/usr/bin/python3", "-I", "-c", kScript});
  EXPECT_TRUE(WIFEXITED(py.status) && WEXITSTATUS(py.status) == 0)
      << "python3 under the filter: status " << py.status << "\n"
      << py.out;
  EXPECT_NE(py.out.find("python ok"), std::string::npos) << py.out;
  std::printf(
      "[ seccomp  ] python3 (ssl, sockets, netlink, threads, multiprocessing, "
      "subprocess): %s\n",
      py.out.find("python ok") != std::string::npos ? "ok" : "FAILED");
}

}  // namespace
}  // namespace paddock::sandbox
