#include "data/imagenet_labels.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace lrpbench {

const std::vector<ClassInfo>& imagenet_classes() {
  static const std::vector<ClassInfo> classes = [] {
    const char* env = std::getenv("LRPBENCH_DARKNET_DATA");
    const std::string dir = env && *env ? env : "/usr/share/darknet/data";
    std::ifstream ids(dir + "/imagenet.labels.list"), names(dir + "/imagenet.shortnames.list");
    std::vector<ClassInfo> out;
    std::string id, name;
    while (out.size() < 1000 && std::getline(ids, id) && std::getline(names, name))
      out.push_back({id, name});
    if (out.size() != 1000) return std::vector<ClassInfo>{};
    std::sort(out.begin(), out.end(),
              [](const ClassInfo& a, const ClassInfo& b) { return a.wnid < b.wnid; });
    return out;
  }();
  return classes;
}

int imagenet_index(const std::string& wnid) {
  const auto& c = imagenet_classes();
  auto it = std::lower_bound(c.begin(), c.end(), wnid,
                             [](const ClassInfo& a, const std::string& w) { return a.wnid < w; });
  return it != c.end() && it->wnid == wnid ? static_cast<int>(it - c.begin()) : -1;
}

}  // namespace lrpbench
