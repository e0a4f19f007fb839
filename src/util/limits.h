#pragma once
// The bounds every entry point checks (docs/method.md, section 5): larger is exit code 2, never
// a value silently replaced or a run that cannot finish.
#include <cstdint>

namespace lrpbench {

constexpr int kMaxThreads = 1024;
constexpr uint64_t kMaxSeed = (uint64_t(1) << 63) - 1;
constexpr int64_t kMaxBatch = 65536;
constexpr uint64_t kMaxAxisValues = 10000;        // a list or axis
constexpr uint64_t kMaxConfigurations = 1000000;  // a grid
constexpr int64_t kMaxImages = 100000000;         // images named by one experiment or option
constexpr int64_t kMaxPatch = 4096;               // pixels a side
constexpr int64_t kMaxRadius = 64;                // inpainting radius
constexpr uint64_t kMaxExperimentBytes = 4ull << 20;

}  // namespace lrpbench
