// Parsers for the values of `paddock sandbox run`'s flags. The CLI converts sizes and durations
// itself so that the API only ever sees plain integers, and resolves host paths here because
// the daemon cannot know the caller's working directory. Every failure is kInvalidArgument with
// a message meant to be shown as a usage error.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/status.h"

namespace paddock::cli {

// "512M", "2G", "1.5G", "1048576": bytes, or a number with a binary suffix K, M, G or T (either
// case). Fractions are allowed with a suffix and rounded to the nearest byte. Must be positive.
// The value comes from paddock::ParseByteSize, the project's one size parser; only the forms
// the help shows get that far.
Result<int64_t> ParseByteSize(std::string_view text);

// "30s", "10m", "1h", "90": whole seconds, minutes or hours; a bare number is seconds. Must be
// positive.
Result<int64_t> ParseSeconds(std::string_view text);

// A positive, finite number of CPUs, e.g. "1.5".
Result<double> ParseCpus(std::string_view text);

// A positive whole number, e.g. for --pids.
Result<int64_t> ParsePositiveInteger(std::string_view text);

// The value of --gpus as the API's GpuRequest object:
//   "2"                  {"count": 2}
//   "2:nvlink"           {"count": 2, "nvlink": true}    (also same_numa, or both:
//   nvlink,same_numa) "mig:1g.10gb"        {"mig": "1g.10gb"} "share:10G"          {"share":
//   {"memory": 10737418240}} "GPU-...,MIG-..."    {"uuids": ["GPU-...", "MIG-..."]}
// Only the shape is checked; whether this machine has such GPUs is the daemon's to say.
Result<nlohmann::json> ParseGpuSpec(std::string_view text);

struct BindArg {
  std::string source;  // absolute, symlinks resolved
  std::string target;  // path inside the sandbox, as given
  bool writable = false;
};

// "SRC:DST", "SRC:DST:ro" or "SRC:DST:rw". SRC must exist on this host; DST must be absolute.
Result<BindArg> ParseBind(std::string_view text);

struct EnvAssignment {
  std::string name;
  std::string value;
};

// "KEY=VALUE"; the value may be empty or contain '=', the name may not be empty.
Result<EnvAssignment> ParseEnvAssignment(std::string_view text);

// A repository revision in a sandbox: "REPO@REV:/path" for --mount (REV defaults to main when
// "@REV" is left out) and "REPO[@BRANCH][:/path]" for --output (branch main, path /output).
struct DataArg {
  std::string repo;
  std::string ref;     // revision (mount) or branch (output)
  std::string target;  // absolute path inside the sandbox
};
Result<DataArg> ParseMountArg(std::string_view text);
Result<DataArg> ParseOutputArg(std::string_view text);

// realpath(3) of an existing directory: what --workspace and --root DIR send.
Result<std::string> ResolveDirectory(const std::string& path);

}  // namespace paddock::cli
