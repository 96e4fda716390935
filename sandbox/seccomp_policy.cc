#include "sandbox/seccomp_policy.h"

#include <linux/audit.h>
#include <linux/personality.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>

#include "base/log.h"
#include "base/unique_fd.h"

namespace paddock::sandbox {
namespace {

using R = SyscallRule;

// The profile. Grouped by purpose; docs/sandbox-seccomp.md lists the same groups with the reasons,
// and the unit test checks that every name the linked libseccomp knows for x86-64 or i386 appears
// here exactly once (so a syscall can only be unknown to the profile by being newer than it).
constexpr SyscallEntry kProfile[] = {
    // --- Processes and threads. clone is checked for namespace flags; clone3 passes its flags in
    // memory, where a filter cannot read them, so it gets ENOSYS and glibc falls back to clone.
    {"fork", R::kAllow},
    {"vfork", R::kAllow},
    {"clone", R::kAllowIfArgs},
    {"clone3", R::kDenyEnosys},
    {"execve", R::kAllow},
    {"execveat", R::kAllow},
    {"exit", R::kAllow},
    {"exit_group", R::kAllow},
    {"wait4", R::kAllow},
    {"waitid", R::kAllow},
    {"waitpid", R::kAllow},
    {"getpid", R::kAllow},
    {"getppid", R::kAllow},
    {"gettid", R::kAllow},
    {"getpgid", R::kAllow},
    {"getpgrp", R::kAllow},
    {"setpgid", R::kAllow},
    {"getsid", R::kAllow},
    {"setsid", R::kAllow},
    {"set_tid_address", R::kAllow},
    {"set_robust_list", R::kAllow},
    {"get_robust_list", R::kAllow},
    {"rseq", R::kAllow},
    {"restart_syscall", R::kAllow},
    {"arch_prctl", R::kAllow},
    {"set_thread_area", R::kAllow},
    {"get_thread_area", R::kAllow},
    {"prctl", R::kAllow},
    {"personality", R::kAllowIfArgs},
    {"seccomp", R::kAllow},
    {"capget", R::kAllow},
    {"capset", R::kAllow},

    // --- Signals.
    {"kill", R::kAllow},
    {"tkill", R::kAllow},
    {"tgkill", R::kAllow},
    {"rt_sigqueueinfo", R::kAllow},
    {"rt_tgsigqueueinfo", R::kAllow},
    {"rt_sigaction", R::kAllow},
    {"rt_sigprocmask", R::kAllow},
    {"rt_sigreturn", R::kAllow},
    {"rt_sigpending", R::kAllow},
    {"rt_sigsuspend", R::kAllow},
    {"rt_sigtimedwait", R::kAllow},
    {"rt_sigtimedwait_time64", R::kAllow},
    {"sigaltstack", R::kAllow},
    {"signalfd", R::kAllow},
    {"signalfd4", R::kAllow},
    {"pause", R::kAllow},
    {"alarm", R::kAllow},
    {"sigprocmask", R::kAllow},
    {"sigreturn", R::kAllow},
    {"pidfd_open", R::kAllow},
    {"pidfd_send_signal", R::kAllow},

    // --- Debugging and profiling inside the sandbox (gdb, py-spy, CUDA IPC). The kernel's
    // ptrace access checks apply, and the sandbox's pid namespace holds only its own processes.
    {"ptrace", R::kAllow},
    {"process_vm_readv", R::kAllow},
    {"process_vm_writev", R::kAllow},
    {"pidfd_getfd", R::kAllow},
    {"kcmp", R::kAllow},
    {"process_madvise", R::kAllow},
    {"process_mrelease", R::kAllow},

    // --- Memory.
    {"brk", R::kAllow},
    {"mmap", R::kAllow},
    {"mmap2", R::kAllow},
    {"munmap", R::kAllow},
    {"mremap", R::kAllow},
    {"mprotect", R::kAllow},
    {"madvise", R::kAllow},
    {"mincore", R::kAllow},
    {"msync", R::kAllow},
    {"mlock", R::kAllow},
    {"mlock2", R::kAllow},
    {"munlock", R::kAllow},
    {"mlockall", R::kAllow},
    {"munlockall", R::kAllow},
    {"memfd_create", R::kAllow},
    {"memfd_secret", R::kAllow},
    {"membarrier", R::kAllow},
    {"remap_file_pages", R::kAllow},
    {"pkey_alloc", R::kAllow},
    {"pkey_free", R::kAllow},
    {"pkey_mprotect", R::kAllow},
    {"map_shadow_stack", R::kAllow},
    {"cachestat", R::kAllow},

    // --- NUMA placement (PyTorch, NCCL, the CUDA runtime, numactl, hwloc).
    {"mbind", R::kAllow},
    {"set_mempolicy", R::kAllow},
    {"get_mempolicy", R::kAllow},
    {"set_mempolicy_home_node", R::kAllow},
    {"move_pages", R::kAllow},
    {"migrate_pages", R::kAllow},

    // --- File descriptors: reading, writing, control. ioctl is not filtered by command: the
    // NVIDIA driver's whole interface is ioctls on /dev/nvidia*.
    {"read", R::kAllow},
    {"write", R::kAllow},
    {"readv", R::kAllow},
    {"writev", R::kAllow},
    {"pread64", R::kAllow},
    {"pwrite64", R::kAllow},
    {"preadv", R::kAllow},
    {"preadv2", R::kAllow},
    {"pwritev", R::kAllow},
    {"pwritev2", R::kAllow},
    {"lseek", R::kAllow},
    {"_llseek", R::kAllow},
    {"open", R::kAllow},
    {"openat", R::kAllow},
    {"openat2", R::kAllow},
    {"creat", R::kAllow},
    {"close", R::kAllow},
    {"close_range", R::kAllow},
    {"dup", R::kAllow},
    {"dup2", R::kAllow},
    {"dup3", R::kAllow},
    {"fcntl", R::kAllow},
    {"fcntl64", R::kAllow},
    {"ioctl", R::kAllow},
    {"flock", R::kAllow},
    {"fsync", R::kAllow},
    {"fdatasync", R::kAllow},
    {"syncfs", R::kAllow},
    {"sync", R::kAllow},
    {"sync_file_range", R::kAllow},
    {"truncate", R::kAllow},
    {"truncate64", R::kAllow},
    {"ftruncate", R::kAllow},
    {"ftruncate64", R::kAllow},
    {"fallocate", R::kAllow},
    {"fadvise64", R::kAllow},
    {"fadvise64_64", R::kAllow},
    {"readahead", R::kAllow},
    {"sendfile", R::kAllow},
    {"sendfile64", R::kAllow},
    {"splice", R::kAllow},
    {"tee", R::kAllow},
    {"vmsplice", R::kAllow},
    {"copy_file_range", R::kAllow},

    // --- Paths, directories and file metadata.
    {"stat", R::kAllow},
    {"fstat", R::kAllow},
    {"lstat", R::kAllow},
    {"newfstatat", R::kAllow},
    {"stat64", R::kAllow},
    {"fstat64", R::kAllow},
    {"lstat64", R::kAllow},
    {"fstatat64", R::kAllow},
    {"statx", R::kAllow},
    {"statfs", R::kAllow},
    {"statfs64", R::kAllow},
    {"fstatfs", R::kAllow},
    {"fstatfs64", R::kAllow},
    {"access", R::kAllow},
    {"faccessat", R::kAllow},
    {"faccessat2", R::kAllow},
    {"readlink", R::kAllow},
    {"readlinkat", R::kAllow},
    {"getdents", R::kAllow},
    {"getdents64", R::kAllow},
    {"getcwd", R::kAllow},
    {"chdir", R::kAllow},
    {"fchdir", R::kAllow},
    {"mkdir", R::kAllow},
    {"mkdirat", R::kAllow},
    {"rmdir", R::kAllow},
    {"unlink", R::kAllow},
    {"unlinkat", R::kAllow},
    {"rename", R::kAllow},
    {"renameat", R::kAllow},
    {"renameat2", R::kAllow},
    {"link", R::kAllow},
    {"linkat", R::kAllow},
    {"symlink", R::kAllow},
    {"symlinkat", R::kAllow},
    {"mknod", R::kAllow},
    {"mknodat", R::kAllow},
    {"chmod", R::kAllow},
    {"fchmod", R::kAllow},
    {"fchmodat", R::kAllow},
    {"fchmodat2", R::kAllow},
    {"chown", R::kAllow},
    {"fchown", R::kAllow},
    {"lchown", R::kAllow},
    {"fchownat", R::kAllow},
    {"chown32", R::kAllow},
    {"fchown32", R::kAllow},
    {"lchown32", R::kAllow},
    {"umask", R::kAllow},
    {"utime", R::kAllow},
    {"utimes", R::kAllow},
    {"utimensat", R::kAllow},
    {"utimensat_time64", R::kAllow},
    {"futimesat", R::kAllow},
    {"getxattr", R::kAllow},
    {"lgetxattr", R::kAllow},
    {"fgetxattr", R::kAllow},
    {"setxattr", R::kAllow},
    {"lsetxattr", R::kAllow},
    {"fsetxattr", R::kAllow},
    {"listxattr", R::kAllow},
    {"llistxattr", R::kAllow},
    {"flistxattr", R::kAllow},
    {"removexattr", R::kAllow},
    {"lremovexattr", R::kAllow},
    {"fremovexattr", R::kAllow},
    {"name_to_handle_at", R::kAllow},
    {"inotify_init", R::kAllow},
    {"inotify_init1", R::kAllow},
    {"inotify_add_watch", R::kAllow},
    {"inotify_rm_watch", R::kAllow},
    {"fanotify_mark", R::kAllow},
    {"landlock_create_ruleset", R::kAllow},
    {"landlock_add_rule", R::kAllow},
    {"landlock_restrict_self", R::kAllow},

    // --- Event loops, pipes, timers, futexes.
    {"select", R::kAllow},
    {"_newselect", R::kAllow},
    {"pselect6", R::kAllow},
    {"pselect6_time64", R::kAllow},
    {"poll", R::kAllow},
    {"ppoll", R::kAllow},
    {"ppoll_time64", R::kAllow},
    {"epoll_create", R::kAllow},
    {"epoll_create1", R::kAllow},
    {"epoll_ctl", R::kAllow},
    {"epoll_wait", R::kAllow},
    {"epoll_pwait", R::kAllow},
    {"epoll_pwait2", R::kAllow},
    {"eventfd", R::kAllow},
    {"eventfd2", R::kAllow},
    {"pipe", R::kAllow},
    {"pipe2", R::kAllow},
    {"timerfd_create", R::kAllow},
    {"timerfd_settime", R::kAllow},
    {"timerfd_settime64", R::kAllow},
    {"timerfd_gettime", R::kAllow},
    {"timerfd_gettime64", R::kAllow},
    {"futex", R::kAllow},
    {"futex_time64", R::kAllow},
    {"futex_waitv", R::kAllow},
    {"futex_wake", R::kAllow},
    {"futex_wait", R::kAllow},
    {"futex_requeue", R::kAllow},

    // --- Linux AIO (data loaders, libaio-based readers). io_uring is denied below.
    {"io_setup", R::kAllow},
    {"io_destroy", R::kAllow},
    {"io_submit", R::kAllow},
    {"io_cancel", R::kAllow},
    {"io_getevents", R::kAllow},
    {"io_pgetevents", R::kAllow},
    {"io_pgetevents_time64", R::kAllow},

    // --- Clocks and timers. Reading clocks is allowed; setting the host clock is denied below
    // (adjtimex and clock_adjtime only read unless the caller has CAP_SYS_TIME).
    {"clock_gettime", R::kAllow},
    {"clock_gettime64", R::kAllow},
    {"clock_getres", R::kAllow},
    {"clock_getres_time64", R::kAllow},
    {"clock_nanosleep", R::kAllow},
    {"clock_nanosleep_time64", R::kAllow},
    {"nanosleep", R::kAllow},
    {"gettimeofday", R::kAllow},
    {"time", R::kAllow},
    {"times", R::kAllow},
    {"getitimer", R::kAllow},
    {"setitimer", R::kAllow},
    {"timer_create", R::kAllow},
    {"timer_delete", R::kAllow},
    {"timer_getoverrun", R::kAllow},
    {"timer_gettime", R::kAllow},
    {"timer_gettime64", R::kAllow},
    {"timer_settime", R::kAllow},
    {"timer_settime64", R::kAllow},
    {"adjtimex", R::kAllow},
    {"clock_adjtime", R::kAllow},
    {"clock_adjtime64", R::kAllow},

    // --- Scheduling and CPU placement (thread pools, OpenMP, DataLoader workers).
    {"sched_yield", R::kAllow},
    {"sched_getaffinity", R::kAllow},
    {"sched_setaffinity", R::kAllow},
    {"sched_getparam", R::kAllow},
    {"sched_setparam", R::kAllow},
    {"sched_getscheduler", R::kAllow},
    {"sched_setscheduler", R::kAllow},
    {"sched_getattr", R::kAllow},
    {"sched_setattr", R::kAllow},
    {"sched_get_priority_max", R::kAllow},
    {"sched_get_priority_min", R::kAllow},
    {"sched_rr_get_interval", R::kAllow},
    {"sched_rr_get_interval_time64", R::kAllow},
    {"getpriority", R::kAllow},
    {"setpriority", R::kAllow},
    {"getcpu", R::kAllow},
    {"ioprio_get", R::kAllow},
    {"ioprio_set", R::kAllow},

    // --- Credentials (changing them needs capabilities the sandbox does not hold).
    {"getuid", R::kAllow},
    {"geteuid", R::kAllow},
    {"getgid", R::kAllow},
    {"getegid", R::kAllow},
    {"getuid32", R::kAllow},
    {"geteuid32", R::kAllow},
    {"getgid32", R::kAllow},
    {"getegid32", R::kAllow},
    {"getresuid", R::kAllow},
    {"getresgid", R::kAllow},
    {"getresuid32", R::kAllow},
    {"getresgid32", R::kAllow},
    {"getgroups", R::kAllow},
    {"getgroups32", R::kAllow},
    {"setuid", R::kAllow},
    {"setuid32", R::kAllow},
    {"setgid", R::kAllow},
    {"setgid32", R::kAllow},
    {"setreuid", R::kAllow},
    {"setreuid32", R::kAllow},
    {"setregid", R::kAllow},
    {"setregid32", R::kAllow},
    {"setresuid", R::kAllow},
    {"setresuid32", R::kAllow},
    {"setresgid", R::kAllow},
    {"setresgid32", R::kAllow},
    {"setgroups", R::kAllow},
    {"setgroups32", R::kAllow},
    {"setfsuid", R::kAllow},
    {"setfsuid32", R::kAllow},
    {"setfsgid", R::kAllow},
    {"setfsgid32", R::kAllow},

    // --- Resource limits and system information.
    {"getrlimit", R::kAllow},
    {"setrlimit", R::kAllow},
    {"prlimit64", R::kAllow},
    {"ugetrlimit", R::kAllow},
    {"getrusage", R::kAllow},
    {"sysinfo", R::kAllow},
    {"uname", R::kAllow},
    {"getrandom", R::kAllow},

    // --- Networking. socket and socketpair are checked for the address family.
    {"socket", R::kAllowIfArgs},
    {"socketpair", R::kAllowIfArgs},
    {"bind", R::kAllow},
    {"connect", R::kAllow},
    {"listen", R::kAllow},
    {"accept", R::kAllow},
    {"accept4", R::kAllow},
    {"getsockname", R::kAllow},
    {"getpeername", R::kAllow},
    {"sendto", R::kAllow},
    {"recvfrom", R::kAllow},
    {"sendmsg", R::kAllow},
    {"recvmsg", R::kAllow},
    {"sendmmsg", R::kAllow},
    {"recvmmsg", R::kAllow},
    {"recvmmsg_time64", R::kAllow},
    {"shutdown", R::kAllow},
    {"setsockopt", R::kAllow},
    {"getsockopt", R::kAllow},
    // The i386 multiplexer passes the socket arguments in memory, out of the filter's sight, so it
    // would bypass the family check. ENOSYS points libc at the direct calls (i386 has them since
    // Linux 4.3). This rule also replaces the family-blind socketcall rules that libseccomp
    // derives from the socket rules above.
    {"socketcall", R::kDenyEnosys},

    // --- System V and POSIX IPC (private to the sandbox's IPC namespace).
    {"shmget", R::kAllow},
    {"shmat", R::kAllow},
    {"shmdt", R::kAllow},
    {"shmctl", R::kAllow},
    {"semget", R::kAllow},
    {"semop", R::kAllow},
    {"semctl", R::kAllow},
    {"semtimedop", R::kAllow},
    {"semtimedop_time64", R::kAllow},
    {"msgget", R::kAllow},
    {"msgsnd", R::kAllow},
    {"msgrcv", R::kAllow},
    {"msgctl", R::kAllow},
    {"ipc", R::kAllow},
    {"mq_open", R::kAllow},
    {"mq_unlink", R::kAllow},
    {"mq_timedsend", R::kAllow},
    {"mq_timedsend_time64", R::kAllow},
    {"mq_timedreceive", R::kAllow},
    {"mq_timedreceive_time64", R::kAllow},
    {"mq_notify", R::kAllow},
    {"mq_getsetattr", R::kAllow},

    // ===== Denied (EPERM). =====

    // --- Kernel keyrings: not namespaced; keys of other containers and the host share them.
    {"keyctl", R::kDeny},
    {"add_key", R::kDeny},
    {"request_key", R::kDeny},

    // --- Kernel programming and introspection.
    {"bpf", R::kDeny},
    {"perf_event_open", R::kDeny},
    {"lookup_dcookie", R::kDeny},
    {"syslog", R::kDeny},

    // --- Replacing or extending the kernel.
    {"kexec_load", R::kDeny},
    {"kexec_file_load", R::kDeny},
    {"init_module", R::kDeny},
    {"finit_module", R::kDeny},
    {"delete_module", R::kDeny},
    {"create_module", R::kDeny},
    {"get_kernel_syms", R::kDeny},
    {"query_module", R::kDeny},

    // --- Mounts and the root directory: the launcher builds the sandbox's file system view.
    {"mount", R::kDeny},
    {"umount", R::kDeny},
    {"umount2", R::kDeny},
    {"pivot_root", R::kDeny},
    {"chroot", R::kDeny},
    {"fsopen", R::kDeny},
    {"fsconfig", R::kDeny},
    {"fsmount", R::kDeny},
    {"fspick", R::kDeny},
    {"move_mount", R::kDeny},
    {"open_tree", R::kDeny},
    {"mount_setattr", R::kDeny},

    // --- Namespaces: the sandbox's namespaces are fixed by the launcher.
    {"unshare", R::kDeny},
    {"setns", R::kDeny},

    // --- A file handle names a file on the whole file system, past the sandbox's mounts and root.
    {"open_by_handle_at", R::kDeny},

    // --- Interfaces that mostly serve kernel exploits, or bypass this filter.
    {"userfaultfd", R::kDeny},
    {"io_uring_setup", R::kDeny},
    {"io_uring_enter", R::kDeny},
    {"io_uring_register", R::kDeny},

    // --- Host administration.
    {"swapon", R::kDeny},
    {"swapoff", R::kDeny},
    {"reboot", R::kDeny},
    {"acct", R::kDeny},
    {"quotactl", R::kDeny},
    {"quotactl_fd", R::kDeny},
    {"settimeofday", R::kDeny},
    {"stime", R::kDeny},
    {"clock_settime", R::kDeny},
    {"clock_settime64", R::kDeny},
    {"sethostname", R::kDeny},
    {"setdomainname", R::kDeny},
    {"vhangup", R::kDeny},
    {"fanotify_init", R::kDeny},

    // --- Raw hardware access and legacy CPU modes.
    {"iopl", R::kDeny},
    {"ioperm", R::kDeny},
    {"modify_ldt", R::kDeny},
    {"vm86", R::kDeny},
    {"vm86old", R::kDeny},

    // --- Obsolete or removed interfaces, superseded by calls allowed above.
    {"nfsservctl", R::kDeny},
    {"_sysctl", R::kDeny},
    {"bdflush", R::kDeny},
    {"ustat", R::kDeny},
    {"sysfs", R::kDeny},
    {"uselib", R::kDeny},
    {"readdir", R::kDeny},
    {"oldstat", R::kDeny},
    {"oldfstat", R::kDeny},
    {"oldlstat", R::kDeny},
    {"olduname", R::kDeny},
    {"oldolduname", R::kDeny},
    {"nice", R::kDeny},
    {"ulimit", R::kDeny},
    {"sigaction", R::kDeny},
    {"signal", R::kDeny},
    {"sigpending", R::kDeny},
    {"sigsuspend", R::kDeny},
    {"sgetmask", R::kDeny},
    {"ssetmask", R::kDeny},
    {"ftime", R::kDeny},
    {"idle", R::kDeny},
    {"epoll_ctl_old", R::kDeny},
    {"epoll_wait_old", R::kDeny},

    // --- Numbers reserved for calls Linux never implemented on x86.
    {"afs_syscall", R::kDeny},
    {"getpmsg", R::kDeny},
    {"putpmsg", R::kDeny},
    {"tuxcall", R::kDeny},
    {"security", R::kDeny},
    {"vserver", R::kDeny},
    {"break", R::kDeny},
    {"gtty", R::kDeny},
    {"stty", R::kDeny},
    {"prof", R::kDeny},
    {"lock", R::kDeny},
    {"mpx", R::kDeny},
    {"profil", R::kDeny},
};

// clone flags that create namespaces. CLONE_NEWTIME is left out: in clone() its bit belongs to
// the exit signal, and only clone3 and unshare can create a time namespace.
constexpr uint64_t kCloneNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
                                          CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                          CLONE_NEWNET;

// Address families a sandbox may open sockets in: local IPC, IPv4, IPv6, and netlink (getifaddrs,
// if_nameindex and NCCL's interface discovery read routes and addresses over NETLINK_ROUTE).
constexpr uint64_t kSocketFamilies[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};

// personality values a sandbox may set: Linux, 32-bit uname (setarch/linux32), 2.6-style uname,
// and 0xffffffff, which only queries. Anything else (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC,
// MMAP_PAGE_ZERO, foreign personalities) is denied.
constexpr uint64_t kPersonalities[] = {PER_LINUX, PER_LINUX32, UNAME26,
                                       uint64_t{PER_LINUX32} | UNAME26, 0xffffffffu};

// The kernel reads these arguments as 32-bit values (int family, unsigned int persona), so the
// rules compare only the low 32 bits: what the kernel acts on is what the filter checked.
constexpr uint64_t kLow32 = 0xffffffffu;

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using FilterPtr = std::unique_ptr<void, FilterDeleter>;

// libseccomp returns -errno.
Status LibseccompError(std::string_view what, int rc) {
  const char* text = strerrordesc_np(-rc);
  return Status::Internal(std::string(what) + ": " +
                          (text != nullptr ? text : "error " + std::to_string(rc)));
}

// "(first argument & mask) == value", over all 64 bits of the argument register.
scmp_arg_cmp FirstArgMaskedEq(uint64_t mask, uint64_t value) {
  return scmp_arg_cmp{0, SCMP_CMP_MASKED_EQ, mask, value};
}

Status AddRule(scmp_filter_ctx ctx, uint32_t action, int nr, std::string_view name,
               std::initializer_list<scmp_arg_cmp> args = {}) {
  const int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(args.size()),
                                        args.size() == 0 ? nullptr : args.begin());
  if (rc != 0) return LibseccompError("seccomp rule for " + std::string(name), rc);
  return Status::Ok();
}

// The argument checks of the kAllowIfArgs entries. Calls that pass none of a syscall's rules
// fall to the default action (EPERM).
Status AddArgumentRules(scmp_filter_ctx ctx, std::string_view name, int nr) {
  if (name == "clone") {
    // Flags are the first argument on both x86 ABIs.
    return AddRule(ctx, SCMP_ACT_ALLOW, nr, name, {FirstArgMaskedEq(kCloneNamespaceFlags, 0)});
  }
  if (name == "socket") {
    for (uint64_t family : kSocketFamilies) {
      PADDOCK_RETURN_IF_ERROR(
          AddRule(ctx, SCMP_ACT_ALLOW, nr, name, {FirstArgMaskedEq(kLow32, family)}));
    }
    return Status::Ok();
  }
  if (name == "socketpair") {
    return AddRule(ctx, SCMP_ACT_ALLOW, nr, name, {FirstArgMaskedEq(kLow32, AF_UNIX)});
  }
  if (name == "personality") {
    for (uint64_t persona : kPersonalities) {
      PADDOCK_RETURN_IF_ERROR(
          AddRule(ctx, SCMP_ACT_ALLOW, nr, name, {FirstArgMaskedEq(kLow32, persona)}));
    }
    return Status::Ok();
  }
  return Status::Internal("no argument rules for " + std::string(name));
}

// Adds the rules of one profile entry. A name the linked libseccomp does not know gets no rule and
// so stays unknown to the filter.
Status AddEntry(scmp_filter_ctx ctx, const SyscallEntry& entry) {
  const std::string name(entry.name);
  if (seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name.c_str()) < 0 &&
      seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, name.c_str()) < 0) {
    return Status::Ok();
  }
  // The native number, or libseccomp's pseudo number for an i386-only call; a rule with a pseudo
  // number lands only in the arches that have the call.
  const int nr = seccomp_syscall_resolve_name(name.c_str());
  switch (entry.rule) {
    case SyscallRule::kAllow:
      return AddRule(ctx, SCMP_ACT_ALLOW, nr, name);
    case SyscallRule::kAllowIfArgs:
      return AddArgumentRules(ctx, name, nr);
    case SyscallRule::kDeny:
      return Status::Ok();  // the default action
    case SyscallRule::kDenyEnosys:
      return AddRule(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, name);
  }
  return Status::Internal("unknown rule for " + name);
}

// The highest syscall number on `arch` of any name in the profile (0 if none resolves).
uint32_t HighestKnown(uint32_t arch) {
  uint32_t highest = 0;
  for (const SyscallEntry& entry : kProfile) {
    const int nr = seccomp_syscall_resolve_name_arch(arch, std::string(entry.name).c_str());
    if (nr >= 0) highest = std::max(highest, static_cast<uint32_t>(nr));
  }
  return highest;
}

// BPF that runs before libseccomp's program: a syscall number above the highest the profile knows
// on its arch returns ENOSYS. On x86-64 this also covers every x32 syscall (numbers with bit 30
// set) and -1. libseccomp cannot express a range of syscall numbers, hence the hand-written part.
std::vector<sock_filter> EnosysPrologue(uint32_t highest_x86_64, uint32_t highest_i386) {
  constexpr uint32_t kArchOffset = offsetof(seccomp_data, arch);
  constexpr uint32_t kNrOffset = offsetof(seccomp_data, nr);
  // Instruction 8 is the first of libseccomp's program; jumps are relative to the next one.
  return {
      /*0*/ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kArchOffset),
      /*1*/ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 2),  // -> 2 : 4
      /*2*/ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kNrOffset),
      /*3*/ BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, highest_x86_64, 3, 4),   // -> 7 : 8
      /*4*/ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 3),  // -> 5 : 8
      /*5*/ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kNrOffset),
      /*6*/ BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, highest_i386, 0, 1),  // -> 7 : 8
      /*7*/ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
  };
}

// Compiles `ctx` to BPF through a memfd (libseccomp 2.5 exports only to a file descriptor).
Result<std::vector<sock_filter>> ExportBpf(scmp_filter_ctx ctx) {
  UniqueFd fd(memfd_create("paddock-seccomp", MFD_CLOEXEC));
  if (!fd) return Status::FromErrno("memfd_create for the seccomp program");
  if (int rc = seccomp_export_bpf(ctx, fd.get()); rc != 0) {
    return LibseccompError("seccomp_export_bpf", rc);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno("fstat of the seccomp program");
  const size_t bytes = static_cast<size_t>(st.st_size);
  if (bytes == 0 || bytes % sizeof(sock_filter) != 0) {
    return Status::Internal("libseccomp exported " + std::to_string(bytes) +
                            " bytes, not a whole number of BPF instructions");
  }
  std::vector<sock_filter> program(bytes / sizeof(sock_filter));
  size_t done = 0;
  while (done < bytes) {
    const ssize_t n = pread(fd.get(), reinterpret_cast<char*>(program.data()) + done, bytes - done,
                            static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("reading the seccomp program back");
    if (n == 0) return Status::Internal("the seccomp program shrank while being read");
    done += static_cast<size_t>(n);
  }
  return program;
}

}  // namespace

std::span<const SyscallEntry> SeccompProfile() { return kProfile; }

Result<SeccompProgram> SeccompProgram::Build() {
  // Default EPERM for what the profile knows and does not allow; the prologue turns numbers
  // above the known range into ENOSYS. No arch other than x86-64 and i386 can reach the filter on
  // an x86-64 kernel, so the bad-arch action only fires if that ever changes: fail closed.
  FilterPtr ctx(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
  if (!ctx) return Status::Internal("seccomp_init failed");
  if (seccomp_arch_native() != SCMP_ARCH_X86_64) {
    return Status::FailedPrecondition("the seccomp profile is defined for x86-64 only");
  }
  if (int rc = seccomp_arch_add(ctx.get(), SCMP_ARCH_X86); rc != 0) {
    return LibseccompError("seccomp_arch_add(x86)", rc);
  }
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
      rc != 0) {
    return LibseccompError("seccomp bad-arch action", rc);
  }
  // A binary search over syscall numbers instead of a linear chain of comparisons.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0) {
    return LibseccompError("seccomp optimisation level", rc);
  }

  // On i386 libseccomp turns every socket-call rule into a direct-call rule plus a socketcall rule
  // that cannot carry the argument checks. The unconditional socketcall rule replaces those; it
  // goes in last so that this does not depend on the order libseccomp sees the rules in.
  for (const bool enosys_pass : {false, true}) {
    for (const SyscallEntry& entry : kProfile) {
      if ((entry.rule == SyscallRule::kDenyEnosys) == enosys_pass) {
        PADDOCK_RETURN_IF_ERROR(AddEntry(ctx.get(), entry));
      }
    }
  }
  const uint32_t highest_x86_64 = HighestKnown(SCMP_ARCH_X86_64);
  const uint32_t highest_i386 = HighestKnown(SCMP_ARCH_X86);
  if (highest_x86_64 == 0 || highest_i386 == 0) {
    return Status::Internal("libseccomp resolved none of the profile's syscalls");
  }

  Result<std::vector<sock_filter>> body = ExportBpf(ctx.get());
  if (!body.ok()) return body.status();
  std::vector<sock_filter> program = EnosysPrologue(highest_x86_64, highest_i386);
  program.insert(program.end(), body->begin(), body->end());
  if (program.size() > BPF_MAXINSNS) {
    return Status::Internal("the seccomp program has " + std::to_string(program.size()) +
                            " instructions, more than the kernel's limit of " +
                            std::to_string(BPF_MAXINSNS));
  }
  LogDebug("seccomp program built", {{"SECCOMP_INSTRUCTIONS", std::to_string(program.size())},
                                     {"SECCOMP_HIGHEST_X86_64", std::to_string(highest_x86_64)},
                                     {"SECCOMP_HIGHEST_I386", std::to_string(highest_i386)}});
  return SeccompProgram(std::move(program));
}

}  // namespace paddock::sandbox
