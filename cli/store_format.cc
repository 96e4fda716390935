#include "cli/store_format.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <sstream>
#include <utility>
#include <vector>

#include "cli/gpu_format.h"

namespace paddock::cli {
namespace {

constexpr size_t kMaxRepoNameLength = 100;
constexpr size_t kMaxRefNameLength = 255;
constexpr size_t kShortIdLength = 12;

bool IsRepoNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Characters that never occur in a ref name: they start revision suffixes or are reserved by the
// daemon's name rules, so catching them here turns a typo into a clear usage error.
bool IsReservedInRef(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7F || c == ' ' ||
         std::string_view("~^:?*[\\").find(c) != std::string_view::npos;
}

bool AllDigits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<uint64_t> ParseUnsigned(std::string_view text, std::string_view what) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument(std::string(what) + " \"" + std::string(text) +
                                   "\" is not a whole number of bytes");
  }
  return value;
}

// The revision's suffixes (everything from the first '~' or '^'): each a '~' or '^' and an
// optional count.
Status CheckRevisionSuffixes(std::string_view suffixes) {
  size_t i = 0;
  while (i < suffixes.size()) {
    const char op = suffixes[i++];
    if (op != '~' && op != '^') {
      return Status::InvalidArgument("revision suffix \"" + std::string(suffixes) +
                                     "\": expected ~N or ^N");
    }
    const size_t digits_end = suffixes.find_first_not_of("0123456789", i);
    i = digits_end == std::string_view::npos ? suffixes.size() : digits_end;
  }
  return Status::Ok();
}

std::string RevisionHint(std::string_view repo) {
  return " (e.g. " + std::string(repo.empty() ? "REPO" : repo) + "@main)";
}

// The id of `value`: itself when it is a string, its "id" member when it is an object.
std::string IdOf(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  return StringField(value, "id");
}

// Lines of `text`, each indented by four spaces, as git shows messages.
void AppendIndented(std::string& out, std::string_view text) {
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) out += (line.empty() ? "" : "    ") + line + "\n";
}

std::string FirstLine(std::string_view text) {
  return std::string(text.substr(0, text.find('\n')));
}

const Json& ArrayField(const Json& object, std::string_view key) {
  static const Json kEmpty = Json::array();
  const Json* value = FindField(object, key);
  return value != nullptr && value->is_array() ? *value : kEmpty;
}

// The commit header lines shared by log and show.
void AppendCommitHeader(std::string& out, const Json& commit) {
  out += "commit " + ShortId(IdOf(commit)) + "\n";
  const Json& parents = ArrayField(commit, "parents");
  if (parents.size() > 1) {
    out += "Merge:";
    for (const Json& parent : parents) out += " " + ShortId(IdOf(parent));
    out += "\n";
  }
  out += "Author: " + StringField(commit, "author") + "\n";
  const Json* time = FindField(commit, "time");
  out += "Date:   " + (time != nullptr ? FormatCommitTime(*time) : "-") + "\n\n";
  AppendIndented(out, StringField(commit, "message"));
}

std::string OnelineEntry(const Json& commit) {
  return ShortId(IdOf(commit)) + " " + FirstLine(StringField(commit, "message")) + "\n";
}

// `ls -l`'s mode column for a tree entry's kind.
std::string ModeOf(std::string_view kind) {
  if (kind == "file") return "-rw-r--r--";
  if (kind == "executable") return "-rwxr-xr-x";
  if (kind == "symlink") return "lrwxrwxrwx";
  if (kind == "directory" || kind == "dir" || kind == "tree") return "drwxr-xr-x";
  return std::string(kind);
}

bool IsDirectoryKind(std::string_view kind) {
  return kind == "directory" || kind == "dir" || kind == "tree";
}

// The size column: a file's length, a symlink's target length (as ls shows it), "-" for a
// directory.
std::string SizeCell(const Json& entry) {
  const std::string kind = StringField(entry, "kind");
  if (IsDirectoryKind(kind)) return "-";
  if (kind == "symlink") return std::to_string(StringField(entry, "target").size());
  const std::optional<int64_t> size = IntegerField(entry, "size");
  return size ? std::to_string(*size) : "-";
}

std::string ChangeLetter(std::string_view kind) {
  if (kind == "added") return "A";
  if (kind == "modified") return "M";
  if (kind == "deleted") return "D";
  if (kind == "renamed") return "R";
  if (kind == "type_changed") return "T";
  return "?";
}

// A count member as text ("-" when absent), and a byte count for people ("1.5G").
std::string Count(const Json& object, std::string_view key) {
  const std::optional<int64_t> value = IntegerField(object, key);
  return value ? std::to_string(*value) : "-";
}

std::string Bytes(const Json& object, std::string_view key) {
  const std::optional<int64_t> value = IntegerField(object, key);
  return value ? FormatHumanBytes(*value) : "-";
}

bool BoolField(const Json& object, std::string_view key) {
  const Json* value = FindField(object, key);
  return value != nullptr && value->is_boolean() && value->get<bool>();
}

std::string FormatProblemLine(const Json& problem) {
  if (!problem.is_object()) return DisplayValue(problem);
  std::string line = StringField(problem, "kind");
  const std::string detail = StringField(problem, "detail");
  // A pack that could not be loaded has no object: "damaged pack <pack>: <why>".
  if (StringField(problem, "id").empty()) {
    return line + " " + StringField(problem, "pack") + (detail.empty() ? "" : ": " + detail);
  }
  if (const std::string type = StringField(problem, "type"); !type.empty()) line += " " + type;
  if (const std::string id = StringField(problem, "id"); !id.empty()) line += " " + id;
  if (const std::string pack = StringField(problem, "pack"); !pack.empty()) {
    line += " in pack " + pack;
    if (const std::optional<int64_t> offset = IntegerField(problem, "offset")) {
      line += " at offset " + std::to_string(*offset);
    }
  }
  if (!detail.empty()) line += ": " + detail;
  return line;
}

}  // namespace

Status CheckRepoName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("the repository name is empty");
  if (name.size() > kMaxRepoNameLength) {
    return Status::InvalidArgument("repository name longer than 100 characters");
  }
  if (!std::all_of(name.begin(), name.end(), IsRepoNameChar) || name[0] == '.' || name[0] == '-') {
    return Status::InvalidArgument("repository name \"" + std::string(name) +
                                   "\": use [A-Za-z0-9._-], not starting with '.' or '-'");
  }
  return Status::Ok();
}

Status CheckRefName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("the name is empty");
  if (name.size() > kMaxRefNameLength) {
    return Status::InvalidArgument("name longer than 255 bytes");
  }
  if (std::any_of(name.begin(), name.end(), IsReservedInRef)) {
    return Status::InvalidArgument("\"" + std::string(name) +
                                   "\" holds a space, a control character or one of ~^:?*[\\");
  }
  return Status::Ok();
}

Status CheckRevision(std::string_view rev) {
  const size_t suffix_start = rev.find_first_of("~^");
  const std::string_view base = rev.substr(0, suffix_start);
  if (base.empty()) {
    return Status::InvalidArgument("revision \"" + std::string(rev) +
                                   "\" needs a branch, tag or commit id before ~ or ^");
  }
  if (Status name = CheckRefName(base); !name.ok()) {
    return Status::InvalidArgument("revision \"" + std::string(rev) + "\": " + name.message());
  }
  if (suffix_start == std::string_view::npos) return Status::Ok();
  return CheckRevisionSuffixes(rev.substr(suffix_start));
}

Result<RepoRef> ParseRepoRef(std::string_view text, RevisionUse use) {
  const size_t at = text.find('@');
  RepoRef parsed{std::string(text.substr(0, at)), {}};
  PADDOCK_RETURN_IF_ERROR(CheckRepoName(parsed.repo));
  if (at == std::string_view::npos) {
    if (use == RevisionUse::kRequired) {
      return Status::InvalidArgument("give a revision after '@'" + RevisionHint(parsed.repo));
    }
    if (use == RevisionUse::kRequiredBranch) {
      return Status::InvalidArgument("give a branch after '@'" + RevisionHint(parsed.repo));
    }
    return parsed;
  }
  if (use == RevisionUse::kNone) {
    return Status::InvalidArgument("a repository name only, without '@'");
  }
  parsed.rev = std::string(text.substr(at + 1));
  if (parsed.rev.empty()) {
    return Status::InvalidArgument("nothing after '@'" + RevisionHint(parsed.repo));
  }
  const bool branch = use == RevisionUse::kOptionalBranch || use == RevisionUse::kRequiredBranch;
  if (branch) {
    if (Status name = CheckRefName(parsed.rev); !name.ok()) {
      return Status::InvalidArgument("branch " + name.message() +
                                     " (a branch name, not a revision)");
    }
    return parsed;
  }
  PADDOCK_RETURN_IF_ERROR(CheckRevision(parsed.rev));
  return parsed;
}

Result<ByteRange> ParseByteRange(std::string_view text) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0) {
    return Status::InvalidArgument("\"" + std::string(text) +
                                   "\": expected FIRST-LAST or FIRST- (byte positions from 0)");
  }
  ByteRange range;
  Result<uint64_t> first = ParseUnsigned(text.substr(0, dash), "start");
  if (!first.ok()) return first.status();
  range.first = *first;
  const std::string_view last_text = text.substr(dash + 1);
  if (last_text.empty()) return range;
  Result<uint64_t> last = ParseUnsigned(last_text, "end");
  if (!last.ok()) return last.status();
  if (*last < range.first) {
    return Status::InvalidArgument("\"" + std::string(text) + "\": the end comes before the start");
  }
  range.last = *last;
  return range;
}

std::string RangeHeader(const ByteRange& range) {
  return "Range: bytes=" + std::to_string(range.first) + "-" +
         (range.last ? std::to_string(*range.last) : std::string());
}

Result<Json> ParseMetadata(std::string_view text) {
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return Status::InvalidArgument("not valid JSON");
  if (!value.is_object()) return Status::InvalidArgument("must be a JSON object, e.g. {\"k\": 1}");
  return value;
}

bool NamesDirectory(std::string_view text) {
  return text.find('/') != std::string_view::npos || text.find('@') == std::string_view::npos;
}

std::string ShortId(std::string_view id) { return std::string(id.substr(0, kShortIdLength)); }

std::string FormatCommitTime(const Json& time) {
  if (time.is_number_integer()) {
    const std::time_t seconds = static_cast<std::time_t>(time.get<int64_t>() / 1000);
    std::tm utc{};
    if (gmtime_r(&seconds, &utc) == nullptr) return DisplayValue(time);
    char text[64];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
    return text;
  }
  if (time.is_string()) {
    // "2026-11-03T12:34:56.789Z" -> "2026-11-03 12:34:56 UTC": the fraction says nothing to people.
    const std::string text = time.get<std::string>();
    const bool rfc3339 = text.size() >= 19 && text[10] == 'T' && AllDigits(text.substr(0, 4));
    if (!rfc3339) return text;
    const std::string zone = text.ends_with("Z") ? " UTC" : " " + text.substr(text.size() - 6);
    return text.substr(0, 10) + " " + text.substr(11, 8) + zone;
  }
  return DisplayValue(time);
}

std::string FormatRepoList(const Json& body) {
  Table table({"NAME", "BRANCHES", "TAGS", "CREATED"});
  for (const Json& repo : ArrayField(body, "repos")) {
    std::string branches;
    for (const Json& branch : ArrayField(repo, "branches")) {
      branches += (branches.empty() ? "" : ",") + DisplayValue(branch);
    }
    table.AddRow({Field(repo, "name"), branches.empty() ? "-" : branches, Field(repo, "tags"),
                  Field(repo, "created_at")});
  }
  std::ostringstream out;
  table.Print(out);
  return out.str();
}

std::string FormatLog(const Json& body, bool oneline) {
  std::string out;
  for (const Json& commit : ArrayField(body, "commits")) {
    if (oneline) {
      out += OnelineEntry(commit);
      continue;
    }
    if (!out.empty()) out += "\n";
    AppendCommitHeader(out, commit);
  }
  return out;
}

std::string FormatCommit(const Json& commit) {
  std::string out;
  AppendCommitHeader(out, commit);
  out += "\nTree:   " + StringField(commit, "tree") + "\n";
  const Json& parents = ArrayField(commit, "parents");
  for (const Json& parent : parents) out += "Parent: " + IdOf(parent) + "\n";
  const Json* metadata = FindField(commit, "metadata");
  if (metadata != nullptr && !metadata->is_null() &&
      !(metadata->is_object() && metadata->empty())) {
    out += "Metadata: " + DisplayValue(*metadata) + "\n";
  }
  return out;
}

std::string FormatTree(const Json& body) {
  const Json& entries = ArrayField(body, "entries");
  std::vector<std::string> sizes;
  size_t width = 1;
  for (const Json& entry : entries) {
    sizes.push_back(SizeCell(entry));
    width = std::max(width, sizes.back().size());
  }
  std::string out;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Json& entry = entries[i];
    // Sizes right-aligned, as ls does, so that magnitudes line up.
    out += ModeOf(StringField(entry, "kind")) + "  " + std::string(width - sizes[i].size(), ' ') +
           sizes[i] + "  " + StringField(entry, "path");
    if (const std::string target = StringField(entry, "target"); !target.empty()) {
      out += " -> " + target;
    }
    out += "\n";
  }
  return out;
}

std::string FormatChanges(const Json& body) {
  std::string out;
  for (const Json& change : ArrayField(body, "changes")) {
    const std::string kind = StringField(change, "kind");
    out += ChangeLetter(kind) + " ";
    if (kind == "renamed") out += StringField(change, "old_path") + " -> ";
    out += StringField(change, "path") + "\n";
  }
  return out;
}

std::string FormatRefs(const Json& body, std::string_view member) {
  Table table;
  for (const Json& ref : ArrayField(body, member)) {
    if (!ref.is_object()) {
      table.AddRow({DisplayValue(ref)});
      continue;
    }
    std::string target;
    for (const char* key : {"commit", "id", "target", "rev"}) {
      if (const Json* value = FindField(ref, key); value != nullptr && target.empty()) {
        target = ShortId(IdOf(*value));
      }
    }
    table.AddRow({Field(ref, "name"), target.empty() ? "-" : target});
  }
  std::ostringstream out;
  table.Print(out);
  return out.str();
}

std::string FormatCommitOutcome(const Json& body, std::string_view branch) {
  const Json* commit = FindField(body, "commit");
  const Json& commit_value = commit != nullptr ? *commit : body;
  const std::string id = ShortId(IdOf(commit_value));
  const std::string label = "[" + std::string(branch.empty() ? "main" : branch) + " " + id + "]";
  const Json* changed = FindField(body, "changed");
  if (changed != nullptr && changed->is_boolean() && !changed->get<bool>()) {
    return label + " nothing changed; the branch stays where it was\n";
  }
  std::string out = label + " " + FirstLine(StringField(commit_value, "message")) + "\n";
  if (FindField(body, "files") != nullptr) {
    out += " " + Count(body, "files") + " files, " + Bytes(body, "bytes") + " (" +
           Bytes(body, "bytes_stored") + " new in the store)\n";
  }
  return out;
}

std::string FormatMergeOutcome(const Json& body, std::string_view branch) {
  const Json* commit = FindField(body, "commit");
  const std::string id = commit != nullptr ? ShortId(IdOf(*commit)) : "-";
  if (BoolField(body, "up_to_date")) return std::string(branch) + " is already up to date\n";
  if (BoolField(body, "fast_forward")) {
    return "fast-forwarded " + std::string(branch) + " to " + id + "\n";
  }
  return "merged into " + std::string(branch) + ": " + id + "\n";
}

std::string FormatConflicts(const Json& problem) {
  std::string out;
  for (const Json& conflict : ArrayField(problem, "conflicts")) {
    if (!conflict.is_object()) {
      out += "CONFLICT: " + DisplayValue(conflict) + "\n";
      continue;
    }
    out +=
        "CONFLICT (" + StringField(conflict, "kind") + "): " + StringField(conflict, "path") + "\n";
  }
  return out;
}

std::string FormatGcReport(const Json& report, bool dry_run) {
  std::string out = std::string(dry_run ? "would reclaim " : "reclaimed ") +
                    Bytes(report, "bytes_reclaimed") + " (" + Count(report, "objects_reclaimed") +
                    " objects)\n";
  out +=
      "live: " + Bytes(report, "bytes_live") + " (" + Count(report, "objects_live") + " objects)\n";
  if (FindField(report, "packs_deleted") != nullptr) {
    out += "packs: " + Count(report, "packs_deleted") + " deleted, " +
           Count(report, "packs_rewritten") + " rewritten, " + Count(report, "packs_created") +
           " created\n";
  }
  return out;
}

std::string FormatFsckReport(const Json& report) {
  const Json& problems = ArrayField(report, "problems");
  std::string out;
  if (!FsckFoundDamage(report)) {
    out = "store ok: " + Count(report, "objects") + " objects in " + Count(report, "packs") +
          " packs checked, " + Count(report, "commits_reachable") + " commits reachable\n";
    return out;
  }
  out = "store damaged: " + std::to_string(problems.size()) + " problem" +
        (problems.size() == 1 ? "" : "s") + "\n";
  for (const Json& problem : problems) {
    out += FormatProblemLine(problem) + "\n";
    for (const Json& path : ArrayField(problem, "paths")) {
      out += "  used by " + DisplayValue(path) + "\n";
    }
    if (BoolField(problem, "more_paths")) out += "  (and more)\n";
  }
  return out;
}

bool FsckFoundDamage(const Json& report) {
  const Json* ok = FindField(report, "ok");
  if (ok != nullptr && ok->is_boolean() && !ok->get<bool>()) return true;
  return !ArrayField(report, "problems").empty();
}

}  // namespace paddock::cli
