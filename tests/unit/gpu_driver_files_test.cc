// ld.so.cache reading and driver file discovery against caches the real ldconfig writes.
//
// Fake driver libraries are compiled at test time (cc) and indexed by ldconfig run with -r inside
// the test's temporary directory: the cache, ldconfig's auxiliary cache and the soname links it
// makes all stay there, and the host's trusted directories (absent inside that root) are not
// scanned, so each cache holds exactly the fake libraries.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "base/file_util.h"
#include "gpu/driver_files.h"
#include "gpu/ld_cache.h"
#include "tests/unit/temp_dir.h"

namespace paddock::gpu {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::Pair;

constexpr uint32_t kNative64 = kLdCacheTypeElfLibc6 | kLdCacheArchX8664Lib64;

int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ShellOutput(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  ::pclose(pipe);
  return out;
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) == nullptr ? "" : std::string(buf);
}

// ldconfig lives in sbin, which a test runner's PATH may lack.
const char* const kLdconfig = "PATH=/usr/sbin:/sbin:$PATH ldconfig";

// A temporary host with fake driver libraries, indexed by the real ldconfig.
class FakeHost {
 public:
  FakeHost() {
    WriteFile(tmp_.Join("fake.c"), "int paddock_fake_driver_symbol(void) { return 0; }\n");
  }

  const std::string& root() const { return tmp_.path(); }
  std::string Join(const std::string& name) const { return tmp_.Join(name); }

  // Compiles a shared library with `soname` to <root>/<dir>/<file>; i386 builds a 32-bit one.
  bool AddLibrary(const std::string& dir, const std::string& soname, const std::string& file,
                  bool i386 = false) {
    fs::create_directories(Join(dir));
    const std::string flags = i386 ? "-m32 -nostdlib " : "";
    return Shell("cc -shared -fPIC " + flags + "-Wl,-soname," + soname + " -o " +
                 Join(dir + "/" + file) + " " + Join("fake.c") + " 2>" + Join("cc.log")) == 0;
  }

  // Runs ldconfig over <root>/<dir> for each of `dirs` with the cache `format` (new, compat,
  // old) and returns the cache's path. The configuration names the directories by their host
  // paths, so the cache does too; inside the root, <root>/<host path> leads back to them.
  std::string Index(const std::vector<std::string>& dirs, const std::string& format = "new") {
    std::string conf;
    for (const std::string& dir : dirs) {
      const std::string host_path = Join(dir);
      conf += host_path + "\n";
      const std::string mirror = root() + host_path;
      fs::create_directories(fs::path(mirror).parent_path());
      if (!fs::is_symlink(mirror)) fs::create_directory_symlink("/" + dir, mirror);
    }
    WriteFile(Join("ld.so.conf"), conf);
    const std::string name = "ld.so.cache." + format;
    const int rc = Shell(std::string(kLdconfig) + " -r " + root() + " -c " + format + " -C /" +
                         name + " -f /ld.so.conf 2>" + Join("ldconfig.log"));
    EXPECT_EQ(rc, 0) << ReadFileToString(Join("ldconfig.log")).value();
    return Join(name);
  }

 private:
  TempDir tmp_;
};

// One cache with a 64-bit libcuda and libnvidia-ml, written in `format`.
std::string IndexTwoLibraries(FakeHost& host, const std::string& format = "new") {
  EXPECT_TRUE(host.AddLibrary("drv", "libcuda.so.1", "libcuda.so.550.54.15"));
  EXPECT_TRUE(host.AddLibrary("drv", "libnvidia-ml.so.1", "libnvidia-ml.so.550.54.15"));
  return host.Index({"drv"}, format);
}

std::vector<std::pair<std::string, std::string>> NamesAndPaths(
    const std::vector<LdCacheEntry>& entries) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const LdCacheEntry& e : entries) out.emplace_back(e.soname, e.path);
  std::sort(out.begin(), out.end());
  return out;
}

// Where the string table of a current-format cache at the file's start ends.
size_t StringsEnd(const std::string& data) {
  uint32_t count, strings;
  std::memcpy(&count, data.data() + 20, 4);
  std::memcpy(&strings, data.data() + 24, 4);
  return 48 + size_t{count} * 24 + strings;
}

void ExpectInvalid(const std::string& path) {
  Result<std::vector<LdCacheEntry>> r = ReadLdCache(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr(path));
}

TEST(LdCacheTest, ReadsWhatLdconfigWrites) {
  FakeHost host;
  Result<std::vector<LdCacheEntry>> r = ReadLdCache(IndexTwoLibraries(host));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  std::vector<LdCacheEntry> entries = *r;
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.soname < b.soname; });
  EXPECT_EQ(entries[0].soname, "libcuda.so.1");
  EXPECT_EQ(entries[0].path, host.Join("drv/libcuda.so.1"));
  EXPECT_EQ(entries[0].flags, kNative64);
  EXPECT_EQ(entries[1].soname, "libnvidia-ml.so.1");
  EXPECT_EQ(entries[1].path, host.Join("drv/libnvidia-ml.so.1"));
  EXPECT_EQ(entries[1].flags, kNative64);
}

TEST(LdCacheTest, ReadsTheCompatLayout) {
  FakeHost host;
  // A third library makes the old table's end (16 + 3 * 12 bytes) need padding before the
  // current header.
  ASSERT_TRUE(host.AddLibrary("drv", "libnvidia-cfg.so.1", "libnvidia-cfg.so.550.54.15"));
  const std::string path = IndexTwoLibraries(host, "compat");
  ASSERT_TRUE(ReadFileToString(path)->starts_with("ld.so-1.7.0"));
  Result<std::vector<LdCacheEntry>> compat = ReadLdCache(path);
  ASSERT_TRUE(compat.ok()) << compat.status().ToString();
  EXPECT_EQ(compat->size(), 3u);
  Result<std::vector<LdCacheEntry>> current = ReadLdCache(host.Index({"drv"}, "new"));
  ASSERT_TRUE(current.ok()) << current.status().ToString();
  EXPECT_EQ(NamesAndPaths(*compat), NamesAndPaths(*current));
  for (const LdCacheEntry& e : *compat) EXPECT_EQ(e.flags, kNative64) << e.soname;
}

TEST(LdCacheTest, RejectsTheOldFormatAlone) {
  FakeHost host;
  const std::string path = IndexTwoLibraries(host, "old");
  ExpectInvalid(path);
  EXPECT_THAT(ReadLdCache(path).status().message(), HasSubstr("old format"));
}

TEST(LdCacheTest, KeepsEntriesOfOtherAbis) {
  FakeHost host;
  ASSERT_TRUE(host.AddLibrary("drv", "libcuda.so.1", "libcuda.so.550.54.15"));
  if (!host.AddLibrary("drv32", "libcuda.so.1", "libcuda.so.550.54.15", /*i386=*/true)) {
    GTEST_SKIP() << "cc cannot build 32-bit libraries here";
  }
  Result<std::vector<LdCacheEntry>> r = ReadLdCache(host.Index({"drv32", "drv"}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  for (const LdCacheEntry& e : *r) {
    EXPECT_EQ(e.soname, "libcuda.so.1");
    // ldconfig tags a 64-bit library libc6 + x86-64 and a 32-bit one without libc as plain ELF.
    const bool is64 = e.path == host.Join("drv/libcuda.so.1");
    EXPECT_EQ(e.flags, is64 ? kNative64 : kLdCacheTypeElf) << e.path;
    EXPECT_EQ(IsNativeLdCacheFlags(e.flags), is64) << e.path;
  }
}

TEST(LdCacheTest, NativeFlagsFollowTheDynamicLinker) {
#if defined(__x86_64__) && !defined(__ILP32__)
  EXPECT_TRUE(IsNativeLdCacheFlags(0x0303));   // libc6, x86-64
  EXPECT_FALSE(IsNativeLdCacheFlags(0x0003));  // libc6 (i386)
  EXPECT_FALSE(IsNativeLdCacheFlags(0x0001));  // ELF (i386 ld-linux.so.2)
  EXPECT_FALSE(IsNativeLdCacheFlags(0x0803));  // libc6, x32
#else
  GTEST_SKIP() << "flag values checked for x86-64 only";
#endif
}

// The host's own cache, compared with what ldconfig itself prints from it.
TEST(LdCacheTest, HostCacheMatchesLdconfigPrint) {
  if (!fs::exists("/etc/ld.so.cache")) GTEST_SKIP() << "no /etc/ld.so.cache on this host";
  Result<std::vector<LdCacheEntry>> r = ReadLdCache();
  ASSERT_TRUE(r.ok()) << r.status().ToString();

  bool native_libc = false;
  for (const LdCacheEntry& e : *r) {
    if (e.soname == "libc.so.6" && IsNativeLdCacheFlags(e.flags)) native_libc = true;
  }
  EXPECT_TRUE(native_libc);

  // "<N> libs found in cache ...", then "\t<soname> (<flags>) => <path>" per entry.
  std::istringstream printed(ShellOutput(std::string(kLdconfig) + " -p"));
  std::string line;
  size_t announced = 0;
  std::vector<std::pair<std::string, std::string>> listed;
  while (std::getline(printed, line)) {
    if (line.find(" libs found in cache") != std::string::npos) announced = std::stoul(line);
    const size_t open = line.find(" (");
    const size_t arrow = line.find(" => ");
    if (line.starts_with("\t") && open != std::string::npos && arrow != std::string::npos) {
      listed.emplace_back(line.substr(1, open - 1), line.substr(arrow + 4));
    }
  }
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(r->size(), announced);
  EXPECT_EQ(NamesAndPaths(*r), listed);
}

TEST(LdCacheTest, EveryTruncationIsInvalid) {
  FakeHost host;
  const std::string path = IndexTwoLibraries(host);
  const std::string data = ReadFileToString(path).value();
  const size_t end = StringsEnd(data);
  ASSERT_LE(end, data.size());
  const std::string cut = host.Join("cut.cache");
  for (size_t length = 0; length < end; ++length) {
    WriteFile(cut, data.substr(0, length));
    SCOPED_TRACE("length " + std::to_string(length));
    ExpectInvalid(cut);
  }
}

TEST(LdCacheTest, TruncatedHostCacheIsInvalid) {
  if (!fs::exists("/etc/ld.so.cache")) GTEST_SKIP() << "no /etc/ld.so.cache on this host";
  const std::string data = ReadFileToString("/etc/ld.so.cache").value();
  TempDir tmp;
  for (size_t length : {size_t{0}, size_t{19}, size_t{47}, data.size() / 2}) {
    WriteFile(tmp.Join("cut.cache"), data.substr(0, length));
    SCOPED_TRACE("length " + std::to_string(length));
    ExpectInvalid(tmp.Join("cut.cache"));
  }
}

TEST(LdCacheTest, RandomBytesAreInvalid) {
  TempDir tmp;
  std::mt19937 rng(20240611);
  for (size_t size : {1, 11, 20, 48, 1000, 65536}) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    WriteFile(tmp.Join("random.cache"), bytes);
    SCOPED_TRACE("size " + std::to_string(size));
    ExpectInvalid(tmp.Join("random.cache"));
    // Behind a valid magic the counts and offsets are random too.
    WriteFile(tmp.Join("random.cache"), "glibc-ld.so.cache1.1" + bytes);
    Result<std::vector<LdCacheEntry>> r = ReadLdCache(tmp.Join("random.cache"));
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

// Random damage to a real cache (compat layout, so both headers are hit) is read or rejected,
// never followed out of the data; run under the sanitizers this catches any stray read.
TEST(LdCacheTest, DamagedCacheIsReadOrRejected) {
  FakeHost host;
  ASSERT_TRUE(host.AddLibrary("drv", "libnvidia-cfg.so.1", "libnvidia-cfg.so.550.54.15"));
  const std::string data = ReadFileToString(IndexTwoLibraries(host, "compat")).value();
  const std::string damaged = host.Join("damaged.cache");
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) {
    std::string copy = data;
    for (int flips = 1 + rng() % 4; flips > 0; --flips) {
      copy[rng() % copy.size()] = static_cast<char>(rng());
    }
    WriteFile(damaged, copy);
    Result<std::vector<LdCacheEntry>> r = ReadLdCache(damaged);
    if (!r.ok()) {
      ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    }
  }
}

TEST(LdCacheTest, StringOffsetPastTheEndIsInvalid) {
  FakeHost host;
  std::string data = ReadFileToString(IndexTwoLibraries(host)).value();
  const uint32_t far = 0xfffffff0;
  std::memcpy(data.data() + 48 + 4, &far, 4);  // the first entry's soname offset
  WriteFile(host.Join("bad.cache"), data);
  ExpectInvalid(host.Join("bad.cache"));
}

TEST(LdCacheTest, ByteOrderMarkIsChecked) {
  FakeHost host;
  const std::string data = ReadFileToString(IndexTwoLibraries(host)).value();
  const std::string path = host.Join("order.cache");
  for (char mark : {1, 3}) {  // marked invalid; big-endian
    std::string copy = data;
    copy[28] = mark;
    WriteFile(path, copy);
    ExpectInvalid(path);
  }
  std::string unknown = data;
  unknown[28] = 0;  // written before ldconfig recorded the byte order: accepted
  WriteFile(path, unknown);
  EXPECT_TRUE(ReadLdCache(path).ok());
}

TEST(LdCacheTest, MissingFileIsNotFound) {
  TempDir tmp;
  EXPECT_EQ(ReadLdCache(tmp.Join("absent")).status().code(), StatusCode::kNotFound);
}

TEST(DriverFilesTest, FindsNativeLibrariesByRealPath) {
  FakeHost host;
  ASSERT_TRUE(host.AddLibrary("drv", "libcuda.so.1", "libcuda.so.550.54.15"));
  ASSERT_TRUE(host.AddLibrary("drv", "libnvidia-ml.so.1", "libnvidia-ml.so.550.54.15"));
  // A 32-bit libcuda listed first must not be taken (skipped where cc cannot build one).
  std::vector<std::string> dirs = {"drv"};
  if (host.AddLibrary("drv32", "libcuda.so.1", "libcuda.so.550.54.15", /*i386=*/true)) {
    dirs.insert(dirs.begin(), "drv32");
  }
  DriverFileOptions options;
  options.ld_cache = host.Index(dirs);
  options.path_env = host.Join("bin");

  Result<DriverFiles> r = FindDriverFiles(options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string drv = RealPath(host.Join("drv"));
  EXPECT_THAT(r->libraries,
              ElementsAre(drv + "/libnvidia-ml.so.550.54.15", drv + "/libcuda.so.550.54.15"));
  EXPECT_THAT(r->library_sonames, ElementsAre("libnvidia-ml.so.1", "libcuda.so.1"));
  EXPECT_TRUE(r->binaries.empty());
  EXPECT_THAT(
      r->missing,
      AllOf(IsSupersetOf({"libcudadebugger.so.1", "libnvidia-ptxjitcompiler.so.1",
                          "libnvidia-nvvm.so.4", "libnvidia-opencl.so.1", "libnvidia-cfg.so.1",
                          "libnvidia-allocator.so.1", "libnvidia-gpucomp.so", "libnvidia-pkcs11.so",
                          "libnvidia-pkcs11-openssl3.so", "nvidia-smi", "nvidia-debugdump",
                          "nvidia-persistenced", "nvidia-cuda-mps-control",
                          "nvidia-cuda-mps-server"}),
            Not(Contains("libcuda.so.1")), Not(Contains("libnvidia-ml.so.1"))));
  for (const std::string& lib : r->libraries) {
    EXPECT_EQ(lib.front(), '/');
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(lib))) << lib;
  }
}

// Driver-private libraries carry the driver version in their soname; one left behind by an older
// driver must not be mixed with the installed libcuda.
TEST(DriverFilesTest, TakesVersionedLibrariesOfTheInstalledDriver) {
  FakeHost host;
  ASSERT_TRUE(host.AddLibrary("drv", "libcuda.so.1", "libcuda.so.550.54.15"));
  ASSERT_TRUE(
      host.AddLibrary("drv", "libnvidia-gpucomp.so.550.54.15", "libnvidia-gpucomp.so.550.54.15"));
  ASSERT_TRUE(
      host.AddLibrary("old", "libnvidia-gpucomp.so.999.1.1", "libnvidia-gpucomp.so.999.1.1"));
  DriverFileOptions options;
  options.ld_cache = host.Index({"old", "drv"});
  options.path_env = "";

  Result<DriverFiles> r = FindDriverFiles(options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string drv = RealPath(host.Join("drv"));
  EXPECT_THAT(r->libraries,
              ElementsAre(drv + "/libcuda.so.550.54.15", drv + "/libnvidia-gpucomp.so.550.54.15"));
  EXPECT_THAT(r->library_sonames, ElementsAre("libcuda.so.1", "libnvidia-gpucomp.so.550.54.15"));
  EXPECT_THAT(r->missing, Not(Contains("libnvidia-gpucomp.so")));
}

TEST(DriverFilesTest, FindsExecutableToolsOnPath) {
  FakeHost host;
  fs::create_directories(host.Join("bin1/nvidia-debugdump"));  // a directory: not a tool
  fs::create_directories(host.Join("bin2"));
  WriteFile(host.Join("bin1/nvidia-smi"), "#!/bin/sh\n");  // not executable: skipped
  ::chmod(host.Join("bin1/nvidia-smi").c_str(), 0644);
  WriteFile(host.Join("bin2/nvidia-smi"), "#!/bin/sh\necho fake\n");
  ::chmod(host.Join("bin2/nvidia-smi").c_str(), 0755);
  WriteFile(host.Join("bin2/nvidia-cuda-mps-control"), "#!/bin/sh\n");
  ::chmod(host.Join("bin2/nvidia-cuda-mps-control").c_str(), 0755);

  DriverFileOptions options;
  options.ld_cache = IndexTwoLibraries(host);
  // Empty and relative components are skipped.
  options.path_env = "bin2::" + host.Join("bin1") + ":" + host.Join("bin2");
  Result<DriverFiles> r = FindDriverFiles(options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(r->binaries,
              ElementsAre(host.Join("bin2/nvidia-smi"), host.Join("bin2/nvidia-cuda-mps-control")));
  EXPECT_THAT(r->missing,
              IsSupersetOf({"nvidia-debugdump", "nvidia-persistenced", "nvidia-cuda-mps-server"}));
  EXPECT_THAT(r->missing, Not(Contains("nvidia-smi")));
}

TEST(DriverFilesTest, BindTargetsUseTheSonameAndFileName) {
  DriverFiles files;
  files.libraries = {"/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15",
                     "/opt/drv/libnvidia-gpucomp.so.550.54.15", "/opt/drv/libnvidia-cfg.so.1"};
  files.library_sonames = {"libcuda.so.1", "libnvidia-gpucomp.so.550.54.15", "libnvidia-cfg.so.1"};
  files.binaries = {"/usr/local/bin/nvidia-smi"};
  EXPECT_THAT(DriverBindTargets(files),
              ElementsAre(Pair("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15",
                               "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15"),
                          Pair("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15",
                               "/usr/lib/x86_64-linux-gnu/libcuda.so.1"),
                          Pair("/opt/drv/libnvidia-gpucomp.so.550.54.15",
                               "/usr/lib/x86_64-linux-gnu/libnvidia-gpucomp.so.550.54.15"),
                          Pair("/opt/drv/libnvidia-cfg.so.1",
                               "/usr/lib/x86_64-linux-gnu/libnvidia-cfg.so.1"),
                          Pair("/usr/local/bin/nvidia-smi", "/usr/bin/nvidia-smi")));
}

TEST(DriverFilesTest, BindTargetsOfFoundFiles) {
  FakeHost host;
  fs::create_directories(host.Join("bin"));
  WriteFile(host.Join("bin/nvidia-smi"), "#!/bin/sh\n");
  ::chmod(host.Join("bin/nvidia-smi").c_str(), 0755);
  DriverFileOptions options;
  options.ld_cache = IndexTwoLibraries(host);
  options.path_env = host.Join("bin");
  Result<DriverFiles> r = FindDriverFiles(options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string drv = RealPath(host.Join("drv"));
  const std::string lib = "/usr/lib/x86_64-linux-gnu/";
  EXPECT_THAT(
      DriverBindTargets(*r),
      ElementsAre(Pair(drv + "/libnvidia-ml.so.550.54.15", lib + "libnvidia-ml.so.550.54.15"),
                  Pair(drv + "/libnvidia-ml.so.550.54.15", lib + "libnvidia-ml.so.1"),
                  Pair(drv + "/libcuda.so.550.54.15", lib + "libcuda.so.550.54.15"),
                  Pair(drv + "/libcuda.so.550.54.15", lib + "libcuda.so.1"),
                  Pair(host.Join("bin/nvidia-smi"), "/usr/bin/nvidia-smi")));
}

TEST(DriverFilesTest, UnusableCacheIsAnError) {
  TempDir tmp;
  DriverFileOptions options;
  options.ld_cache = tmp.Join("absent");
  EXPECT_EQ(FindDriverFiles(options).status().code(), StatusCode::kNotFound);
  WriteFile(tmp.Join("junk"), "not a cache at all");
  options.ld_cache = tmp.Join("junk");
  Result<DriverFiles> r = FindDriverFiles(options);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr(tmp.Join("junk")));
}

// On the real host (with or without a driver) everything returned is absolute and exists.
TEST(DriverFilesTest, HostFilesAreAbsoluteAndExist) {
  if (!fs::exists("/etc/ld.so.cache")) GTEST_SKIP() << "no /etc/ld.so.cache on this host";
  Result<DriverFiles> r = FindDriverFiles();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->libraries.size(), r->library_sonames.size());
  EXPECT_LE(r->libraries.size() + r->binaries.size() + r->missing.size(), 16u);  // 11 + 5 wanted
  for (const auto& list : {r->libraries, r->binaries}) {
    for (const std::string& path : list) {
      EXPECT_EQ(path.front(), '/') << path;
      EXPECT_TRUE(fs::exists(path)) << path;
    }
  }
}

}  // namespace
}  // namespace paddock::gpu
