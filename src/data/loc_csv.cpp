#include "data/loc_csv.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "data/imagenet_labels.h"
#include "util/error.h"

namespace lrpbench {

namespace {

// Calls f(id, prediction string, "source:line") for every data line (a header "ImageId..." on
// the first line, empty lines and CR line ends skipped); binary data and lines without a
// comma or with an empty id are InputErrors.
template <typename F>
void for_each_row(const std::string& text, const std::string& source, F f) {
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
    f(line.substr(0, comma), line.substr(comma + 1), where);
  }
}

}  // namespace

std::map<std::string, int64_t> parse_loc_csv(const std::string& text, const std::string& source) {
  std::map<std::string, int64_t> labels;
  for_each_row(text, source, [&](const std::string& id, const std::string& pred,
                                 const std::string& where) {
    const std::string wnid = pred.substr(0, pred.find(' '));
    const int idx = imagenet_index(wnid);
    require(idx >= 0, where + ": unknown WordNet id '" + wnid + "'");
    auto [it, fresh] = labels.emplace(id, idx);
    require(fresh || it->second == idx, where + ": image '" + id + "' listed with two classes");
  });
  return labels;
}

std::map<std::string, std::vector<LocBox>> parse_loc_boxes(const std::string& text,
                                                           const std::string& source) {
  std::map<std::string, std::vector<LocBox>> out;
  for_each_row(text, source, [&](const std::string& id, const std::string& pred,
                                 const std::string& where) {
    std::vector<std::string> words;
    std::istringstream in(pred);
    for (std::string w; in >> w;) words.push_back(w);
    require(!words.empty() && words.size() % 5 == 0,
            where + ": expected boxes 'wnid x1 y1 x2 y2 ...'");
    std::vector<LocBox>& boxes = out[id];
    for (size_t k = 0; k < words.size(); k += 5) {
      LocBox b;
      const int idx = imagenet_index(words[k]);
      require(idx >= 0, where + ": unknown WordNet id '" + words[k] + "'");
      b.cls = idx;
      double v[4];
      for (int j = 0; j < 4; ++j) {
        const std::string& t = words[k + 1 + static_cast<size_t>(j)];
        char* stop = nullptr;
        v[j] = std::strtod(t.c_str(), &stop);
        require(stop && *stop == '\0' && std::isfinite(v[j]) && v[j] >= 0 && v[j] <= 1e6,
                where + ": box coordinate '" + t + "' is not a number in [0, 1e6]");
      }
      b.x1 = v[0];
      b.y1 = v[1];
      b.x2 = v[2];
      b.y2 = v[3];
      require(b.x1 <= b.x2 && b.y1 <= b.y2, where + ": a box with x1 > x2 or y1 > y2");
      boxes.push_back(b);
    }
  });
  return out;
}

}  // namespace lrpbench
