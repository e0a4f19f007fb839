#include "lrp/weight_cache.h"

#include <ATen/ATen.h>

#include <list>
#include <mutex>
#include <tuple>

namespace lrpbench {
namespace {

struct Entry {
  at::Tensor base;  // keeps the key's address alive
  uint32_t version;
  WeightOp op;
  std::vector<double> params;
  at::Tensor value;
  std::size_t bytes;
};

struct Cache {
  std::mutex mu;
  std::list<Entry> lru;  // most recently used first
  std::size_t bytes = 0, budget = std::size_t{256} << 20, hits = 0;

  void trim() {
    while (bytes > budget && !lru.empty()) {
      bytes -= lru.back().bytes;
      lru.pop_back();
    }
  }
};

Cache& cache() {
  static Cache c;
  return c;
}

}  // namespace

at::Tensor cached_weight(const at::Tensor& base, WeightOp op, const std::vector<double>& params,
                         const std::function<at::Tensor()>& make) {
  // Inference tensors have no version counter to tell an in-place change: not cached.
  if (!base.defined() || base.is_inference()) return make();
  Cache& c = cache();
  const uint32_t version = base._version();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto it = c.lru.begin(); it != c.lru.end(); ++it) {
      if (!it->base.is_same(base) || it->op != op || it->params != params) continue;
      if (it->version != version) {  // updated in place since: stale
        c.bytes -= it->bytes;
        c.lru.erase(it);
        break;
      }
      c.lru.splice(c.lru.begin(), c.lru, it);
      ++c.hits;
      return it->value;
    }
  }
  at::Tensor value = make();
  const std::size_t bytes = value.numel() * value.element_size();
  std::lock_guard<std::mutex> lock(c.mu);
  if (bytes <= c.budget) {
    c.lru.push_front({base, version, op, params, value, bytes});
    c.bytes += bytes;
    c.trim();
  }
  return value;
}

void set_weight_cache_budget(std::size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.budget = bytes;
  c.trim();
}

std::size_t weight_cache_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.bytes;
}

std::size_t weight_cache_hits() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.hits;
}

}  // namespace lrpbench
