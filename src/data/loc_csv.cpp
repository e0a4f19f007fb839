#include "data/loc_csv.h"

#include "data/imagenet_labels.h"
#include "util/error.h"

namespace lrpbench {

std::map<std::string, int64_t> parse_loc_csv(const std::string& text, const std::string& source) {
  std::map<std::string, int64_t> labels;
  size_t pos = 0;
  int64_t n = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (n == 1 && line.rfind("ImageId", 0) == 0)) continue;
    const std::string where = source + ":" + std::to_string(n);
    require(line.find('\0') == std::string::npos, where + ": binary data in a CSV file");
    const auto comma = line.find(',');
    require(comma != std::string::npos && comma > 0,
            where + ": expected ImageId,PredictionString");
    const std::string id = line.substr(0, comma);
    const std::string pred = line.substr(comma + 1);
    const std::string wnid = pred.substr(0, pred.find(' '));
    const int idx = imagenet_index(wnid);
    require(idx >= 0, where + ": unknown WordNet id '" + wnid + "'");
    auto [it, fresh] = labels.emplace(id, idx);
    require(fresh || it->second == idx, where + ": image '" + id + "' listed with two classes");
  }
  return labels;
}

}  // namespace lrpbench
