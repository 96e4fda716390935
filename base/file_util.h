// Small filesystem helpers with the durability rules the daemon relies on.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/status.h"

namespace paddock {

// Creates `path` and any missing parents with `mode` (subject to umask). An existing directory is
// fine; an existing non-directory is an error.
Status MakeDirectories(const std::string& path, mode_t mode);

// Reads a whole (small) file.
Result<std::string> ReadFileToString(const std::string& path);

// Replaces `path` with `contents` so that readers see the old file or the new one, never a mix:
// writes a temporary file beside it with `mode`, fsyncs it, renames it over `path` and fsyncs the
// directory.
Status WriteFileAtomically(const std::string& path, std::string_view contents, mode_t mode);

// "<dir>/<name>" without doubling the slash.
std::string JoinPath(std::string_view dir, std::string_view name);

// Makes `path` absolute against the current directory (no symlink resolution).
std::string AbsolutePath(std::string_view path);

}  // namespace paddock
