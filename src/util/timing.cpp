#include "util/timing.h"

#include <algorithm>
#include <fstream>
#include <vector>

namespace lrpbench {

double median_ms(const std::function<void()>& fn, int repeats, int warmup) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> t;
  for (int i = 0; i < std::max(1, repeats); ++i) {
    const auto s = std::chrono::steady_clock::now();
    fn();
    t.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::vector<std::vector<double>> interleaved_ms(const std::vector<std::function<void()>>& fns,
                                                int repeats, int warmup) {
  for (int i = 0; i < warmup; ++i)
    for (const auto& fn : fns) fn();
  std::vector<std::vector<double>> t(fns.size());
  for (int i = 0; i < std::max(1, repeats); ++i)
    for (size_t f = 0; f < fns.size(); ++f) {
      const auto s = std::chrono::steady_clock::now();
      fns[f]();
      t[f].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s)
                         .count());
    }
  return t;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double median_ratio(const std::vector<double>& num, const std::vector<double>& den) {
  std::vector<double> r;
  for (size_t i = 0; i < std::min(num.size(), den.size()); ++i) r.push_back(num[i] / den[i]);
  return median(r);
}

double peak_rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmHWM:") {
      double kb = 0;
      in >> kb;
      return kb / 1024.0;
    }
    std::getline(in, key);
  }
  return -1.0;
}

}  // namespace lrpbench
