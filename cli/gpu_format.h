// How GPUs read on a terminal: the `paddock gpus` table and the telemetry history of one GPU.
// Pure functions from the API's JSON to text, so that the layout is tested without a daemon.
#pragma once

#include <cstdint>
#include <string>

#include "cli/output.h"

namespace paddock::cli {

// `paddock gpus` from a GpuList: a row per GPU (index, name, bus id, memory used / total, GPU
// utilization, temperature, power draw / limit, partition mode, and a note when its telemetry
// is missing, lost or failing), below each GPU an indented row per unit (id, kind, MIG profile
// or memory cap, holding sandbox or "free"), then a footer with the NVML status, the driver
// version and the daemon's warnings.
std::string FormatGpuList(const Json& list);

// `paddock gpus history UUID` from a GpuHistory: one row per sample, oldest first (time in UTC,
// utilization, memory used, power, temperature).
std::string FormatGpuHistory(const Json& history);

// Sizes for people, not for reading back: "512M", "1.5G", "80G" (binary units, one decimal
// below 10, as `ls -h` does).
std::string FormatHumanBytes(int64_t bytes);

}  // namespace paddock::cli
