// Helpers for the storage fsio tests: opening stores, writing files with exact modes, random
// directory trees with awkward content, and a walker that describes a directory for comparison.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "base/file_util.h"
#include "storage/pack_store.h"
#include "tests/unit/storage_test_util.h"

namespace paddock::storage::testing {

inline std::unique_ptr<PackStore> OpenTestStore(const std::string& dir) {
  Result<std::unique_ptr<PackStore>> store = PackStore::Open(dir, PackStoreOptions{});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store.value()) : nullptr;
}

// Creates (or replaces) `path` with `content` and exactly `mode`, whatever the umask.
inline void WriteTestFile(const std::string& path, std::string_view content, mode_t mode = 0644) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << path;
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    ASSERT_GT(n, 0) << path;
    done += static_cast<size_t>(n);
  }
  ASSERT_EQ(::fchmod(fd, mode), 0);
  ::close(fd);
}

inline void MakeTestDir(const std::string& path, mode_t mode = 0755) {
  ASSERT_EQ(::mkdir(path.c_str(), mode), 0) << path;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

// Sets a file's mtime `seconds_ago` into the past (negative: the future).
inline void SetMtimeSecondsAgo(const std::string& path, int64_t seconds_ago) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  timespec times[2] = {now, now};
  times[1].tv_sec -= seconds_ago;
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// What a walker sees of one entry.
struct WalkedEntry {
  char type = '?';   // 'f' file, 'd' directory, 'l' symlink
  mode_t mode = 0;   // permission bits (0 for symlinks)
  std::string data;  // file content or symlink target
  friend bool operator==(const WalkedEntry&, const WalkedEntry&) = default;
};
using WalkedTree = std::map<std::string, WalkedEntry>;

inline void WalkInto(const std::string& root, const std::string& rel, WalkedTree* out) {
  const std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  ASSERT_NE(d, nullptr) << dir;
  std::set<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.insert(name);
  }
  ::closedir(d);
  for (const std::string& name : names) {
    const std::string child_rel = rel.empty() ? name : rel + "/" + name;
    const std::string path = root + "/" + child_rel;
    struct stat st;
    ASSERT_EQ(::lstat(path.c_str(), &st), 0) << path;
    WalkedEntry w;
    if (S_ISDIR(st.st_mode)) {
      w.type = 'd';
      w.mode = st.st_mode & 07777;
      (*out)[child_rel] = w;
      WalkInto(root, child_rel, out);
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      w.type = 'l';
      char target[4096];
      const ssize_t n = ::readlink(path.c_str(), target, sizeof target);
      ASSERT_GT(n, 0) << path;
      w.data.assign(target, static_cast<size_t>(n));
    } else {
      w.type = 'f';
      w.mode = st.st_mode & 07777;
      Result<std::string> content = ReadFileToString(path);
      ASSERT_TRUE(content.ok()) << content.status().ToString();
      w.data = *content;
    }
    (*out)[child_rel] = w;
  }
}

// Every entry below `root` (not `root` itself), by relative path.
inline WalkedTree WalkTree(const std::string& root) {
  WalkedTree tree;
  WalkInto(root, "", &tree);
  return tree;
}

// Builds a random tree under the existing directory `root`: nested directories (some empty),
// names with odd bytes (newlines, high bytes, 255-byte names), empty and multi-chunk files, exec
// bits, and symlinks (relative, dangling, and unless `inside_symlinks_only` absolute or climbing
// out of the tree). Same seed, same tree.
class RandomTreeBuilder {
 public:
  explicit RandomTreeBuilder(uint64_t seed, bool inside_symlinks_only = false)
      : rng_(seed), inside_symlinks_only_(inside_symlinks_only) {}

  void Build(const std::string& root, int max_depth) { Fill(root, max_depth); }

 private:
  std::string RandomName(std::set<std::string>* used) {
    for (;;) {
      std::string name;
      const int shape = Pick(10);
      const size_t length = shape == 0 ? 255 : 1 + Pick(12);
      for (size_t i = 0; i < length; ++i) {
        if (shape < 5) {
          name += static_cast<char>('a' + Pick(26));
        } else {
          char c = static_cast<char>(1 + Pick(255));  // any byte but NUL ...
          if (c == '/') c = '_';                      // ... and '/'
          name += c;
        }
      }
      if (name != "." && name != ".." && used->insert(name).second) return name;
    }
  }

  std::string RandomContent() {
    switch (Pick(6)) {
      case 0:
        return "";
      case 1:
        return RandomBytes(150'000 + Pick(250'000), rng_());  // several 64 KiB chunks
      default:
        return RandomBytes(Pick(5000), rng_());
    }
  }

  std::string RandomTarget() {
    switch (inside_symlinks_only_ ? 1 + Pick(3) : Pick(4)) {
      case 0:
        return "/etc/passwd";
      case 1:
        return "does/not/exist";
      case 2:
        return inside_symlinks_only_ ? "x/../y"
                                     : "../" + std::string(1, static_cast<char>('a' + Pick(26)));
      default:
        return std::string(1 + Pick(40), static_cast<char>('a' + Pick(26)));
    }
  }

  void Fill(const std::string& dir, int depth_left) {
    std::set<std::string> used;
    const int entries = static_cast<int>(Pick(7));
    for (int i = 0; i < entries; ++i) {
      const std::string path = dir + "/" + RandomName(&used);
      const int kind = Pick(10);
      if (kind < 3 && depth_left > 0) {
        MakeTestDir(path);
        Fill(path, depth_left - 1);
      } else if (kind < 5) {
        ASSERT_EQ(::symlink(RandomTarget().c_str(), path.c_str()), 0) << path;
      } else {
        WriteTestFile(path, RandomContent(), Pick(3) == 0 ? 0755 : 0644);
      }
    }
  }

  uint32_t Pick(uint32_t n) { return static_cast<uint32_t>(rng_() % n); }

  std::mt19937_64 rng_;
  const bool inside_symlinks_only_;
};

// Peak resident set size of this process (VmHWM), in bytes.
inline uint64_t PeakResidentBytes() {
  Result<std::string> status = ReadFileToString("/proc/self/status");
  if (!status.ok()) return 0;
  const auto at = status->find("VmHWM:");
  if (at == std::string::npos) return 0;
  return std::stoull(status->substr(at + 6)) * 1024;  // the value is in kB
}

// Starts measuring VmHWM afresh (writing 5 to clear_refs resets the peak to the current RSS),
// after handing freed heap back to the kernel so that reuse of it would show as growth.
inline bool ResetPeakResident() {
  ::malloc_trim(0);
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "5", 1) == 1;
  ::close(fd);
  return ok;
}

}  // namespace paddock::storage::testing
