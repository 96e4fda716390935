#include "gpu/driver_files.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string_view>

#include "base/file_util.h"
#include "gpu/ld_cache.h"

namespace paddock::gpu {
namespace {

struct WantedLibrary {
  std::string_view name;
  // The soname is "<name>.<driver version>" (the driver's private libraries) rather than a fixed
  // ABI name; any version matches, the one of the installed libcuda/libnvidia-ml first.
  bool versioned;
};

// The compute and utility libraries: what CUDA, OpenCL and NVML programs load. Graphics, display
// and video libraries (GL, EGL, Vulkan, NVENC/NVDEC) are left out: sandboxes run headless compute.
// The first two come first because they tell the driver version the versioned ones must match.
constexpr WantedLibrary kLibraries[] = {
    // NVML: nvidia-smi, monitoring agents and frameworks query devices through it.
    {"libnvidia-ml.so.1", false},
    // The CUDA driver API; every CUDA program (and the runtime, libcudart) loads it.
    {"libcuda.so.1", false},
    // The back end of cuda-gdb and other debuggers (drivers from R525).
    {"libcudadebugger.so.1", false},
    // JIT-compiles PTX for GPUs a program carries no native code for (new GPU, old binary).
    {"libnvidia-ptxjitcompiler.so.1", false},
    // NVVM, for link-time optimisation at load time and runtime compilation (drivers from R520).
    {"libnvidia-nvvm.so.4", false},
    // The OpenCL implementation, found by the ICD loader.
    {"libnvidia-opencl.so.1", false},
    // Driver configuration queries, used by NVML-based tools.
    {"libnvidia-cfg.so.1", false},
    // Buffer allocation shared by the driver's components (GBM back end).
    {"libnvidia-allocator.so.1", false},
    // Compiler parts shared by libcuda and OpenCL (drivers from R545); without it they fail to
    // compile kernels.
    {"libnvidia-gpucomp.so", true},
    // Cryptography for confidential computing, which libcuda loads when the GPU runs in CC mode.
    {"libnvidia-pkcs11.so", true},
    {"libnvidia-pkcs11-openssl3.so", true},
};

// The driver's tools: device status and management (nvidia-smi), crash and state dumps for bug
// reports, the persistence daemon, and the Multi-Process Service's control program and server,
// which let a sandbox's processes share one GPU context. NVIDIA's container tooling binds the same.
constexpr std::string_view kBinaries[] = {
    "nvidia-smi",
    "nvidia-debugdump",
    "nvidia-persistenced",
    "nvidia-cuda-mps-control",
    "nvidia-cuda-mps-server",
};

// The multiarch directory of the host's ABI, where images look for libraries.
#if defined(__aarch64__)
constexpr std::string_view kSandboxLibraryDir = "/usr/lib/aarch64-linux-gnu";
#else
constexpr std::string_view kSandboxLibraryDir = "/usr/lib/x86_64-linux-gnu";
#endif
constexpr std::string_view kSandboxBinaryDir = "/usr/bin";

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The real path of a regular file, or "" when `path` does not lead to one.
std::string RealRegularFile(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return "";
  struct stat st;
  if (::stat(buf, &st) != 0 || !S_ISREG(st.st_mode)) return "";
  return buf;
}

// "550.54.15" from ".../libcuda.so.550.54.15" and soname "libcuda.so.1": the driver names its
// files "<stem>.so.<driver version>". "" when the file is not named that way.
std::string DriverVersionOf(const std::string& real_path, const std::string& soname) {
  const size_t so = soname.find(".so.");
  if (so == std::string::npos) return "";
  const std::string stem = soname.substr(0, so + 4);
  const std::string file = BaseName(real_path);
  if (!file.starts_with(stem) || file.size() == stem.size()) return "";
  const std::string version = file.substr(stem.size());
  if (version.find('.') == std::string::npos) return "";  // a bare ABI number, e.g. ".so.1"
  return version;
}

bool Matches(const WantedLibrary& wanted, const std::string& soname, const std::string& version) {
  if (!wanted.versioned) return soname == wanted.name;
  // The soname becomes a path in the sandbox; a '/' would lead out of the library directory.
  if (soname.find('/') != std::string::npos) return false;
  const std::string prefix = std::string(wanted.name) + ".";
  if (!version.empty()) return soname == prefix + version;
  return soname.starts_with(prefix) && soname.size() > prefix.size();
}

// The first native entry for `wanted` whose file exists: (real path, soname). The dynamic linker
// takes the first too. A versioned library of another driver version (left behind by an upgrade)
// is taken only when the installed version is unknown: mixing versions breaks CUDA's start-up.
std::pair<std::string, std::string> Resolve(const WantedLibrary& wanted,
                                            const std::vector<LdCacheEntry>& cache,
                                            const std::string& version) {
  for (const LdCacheEntry& entry : cache) {
    if (!IsNativeLdCacheFlags(entry.flags) || !Matches(wanted, entry.soname, version)) continue;
    std::string real = RealRegularFile(entry.path);
    if (!real.empty()) return {std::move(real), entry.soname};
  }
  return {};
}

void FindLibraries(const std::vector<LdCacheEntry>& cache, DriverFiles& out) {
  std::string version;
  std::set<std::string> seen;
  for (const WantedLibrary& wanted : kLibraries) {
    auto [real, soname] = Resolve(wanted, cache, version);
    if (real.empty()) {
      out.missing.emplace_back(wanted.name);
      continue;
    }
    if (version.empty() && !wanted.versioned) version = DriverVersionOf(real, soname);
    if (!seen.insert(real).second) continue;
    out.libraries.push_back(std::move(real));
    out.library_sonames.push_back(std::move(soname));
  }
}

// The first absolute PATH directory holding an executable regular file `name`, joined; or "".
std::string FindOnPath(std::string_view name, const std::string& path_env) {
  size_t begin = 0;
  while (begin <= path_env.size()) {
    size_t end = path_env.find(':', begin);
    if (end == std::string::npos) end = path_env.size();
    const std::string_view dir = std::string_view(path_env).substr(begin, end - begin);
    begin = end + 1;
    if (dir.empty() || dir.front() != '/') continue;
    std::string candidate = JoinPath(dir, name);
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

}  // namespace

Result<DriverFiles> FindDriverFiles(const DriverFileOptions& options) {
  Result<std::vector<LdCacheEntry>> cache = ReadLdCache(options.ld_cache);
  if (!cache.ok()) return cache.status().WithContext("finding the driver's libraries");
  DriverFiles out;
  FindLibraries(*cache, out);
  for (std::string_view name : kBinaries) {
    std::string found = FindOnPath(name, options.path_env);
    if (found.empty()) {
      out.missing.emplace_back(name);
    } else {
      out.binaries.push_back(std::move(found));
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> DriverBindTargets(const DriverFiles& files) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < files.libraries.size(); ++i) {
    const std::string& host = files.libraries[i];
    const std::string file = BaseName(host);
    out.emplace_back(host, JoinPath(kSandboxLibraryDir, file));
    if (i < files.library_sonames.size()) {
      const std::string& soname = files.library_sonames[i];
      if (!soname.empty() && soname != file) {
        out.emplace_back(host, JoinPath(kSandboxLibraryDir, soname));
      }
    }
  }
  for (const std::string& host : files.binaries) {
    out.emplace_back(host, JoinPath(kSandboxBinaryDir, BaseName(host)));
  }
  return out;
}

}  // namespace paddock::gpu
