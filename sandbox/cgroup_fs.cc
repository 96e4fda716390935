#include "sandbox/cgroup_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "base/file_util.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "sandbox/device_filter.h"

namespace paddock::sandbox {

Result<UniqueFd> OpenCgroupDirectory(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno("open cgroup " + dir);
  return fd;
}

Result<UniqueFd> OpenForWriting(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Status::FromErrno("open " + path);
  return fd;
}
namespace {

std::optional<uint64_t> ParseUint(std::string_view s) {
  s = TrimWhitespace(s);
  if (s == "max") return std::numeric_limits<uint64_t>::max();
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

Status CgroupFs::MakeDir(const std::string& dir, bool* created) const {
  *created = false;
  if (::mkdir(dir.c_str(), 0755) != 0) {
    if (errno == EEXIST) return Status::Ok();
    Status s = Status::FromErrno("create cgroup " + dir);
    LogWarning("cgroup: could not create a cgroup directory",
               {{"CGROUP", dir}, {"ERROR", s.message()}});
    return s;
  }
  *created = true;
  if (hooks_.after_mkdir) hooks_.after_mkdir(dir);
  return Status::Ok();
}

Status CgroupFs::RemoveDir(const std::string& dir) const {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 && errno == ENOENT) return Status::Ok();
  if (hooks_.before_rmdir) hooks_.before_rmdir(dir);
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return Status::Ok();
  const int err = errno;
  Status s = err == EBUSY ? Status::FailedPrecondition("remove cgroup " + dir +
                                                       ": processes or child cgroups remain")
                          : Status::FromErrno("remove cgroup " + dir, err);
  LogWarning("cgroup: could not remove a cgroup directory",
             {{"CGROUP", dir}, {"ERROR", s.message()}});
  return s;
}

Status CgroupFs::Write(const std::string& dir, std::string_view file,
                       std::string_view value) const {
  const std::string path = JoinPath(dir, file);
  std::string line(value);
  line += '\n';
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  ssize_t n = -1;
  if (fd) n = ::write(fd.get(), line.data(), line.size());
  if (n == static_cast<ssize_t>(line.size())) return Status::Ok();
  const int err = n < 0 ? errno : EIO;
  Status s = Status::FromErrno("write \"" + std::string(value) + "\" to " + path, err);
  LogWarning("cgroup: the kernel refused a cgroup setting",
             {{"CGROUP_FILE", path}, {"VALUE", std::string(value)}, {"ERROR", s.message()}});
  return s;
}

Result<std::string> CgroupFs::Read(const std::string& dir, std::string_view file) const {
  const std::string path = JoinPath(dir, file);
  Result<std::string> r = ReadFileToString(path);
  if (!r.ok()) {
    LogWarning("cgroup: could not read a cgroup file",
               {{"CGROUP_FILE", path}, {"ERROR", r.status().message()}});
  }
  return r;
}

Result<uint64_t> CgroupFs::ReadUint(const std::string& dir, std::string_view file) const {
  Result<std::string> text = Read(dir, file);
  if (!text.ok()) return text.status();
  std::optional<uint64_t> v = ParseUint(*text);
  if (!v) {
    return Status::Internal("unexpected contents of " + JoinPath(dir, file) + ": \"" +
                            std::string(TrimWhitespace(*text)) + "\"");
  }
  return *v;
}

Result<uint64_t> CgroupFs::ReadKey(const std::string& dir, std::string_view file,
                                   std::string_view key) const {
  Result<std::string> text = Read(dir, file);
  if (!text.ok()) return text.status();
  std::string_view rest = *text;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos || line.substr(0, sp) != key) continue;
    if (std::optional<uint64_t> v = ParseUint(line.substr(sp + 1))) return *v;
    break;
  }
  return Status::NotFound("no \"" + std::string(key) + "\" in " + JoinPath(dir, file));
}

Result<std::vector<pid_t>> CgroupFs::ReadProcs(const std::string& dir) const {
  Result<std::string> text = Read(dir, "cgroup.procs");
  if (!text.ok()) return text.status();
  std::vector<pid_t> pids;
  std::string_view rest = *text;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = TrimWhitespace(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.empty()) continue;
    std::optional<uint64_t> v = ParseUint(line);
    if (!v || *v == 0 || *v > static_cast<uint64_t>(std::numeric_limits<pid_t>::max())) {
      return Status::Internal("unexpected line in " + JoinPath(dir, "cgroup.procs"));
    }
    pids.push_back(static_cast<pid_t>(*v));
  }
  return pids;
}

Status CgroupFs::ReadUintIfPresent(const std::string& dir, std::string_view file,
                                   uint64_t* out) const {
  if (!Exists(dir, file)) return Status::Ok();
  Result<uint64_t> v = ReadUint(dir, file);
  if (!v.ok()) return v.status();
  *out = *v;
  return Status::Ok();
}

Status CgroupFs::ReadKeyIfPresent(const std::string& dir, std::string_view file,
                                  std::string_view key, uint64_t* out) const {
  if (!Exists(dir, file)) return Status::Ok();
  Result<uint64_t> v = ReadKey(dir, file, key);
  if (!v.ok()) return v.status();
  *out = *v;
  return Status::Ok();
}

bool CgroupFs::IsDir(const std::string& dir) const {
  struct stat st;
  return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool CgroupFs::Exists(const std::string& dir, std::string_view file) const {
  return ::access(JoinPath(dir, file).c_str(), F_OK) == 0;
}

Result<std::vector<std::string>> CgroupFs::ListDirs(const std::string& dir) const {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno("list " + dir);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      names.push_back(name);
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Status CgroupFs::InstallDeviceFilter(const std::string& dir,
                                     const std::vector<DeviceRule>& rules) const {
  if (hooks_.install_device_filter) return hooks_.install_device_filter(dir, rules);
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno("open cgroup " + dir);
  Status s = sandbox::InstallDeviceFilter(fd.get(), rules);
  if (!s.ok()) {
    LogWarning("cgroup: could not install the device program",
               {{"CGROUP", dir}, {"ERROR", s.message()}});
  }
  return s.WithContext(dir);
}

Result<uint32_t> CgroupFs::CountDeviceFilters(const std::string& dir) const {
  if (hooks_.count_device_filters) return hooks_.count_device_filters(dir);
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno("open cgroup " + dir);
  return sandbox::CountDeviceFilters(fd.get());
}

Status KillListedProcesses(const CgroupFs& fs, const std::vector<std::string>& dirs) {
  std::set<pid_t> signalled;
  // Each pass can only find children forked before their parent's SIGKILL landed, so the number
  // of passes is bounded by the depth of a fork chain; the cap guards against a kernel surprise.
  for (int pass = 0; pass < 1000; ++pass) {
    bool found_new = false;
    for (const std::string& dir : dirs) {
      Result<std::vector<pid_t>> pids = fs.ReadProcs(dir);
      if (!pids.ok()) return pids.status();
      for (pid_t pid : *pids) {
        if (!signalled.insert(pid).second) continue;
        found_new = true;
        if (::kill(pid, SIGKILL) != 0 && errno != ESRCH) {
          Status s = Status::FromErrno("kill process " + std::to_string(pid) + " of " + dir);
          LogWarning("cgroup: could not kill a sandbox process",
                     {{"CGROUP", dir}, {"PID", std::to_string(pid)}, {"ERROR", s.message()}});
          return s;
        }
      }
    }
    if (!found_new) return Status::Ok();
  }
  return Status::Unavailable("processes keep appearing in " + dirs.front() + " despite SIGKILL");
}

ScopedCgroupDir::~ScopedCgroupDir() {
  if (!dir_.empty()) (void)fs_->RemoveDir(dir_);
}

Result<SelfCgroup> ParseSelfCgroup(std::string_view contents) {
  SelfCgroup self;
  std::string_view rest = contents;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.empty()) continue;
    // "hierarchy-id:controller-list:path"; the path may itself contain ':'.
    const size_t c1 = line.find(':');
    const size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) {
      return Status::Internal("unexpected line in /proc/self/cgroup: \"" + std::string(line) +
                              "\"");
    }
    std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path(line.substr(c2 + 1));
    if (line.substr(0, c1) == "0" && controllers.empty()) {
      self.unified = path;
      continue;
    }
    while (!controllers.empty()) {
      const size_t comma = controllers.find(',');
      self.v1[std::string(controllers.substr(0, comma))] = path;
      controllers =
          comma == std::string_view::npos ? std::string_view() : controllers.substr(comma + 1);
    }
  }
  return self;
}

Result<SelfCgroup> ReadSelfCgroup(const std::string& proc_file) {
  Result<std::string> text = ReadFileToString(proc_file);
  if (!text.ok()) return text.status().WithContext("read our own cgroup");
  return ParseSelfCgroup(*text);
}

Result<std::set<unsigned>> ParseCpuList(std::string_view list) {
  std::set<unsigned> ids;
  std::string_view rest = TrimWhitespace(list);
  if (rest.empty()) return Status::InvalidArgument("empty list");
  constexpr unsigned kMaxId = 1u << 16;  // far above any real CPU or NUMA node number
  auto number = [](std::string_view s, unsigned* out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty() && *out < kMaxId;
  };
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t dash = item.find('-');
    unsigned lo = 0;
    unsigned hi = 0;
    const bool ok = dash == std::string_view::npos
                        ? number(item, &lo) && (hi = lo, true)
                        : number(item.substr(0, dash), &lo) && number(item.substr(dash + 1), &hi);
    if (!ok || hi < lo) {
      return Status::InvalidArgument("\"" + std::string(item) + "\" is not a number or a range");
    }
    for (unsigned i = lo; i <= hi; ++i) ids.insert(i);
  }
  return ids;
}

Status ValidateCgroupName(std::string_view name, std::string_view what) {
  if (name.empty() || name.size() > 64) {
    return Status::InvalidArgument(std::string(what) + ": must be 1 to 64 characters");
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) {
      return Status::InvalidArgument(std::string(what) + ": \"" + std::string(name) +
                                     "\" may hold only letters, digits, '-' and '_'");
    }
  }
  return Status::Ok();
}

std::string CgroupJoin(std::string_view a, std::string_view b) {
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  if (b.empty()) return std::string(a);
  return JoinPath(a, b);
}

}  // namespace paddock::sandbox
