#include "cli/sandbox_format.h"

#include <string.h>

#include <string_view>
#include <utility>
#include <vector>

namespace paddock::cli {
namespace {

// Long enough for "python3 train.py --epochs 10"; the whole line is in `sandbox inspect`.
constexpr size_t kCommandColumnWidth = 40;

// How a shell reports a process killed by the kernel's OOM killer (SIGKILL).
constexpr int kOomExitStatus = 128 + 9;

// The signal that ended the sandbox, if one did. 0 is no signal (kill(2)'s probe), so a 0 sent
// for a normal exit reads like the null it stands for.
std::optional<int64_t> KillingSignal(const Json& sandbox) {
  const std::optional<int64_t> signal = IntegerField(sandbox, "signal");
  return signal && *signal > 0 ? signal : std::nullopt;
}

// Characters a shell takes literally; anything else gets the word quoted.
bool NeedsQuoting(std::string_view word) {
  return word.empty() || word.find_first_not_of(
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                             "@%+=:,./_-") != std::string_view::npos;
}

std::string QuoteWord(std::string_view word) {
  if (!NeedsQuoting(word)) return std::string(word);
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Cuts `text` to `width` code points, the last three of them "..."; never splits a UTF-8
// sequence.
std::string Truncate(const std::string& text, size_t width) {
  size_t points = 0;
  size_t cut = std::string::npos;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (points == width - 3) cut = i;
    if (++points > width) return text.substr(0, cut) + "...";
  }
  return text;
}

std::string SignalName(int64_t signal) {
  const char* name = signal > 0 && signal < 65 ? ::sigabbrev_np(static_cast<int>(signal)) : nullptr;
  return name != nullptr ? std::string("SIG") + name : "signal " + std::to_string(signal);
}

// "512M" for whole binary units, the byte count otherwise: both read back by --memory.
std::string FormatBytes(int64_t bytes) {
  static constexpr std::pair<int, char> kUnits[] = {{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}};
  for (const auto& [shift, suffix] : kUnits) {
    const int64_t unit = int64_t{1} << shift;
    if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + suffix;
  }
  return std::to_string(bytes);
}

// "uid 1000 gid 1000" for a unix caller, "token ci" for one that came with a token.
std::string DescribeOwner(const Json& owner) {
  if (const Json* token = FindField(owner, "token")) return "token " + DisplayValue(*token);
  return "uid " + Field(owner, "uid") + " gid " + Field(owner, "gid");
}

// "uid 0 gid 0 in a user namespace (uid 65534 on the host)".
std::string DescribeRunAs(const Json& run_as) {
  std::string text = "uid " + Field(run_as, "uid") + " gid " + Field(run_as, "gid");
  const Json* user_namespace = FindField(run_as, "user_namespace");
  if (user_namespace != nullptr && user_namespace->is_boolean() && user_namespace->get<bool>()) {
    text += " in a user namespace";
    if (const Json* host_uid = FindField(run_as, "host_uid"); host_uid && !host_uid->is_null()) {
      text += " (uid " + DisplayValue(*host_uid) + " on the host)";
    }
  }
  return text;
}

// The limits as set: "-" for none, sizes and durations the way the flags take them.
void AddLimitRows(Table& table, const Json& limits) {
  table.AddRow({"cpus", Field(limits, "cpus")});
  const std::optional<int64_t> memory = IntegerField(limits, "memory_bytes");
  table.AddRow({"memory", memory ? FormatBytes(*memory) : "-"});
  table.AddRow({"pids", Field(limits, "pids")});
  const std::optional<int64_t> timeout = IntegerField(limits, "timeout_seconds");
  table.AddRow({"timeout", timeout ? FormatDuration(static_cast<double>(*timeout)) : "-"});
}

// Array members joined: "gpu0, gpu1"; "-" for an empty or missing array.
std::string JoinField(const Json& object, std::string_view key, std::string_view separator) {
  const Json* values = FindField(object, key);
  if (values == nullptr || !values->is_array() || values->empty()) return "-";
  std::string text;
  for (const Json& value : *values) {
    if (!text.empty()) text += separator;
    text += DisplayValue(value);
  }
  return text;
}

// The constraints of a count request as --gpus writes them: ":nvlink,same_numa", or "".
std::string GpuConstraints(const Json& request) {
  std::string text;
  for (const char* key : {"nvlink", "same_numa"}) {
    const Json* set = FindField(request, key);
    if (set != nullptr && set->is_boolean() && set->get<bool>()) {
      text += (text.empty() ? ":" : ",") + std::string(key);
    }
  }
  return text;
}

// The GPU request as --gpus takes it ("2:nvlink", "mig:1g.10gb", "share:10G", "GPU-a,GPU-b"), so
// that inspecting a sandbox shows how to ask for the same again.
std::string DescribeGpuRequest(const Json& request) {
  if (const std::optional<int64_t> count = IntegerField(request, "count")) {
    return std::to_string(*count) + GpuConstraints(request);
  }
  if (const Json* mig = FindField(request, "mig")) return "mig:" + DisplayValue(*mig);
  if (const Json* share = FindField(request, "share")) {
    const std::optional<int64_t> memory = IntegerField(*share, "memory");
    return "share:" + (memory ? FormatBytes(*memory) : Field(*share, "memory"));
  }
  if (FindField(request, "uuids") != nullptr) return JoinField(request, "uuids", ",");
  return DisplayValue(request);
}

// The sandbox's GPUs, when it asked for any: the request, and once granted the units, their
// UUIDs, the CPUs and memory nodes near them it was confined to, and a share's memory cap.
void AddGpuRows(Table& table, const Json& gpus) {
  if (const Json* request = FindField(gpus, "request")) {
    table.AddRow({"gpus", DescribeGpuRequest(*request)});
  }
  const Json* granted = FindField(gpus, "granted");
  if (granted == nullptr || !granted->is_object()) return;
  table.AddRow({"gpu units", JoinField(*granted, "units", ", ")});
  table.AddRow({"gpu uuids", JoinField(*granted, "uuids", ", ")});
  // Empty when the daemon knows no locality for the GPUs, and the sandbox runs anywhere.
  const std::string cpus = StringField(*granted, "cpuset_cpus");
  const std::string mems = StringField(*granted, "cpuset_mems");
  table.AddRow({"gpu cpuset", cpus.empty() && mems.empty()
                                  ? "-"
                                  : "cpus " + (cpus.empty() ? "-" : cpus) + ", mems " +
                                        (mems.empty() ? "-" : mems)});
  if (const std::optional<int64_t> cap = IntegerField(*granted, "memory_limit_bytes")) {
    table.AddRow({"gpu memory", FormatBytes(*cap)});
  }
}

// A sandbox's entry in the GPUS column of `sandbox ls`: how many units it was granted.
std::string GpuUnitCount(const Json& sandbox) {
  const Json* gpus = FindField(sandbox, "gpus");
  const Json* granted = gpus != nullptr ? FindField(*gpus, "granted") : nullptr;
  const Json* units = granted != nullptr ? FindField(*granted, "units") : nullptr;
  return units != nullptr && units->is_array() ? std::to_string(units->size()) : "-";
}

// Whether any listed sandbox asked for GPUs; only then does `sandbox ls` spend a column on them.
bool AnyHasGpus(const Json& sandboxes) {
  for (const Json& sandbox : sandboxes) {
    const Json* gpus = FindField(sandbox, "gpus");
    if (gpus != nullptr && !gpus->is_null()) return true;
  }
  return false;
}

}  // namespace

bool HasExited(const Json& sandbox) { return StringField(sandbox, "state") == "exited"; }

std::optional<int> SandboxExitStatus(const Json& sandbox) {
  if (!HasExited(sandbox)) return std::nullopt;
  if (StringField(sandbox, "reason") == "oom") return kOomExitStatus;
  if (const std::optional<int64_t> signal = KillingSignal(sandbox)) {
    return 128 + static_cast<int>(*signal);
  }
  if (const std::optional<int64_t> code = IntegerField(sandbox, "exit_code")) {
    return static_cast<int>(*code);
  }
  return std::nullopt;
}

std::string DescribeExit(const Json& sandbox) {
  const std::optional<int> status = SandboxExitStatus(sandbox);
  if (!status) return "-";
  std::string text = std::to_string(*status);
  const std::string reason = StringField(sandbox, "reason");
  if (!reason.empty() && reason != "exit") return text + " (" + reason + ")";
  if (const std::optional<int64_t> signal = KillingSignal(sandbox)) {
    return text + " (" + SignalName(*signal) + ")";
  }
  return text;
}

std::string FormatCommandLine(const Json& command) {
  if (!command.is_array()) return DisplayValue(command);
  std::string line;
  for (const Json& word : command) {
    if (!line.empty()) line += ' ';
    line += QuoteWord(word.is_string() ? word.get<std::string>() : DisplayValue(word));
  }
  return line;
}

void PrintSandboxTable(std::ostream& out, const Json& sandboxes) {
  const bool gpu_column = AnyHasGpus(sandboxes);
  std::vector<std::string> header = {"ID", "STATE", "COMMAND", "CREATED", "EXIT"};
  if (gpu_column) header.insert(header.begin() + 2, "GPUS");
  Table table(std::move(header));
  for (const Json& sandbox : sandboxes) {
    const Json* command = FindField(sandbox, "command");
    std::vector<std::string> row = {
        Field(sandbox, "id"), Field(sandbox, "state"),
        command != nullptr ? Truncate(FormatCommandLine(*command), kCommandColumnWidth) : "-",
        Field(sandbox, "created_at"), DescribeExit(sandbox)};
    if (gpu_column) row.insert(row.begin() + 2, GpuUnitCount(sandbox));
    table.AddRow(std::move(row));
  }
  table.Print(out);
}

namespace {

// "mount" rows as REPO@REV (commit) -> TARGET, and the output with its commit once made.
void AddDataRows(Table& table, const Json& sandbox) {
  if (const Json* mounts = FindField(sandbox, "mounts"); mounts != nullptr && mounts->is_array()) {
    for (const Json& m : *mounts) {
      const std::string commit = StringField(m, "commit");
      table.AddRow({"mount", StringField(m, "repo") + "@" + StringField(m, "rev") +
                                 (commit.empty() ? "" : " (" + commit.substr(0, 12) + ")") +
                                 " -> " + StringField(m, "target")});
    }
  }
  const Json* output = FindField(sandbox, "output");
  if (output == nullptr || !output->is_object()) return;
  std::string text = StringField(*output, "repo") + "@" + StringField(*output, "branch") + " <- " +
                     StringField(*output, "target");
  if (const std::string commit = StringField(*output, "commit"); !commit.empty()) {
    text += ", committed " + commit.substr(0, 12);
  } else if (const std::string error = StringField(*output, "error"); !error.empty()) {
    text += ", not committed: " + error;
  }
  table.AddRow({"output", text});
}

}  // namespace

void PrintSandboxDetails(std::ostream& out, const Json& sandbox) {
  Table table;
  table.AddRow({"id", Field(sandbox, "id")});
  table.AddRow({"state", Field(sandbox, "state")});
  if (const Json* command = FindField(sandbox, "command")) {
    table.AddRow({"command", FormatCommandLine(*command)});
  }
  if (const Json* owner = FindField(sandbox, "owner")) {
    table.AddRow({"owner", DescribeOwner(*owner)});
  }
  if (const Json* run_as = FindField(sandbox, "run_as")) {
    table.AddRow({"run as", DescribeRunAs(*run_as)});
  }
  table.AddRow({"created at", Field(sandbox, "created_at")});
  table.AddRow({"finished at", Field(sandbox, "finished_at")});
  if (const Json* limits = FindField(sandbox, "limits")) AddLimitRows(table, *limits);
  table.AddRow({"workspace", Field(sandbox, "workspace")});
  table.AddRow({"root", Field(sandbox, "root")});
  if (const Json* gpus = FindField(sandbox, "gpus"); gpus != nullptr && !gpus->is_null()) {
    AddGpuRows(table, *gpus);
  }
  AddDataRows(table, sandbox);
  table.AddRow({"exit", DescribeExit(sandbox)});
  table.AddRow({"exit code", Field(sandbox, "exit_code")});
  table.AddRow({"signal", Field(sandbox, "signal")});
  table.AddRow({"reason", Field(sandbox, "reason")});
  table.Print(out);
}

}  // namespace paddock::cli
