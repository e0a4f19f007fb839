#include "report/gallery.h"

#include <ATen/ATen.h>

#include <map>

#include "report/montage.h"

namespace lrpbench {

std::array<float, 3> mark_colour(size_t k) {
  static const std::array<float, 3> colours[] = {
      {0.0f, 0.75f, 0.0f}, {0.85f, 0.0f, 0.85f}, {1.0f, 0.55f, 0.0f}, {0.0f, 0.8f, 0.9f}};
  return colours[k % 4];
}

at::Tensor gallery(std::vector<std::vector<at::Tensor>> tiles, const std::vector<GalleryMark>& marks) {
  std::map<std::pair<int64_t, int64_t>, int> frames;  // frames drawn on a tile so far
  for (const GalleryMark& m : marks) {
    at::Tensor& t = tiles.at(static_cast<size_t>(m.row)).at(static_cast<size_t>(m.col));
    t = t.clone();
    const int64_t h = t.size(1), w = t.size(2), k = 2 * frames[{m.row, m.col}]++;
    if (2 * (k + 2) > h || 2 * (k + 2) > w) continue;  // no room for another frame
    for (int64_t c = 0; c < 3; ++c) {
      const at::Tensor ch = t[c];
      const float v = m.rgb[static_cast<size_t>(c)];
      ch.narrow(0, k, 2).narrow(1, k, w - 2 * k).fill_(v);
      ch.narrow(0, h - k - 2, 2).narrow(1, k, w - 2 * k).fill_(v);
      ch.narrow(1, k, 2).narrow(0, k, h - 2 * k).fill_(v);
      ch.narrow(1, w - k - 2, 2).narrow(0, k, h - 2 * k).fill_(v);
    }
  }
  return montage(tiles);
}

}  // namespace lrpbench
