#pragma once
// Flip orders (docs/method.md 2.2): morf (descending score), lrf (ascending), random (a permutation
// seeded by seed and image index, never by configuration). Ties break by patch index.
#include <cstdint>
#include <string>
#include <vector>

namespace lrpbench {

enum class Order { Morf, Lrf, Random };

const char* order_name(Order o);
Order parse_order(const std::string& name);  // throws InputError
std::vector<Order> parse_orders(const std::string& comma_list);

std::vector<int64_t> flip_order(Order o, const std::vector<double>& scores, uint64_t seed,
                                int64_t image_index);

// A deterministic 64-bit mix (splitmix64), used for every seeded choice so that results
// never depend on a standard library's generators.
uint64_t mix64(uint64_t x);
// Uniform double in [0, 1) from a key.
double uniform01(uint64_t key);

}  // namespace lrpbench
