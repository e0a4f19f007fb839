#pragma once
namespace lrpbench {
// Sets LibTorch's intra-op thread count; n <= 0 means all cores.
void set_threads(int n);
int hardware_threads();
}  // namespace lrpbench
