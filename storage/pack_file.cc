#include "storage/pack_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "base/file_util.h"

namespace paddock::storage {
namespace {

// Writes all of iov[0..count) at `offset`, resuming after short writes and EINTR.
Status PwriteAll(int fd, iovec* iov, int count, uint64_t offset, const std::string& what) {
  while (count > 0) {
    const ssize_t n = ::pwritev(fd, iov, count, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + what);
    }
    offset += static_cast<uint64_t>(n);
    size_t left = static_cast<size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return Status::Ok();
}

}  // namespace

PackFile::PackFile(UniqueFd fd, uint64_t sequence, std::string name, uint64_t length)
    : fd_(std::move(fd)), sequence_(sequence), name_(std::move(name)), length_(length) {}

Result<std::unique_ptr<PackFile>> PackFile::Create(const std::string& dir, uint64_t sequence) {
  const std::string name = PackFileName(sequence);
  const std::string path = JoinPath(dir, name);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, kFileMode));
  if (!fd) {
    if (errno == EEXIST) return Status::AlreadyExists(path + " exists");
    return Status::FromErrno("create " + path);
  }
  std::string header = EncodePackHeader(sequence);
  iovec iov{header.data(), header.size()};
  PADDOCK_RETURN_IF_ERROR(PwriteAll(fd.get(), &iov, 1, 0, path));
  return std::unique_ptr<PackFile>(new PackFile(std::move(fd), sequence, name, header.size()));
}

Result<std::unique_ptr<PackFile>> PackFile::Open(const std::string& dir, uint64_t sequence,
                                                 uint64_t length, bool writable) {
  const std::string name = PackFileName(sequence);
  const std::string path = JoinPath(dir, name);
  UniqueFd fd(::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return Status::FromErrno("open " + path);
  std::unique_ptr<PackFile> pack(new PackFile(std::move(fd), sequence, name, length));
  std::string header;
  PADDOCK_RETURN_IF_ERROR(pack->ReadAt(0, kPackHeaderSize, &header).WithContext(path));
  uint64_t found_sequence = 0;
  Status s = DecodePackHeader(header, &found_sequence);
  if (!s.ok()) return Status::Internal(path + ": " + s.message());
  if (found_sequence != sequence) {
    return Status::Internal(path + ": header names pack " + std::to_string(found_sequence));
  }
  struct stat st;
  if (::fstat(pack->fd_.get(), &st) != 0) return Status::FromErrno("stat " + path);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < length) {
    return Status::Internal(path + " holds " + std::to_string(size) +
                            " bytes but its index covers " + std::to_string(length));
  }
  if (writable && size > length) {
    if (::ftruncate(pack->fd_.get(), static_cast<off_t>(length)) != 0) {
      return Status::FromErrno("cut the unindexed tail of " + path);
    }
    PADDOCK_RETURN_IF_ERROR(pack->Sync());
  }
  return pack;
}

Result<uint64_t> PackFile::Append(const EntryHeader& header, std::string_view stored) {
  if (broken_) return Status::FailedPrecondition(name_ + " is unusable after a failed write");
  std::string head;
  AppendEntryHeader(header, &head);
  iovec iov[2] = {{head.data(), head.size()}, {const_cast<char*>(stored.data()), stored.size()}};
  const uint64_t offset = length_;
  Status s = PwriteAll(fd_.get(), iov, 2, offset, name_);
  if (!s.ok()) {
    // Cut the partial entry so the next append lands right after the last good one.
    if (::ftruncate(fd_.get(), static_cast<off_t>(offset)) != 0) broken_ = true;
    return s;
  }
  length_ += head.size() + stored.size();
  return offset;
}

Status PackFile::Sync() {
  if (::fdatasync(fd_.get()) != 0) return Status::FromErrno("fdatasync " + name_);
  return Status::Ok();
}

Status PackFile::ReadAt(uint64_t offset, size_t size, std::string* out) const {
  out->resize(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t n =
        ::pread(fd_.get(), out->data() + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read " + name_);
    }
    if (n == 0) {
      return Status::Internal(name_ + " ends before offset " + std::to_string(offset + size));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace paddock::storage
