#include "gpu/nvml_library.h"

#include <dlfcn.h>

#include "base/log.h"

namespace paddock::gpu {
namespace {

// A drain pass stops after this many events so a flood cannot stall the sampler.
constexpr int kMaxEventsPerDrain = 256;

std::string DlError() {
  const char* e = ::dlerror();
  return e != nullptr ? e : "unknown error";
}

// Resolves one symbol into `slot`. dlsym's void* to function pointer is what POSIX guarantees.
template <typename Fn>
void Resolve(void* handle, const char* name, Fn& slot) {
  slot = reinterpret_cast<Fn>(::dlsym(handle, name));
}

}  // namespace

bool NvmlFunctions::HasMig() const {
  return nvmlDeviceGetMigMode && nvmlDeviceGetGpuInstanceProfileInfo &&
         nvmlDeviceGetGpuInstancePossiblePlacements_v2 && nvmlDeviceGetGpuInstances &&
         nvmlGpuInstanceGetInfo && nvmlGpuInstanceGetComputeInstances &&
         nvmlGpuInstanceGetComputeInstanceProfileInfo && nvmlComputeInstanceGetInfo_v2 &&
         nvmlDeviceGetMaxMigDeviceCount && nvmlDeviceGetMigDeviceHandleByIndex &&
         nvmlDeviceGetGpuInstanceId && nvmlDeviceGetComputeInstanceId &&
         nvmlDeviceCreateGpuInstanceWithPlacement && nvmlGpuInstanceCreateComputeInstance &&
         nvmlComputeInstanceDestroy && nvmlGpuInstanceDestroy;
}

bool NvmlFunctions::HasXidEvents() const {
  return nvmlEventSetCreate && nvmlDeviceGetSupportedEventTypes && nvmlDeviceRegisterEvents &&
         nvmlEventSetWait_v2 && nvmlEventSetFree;
}

StatusCode NvmlReturnCode(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS:
      return StatusCode::kOk;
    case NVML_ERROR_INVALID_ARGUMENT:
      return StatusCode::kInvalidArgument;
    case NVML_ERROR_NOT_FOUND:
    case NVML_ERROR_GPU_NOT_FOUND:
      return StatusCode::kNotFound;
    case NVML_ERROR_NO_PERMISSION:
    case NVML_ERROR_OPERATING_SYSTEM:
      return StatusCode::kPermissionDenied;
    case NVML_ERROR_INSUFFICIENT_RESOURCES:
    case NVML_ERROR_MEMORY:
      return StatusCode::kResourceExhausted;
    case NVML_ERROR_NOT_SUPPORTED:
    case NVML_ERROR_IN_USE:
    case NVML_ERROR_RESET_REQUIRED:
    case NVML_ERROR_INVALID_STATE:
    case NVML_ERROR_INSUFFICIENT_POWER:
      return StatusCode::kFailedPrecondition;
    case NVML_ERROR_UNINITIALIZED:
    case NVML_ERROR_DRIVER_NOT_LOADED:
    case NVML_ERROR_LIBRARY_NOT_FOUND:
    case NVML_ERROR_FUNCTION_NOT_FOUND:
    case NVML_ERROR_GPU_IS_LOST:
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
    case NVML_ERROR_TIMEOUT:
    case NVML_ERROR_NOT_READY:
      return StatusCode::kUnavailable;
    default:
      return StatusCode::kInternal;
  }
}

Result<std::unique_ptr<NvmlLibrary>> NvmlLibrary::Open(const std::string& path) {
  ::dlerror();  // clear a stale message
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return Status::Unavailable("NVML library " + path +
                               " not found (no NVIDIA driver?): " + DlError());
  }
  NvmlFunctions api;
  std::string missing;
#define PADDOCK_NVML_RESOLVE_REQUIRED(name) \
  Resolve(handle, #name, api.name);         \
  if (api.name == nullptr && missing.empty()) missing = #name;
  PADDOCK_NVML_REQUIRED_FUNCTIONS(PADDOCK_NVML_RESOLVE_REQUIRED)
#undef PADDOCK_NVML_RESOLVE_REQUIRED
  if (!missing.empty()) {
    ::dlclose(handle);
    return Status::Unavailable("NVML library " + path + " lacks " + missing + " (driver too old?)");
  }
#define PADDOCK_NVML_RESOLVE_OPTIONAL(name) Resolve(handle, #name, api.name);
  PADDOCK_NVML_OPTIONAL_FUNCTIONS(PADDOCK_NVML_RESOLVE_OPTIONAL)
#undef PADDOCK_NVML_RESOLVE_OPTIONAL

  nvmlReturn_t r = api.nvmlInit_v2();
  if (r != NVML_SUCCESS) {
    const char* text = api.nvmlErrorString(r);
    std::string message = "nvmlInit_v2 failed: " + std::string(text != nullptr ? text : "?") +
                          " (" + std::to_string(static_cast<int>(r)) + ")";
    ::dlclose(handle);
    return Status::Unavailable(message);
  }
  return std::unique_ptr<NvmlLibrary>(new NvmlLibrary(handle, path, api));
}

NvmlLibrary::~NvmlLibrary() {
  if (xid_set_ != nullptr) api_.nvmlEventSetFree(xid_set_);
  nvmlReturn_t r = api_.nvmlShutdown();
  if (r != NVML_SUCCESS) LogWarning("nvmlShutdown failed", {{"ERROR", ErrorString(r)}});
  ::dlclose(handle_);
}

std::string NvmlLibrary::ErrorString(nvmlReturn_t result) const {
  const char* text = api_.nvmlErrorString(result);
  return text != nullptr ? text : "NVML error " + std::to_string(static_cast<int>(result));
}

Status NvmlLibrary::Check(nvmlReturn_t result, std::string_view function) const {
  if (result == NVML_SUCCESS) return Status::Ok();
  return Status(NvmlReturnCode(result), std::string(function) + ": " + ErrorString(result));
}

std::vector<uint64_t> NvmlLibrary::TakeXidErrors(uint32_t index) const {
  if (!api_.HasXidEvents()) return {};
  std::lock_guard<std::mutex> lock(xid_mu_);
  if (!xid_registered_) RegisterXidEventsLocked();
  DrainXidEventsLocked();
  auto it = xid_pending_.find(index);
  if (it == xid_pending_.end()) return {};
  std::vector<uint64_t> out = std::move(it->second);
  xid_pending_.erase(it);
  return out;
}

void NvmlLibrary::RegisterXidEventsLocked() const {
  xid_registered_ = true;  // once, even if it fails: a broken driver is not retried every second
  if (nvmlReturn_t r = api_.nvmlEventSetCreate(&xid_set_); r != NVML_SUCCESS) {
    LogWarning("NVML event set unavailable; XID errors are not reported",
               {{"ERROR", ErrorString(r)}});
    xid_set_ = nullptr;
    return;
  }
  unsigned int count = 0;
  if (api_.nvmlDeviceGetCount_v2(&count) != NVML_SUCCESS) return;
  xid_devices_.assign(count, nullptr);
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t device = nullptr;
    unsigned long long supported = 0;
    if (api_.nvmlDeviceGetHandleByIndex_v2(i, &device) != NVML_SUCCESS) continue;
    // Consumer GPUs do not report XIDs through events; that is not an error.
    if (api_.nvmlDeviceGetSupportedEventTypes(device, &supported) != NVML_SUCCESS ||
        (supported & nvmlEventTypeXidCriticalError) == 0) {
      continue;
    }
    nvmlReturn_t r = api_.nvmlDeviceRegisterEvents(device, nvmlEventTypeXidCriticalError, xid_set_);
    if (r != NVML_SUCCESS) {
      LogWarning("cannot register for XID events",
                 {{"GPU_INDEX", std::to_string(i)}, {"ERROR", ErrorString(r)}});
      continue;
    }
    xid_devices_[i] = device;
  }
}

void NvmlLibrary::DrainXidEventsLocked() const {
  if (xid_set_ == nullptr) return;
  for (int n = 0; n < kMaxEventsPerDrain; ++n) {
    nvmlEventData_t data{};
    // Timeout 0: return at once (NVML_ERROR_TIMEOUT) when nothing is queued.
    if (api_.nvmlEventSetWait_v2(xid_set_, &data, 0) != NVML_SUCCESS) return;
    if ((data.eventType & nvmlEventTypeXidCriticalError) == 0) continue;
    for (uint32_t i = 0; i < xid_devices_.size(); ++i) {
      if (xid_devices_[i] != nullptr && xid_devices_[i] == data.device) {
        xid_pending_[i].push_back(data.eventData);
        break;
      }
    }
  }
}

}  // namespace paddock::gpu
