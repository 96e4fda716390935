// GPU allocator decision latency and placement quality.
//
// Two 16-GPU machines, 2 NUMA nodes x 2 PCIe switches x 4 GPUs, each switch's 4 GPUs an NVLink
// quad:
//   mixed16      per quad 2 exclusive GPUs and 2 in MIG (7x 1g.10gb), one of those shared instead
//                (4 shares): 8 exclusive GPUs, 7 MIG GPUs (49 instances), 4 shares;
//   exclusive16  all 16 exclusive: the widest whole-GPU search.
// A seeded stream of requests (count 1/2/4/8 with and without nvlink/same_numa, 1g.10gb, shares)
// interleaved with releases drives paddock::gpu::Allocator; steady_clock around each Allocate()
// gives the decision latency. On a sample of count decisions the chosen set is scored against
// the brute-force optimum (tests/unit/gpu_alloc_brute_force.h): quality is the fraction whose
// objective equals it (goal 1.0).
//
// Usage: paddock_bench_gpu_alloc [--requests N] [--seed S] [--sample-every K] [--check]
// Prints one JSON document. --check: a short run with every count decision checked; exit 0 when
// quality is 1.0 in both machines. It never looks at the timings.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gpu/allocator.h"
#include "gpu/gpu_info.h"
#include "gpu/mig_layout.h"
#include "tests/unit/gpu_alloc_brute_force.h"

namespace {

using namespace paddock::gpu;  // NOLINT: a benchmark's main file

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

struct Machine {
  std::string name;
  std::vector<GpuInfo> gpus;
  std::vector<std::vector<LinkKind>> links;
  std::map<uint32_t, GpuPartition> partitions;
};

std::vector<MigProfile> H100Profiles() {
  return {{"1g.10gb", 19, 1, 7, 10240 * kMiB, 16, {0, 1, 2, 3, 4, 5, 6}, 1},
          {"2g.20gb", 14, 2, 3, 20480 * kMiB, 26, {0, 2, 4}, 2},
          {"3g.40gb", 9, 3, 2, 40960 * kMiB, 60, {0, 4}, 4},
          {"4g.40gb", 5, 4, 1, 40960 * kMiB, 64, {0}, 4},
          {"7g.80gb", 0, 7, 1, 81920 * kMiB, 132, {0}, 8}};
}

std::string Uuid(const char* prefix, uint32_t a, uint32_t b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%08x-%04x-4000-8000-%012x", prefix, 0xbe0c0000u + a, b, a);
  return buf;
}

Machine MakeMachine(bool mixed) {
  Machine m{mixed ? "mixed16" : "exclusive16", {}, {}, {}};
  const size_t n = 16;
  for (uint32_t i = 0; i < n; ++i) {
    GpuInfo g;
    g.index = i;
    g.uuid = Uuid("GPU", i, 0);
    g.name = "NVIDIA H100 80GB HBM3";
    g.memory_total_bytes = 81920 * kMiB;
    g.from_nvml = true;
    g.mig_capable = true;
    g.mig_profiles = H100Profiles();
    g.numa_nodes = {static_cast<int>(i / 8)};
    m.gpus.push_back(g);
  }
  m.links.assign(n, std::vector<LinkKind>(n, LinkKind::kSelf));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      m.links[i][j] = i / 4 == j / 4   ? LinkKind::kNvlink
                      : i / 8 == j / 8 ? LinkKind::kNumaNode
                                       : LinkKind::kSystem;
    }
  }
  if (!mixed) return m;
  for (uint32_t i = 0; i < n; ++i) {
    if (i % 4 < 2) continue;  // exclusive
    GpuPartition p;
    if (i == 15) {
      p.mode = GpuPartition::Mode::kShared;
      p.shares = 4;
    } else {
      p.mode = GpuPartition::Mode::kMig;
      p.mig_layout.assign(7, "1g.10gb");
      auto plan = PlanMigLayout(m.gpus[i].mig_profiles, p.mig_layout);
      uint32_t gi = 1;
      for (const MigPlacement& placement : *plan) {
        m.gpus[i].mig_instances.push_back({Uuid("MIG", i, gi), placement.profile, gi, 0,
                                           placement.start, placement.size, 10240 * kMiB, 16});
        ++gi;
      }
      m.gpus[i].mig_enabled = true;
    }
    m.partitions[i] = p;
  }
  return m;
}

GpuRequest RandomRequest(std::mt19937& rng) {
  GpuRequest r;
  const uint32_t roll = rng() % 100;
  if (roll < 60) {
    static const uint32_t kSizes[] = {1, 1, 1, 2, 2, 4, 8};
    r.count = kSizes[rng() % std::size(kSizes)];
    r.nvlink = rng() % 5 == 0;
    r.same_numa = rng() % 5 == 0;
  } else if (roll < 85) {
    r.mig_profile = "1g.10gb";
  } else {
    r.share_memory_bytes = (1 + rng() % 20) * kGiB;
  }
  return r;
}

struct Figures {
  std::string machine;
  int requests = 0;
  int granted = 0;
  int count_decisions = 0;
  std::vector<int64_t> ns;
  int sampled = 0;
  int optimal = 0;   // objective equal to the brute-force optimum (or both found nothing)
  int same_set = 0;  // and the very same set
};

Figures Run(const Machine& m, uint32_t seed, int requests, int sample_every) {
  Figures f;
  f.machine = m.name;
  auto units = BuildUnits(m.gpus, m.partitions);
  if (!units.ok()) {
    std::fprintf(stderr, "%s: %s\n", m.name.c_str(), units.status().ToString().c_str());
    std::exit(1);
  }
  Allocator allocator(m.gpus, m.links, *units);
  std::mt19937 rng(seed);
  std::vector<std::string> owners;
  int next_owner = 0;
  f.ns.reserve(requests);
  while (f.requests < requests) {
    if (!owners.empty() && rng() % 100 < 45) {
      const size_t i = rng() % owners.size();
      allocator.Release(owners[i]);
      owners[i] = owners.back();
      owners.pop_back();
      continue;
    }
    const GpuRequest request = RandomRequest(rng);
    const std::string owner = "o" + std::to_string(next_owner++);
    const bool sample = request.count > 0 && f.count_decisions++ % sample_every == 0;
    std::vector<uint32_t> free;
    if (sample) free = paddock::gpu::testing::FreeWholeGpus(allocator);

    const auto start = std::chrono::steady_clock::now();
    auto result = allocator.Allocate(request, owner);
    const auto end = std::chrono::steady_clock::now();
    f.ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
    ++f.requests;
    if (result.ok()) {
      ++f.granted;
      owners.push_back(owner);
    }
    if (!sample) continue;
    ++f.sampled;
    const auto best = paddock::gpu::testing::BruteForceBest(m.gpus, m.links, free, request);
    if (!best.found) {
      f.optimal += result.ok() ? 0 : 1;
      f.same_set += result.ok() ? 0 : 1;
    } else if (result.ok()) {
      const auto got = paddock::gpu::testing::Evaluate(m.links, free, result->gpus);
      f.optimal += got == best.objective ? 1 : 0;
      f.same_set += result->gpus == best.gpus ? 1 : 0;
    }
  }
  return f;
}

int64_t Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
  return sorted[i];
}

std::string Json(const Figures& f) {
  std::vector<int64_t> sorted = f.ns;
  std::sort(sorted.begin(), sorted.end());
  int64_t total = 0;
  for (int64_t v : sorted) total += v;
  const double quality = f.sampled == 0 ? 1.0 : static_cast<double>(f.optimal) / f.sampled;
  char buf[1024];
  std::snprintf(
      buf, sizeof buf,
      "{\"machine\": \"%s\", \"requests\": %d, \"granted\": %d, \"count_decisions\": %d, "
      "\"decisions_per_s\": %.0f, \"mean_ns\": %.0f, \"p50_ns\": %lld, \"p99_ns\": %lld, "
      "\"max_ns\": %lld, \"quality\": %.4f, \"same_set\": %.4f, \"quality_sampled\": %d}",
      f.machine.c_str(), f.requests, f.granted, f.count_decisions,
      total > 0 ? 1e9 * static_cast<double>(sorted.size()) / static_cast<double>(total) : 0.0,
      sorted.empty() ? 0.0 : static_cast<double>(total) / static_cast<double>(sorted.size()),
      static_cast<long long>(Percentile(sorted, 0.50)),
      static_cast<long long>(Percentile(sorted, 0.99)),
      static_cast<long long>(sorted.empty() ? 0 : sorted.back()), quality,
      f.sampled == 0 ? 1.0 : static_cast<double>(f.same_set) / f.sampled, f.sampled);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  int requests = 10000;
  uint32_t seed = 20240601;
  int sample_every = 10;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--requests") {
      requests = std::atoi(next());
    } else if (arg == "--seed") {
      seed = static_cast<uint32_t>(std::strtoul(next(), nullptr, 10));
    } else if (arg == "--sample-every") {
      sample_every = std::max(1, std::atoi(next()));
    } else if (arg == "--check") {
      check = true;
    } else {
      std::fprintf(stderr, "usage: %s [--requests N] [--seed S] [--sample-every K] [--check]\n",
                   argv[0]);
      return 2;
    }
  }
  if (check) {
    requests = std::min(requests, 1000);
    sample_every = 1;
  }
  bool all_optimal = true;
  std::string out = "{\"benchmark\": \"gpu_alloc\", \"seed\": " + std::to_string(seed) +
                    ", \"sample_every\": " + std::to_string(sample_every) + ", \"machines\": [";
  bool first = true;
  for (bool mixed : {true, false}) {
    const Figures f = Run(MakeMachine(mixed), seed, requests, sample_every);
    all_optimal = all_optimal && f.optimal == f.sampled;
    out += (first ? "\n  " : ",\n  ") + Json(f);
    first = false;
  }
  out += "\n]}\n";
  std::fputs(out.c_str(), stdout);
  if (check && !all_optimal) {
    std::fprintf(stderr, "gpu_alloc: a sampled decision was not optimal\n");
    return 1;
  }
  return 0;
}
