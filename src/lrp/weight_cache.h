#pragma once
// Modified weights kept across explanations.
//
// Rules read a layer's weights through modifiers (W + g W+, W+, the flipped transpose that
// turns a transposed convolution into a forward one, ...). Preparing them costs several
// passes over every weight tensor per call: on ResNet-50 (100 MB of weights) that was a
// sizeable share of one explanation. The cache keeps them, keyed by the weight tensor, its
// version counter (an in-place update such as a training step makes an entry stale), the
// modifier and its parameter, within a byte budget (least recently used entries leave
// first). Entries hold a reference to their base tensor, so a key's address cannot be
// reused while the entry lives. Thread-safe.
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <functional>
#include <vector>

namespace lrpbench {

// What was done to a weight tensor. `Flipped` variants are the transposed, spatially
// flipped kernels of the same modifier (for a stride-1 conv's transpose). HatVee: W^ and Wv
// stacked along the output units. BoxBounds: z^B's image-independent term W+ l + W- h for one
// input size. PlainPlus: [W, W+] stacked along the inputs. Abs: |W|.
enum class WeightOp { Plain, Hat, Vee, Plus, Minus, HatVee, BoxBounds, PlainPlus, Abs, Flipped = 16 };

inline WeightOp flipped(WeightOp op) {
  return static_cast<WeightOp>(static_cast<int>(op) | static_cast<int>(WeightOp::Flipped));
}

// The modified weight for (base, op, params): `make()` on a miss. An undefined `base` or an
// inference tensor (no version counter) is not cached: make() is called.
at::Tensor cached_weight(const at::Tensor& base, WeightOp op, const std::vector<double>& params,
                         const std::function<at::Tensor()>& make);
inline at::Tensor cached_weight(const at::Tensor& base, WeightOp op, double g,
                                const std::function<at::Tensor()>& make) {
  return cached_weight(base, op, std::vector<double>{g}, make);
}

// Bytes the cache may hold (default 256 MiB; 0 disables it) and what it holds now.
void set_weight_cache_budget(std::size_t bytes);
std::size_t weight_cache_bytes();
// Lookups answered from the cache since the start (for tests).
std::size_t weight_cache_hits();

}  // namespace lrpbench
