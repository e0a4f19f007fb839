#pragma once
#include <string>
#include <vector>

namespace lrpbench {

struct ClassInfo {
  std::string wnid, name;
};

// ImageNet-1k classes in torchvision's order: the first 1000 WordNet ids of darknet's
// imagenet.labels.list, sorted, with their short names. Empty if the files are missing.
const std::vector<ClassInfo>& imagenet_classes();
// Index of a WordNet id, or -1.
int imagenet_index(const std::string& wnid);

}  // namespace lrpbench
