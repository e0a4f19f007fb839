#pragma once
// ImageNet's LOC_val_solution.csv (ImageId,PredictionString; the WordNet id is the first word
// of PredictionString, the boxes follow), parsed without LibTorch.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lrpbench {

constexpr uint64_t kMaxLabelFileBytes = 64ull << 20;

// Image id (file stem) -> ImageNet class index. `source` names the file in errors, with the
// line: an unknown WordNet id, a line without a comma, an empty id or an id given twice with
// different classes are InputErrors.
std::map<std::string, int64_t> parse_loc_csv(const std::string& text, const std::string& source);

// The boxes of LOC_val_solution.csv: image id -> boxes (class index, x1 y1 x2 y2 in the
// original image's pixels). A box that is not "wnid x1 y1 x2 y2" with finite numbers,
// x1 <= x2 and y1 <= y2 is an InputError naming the line.
struct LocBox {
  int64_t cls = 0;
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};
std::map<std::string, std::vector<LocBox>> parse_loc_boxes(const std::string& text,
                                                           const std::string& source);

}  // namespace lrpbench
