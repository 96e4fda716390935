#include "storage/compression.h"

#include <zstd.h>

#include <memory>

namespace paddock::storage {
namespace {

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// Contexts are reused because creating one per 64 KiB chunk would cost more than compressing it.
ZSTD_CCtx* ThreadCompressor() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx(ZSTD_createCCtx());
  return cctx.get();
}

ZSTD_DCtx* ThreadDecompressor() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx(ZSTD_createDCtx());
  return dctx.get();
}

}  // namespace

bool CompressIfSmaller(std::string_view raw, int level, std::string* frame) {
  if (raw.size() < 2) return false;
  ZSTD_CCtx* cctx = ThreadCompressor();
  if (cctx == nullptr) return false;
  // A destination one byte short of the input makes zstd give up as soon as the frame would not
  // be smaller, so incompressible data costs little and needs no bound-sized buffer.
  frame->resize(raw.size() - 1);
  const size_t n =
      ZSTD_compressCCtx(cctx, frame->data(), frame->size(), raw.data(), raw.size(), level);
  if (ZSTD_isError(n)) return false;
  frame->resize(n);
  return true;
}

Status Decompress(std::string_view frame, size_t raw_length, std::string* raw) {
  const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) return Status::InvalidArgument("not a zstd frame");
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != raw_length) {
    return Status::InvalidArgument("zstd frame declares " + std::to_string(declared) +
                                   " bytes, expected " + std::to_string(raw_length));
  }
  if (ZSTD_findFrameCompressedSize(frame.data(), frame.size()) != frame.size()) {
    return Status::InvalidArgument("stored bytes are not exactly one zstd frame");
  }
  ZSTD_DCtx* dctx = ThreadDecompressor();
  if (dctx == nullptr) return Status::Internal("cannot allocate a zstd context");
  raw->resize(raw_length);
  const size_t n = ZSTD_decompressDCtx(dctx, raw->data(), raw->size(), frame.data(), frame.size());
  if (ZSTD_isError(n)) {
    return Status::InvalidArgument(std::string("zstd: ") + ZSTD_getErrorName(n));
  }
  if (n != raw_length) {
    return Status::InvalidArgument("zstd frame decodes to " + std::to_string(n) +
                                   " bytes, expected " + std::to_string(raw_length));
  }
  return Status::Ok();
}

}  // namespace paddock::storage
