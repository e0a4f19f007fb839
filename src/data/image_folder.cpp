#include "data/image_folder.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "data/imagenet_labels.h"
#include "data/loc_csv.h"
#include "util/file.h"
#include "util/error.h"

namespace lrpbench {
namespace {

namespace fs = std::filesystem;

bool is_image(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".jpeg" || ext == ".jpg" || ext == ".png";
}

std::vector<ImageRef> take(std::vector<ImageRef> v, int64_t count) {
  std::sort(v.begin(), v.end(), [](const ImageRef& a, const ImageRef& b) { return a.id < b.id; });
  if (count > 0 && static_cast<int64_t>(v.size()) > count) v.resize(static_cast<size_t>(count));
  return v;
}

}  // namespace

std::vector<ImageRef> list_imagenet_folder(const std::string& dir, int64_t class_index,
                                           int64_t count) {
  require(fs::is_directory(dir), "imagenet folder '" + dir + "' does not exist");
  std::vector<ImageRef> out;
  for (const auto& sub : fs::directory_iterator(dir)) {
    if (!sub.is_directory()) continue;
    const std::string wnid = sub.path().filename().string();
    const int idx = imagenet_index(wnid);
    if (idx < 0 || (class_index >= 0 && idx != class_index)) continue;
    for (const auto& f : fs::directory_iterator(sub.path()))
      if (f.is_regular_file() && is_image(f.path()))
        out.push_back({f.path().string(), wnid + "/" + f.path().filename().string(), idx});
  }
  require(!out.empty(),
          "imagenet folder '" + dir + "' has no images" +
              (class_index >= 0 ? " of class " + std::to_string(class_index) : std::string()) +
              " (expected val/<wnid>/*.JPEG)");
  return take(out, count);
}

std::vector<ImageRef> list_flat_folder(const std::string& dir, const std::string& labels_csv,
                                       int64_t class_index, int64_t count) {
  require(fs::is_directory(dir), "image folder '" + dir + "' does not exist");
  std::map<std::string, int64_t> labels;  // image id (file stem) -> class
  if (!labels_csv.empty())
    labels = parse_loc_csv(read_file(labels_csv, "label file", kMaxLabelFileBytes), labels_csv);
  std::vector<ImageRef> out;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (!f.is_regular_file() || !is_image(f.path())) continue;
    int64_t label = -1;
    if (!labels_csv.empty()) {
      auto it = labels.find(f.path().stem().string());
      if (it == labels.end()) continue;
      label = it->second;
    }
    if (class_index >= 0 && label != class_index) continue;
    out.push_back({f.path().string(), f.path().filename().string(), label});
  }
  require(!out.empty(), "image folder '" + dir + "' has no matching images");
  return take(out, count);
}

}  // namespace lrpbench
