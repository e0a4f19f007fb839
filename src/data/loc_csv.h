#pragma once
// ImageNet's LOC_val_solution.csv (ImageId,PredictionString; the WordNet id is the first word
// of PredictionString, the boxes follow), parsed without LibTorch.
#include <cstdint>
#include <map>
#include <string>

namespace lrpbench {

constexpr uint64_t kMaxLabelFileBytes = 64ull << 20;

// Image id (file stem) -> ImageNet class index. `source` names the file in errors, with the
// line: an unknown WordNet id, a line without a comma, an empty id or an id given twice with
// different classes are InputErrors.
std::map<std::string, int64_t> parse_loc_csv(const std::string& text, const std::string& source);

}  // namespace lrpbench
