#include "storage/tar_io.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage/file_io.h"
#include "storage/objects.h"

namespace paddock::storage {
namespace {

constexpr size_t kReadBufferSize = 1u << 20;
// Longest entry name or symlink target accepted (PATH_MAX less the NUL). Also bounds the depth
// of the imported tree, and with it the recursion that builds it.
constexpr size_t kMaxPathLength = 4095;

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveEntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// ---- Import ----

// A name in the tree being imported.
struct ImportNode {
  EntryKind kind = EntryKind::kDirectory;
  ObjectId id;                                                  // files
  uint64_t size = 0;                                            // files
  std::string target;                                           // symlinks
  std::map<std::string, std::unique_ptr<ImportNode>> children;  // directories
};

Status Refuse(std::string_view entry, std::string_view why) {
  return Status::InvalidArgument("tar entry \"" + std::string(entry) + "\": " + std::string(why));
}

// Splits a relative name into its components, dropping empty and "." ones. Refuses absolute
// names and ".." anywhere. An empty result names the root.
Result<std::vector<std::string>> SplitEntryName(std::string_view name, std::string_view entry) {
  if (name.empty()) return Refuse(entry, "empty name");
  if (name.size() > kMaxPathLength) return Refuse(entry, "name longer than 4095 bytes");
  if (name.front() == '/') return Refuse(entry, "absolute name");
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    const std::string_view part = name.substr(start, slash - start);
    if (part == "..") return Refuse(entry, "name with a \"..\" component");
    if (!part.empty() && part != ".") parts.emplace_back(part);
    start = slash + 1;
  }
  return parts;
}

// True when `target`, resolved lexically from a directory `depth` levels below the root, stays
// inside the tree.
bool SymlinkStaysInside(std::string_view target, size_t depth) {
  int64_t level = static_cast<int64_t>(depth);
  size_t start = 0;
  while (start <= target.size()) {
    size_t slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    const std::string_view part = target.substr(start, slash - start);
    if (part == "..") {
      if (--level < 0) return false;
    } else if (!part.empty() && part != ".") {
      ++level;
    }
    start = slash + 1;
  }
  return true;
}

// libarchive keeps names as "multibyte" (raw bytes) or UTF-8 depending on the header they came
// from; the raw form is preferred, the UTF-8 one used when the locale cannot represent the name.
const char* PathnameOf(archive_entry* e) {
  const char* p = archive_entry_pathname(e);
  return p != nullptr ? p : archive_entry_pathname_utf8(e);
}
const char* HardlinkOf(archive_entry* e) {
  const char* p = archive_entry_hardlink(e);
  return p != nullptr ? p : archive_entry_hardlink_utf8(e);
}
const char* SymlinkOf(archive_entry* e) {
  const char* p = archive_entry_symlink(e);
  return p != nullptr ? p : archive_entry_symlink_utf8(e);
}

struct SourceContext {
  const TarSource* source = nullptr;
  std::unique_ptr<char[]> buffer{new char[kReadBufferSize]};
  Status error;  // the source's own failure, reported in preference to libarchive's
};

la_ssize_t ReadFromSource(archive* a, void* context, const void** block) {
  auto* c = static_cast<SourceContext*>(context);
  Result<size_t> n = (*c->source)(c->buffer.get(), kReadBufferSize);
  if (!n.ok()) {
    c->error = n.status();
    archive_set_error(a, EIO, "%s", n.status().message().c_str());
    return -1;
  }
  *block = c->buffer.get();
  return static_cast<la_ssize_t>(*n);
}

class TarImport {
 public:
  TarImport(PackStore* store, const TarSource& source) : store_(store) {
    context_.source = &source;
  }
  Result<TarImportResult> Run();

 private:
  Status Open();
  Status ImportEntry(archive_entry* e);
  // The directory that will hold `parts` (all but the last), created where missing.
  Result<ImportNode*> ParentFor(const std::vector<std::string>& parts, std::string_view entry);
  Result<ImportNode*> Lookup(const std::vector<std::string>& parts);
  Result<std::unique_ptr<ImportNode>> ReadFile(archive_entry* e, std::string_view entry);
  Result<std::unique_ptr<ImportNode>> ReadHardlink(archive_entry* e, std::string_view entry);
  Result<std::unique_ptr<ImportNode>> ReadSymlink(archive_entry* e, std::string_view entry,
                                                  size_t depth);
  Status ArchiveError(std::string_view what);
  Result<ObjectId> BuildTree(ImportNode* dir, const std::string& path);

  PackStore* const store_;
  SourceContext context_;
  std::unique_ptr<archive, ArchiveReadFree> archive_;
  ImportNode root_;
  TarImportResult result_;
};

Status TarImport::ArchiveError(std::string_view what) {
  if (!context_.error.ok()) return context_.error;
  const char* why = archive_error_string(archive_.get());
  return Status::InvalidArgument(std::string(what) + ": " + (why ? why : "unknown error"));
}

Status TarImport::Open() {
  archive_.reset(archive_read_new());
  if (!archive_) return Status::Internal("out of memory creating an archive reader");
  archive* a = archive_.get();
  // Only libarchive's built-in decoders: a failure here means it would run an external program,
  // which a daemon must not do on a client's data.
  if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
      archive_read_support_filter_none(a) != ARCHIVE_OK ||
      archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
      archive_read_support_filter_xz(a) != ARCHIVE_OK ||
      archive_read_support_filter_zstd(a) != ARCHIVE_OK) {
    return Status::Internal(std::string("libarchive lacks a built-in tar decoder: ") +
                            (archive_error_string(a) ? archive_error_string(a) : "?"));
  }
  if (archive_read_open(a, &context_, nullptr, ReadFromSource, nullptr) != ARCHIVE_OK) {
    return ArchiveError("not a readable tar archive");
  }
  return Status::Ok();
}

Result<TarImportResult> TarImport::Run() {
  PADDOCK_RETURN_IF_ERROR(Open());
  for (;;) {
    archive_entry* e = nullptr;
    const int r = archive_read_next_header(archive_.get(), &e);
    if (r == ARCHIVE_EOF) break;
    // ARCHIVE_WARN (e.g. a name not convertible to the locale) still delivers the entry.
    if (r < ARCHIVE_WARN) return ArchiveError("reading the tar archive");
    PADDOCK_RETURN_IF_ERROR(ImportEntry(e));
  }
  Result<ObjectId> root = BuildTree(&root_, "");
  if (!root.ok()) return root.status();
  result_.root = *root;
  return result_;
}

Status TarImport::ImportEntry(archive_entry* e) {
  const char* raw_name = PathnameOf(e);
  if (raw_name == nullptr) return Status::InvalidArgument("tar entry without a name");
  const std::string_view entry = raw_name;
  Result<std::vector<std::string>> parts = SplitEntryName(entry, entry);
  if (!parts.ok()) return parts.status();
  const mode_t type = archive_entry_filetype(e);
  const bool hardlink = HardlinkOf(e) != nullptr;
  if (parts->empty()) {
    if (type == AE_IFDIR && !hardlink) return Status::Ok();  // "./": the root itself
    return Refuse(entry, "names the root directory");
  }
  if (!hardlink && type != AE_IFREG && type != AE_IFLNK && type != AE_IFDIR) {
    return Refuse(entry, "device nodes, FIFOs and sockets are not accepted");
  }
  Result<ImportNode*> parent = ParentFor(*parts, entry);
  if (!parent.ok()) return parent.status();
  if (type == AE_IFDIR && !hardlink) {
    std::unique_ptr<ImportNode>& slot = (*parent)->children[parts->back()];
    // A directory entry for an existing directory keeps what is in it.
    if (!slot || slot->kind != EntryKind::kDirectory) slot = std::make_unique<ImportNode>();
    return Status::Ok();
  }
  Result<std::unique_ptr<ImportNode>> node = hardlink ? ReadHardlink(e, entry)
                                             : type == AE_IFREG
                                                 ? ReadFile(e, entry)
                                                 : ReadSymlink(e, entry, parts->size() - 1);
  if (!node.ok()) return node.status();
  // A later entry replaces an earlier one of the same name.
  (*parent)->children[parts->back()] = std::move(node.value());
  return Status::Ok();
}

Result<ImportNode*> TarImport::ParentFor(const std::vector<std::string>& parts,
                                         std::string_view entry) {
  ImportNode* dir = &root_;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto& child = dir->children[parts[i]];
    if (!child) child = std::make_unique<ImportNode>();
    if (child->kind != EntryKind::kDirectory) {
      return Refuse(entry, "\"" + parts[i] + "\" above it is not a directory");
    }
    dir = child.get();
  }
  return dir;
}

Result<ImportNode*> TarImport::Lookup(const std::vector<std::string>& parts) {
  ImportNode* node = &root_;
  for (const std::string& part : parts) {
    if (node->kind != EntryKind::kDirectory) return Status::NotFound("not a directory");
    const auto it = node->children.find(part);
    if (it == node->children.end()) return Status::NotFound("no such entry");
    node = it->second.get();
  }
  return node;
}

Result<std::unique_ptr<ImportNode>> TarImport::ReadFile(archive_entry* e, std::string_view entry) {
  const uint64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
  Result<FileObjectWriter> writer =
      FileObjectWriter::Create(store_, ChooseChunkerParams(entry, declared));
  if (!writer.ok()) return writer.status();
  static const std::string kZeros(1u << 16, '\0');
  // Fills a hole of a sparse entry with zeros: the tree records content, not layout.
  auto append_zeros = [&](uint64_t n) -> Status {
    for (; n > 0; n -= std::min<uint64_t>(n, kZeros.size())) {
      PADDOCK_RETURN_IF_ERROR(
          writer->Append(std::string_view(kZeros).substr(0, std::min<uint64_t>(n, kZeros.size()))));
    }
    return Status::Ok();
  };
  uint64_t position = 0;
  for (;;) {
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    const int r = archive_read_data_block(archive_.get(), &block, &size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return ArchiveError("tar entry \"" + std::string(entry) + "\"");
    if (offset < 0 || static_cast<uint64_t>(offset) < position) {
      return Refuse(entry, "data blocks out of order");
    }
    PADDOCK_RETURN_IF_ERROR(append_zeros(static_cast<uint64_t>(offset) - position));
    PADDOCK_RETURN_IF_ERROR(
        writer->Append(std::string_view(static_cast<const char*>(block), size)));
    position = static_cast<uint64_t>(offset) + size;
  }
  if (position < declared) PADDOCK_RETURN_IF_ERROR(append_zeros(declared - position));
  Result<WrittenFile> written = writer->Finish();
  if (!written.ok()) return written.status();
  result_.bytes_stored += written->bytes_stored;
  auto node = std::make_unique<ImportNode>();
  node->kind = (archive_entry_perm(e) & S_IXUSR) ? EntryKind::kExecutable : EntryKind::kFile;
  node->id = written->id;
  node->size = written->size;
  return node;
}

Result<std::unique_ptr<ImportNode>> TarImport::ReadHardlink(archive_entry* e,
                                                            std::string_view entry) {
  const std::string_view target = HardlinkOf(e);
  Result<std::vector<std::string>> parts = SplitEntryName(target, entry);
  if (!parts.ok()) return Refuse(entry, "hardlink target \"" + std::string(target) + "\" escapes");
  Result<ImportNode*> linked = Lookup(*parts);
  if (!linked.ok() || parts->empty() ||
      ((*linked)->kind != EntryKind::kFile && (*linked)->kind != EntryKind::kExecutable)) {
    return Refuse(entry, "hardlink target \"" + std::string(target) +
                             "\" is not an earlier regular file of the archive");
  }
  // A hardlink is the same inode: same content and mode as its target.
  auto node = std::make_unique<ImportNode>();
  node->kind = (*linked)->kind;
  node->id = (*linked)->id;
  node->size = (*linked)->size;
  return node;
}

Result<std::unique_ptr<ImportNode>> TarImport::ReadSymlink(archive_entry* e, std::string_view entry,
                                                           size_t depth) {
  const char* raw_target = SymlinkOf(e);
  const std::string_view target = raw_target ? raw_target : "";
  if (target.empty()) return Refuse(entry, "symlink without a target");
  if (target.size() > kMaxPathLength) return Refuse(entry, "symlink target over 4095 bytes");
  if (target.front() == '/') {
    return Refuse(entry, "symlink to the absolute path \"" + std::string(target) + "\"");
  }
  if (!SymlinkStaysInside(target, depth)) {
    return Refuse(entry, "symlink target \"" + std::string(target) + "\" leaves the tree");
  }
  auto node = std::make_unique<ImportNode>();
  node->kind = EntryKind::kSymlink;
  node->target = std::string(target);
  return node;
}

Result<ObjectId> TarImport::BuildTree(ImportNode* dir, const std::string& path) {
  Tree tree;
  for (auto& [name, child] : dir->children) {
    TreeEntry entry;
    entry.name = name;
    entry.kind = child->kind;
    const std::string child_path = path.empty() ? name : path + "/" + name;
    switch (child->kind) {
      case EntryKind::kDirectory: {
        Result<ObjectId> id = BuildTree(child.get(), child_path);
        if (!id.ok()) return id.status();
        entry.id = *id;
        break;
      }
      case EntryKind::kSymlink:
        entry.target = std::move(child->target);
        ++result_.symlinks;
        break;
      case EntryKind::kFile:
      case EntryKind::kExecutable:
        entry.id = child->id;
        entry.size = child->size;
        ++result_.files;
        result_.bytes += child->size;
        break;
    }
    tree.entries.push_back(std::move(entry));
  }
  dir->children.clear();
  Result<std::string> encoded = EncodeTree(tree);
  if (!encoded.ok()) {
    return Status::InvalidArgument("tar directory \"" + path + "\": " + encoded.status().message());
  }
  Result<PutResult> put = store_->Put(ObjectType::kTree, *encoded);
  if (!put.ok()) return put.status();
  result_.bytes_stored += put->stored_length;
  ++result_.directories;
  return put->id;
}

// ---- Export ----

struct SinkContext {
  int fd;
  Status error;
};

la_ssize_t WriteToFd(archive* a, void* context, const void* data, size_t size) {
  auto* c = static_cast<SinkContext*>(context);
  const Status s =
      WriteAll(c->fd, std::string_view(static_cast<const char*>(data), size)).WithContext("tar");
  if (!s.ok()) {
    c->error = s;
    archive_set_error(a, EIO, "%s", s.message().c_str());
    return -1;
  }
  return static_cast<la_ssize_t>(size);
}

class TarExport {
 public:
  TarExport(const PackStore& store, int fd, int64_t mtime_seconds)
      : store_(store), sink_{fd, Status::Ok()}, mtime_seconds_(mtime_seconds) {}
  Status Run(const ObjectId& root);

 private:
  Status Open();
  Result<Tree> LoadTree(const ObjectId& id, bool is_root);
  Status WriteEntry(const TreeEntry& e, const std::string& path);
  Status WriteContents(const ObjectId& file_id, const std::string& path);
  Status ArchiveError(std::string_view what);

  const PackStore& store_;
  SinkContext sink_;
  const int64_t mtime_seconds_;
  std::unique_ptr<archive, ArchiveWriteFree> archive_;
};

Status TarExport::ArchiveError(std::string_view what) {
  if (!sink_.error.ok()) return sink_.error;
  const char* why = archive_error_string(archive_.get());
  return Status::Internal(std::string(what) + ": " + (why ? why : "unknown error"));
}

Status TarExport::Open() {
  archive_.reset(archive_write_new());
  if (!archive_) return Status::Internal("out of memory creating an archive writer");
  archive* a = archive_.get();
  if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
      archive_write_set_format_option(a, "pax", "hdrcharset", "BINARY") != ARCHIVE_OK) {
    return ArchiveError("setting up the pax writer");
  }
  if (archive_write_open(a, &sink_, nullptr, WriteToFd, nullptr) != ARCHIVE_OK) {
    return ArchiveError("opening the tar output");
  }
  return Status::Ok();
}

Result<Tree> TarExport::LoadTree(const ObjectId& id, bool is_root) {
  Result<StoredObject> object = store_.Get(id);
  if (!object.ok()) return object.status();
  Result<Tree> tree = DecodeTree(object->data);
  if (!tree.ok()) {
    return Status(is_root ? StatusCode::kInvalidArgument : StatusCode::kInternal,
                  "object " + id.ToHex() + " is not a tree: " + tree.status().message());
  }
  return tree;
}

Status TarExport::Run(const ObjectId& root) {
  PADDOCK_RETURN_IF_ERROR(Open());
  struct Frame {
    Tree tree;
    size_t next = 0;
    std::string path;
  };
  Result<Tree> root_tree = LoadTree(root, /*is_root=*/true);
  if (!root_tree.ok()) return root_tree.status();
  // Depth first without recursion: stored trees may be deeper than any stack.
  std::vector<Frame> stack;
  stack.push_back(Frame{std::move(root_tree.value()), 0, ""});
  while (!stack.empty()) {
    Frame& frame = stack.back();
    if (frame.next == frame.tree.entries.size()) {
      stack.pop_back();
      continue;
    }
    const TreeEntry& e = frame.tree.entries[frame.next++];
    const std::string path = frame.path.empty() ? e.name : frame.path + "/" + e.name;
    PADDOCK_RETURN_IF_ERROR(WriteEntry(e, path));
    if (e.kind == EntryKind::kDirectory) {
      Result<Tree> child = LoadTree(e.id, /*is_root=*/false);
      if (!child.ok()) return child.status();
      stack.push_back(Frame{std::move(child.value()), 0, path});  // invalidates `frame`, `e`
    }
  }
  if (archive_write_close(archive_.get()) != ARCHIVE_OK) return ArchiveError("finishing the tar");
  return Status::Ok();
}

Status TarExport::WriteEntry(const TreeEntry& e, const std::string& path) {
  std::unique_ptr<archive_entry, ArchiveEntryFree> entry(archive_entry_new());
  if (!entry) return Status::Internal("out of memory creating an archive entry");
  archive_entry* a = entry.get();
  archive_entry_copy_pathname(a, path.c_str());
  archive_entry_set_mtime(a, mtime_seconds_, 0);
  archive_entry_set_uid(a, 0);
  archive_entry_set_gid(a, 0);
  switch (e.kind) {
    case EntryKind::kDirectory:
      archive_entry_set_filetype(a, AE_IFDIR);
      archive_entry_set_perm(a, 0755);
      break;
    case EntryKind::kSymlink:
      archive_entry_set_filetype(a, AE_IFLNK);
      archive_entry_set_perm(a, 0777);
      archive_entry_copy_symlink(a, e.target.c_str());
      break;
    case EntryKind::kFile:
    case EntryKind::kExecutable:
      archive_entry_set_filetype(a, AE_IFREG);
      archive_entry_set_perm(a, e.kind == EntryKind::kExecutable ? 0755 : 0644);
      archive_entry_set_size(a, static_cast<la_int64_t>(e.size));
      break;
  }
  if (archive_write_header(archive_.get(), a) != ARCHIVE_OK) {
    return ArchiveError("writing the tar header of " + path);
  }
  if (e.kind == EntryKind::kFile || e.kind == EntryKind::kExecutable) {
    return WriteContents(e.id, path);
  }
  return Status::Ok();
}

Status TarExport::WriteContents(const ObjectId& file_id, const std::string& path) {
  return ReadRange(store_, file_id, 0, UINT64_MAX,
                   [&](std::string_view piece) -> Status {
                     while (!piece.empty()) {
                       const la_ssize_t n =
                           archive_write_data(archive_.get(), piece.data(), piece.size());
                       if (n <= 0) return ArchiveError("writing the tar data of " + path);
                       piece.remove_prefix(static_cast<size_t>(n));
                     }
                     return Status::Ok();
                   })
      .status();
}

}  // namespace

Result<TarImportResult> ImportTar(PackStore* store, const TarSource& source) {
  TarImport import(store, source);
  return import.Run();
}

Result<TarImportResult> ImportTar(PackStore* store, int fd) {
  return ImportTar(store, [fd](char* buffer, size_t capacity) -> Result<size_t> {
    for (;;) {
      const ssize_t n = ::read(fd, buffer, capacity);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return Status::FromErrno("read tar");
    }
  });
}

Status ExportTar(const PackStore& store, const ObjectId& tree, int out_fd, int64_t commit_time_ms) {
  if (commit_time_ms < 0) return Status::InvalidArgument("negative commit time");
  TarExport exporter(store, out_fd, commit_time_ms / 1000);
  return exporter.Run(tree);
}

}  // namespace paddock::storage
