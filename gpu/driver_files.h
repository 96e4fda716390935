// The NVIDIA driver's user-space files a sandbox with its own root file system needs.
//
// A sandbox whose root is a directory (an unpacked image) has no driver libraries or tools of its
// own, and must not: they have to match the host's kernel module exactly. The sandbox launcher
// binds the host's files in read-only. They are found the way the host's own programs find them:
// libraries through the dynamic linker's cache (what ldconfig indexed), tools through PATH.
//
// Contracts:
//   - FindDriverFiles returns only absolute paths that existed when it looked. Libraries are the
//     real files (symlinks resolved), for the host's native ABI only, each once. A wanted file
//     that is not there is listed in `missing`; that is information (drivers differ in what they
//     ship), not an error. An unreadable or corrupt cache is an error (see gpu/ld_cache.h).
//   - DriverBindTargets is pure: it maps paths without touching the file system.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace paddock::gpu {

struct DriverFileOptions {
  std::string ld_cache = "/etc/ld.so.cache";
  // Searched for the tools; components that are empty or relative are skipped (the daemon's
  // current directory is no place to take binaries from).
  std::string path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
};

struct DriverFiles {
  // Real paths of the libraries, e.g. "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15".
  std::vector<std::string> libraries;
  // library_sonames[i] is the name programs load libraries[i] by (its ld.so.cache key), e.g.
  // "libcuda.so.1". Same length as `libraries`.
  std::vector<std::string> library_sonames;
  // Where each tool was found on PATH, e.g. "/usr/bin/nvidia-smi" (as found, so its base name is
  // the tool's name; a bind mount follows a symlink there).
  std::vector<std::string> binaries;
  // Wanted sonames (or soname stems, for libraries whose soname carries the driver version, e.g.
  // "libnvidia-gpucomp.so") and tool names that were not found.
  std::vector<std::string> missing;
};

// Looks up the driver's compute and utility libraries in options.ld_cache and its tools in
// options.path_env. The list of what is wanted, and why, is in driver_files.cc.
Result<DriverFiles> FindDriverFiles(const DriverFileOptions& options = {});

// (host path, path inside the sandbox) for each file, in the order of `files`:
//   - a library is bound at /usr/lib/x86_64-linux-gnu/<its real file name> (the multiarch
//     directory of the host's ABI), and, when its soname differs from that name, once more at
//     /usr/lib/x86_64-linux-gnu/<soname>: programs open the soname, which on the host is a
//     symlink to the real file, so the real file is bound at the soname's path
//     (libcuda.so.550.54.15 -> .../libcuda.so.550.54.15 and .../libcuda.so.1);
//   - a tool is bound at /usr/bin/<its name>.
// A library without a soname in files.library_sonames gets only the first target.
std::vector<std::pair<std::string, std::string>> DriverBindTargets(const DriverFiles& files);

}  // namespace paddock::gpu
