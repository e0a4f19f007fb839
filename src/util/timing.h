#pragma once
#include <chrono>
#include <functional>
#include <string>

namespace lrpbench {

// Median wall time in milliseconds of `repeats` calls after `warmup` calls.
double median_ms(const std::function<void()>& fn, int repeats, int warmup = 3);
// Peak resident set size of this process (VmHWM) in MiB, or -1 where unknown.
double peak_rss_mb();

}  // namespace lrpbench
