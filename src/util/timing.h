#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace lrpbench {

// Median wall time in milliseconds of `repeats` calls after `warmup` calls.
double median_ms(const std::function<void()>& fn, int repeats, int warmup = 3);
// Wall times in milliseconds of `repeats` rounds, each calling every function once in turn
// (after `warmup` such rounds): times[f][round]. Interleaving exposes every function to the
// same load, so ratios of round times stay meaningful on a shared machine.
std::vector<std::vector<double>> interleaved_ms(const std::vector<std::function<void()>>& fns,
                                                int repeats, int warmup = 1);
double median(std::vector<double> v);
// Median over rounds of num[r] / den[r].
double median_ratio(const std::vector<double>& num, const std::vector<double>& den);
// Peak resident set size of this process (VmHWM) in MiB, or -1 where unknown.
double peak_rss_mb();

}  // namespace lrpbench
