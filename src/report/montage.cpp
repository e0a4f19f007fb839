#include "report/montage.h"

#include <ATen/ATen.h>

namespace lrpbench {

at::Tensor montage(const std::vector<std::vector<at::Tensor>>& rows) {
  const at::Tensor& first = rows.at(0).at(0);
  const int64_t h = first.size(1), w = first.size(2);
  const int64_t f = std::max<int64_t>(1, 112 / std::max(h, w));
  const int64_t gap = 4;
  size_t cols = 0;
  for (const auto& r : rows) cols = std::max(cols, r.size());
  const int64_t H = static_cast<int64_t>(rows.size()) * (h * f + gap) + gap;
  const int64_t W = static_cast<int64_t>(cols) * (w * f + gap) + gap;
  at::Tensor out = at::ones({3, H, W});
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < rows[i].size(); ++j) {
      at::Tensor img = rows[i][j].to(at::kCPU).to(at::kFloat).clamp(0, 1);
      if (img.size(0) == 1) img = img.expand({3, h, w});
      if (f > 1) img = img.repeat_interleave(f, 1).repeat_interleave(f, 2);
      const int64_t y = gap + static_cast<int64_t>(i) * (h * f + gap);
      const int64_t x = gap + static_cast<int64_t>(j) * (w * f + gap);
      out.slice(1, y, y + h * f).slice(2, x, x + w * f).copy_(img);
    }
  return out;
}

}  // namespace lrpbench
