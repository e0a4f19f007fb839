#include "perturbation/order.h"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "util/error.h"

namespace lrpbench {

const char* order_name(Order o) {
  switch (o) {
    case Order::Morf:
      return "morf";
    case Order::Lrf:
      return "lrf";
    case Order::Random:
      return "random";
  }
  return "?";
}

Order parse_order(const std::string& name) {
  if (name == "morf") return Order::Morf;
  if (name == "lrf") return Order::Lrf;
  if (name == "random") return Order::Random;
  throw InputError("--order: unknown order '" + name + "' (morf, lrf, random)");
}

std::vector<Order> parse_orders(const std::string& list) {
  std::vector<Order> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const Order o = parse_order(item);
    require(std::find(out.begin(), out.end(), o) == out.end(),
            "--order: '" + item + "' given twice");
    out.push_back(o);
  }
  require(!out.empty(), "--order: empty list");
  return out;
}

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double uniform01(uint64_t key) {
  return static_cast<double>(mix64(key) >> 11) * 0x1.0p-53;
}

std::vector<int64_t> flip_order(Order o, const std::vector<double>& scores, uint64_t seed,
                                int64_t image_index) {
  std::vector<int64_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0);
  if (o == Order::Random) {
    uint64_t state = mix64(seed ^ mix64(static_cast<uint64_t>(image_index) + 0x5eedULL));
    for (size_t i = idx.size(); i > 1; --i) {  // Fisher-Yates
      state = mix64(state);
      std::swap(idx[i - 1], idx[static_cast<size_t>(state % i)]);
    }
    return idx;
  }
  const bool desc = o == Order::Morf;
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
    return desc ? scores[static_cast<size_t>(a)] > scores[static_cast<size_t>(b)]
                : scores[static_cast<size_t>(a)] < scores[static_cast<size_t>(b)];
  });
  return idx;
}

}  // namespace lrpbench
