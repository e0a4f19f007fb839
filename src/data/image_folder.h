#pragma once
// Image folders for searches: an ImageNet validation folder in class-subfolder layout
// (val/<wnid>/*.JPEG, as torchvision's ImageFolder reads it), or a flat folder with a
// LOC_val_solution.csv label file (ImageId,PredictionString; the wnid is the first word),
// or a plain folder of images without labels.
#include <string>
#include <vector>

namespace lrpbench {

struct ImageRef {
  std::string path;    // full path
  std::string id;      // file name relative to the data folder
  int64_t label = -1;  // ImageNet class index, or -1
};

// class_index < 0: every class; count 0: all. Sorted by relative path.
std::vector<ImageRef> list_imagenet_folder(const std::string& dir, int64_t class_index,
                                           int64_t count);
std::vector<ImageRef> list_flat_folder(const std::string& dir, const std::string& labels_csv,
                                       int64_t class_index, int64_t count);

}  // namespace lrpbench
