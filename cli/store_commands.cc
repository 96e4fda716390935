#include "cli/store_commands.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <span>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/unique_fd.h"
#include "cli/gpu_format.h"
#include "cli/problem.h"
#include "cli/reply.h"

namespace paddock::cli {
namespace {

constexpr std::string_view kReposPath = "/api/v1/repos";
constexpr std::string_view kStorePath = "/api/v1/store";
constexpr std::string_view kTarType = "application/x-tar";
// Big enough that a gigabyte moves in a few thousand system calls.
constexpr size_t kCopyBufferSize = 256 * 1024;
constexpr int kMergeConflictStatus = 409;

// --- requests ------------------------------------------------------------------------------------

std::string RepoPath(std::string_view repo, std::string_view tail = {}) {
  std::string path = std::string(kReposPath) + "/" + EscapePathSegment(repo);
  if (!tail.empty()) path += "/" + std::string(tail);
  return path;
}

// "?a=1&b=2" from the pairs whose value is not empty; "" when none is.
std::string Query(std::initializer_list<std::pair<std::string_view, std::string>> params) {
  std::string query;
  for (const auto& [name, value] : params) {
    if (value.empty()) continue;
    query += (query.empty() ? "?" : "&") + std::string(name) + "=" + EscapePathSegment(value);
  }
  return query;
}

// Paths inside a tree are relative to its root; "/data/" and "data" mean the same to people.
std::string TreePath(std::string_view path) {
  while (path.starts_with('/')) path.remove_prefix(1);
  while (path.ends_with('/')) path.remove_suffix(1);
  return std::string(path);
}

std::string Describe(const RepoRef& ref) {
  return ref.repo + (ref.rev.empty() ? "" : "@" + ref.rev);
}

// Prints the reply's JSON with --json, else `format` of it.
ExitCode PrintReply(const CommandContext& context, const Reply& reply,
                    const std::function<std::string(const Json&)>& format) {
  if (!reply.ok()) return reply.exit_code;
  if (context.json) {
    PrintJson(std::cout, reply.body);
  } else {
    std::cout << format(reply.body);
  }
  return ExitCode::kSuccess;
}

// For answers without a body (204): --json still gets an object to parse.
ExitCode PrintDone(const CommandContext& context, const Reply& reply, Json summary,
                   const std::string& text) {
  if (!reply.ok()) return reply.exit_code;
  if (context.json) {
    PrintJson(std::cout, reply.body.is_null() ? summary : reply.body);
  } else {
    std::cout << text << '\n';
  }
  return ExitCode::kSuccess;
}

// Reports a failure on our side of a transfer (a local file, the archive); exit 1.
ExitCode ReportLocalFailure(const Status& status) {
  std::cerr << "paddock: " << status.message() << '\n';
  return status.code() == StatusCode::kUnavailable ? ExitCode::kUnreachable
                                                   : ExitCode::kInternalError;
}

// --- bytes between descriptors -------------------------------------------------------------------

Status WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return Status::FromErrno("writing " + std::string(what));
    data.remove_prefix(static_cast<size_t>(written));
  }
  return Status::Ok();
}

// To the socket between a transfer and its archive: a peer that gave up is an error, not SIGPIPE.
bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

Result<size_t> ReadSome(int fd, char* buffer, size_t capacity, std::string_view what) {
  while (true) {
    const ssize_t n = ::read(fd, buffer, capacity);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return Status::FromErrno("reading " + std::string(what));
  }
}

// Two connected stream sockets: one side feeds an archive, the other a transfer, each on its own
// thread, so that neither the archive nor the body is ever held whole.
Result<std::pair<UniqueFd, UniqueFd>> MakeChannel() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return Status::FromErrno("socketpair");
  }
  return std::make_pair(UniqueFd(fds[0]), UniqueFd(fds[1]));
}

// Downloads `path` and hands the body of a 2xx answer to `sink` as it arrives; `sink` returns
// false to stop. Only connecting is bounded by --timeout: an archive takes as long as it takes.
struct Download {
  Status driven;
  StreamRequest request;
};

void RunDownload(const ApiClient& client, Download& download,
                 const std::function<bool(std::string_view)>& sink) {
  std::atomic<bool> stopped{false};
  download.request.unbounded = true;
  download.request.on_data = [&](std::string_view chunk) {
    if (!stopped && !sink(chunk)) stopped = true;
  };
  StreamHooks hooks;
  hooks.stop_early = [&] { return stopped.load(); };
  download.driven = client.Stream(std::span<StreamRequest>(&download.request, 1), hooks);
}

// How a download went, reporting the failure: daemon lost (3), then API error (4).
ExitCode JudgeDownload(const CommandContext& context, const Download& download) {
  if (!download.driven.ok()) return ReportRequestFailure(download.driven);
  if (!download.request.transport.ok()) return ReportRequestFailure(download.request.transport);
  if (!IsSuccess(download.request.response.status)) {
    return ReportApiError(context, download.request.response);
  }
  return ExitCode::kSuccess;
}

// --- tar archives of host directories (TCP) ------------------------------------------------------

struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchiveWriter = std::unique_ptr<archive, ArchiveWriteFree>;
using ArchiveReader = std::unique_ptr<archive, ArchiveReadFree>;
using Entry = std::unique_ptr<archive_entry, EntryFree>;

Status ArchiveFailure(archive* a, std::string_view what) {
  const char* text = archive_error_string(a);
  return Status::Internal(std::string(what) + ": " + (text != nullptr ? text : "libarchive error"));
}

la_ssize_t SendArchiveBytes(archive* a, void* client, const void* buffer, size_t length) {
  const int fd = *static_cast<int*>(client);
  if (!SendAll(fd, std::string_view(static_cast<const char*>(buffer), length))) {
    archive_set_error(a, errno, "the upload stopped reading the archive");
    return -1;
  }
  return static_cast<la_ssize_t>(length);
}

// Writes a directory's contents as a pax archive, names relative to the directory, children in
// byte order so that the same tree always gives the same stream. Owners and groups are left out:
// the store keeps contents and the exec bit only.
class DirectoryArchiver {
 public:
  DirectoryArchiver(archive* out, std::string root) : out_(out), root_(std::move(root)) {}

  Status AddChildren(const std::string& relative) {
    Result<std::vector<std::string>> names = ListDirectory(Full(relative));
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      const std::string child = relative.empty() ? name : relative + "/" + name;
      PADDOCK_RETURN_IF_ERROR(AddPath(child));
    }
    return Status::Ok();
  }

  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  std::string Full(const std::string& relative) const {
    return relative.empty() ? root_ : root_ + "/" + relative;
  }

  static Result<std::vector<std::string>> ListDirectory(const std::string& path) {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return Status::FromErrno("opening " + path);
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* item = ::readdir(dir)) {
      const std::string_view name = item->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    const int err = errno;
    ::closedir(dir);
    if (err != 0) return Status::FromErrno("reading " + path, err);
    std::sort(names.begin(), names.end());
    return names;
  }

  Status AddPath(const std::string& relative) {
    const std::string full = Full(relative);
    struct stat info {};
    if (::lstat(full.c_str(), &info) != 0) return Status::FromErrno("reading " + full);
    if (S_ISDIR(info.st_mode)) {
      PADDOCK_RETURN_IF_ERROR(WriteHeader(relative, info, AE_IFDIR, 0));
      return AddChildren(relative);
    }
    if (S_ISREG(info.st_mode)) return AddFile(relative, full);
    if (S_ISLNK(info.st_mode)) return AddSymlink(relative, full, info);
    // The store holds files, directories and symlinks only; the daemon skips the rest too.
    skipped_.push_back(full);
    return Status::Ok();
  }

  Status WriteHeader(const std::string& relative, const struct stat& info, mode_t type,
                     int64_t size, const char* symlink = nullptr) {
    Entry entry(archive_entry_new());
    if (!entry) return Status::Internal("out of memory");
    archive_entry_copy_pathname(entry.get(), relative.c_str());
    archive_entry_set_filetype(entry.get(), type);
    archive_entry_set_perm(entry.get(), info.st_mode & 0777);
    archive_entry_set_size(entry.get(), size);
    archive_entry_set_mtime(entry.get(), info.st_mtim.tv_sec, info.st_mtim.tv_nsec);
    if (symlink != nullptr) archive_entry_copy_symlink(entry.get(), symlink);
    if (archive_write_header(out_, entry.get()) < ARCHIVE_WARN) {
      return ArchiveFailure(out_, "archiving " + Full(relative));
    }
    return Status::Ok();
  }

  Status AddFile(const std::string& relative, const std::string& full) {
    UniqueFd fd(::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC));
    if (!fd) return Status::FromErrno("reading " + full);
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) return Status::FromErrno("reading " + full);
    PADDOCK_RETURN_IF_ERROR(WriteHeader(relative, info, AE_IFREG, info.st_size));
    // The size in the header is what counts: a file that grows meanwhile is cut there, one that
    // shrinks is padded by libarchive.
    auto left = static_cast<uint64_t>(info.st_size);
    while (left > 0) {
      Result<size_t> n =
          ReadSome(fd.get(), buffer_.data(), std::min<uint64_t>(left, buffer_.size()), full);
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      if (archive_write_data(out_, buffer_.data(), *n) < 0) {
        return ArchiveFailure(out_, "archiving " + full);
      }
      left -= *n;
    }
    return Status::Ok();
  }

  Status AddSymlink(const std::string& relative, const std::string& full, const struct stat& info) {
    std::string target(static_cast<size_t>(info.st_size) + 1, '\0');
    const ssize_t length = ::readlink(full.c_str(), target.data(), target.size());
    if (length < 0) return Status::FromErrno("reading link " + full);
    target.resize(static_cast<size_t>(length));
    return WriteHeader(relative, info, AE_IFLNK, 0, target.c_str());
  }

  archive* out_;
  std::string root_;
  std::vector<char> buffer_ = std::vector<char>(kCopyBufferSize);
  std::vector<std::string> skipped_;
};

// Streams a tar of `dir` into `fd`; returns the paths it skipped (sockets, FIFOs, devices).
Result<std::vector<std::string>> ArchiveDirectory(const std::string& dir, int fd) {
  ArchiveWriter out(archive_write_new());
  if (!out) return Status::Internal("out of memory");
  int client_fd = fd;
  if (archive_write_set_format_pax_restricted(out.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(out.get(), 1) != ARCHIVE_OK ||
      archive_write_open(out.get(), &client_fd, nullptr, &SendArchiveBytes, nullptr) !=
          ARCHIVE_OK) {
    return ArchiveFailure(out.get(), "starting the archive");
  }
  DirectoryArchiver archiver(out.get(), dir);
  PADDOCK_RETURN_IF_ERROR(archiver.AddChildren(""));
  if (archive_write_close(out.get()) != ARCHIVE_OK) {
    return ArchiveFailure(out.get(), "finishing the archive");
  }
  return archiver.skipped();
}

// POSTs a tar of `dir`, made while it is sent, to `path`.
Result<ApiResponse> UploadDirectory(const ApiClient& client, const std::string& path,
                                    const std::string& dir) {
  Result<std::pair<UniqueFd, UniqueFd>> channel = MakeChannel();
  if (!channel.ok()) return channel.status();
  UniqueFd reader = std::move(channel->first);
  UniqueFd writer = std::move(channel->second);
  Result<std::vector<std::string>> archived = Status::Internal("archive not started");
  std::thread producer([&] {
    archived = ArchiveDirectory(dir, writer.get());
    writer.reset();  // the end of the body, or of a failed archive
  });

  UploadBody body;
  body.content_type = kTarType;
  // At the end of the stream the producer is done; a failed archive must abort the upload, as
  // sending a cut-off archive would commit part of the directory.
  body.read = [&](char* buffer, size_t capacity) -> Result<size_t> {
    Result<size_t> n = ReadSome(reader.get(), buffer, capacity, "the archive");
    if (!n.ok() || *n > 0) return n;
    producer.join();
    if (!archived.ok()) return archived.status();
    return size_t{0};
  };
  Result<ApiResponse> response = client.PostUpload(path, body);
  reader.reset();  // unblocks a producer whose upload ended early
  if (producer.joinable()) producer.join();
  if (archived.ok()) {
    for (const std::string& skipped : *archived) {
      std::cerr << "paddock: skipped " << skipped << " (not a file, directory or symlink)\n";
    }
  }
  // A local failure comes back through the read callback; a failure of the archive after the
  // transfer broke off is only its echo (the socket closed under it).
  if (!response.ok() && response.status().code() == StatusCode::kUnavailable) {
    return response.status().WithContext(
        "the upload broke off (paddockd may have refused the archive part-way; its log says why)");
  }
  return response;
}

// --- unpacking an archive into a host directory (TCP) --------------------------------------------

struct ExtractCounts {
  uint64_t files = 0;
  uint64_t directories = 0;
  uint64_t symlinks = 0;
  uint64_t bytes = 0;
};

// The daemon's archive is trusted no more than any: libarchive refuses names that climb out, are
// absolute or lead through a symlink, and only the three kinds the store holds are accepted.
constexpr int kExtractFlags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                              ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                              ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;

// Makes `dir` the current directory until destroyed: libarchive extracts relative names only when
// told to refuse absolute ones, and has no option for a base directory.
class WorkingDirectory {
 public:
  static Result<std::unique_ptr<WorkingDirectory>> Enter(const std::string& dir) {
    UniqueFd previous(::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!previous) return Status::FromErrno("opening the current directory");
    if (::chdir(dir.c_str()) != 0) return Status::FromErrno("entering " + dir);
    return std::unique_ptr<WorkingDirectory>(new WorkingDirectory(std::move(previous)));
  }
  ~WorkingDirectory() {
    if (::fchdir(previous_.get()) != 0) std::cerr << "paddock: cannot return to the directory\n";
  }
  WorkingDirectory(const WorkingDirectory&) = delete;
  WorkingDirectory& operator=(const WorkingDirectory&) = delete;

 private:
  explicit WorkingDirectory(UniqueFd previous) : previous_(std::move(previous)) {}
  UniqueFd previous_;
};

Status CopyEntryData(archive* in, archive* out, const std::string& name) {
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  while (true) {
    const int rc = archive_read_data_block(in, &block, &size, &offset);
    if (rc == ARCHIVE_EOF) return Status::Ok();
    if (rc < ARCHIVE_WARN) return ArchiveFailure(in, "reading " + name + " from the archive");
    if (archive_write_data_block(out, block, size, offset) < ARCHIVE_WARN) {
      return ArchiveFailure(out, "writing " + name);
    }
  }
}

// Writes one entry below the current directory and counts it.
Status ExtractEntry(archive* in, archive* out, archive_entry* entry, bool read_only,
                    ExtractCounts& counts) {
  const std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
  const mode_t type = archive_entry_filetype(entry);
  if (archive_entry_hardlink(entry) != nullptr ||
      (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)) {
    return Status::InvalidArgument("the archive holds " + name +
                                   ", which is not a file, directory or symlink");
  }
  // A read-only view, as the daemon makes one: files 0444 or 0555.
  if (read_only && type == AE_IFREG) {
    archive_entry_set_perm(entry, archive_entry_perm(entry) & ~mode_t{0222});
  }
  if (archive_write_header(out, entry) < ARCHIVE_WARN) {
    return ArchiveFailure(out, "extracting " + name);
  }
  if (type == AE_IFREG) PADDOCK_RETURN_IF_ERROR(CopyEntryData(in, out, name));
  if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
    return ArchiveFailure(out, "extracting " + name);
  }
  if (type == AE_IFREG) {
    ++counts.files;
    counts.bytes += static_cast<uint64_t>(archive_entry_size(entry));
  }
  counts.directories += type == AE_IFDIR ? 1 : 0;
  counts.symlinks += type == AE_IFLNK ? 1 : 0;
  return Status::Ok();
}

Result<ExtractCounts> ExtractArchive(int fd, const std::string& target, bool read_only) {
  ArchiveReader in(archive_read_new());
  ArchiveWriter out(archive_write_disk_new());
  if (!in || !out) return Status::Internal("out of memory");
  archive_read_support_format_tar(in.get());
  archive_write_disk_set_options(out.get(), kExtractFlags);
  if (archive_read_open_fd(in.get(), fd, kCopyBufferSize) != ARCHIVE_OK) {
    return ArchiveFailure(in.get(), "reading the archive");
  }
  Result<std::unique_ptr<WorkingDirectory>> inside = WorkingDirectory::Enter(target);
  if (!inside.ok()) return inside.status();
  ExtractCounts counts;
  archive_entry* entry = nullptr;
  int rc = ARCHIVE_OK;
  while ((rc = archive_read_next_header(in.get(), &entry)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
    const std::string_view name =
        archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (name == "." || name == "./") continue;  // the target itself
    PADDOCK_RETURN_IF_ERROR(ExtractEntry(in.get(), out.get(), entry, read_only, counts));
  }
  if (rc != ARCHIVE_EOF) return ArchiveFailure(in.get(), "reading the archive");
  // Before leaving the directory: libarchive sets directory modes last, by relative name.
  if (archive_write_close(out.get()) != ARCHIVE_OK) return ArchiveFailure(out.get(), "extracting");
  return counts;
}

// A checkout target must be absent (then it is created, 0755) or an empty directory, as the
// daemon requires; returns whether it was created.
Result<bool> PrepareTarget(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0) return true;
  if (errno != EEXIST) return Status::FromErrno("creating " + dir);
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error) || !std::filesystem::is_empty(dir, error)) {
    return Status::FailedPrecondition(dir + " exists and is not an empty directory");
  }
  return false;
}

ExitCode CheckoutOverTcp(const CommandContext& context, const StoreCheckoutArgs& args) {
  Result<bool> created = PrepareTarget(args.dir);
  if (!created.ok()) {
    std::cerr << "paddock: DIR: " << created.status().message() << '\n';
    return ExitCode::kUsageError;
  }
  Result<std::pair<UniqueFd, UniqueFd>> channel = MakeChannel();
  if (!channel.ok()) return ReportLocalFailure(channel.status());
  UniqueFd reader = std::move(channel->first);
  UniqueFd writer = std::move(channel->second);
  Download download;
  download.request.path =
      RepoPath(args.source.repo, "archive/" + EscapePathSegment(args.source.rev));
  std::thread downloader([&] {
    RunDownload(context.client, download,
                [&](std::string_view chunk) { return SendAll(writer.get(), chunk); });
    writer.reset();  // the end of the archive for the extraction
  });
  Result<ExtractCounts> counts = ExtractArchive(reader.get(), args.dir, args.read_only);
  reader.reset();  // stops a download the extraction gave up on
  downloader.join();

  if (const ExitCode judged = JudgeDownload(context, download); judged != ExitCode::kSuccess) {
    if (*created) ::rmdir(args.dir.c_str());  // only succeeds while nothing was unpacked
    return judged;
  }
  if (!counts.ok()) {
    return ReportLocalFailure(counts.status().WithContext("checkout into " + args.dir));
  }
  const Json summary = {{"path", args.dir},
                        {"rev", args.source.rev},
                        {"files", counts->files},
                        {"directories", counts->directories},
                        {"symlinks", counts->symlinks},
                        {"bytes", counts->bytes},
                        {"read_only", args.read_only}};
  if (context.json) {
    PrintJson(std::cout, summary);
  } else {
    std::cout << "checked out " << Describe(args.source) << " into " << args.dir << ": "
              << counts->files << " files, "
              << FormatHumanBytes(static_cast<int64_t>(counts->bytes)) << '\n';
  }
  return ExitCode::kSuccess;
}

// --- local files for import and export -----------------------------------------------------------

// Where `store export` writes: a hidden file beside the target, renamed over it once complete, so
// that a failed export never leaves a truncated archive under the name asked for.
class PendingFile {
 public:
  static Result<PendingFile> Create(const std::string& target) {
    const std::filesystem::path path(target);
    std::error_code error;
    if (path.filename().empty() || std::filesystem::is_directory(path, error)) {
      return Status::InvalidArgument(target + " is a directory; name the archive to write");
    }
    std::string temp = (path.parent_path() / ("." + path.filename().string() + ".XXXXXX")).string();
    UniqueFd fd(::mkstemp(temp.data()));
    if (!fd) return Status::FromErrno("creating a file beside " + target);
    // mkstemp makes 0600; an export is an ordinary file, as created under the umask.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd.get(), 0666 & ~mask);
    return PendingFile(target, std::move(temp), std::move(fd));
  }
  PendingFile(PendingFile&& other) noexcept
      : target_(std::move(other.target_)),
        temp_(std::exchange(other.temp_, {})),
        fd_(std::move(other.fd_)) {}
  PendingFile& operator=(PendingFile&&) = delete;
  ~PendingFile() {
    if (!temp_.empty()) ::unlink(temp_.c_str());
  }

  int fd() const { return fd_.get(); }

  Status Commit() {
    if (::fsync(fd_.get()) != 0) return Status::FromErrno("writing " + target_);
    if (::rename(temp_.c_str(), target_.c_str()) != 0) {
      return Status::FromErrno("renaming to " + target_);
    }
    temp_.clear();
    return Status::Ok();
  }

 private:
  PendingFile(std::string target, std::string temp, UniqueFd fd)
      : target_(std::move(target)), temp_(std::move(temp)), fd_(std::move(fd)) {}
  std::string target_;
  std::string temp_;  // empty once renamed
  UniqueFd fd_;
};

// Streams a GET's body into `fd`; a write failure ends it and is reported (exit 1).
ExitCode DownloadTo(const CommandContext& context, const std::string& path,
                    std::vector<std::string> headers, int fd, std::string_view what,
                    uint64_t& bytes) {
  Download download;
  download.request.path = path;
  download.request.headers = std::move(headers);
  Status written;
  RunDownload(context.client, download, [&](std::string_view chunk) {
    written = WriteAll(fd, chunk, what);
    bytes += chunk.size();
    return written.ok();
  });
  if (!written.ok()) return ReportLocalFailure(written);
  return JudgeDownload(context, download);
}

// An upload the daemon refuses at once (no such repository, a bad token) is answered only after
// it has read and dropped the first megabytes, and a large one may then lose the answer to a
// connection reset: asking first turns the usual mistakes into clear errors.
Reply CheckRepository(const CommandContext& context, const std::string& repo) {
  return Receive(context, context.client.Get(RepoPath(repo)));
}

// --- commit --------------------------------------------------------------------------------------

Json CommitRequest(const StoreCommitArgs& args) {
  Json request = {{"path", args.dir}, {"message", args.message}};
  if (!args.target.rev.empty()) request["branch"] = args.target.rev;
  if (args.metadata) request["metadata"] = *args.metadata;
  if (args.allow_empty) request["allow_empty"] = true;
  return request;
}

std::string UploadPath(const RepoRef& target, const std::string& message,
                       const std::optional<Json>& metadata, bool allow_empty) {
  return RepoPath(target.repo, "commits") +
         Query({{"branch", target.rev},
                {"message", message},
                {"metadata", metadata ? metadata->dump() : std::string()},
                {"allow_empty", allow_empty ? "true" : ""}});
}

// The daemon's warnings about a commit (files it could not read, say) go to stderr, so that
// stdout stays the outcome.
void PrintWarnings(const Json& body) {
  const Json* warnings = FindField(body, "warnings");
  if (warnings == nullptr || !warnings->is_array()) return;
  for (const Json& warning : *warnings) {
    std::cerr << "paddock: warning: " << DisplayValue(warning) << '\n';
  }
}

// The upload route takes the metadata as a query parameter; a daemon that does not know it
// commits without, and the user should hear of it rather than find out later.
void WarnIfMetadataDropped(const Json& body) {
  const Json* changed = FindField(body, "changed");
  if (changed == nullptr || !changed->is_boolean() || !changed->get<bool>()) return;
  const Json* commit = FindField(body, "commit");
  const Json* metadata = commit != nullptr ? FindField(*commit, "metadata") : nullptr;
  if (metadata == nullptr || metadata->is_null()) {
    std::cerr << "paddock: warning: paddockd did not keep --metadata for the uploaded archive\n";
  }
}

ExitCode PrintCommitOutcome(const CommandContext& context, const Reply& reply,
                            const std::string& branch) {
  if (reply.ok() && !context.json) PrintWarnings(reply.body);
  return PrintReply(context, reply,
                    [&](const Json& body) { return FormatCommitOutcome(body, branch); });
}

// The input of `store import`: a file (its size sent ahead) or standard input.
struct ImportInput {
  UniqueFd owned;  // empty for standard input
  int fd = STDIN_FILENO;
  std::optional<uint64_t> size;
};

Result<ImportInput> OpenImportInput(const std::string& file) {
  ImportInput input;
  if (file != "-") {
    input.owned.reset(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!input.owned) return Status::FromErrno(file);
    input.fd = input.owned.get();
  }
  struct stat info {};
  if (::fstat(input.fd, &info) == 0 && S_ISREG(info.st_mode)) {
    const off_t position = ::lseek(input.fd, 0, SEEK_CUR);
    if (position >= 0 && position <= info.st_size) {
      input.size = static_cast<uint64_t>(info.st_size - position);
    }
  }
  return input;
}

}  // namespace

// --- repositories --------------------------------------------------------------------------------

ExitCode RunStoreList(const CommandContext& context) {
  return PrintReply(context, Receive(context, context.client.Get(kReposPath)), &FormatRepoList);
}

ExitCode RunStoreInit(const CommandContext& context, const std::string& repo) {
  const Json request = {{"name", repo}};
  const Reply reply = Receive(context, context.client.Post(kReposPath, request.dump()));
  return PrintDone(context, reply, request, "created repository " + repo);
}

ExitCode RunStoreRemove(const CommandContext& context, const std::string& repo) {
  const Reply reply = Receive(context, context.client.Delete(RepoPath(repo)));
  return PrintDone(context, reply, {{"name", repo}, {"removed", true}},
                   "removed repository " + repo + " (its data goes at the next `store gc`)");
}

ExitCode RunStoreCommit(const CommandContext& context, const StoreCommitArgs& args) {
  if (!context.client.uses_tcp()) {
    const std::string path = RepoPath(args.target.repo, "commits");
    return PrintCommitOutcome(
        context, Receive(context, context.client.Post(path, CommitRequest(args).dump())),
        args.target.rev);
  }
  if (const Reply found = CheckRepository(context, args.target.repo); !found.ok()) {
    return found.exit_code;
  }
  const std::string path = UploadPath(args.target, args.message, args.metadata, args.allow_empty);
  const Reply reply = Receive(context, UploadDirectory(context.client, path, args.dir));
  if (reply.ok() && args.metadata) WarnIfMetadataDropped(reply.body);
  return PrintCommitOutcome(context, reply, args.target.rev);
}

ExitCode RunStoreImport(const CommandContext& context, const StoreImportArgs& args) {
  Result<ImportInput> input = OpenImportInput(args.file);
  if (!input.ok()) {
    std::cerr << "paddock: FILE: " << input.status().message() << '\n';
    return ExitCode::kUsageError;
  }
  if (const Reply found = CheckRepository(context, args.target.repo); !found.ok()) {
    return found.exit_code;
  }
  UploadBody body;
  body.content_type = kTarType;
  body.size = input->size;
  const int fd = input->fd;
  body.read = [fd, &args](char* buffer, size_t capacity) {
    return ReadSome(fd, buffer, capacity, args.file == "-" ? "standard input" : args.file);
  };
  const std::string path = UploadPath(args.target, args.message, std::nullopt, false);
  return PrintCommitOutcome(context, Receive(context, context.client.PostUpload(path, body)),
                            args.target.rev);
}

// --- reading -------------------------------------------------------------------------------------

ExitCode RunStoreLog(const CommandContext& context, const RepoRef& ref, int64_t limit,
                     bool oneline) {
  // limit=0 asks for every commit, as git log shows them all; the daemon's default is a page.
  const std::string path =
      RepoPath(ref.repo, "commits") +
      Query({{"rev", ref.rev}, {"limit", std::to_string(std::max<int64_t>(limit, 0))}});
  return PrintReply(context, Receive(context, context.client.Get(path)),
                    [oneline](const Json& body) { return FormatLog(body, oneline); });
}

ExitCode RunStoreShow(const CommandContext& context, const RepoRef& ref) {
  const Reply reply = Receive(
      context, context.client.Get(RepoPath(ref.repo, "commits/" + EscapePathSegment(ref.rev))));
  if (!reply.ok() || context.json) return PrintReply(context, reply, &FormatCommit);
  std::cout << FormatCommit(reply.body);
  // What the commit changed, as git show lists it; a root commit has nothing to compare with.
  const Json* parents = FindField(reply.body, "parents");
  if (parents == nullptr || !parents->is_array() || parents->empty()) return ExitCode::kSuccess;
  const std::string parent = (*parents)[0].is_string() ? (*parents)[0].get<std::string>()
                                                       : StringField((*parents)[0], "id");
  const std::string path =
      RepoPath(ref.repo, "diff") + Query({{"from", parent}, {"to", StringField(reply.body, "id")}});
  const Reply diff = Receive(context, context.client.Get(path));
  if (!diff.ok()) return diff.exit_code;
  std::cout << '\n' << FormatChanges(diff.body);
  return ExitCode::kSuccess;
}

ExitCode RunStoreLs(const CommandContext& context, const RepoRef& ref, const std::string& path,
                    bool recursive) {
  const std::string request =
      RepoPath(ref.repo, "tree/" + EscapePathSegment(ref.rev)) +
      Query({{"path", TreePath(path)}, {"recursive", recursive ? "true" : ""}});
  return PrintReply(context, Receive(context, context.client.Get(request)), &FormatTree);
}

ExitCode RunStoreCat(const CommandContext& context, const RepoRef& ref, const std::string& path,
                     const std::optional<ByteRange>& range) {
  const std::string request =
      RepoPath(ref.repo, "files/" + EscapePathSegment(ref.rev)) + Query({{"path", TreePath(path)}});
  std::vector<std::string> headers;
  if (range) headers.push_back(RangeHeader(*range));
  uint64_t bytes = 0;
  return DownloadTo(context, request, std::move(headers), STDOUT_FILENO, "standard output", bytes);
}

ExitCode RunStoreDiff(const CommandContext& context, const RepoRef& from, const std::string& to,
                      const std::string& dir) {
  const std::string path =
      RepoPath(from.repo, "diff") + Query({{"from", from.rev}, {"to", to}, {"path", dir}});
  return PrintReply(context, Receive(context, context.client.Get(path)), &FormatChanges);
}

// --- refs ----------------------------------------------------------------------------------------

ExitCode RunStoreRefs(const CommandContext& context, const StoreBranchArgs& args, bool tags) {
  const std::string kind = tags ? "tags" : "branches";
  const std::string noun = tags ? "tag" : "branch";
  const std::string base = RepoPath(args.repo, kind);
  if (!args.remove.empty()) {
    const Reply reply =
        Receive(context, context.client.Delete(base + "/" + EscapePathSegment(args.remove)));
    return PrintDone(context, reply, {{"name", args.remove}, {"removed", true}},
                     "deleted " + noun + " " + args.remove);
  }
  if (args.name.empty()) {
    return PrintReply(context, Receive(context, context.client.Get(base)),
                      [&kind](const Json& body) { return FormatRefs(body, kind); });
  }
  const Json request = {{"name", args.name}, {"rev", args.rev.empty() ? "main" : args.rev}};
  const Reply reply = Receive(context, context.client.Post(base, request.dump()));
  std::string at = request["rev"].get<std::string>();
  for (const char* key : {"commit", "id", "target"}) {
    if (const Json* value = FindField(reply.body, key); value != nullptr && value->is_string()) {
      at = ShortId(value->get<std::string>());
      break;
    }
  }
  return PrintDone(context, reply, request, "created " + noun + " " + args.name + " at " + at);
}

ExitCode RunStoreMerge(const CommandContext& context, const RepoRef& into, const std::string& from,
                       const std::string& message) {
  Json request = {{"into", into.rev}, {"from", from}};
  if (!message.empty()) request["message"] = message;
  const Result<ApiResponse> result =
      context.client.Post(RepoPath(into.repo, "merge"), request.dump());
  if (result.ok() && result->status == kMergeConflictStatus) {
    // The problem on stderr (and as JSON with --json); the paths on stdout, one per line.
    const ExitCode code = ReportApiError(context, *result);
    if (!context.json) std::cout << FormatConflicts(ParseProblem(*result).document);
    return code;
  }
  return PrintReply(context, Receive(context, result),
                    [&into](const Json& body) { return FormatMergeOutcome(body, into.rev); });
}

ExitCode RunStoreRevert(const CommandContext& context, const RepoRef& branch,
                        const std::string& rev) {
  const Json request = {{"branch", branch.rev}, {"rev", rev}};
  return PrintCommitOutcome(
      context,
      Receive(context, context.client.Post(RepoPath(branch.repo, "revert"), request.dump())),
      branch.rev);
}

// --- directories and archives --------------------------------------------------------------------

ExitCode RunStoreCheckout(const CommandContext& context, const StoreCheckoutArgs& args) {
  if (context.client.uses_tcp()) return CheckoutOverTcp(context, args);
  const Json request = {
      {"rev", args.source.rev}, {"path", args.dir}, {"read_only", args.read_only}};
  const Reply reply =
      Receive(context, context.client.Post(RepoPath(args.source.repo, "checkout"), request.dump()));
  return PrintReply(context, reply, [&args](const Json& body) {
    std::string text = "checked out " + Describe(args.source) + " into " + args.dir;
    if (const std::optional<int64_t> files = IntegerField(body, "files")) {
      text += ": " + std::to_string(*files) + " files";
      if (const std::optional<int64_t> bytes = IntegerField(body, "bytes")) {
        text += ", " + FormatHumanBytes(*bytes);
      }
    }
    return text + "\n";
  });
}

ExitCode RunStoreExport(const CommandContext& context, const RepoRef& ref,
                        const std::string& file) {
  const std::string path = RepoPath(ref.repo, "archive/" + EscapePathSegment(ref.rev));
  uint64_t bytes = 0;
  if (file == "-") return DownloadTo(context, path, {}, STDOUT_FILENO, "standard output", bytes);
  Result<PendingFile> pending = PendingFile::Create(file);
  if (!pending.ok()) {
    std::cerr << "paddock: FILE: " << pending.status().message() << '\n';
    return ExitCode::kUsageError;
  }
  const ExitCode code = DownloadTo(context, path, {}, pending->fd(), file, bytes);
  if (code != ExitCode::kSuccess) return code;
  if (const Status committed = pending->Commit(); !committed.ok()) {
    return ReportLocalFailure(committed);
  }
  if (context.json) {
    PrintJson(std::cout, {{"file", file}, {"rev", ref.rev}, {"bytes", bytes}});
  } else {
    std::cout << "exported " << Describe(ref) << " to " << file << " ("
              << FormatHumanBytes(static_cast<int64_t>(bytes)) << ")\n";
  }
  return ExitCode::kSuccess;
}

// --- the whole store -----------------------------------------------------------------------------

ExitCode RunStoreGc(const CommandContext& context, bool dry_run) {
  const Json request = {{"dry_run", dry_run}};
  const std::string path = std::string(kStorePath) + "/gc";
  return PrintReply(context, Receive(context, context.client.Post(path, request.dump())),
                    [dry_run](const Json& body) { return FormatGcReport(body, dry_run); });
}

ExitCode RunStoreFsck(const CommandContext& context) {
  const Reply reply = Receive(context, context.client.Get(std::string(kStorePath) + "/fsck"));
  const ExitCode printed = PrintReply(context, reply, &FormatFsckReport);
  if (printed != ExitCode::kSuccess) return printed;
  // Damage is what scripts running fsck branch on.
  return FsckFoundDamage(reply.body) ? ExitCode::kInternalError : ExitCode::kSuccess;
}

}  // namespace paddock::cli
