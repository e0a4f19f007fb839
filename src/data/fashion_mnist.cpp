#include "data/fashion_mnist.h"

#include <ATen/ATen.h>

#include <cstdlib>
#include <cstring>

#include "data/idx.h"
#include "util/error.h"
#include "util/file.h"

namespace lrpbench {

std::string fashion_mnist_dir() {
  const char* env = std::getenv("LRPBENCH_FASHION_MNIST");
  return env && *env ? env : "/usr/share/datasets/fashion-mnist";
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

Dataset load_fashion_mnist(const std::string& split) {
  require(split == "train" || split == "test",
          "fashion-mnist split must be 'train' or 'test', not '" + split + "'");
  const std::string prefix = fashion_mnist_dir() + "/" + (split == "test" ? "t10k" : "train");
  const std::string img_path = prefix + "-images-idx3-ubyte.gz";
  const std::string lab_path = prefix + "-labels-idx1-ubyte.gz";
  const std::string img = gunzip_file(img_path, 256 * kMiB),
                    lab = gunzip_file(lab_path, 16 * kMiB);
  const IdxImages images = parse_idx_images(img, img_path);
  const std::string_view labels = parse_idx_labels(lab, lab_path);
  require(images.rows == 28 && images.cols == 28, "'" + img_path + "': images are not 28x28");
  require(static_cast<int64_t>(labels.size()) == images.count,
          "'" + lab_path + "': label count differs from the images");
  const int64_t n = images.count, h = 28, w = 28;
  Dataset d;
  at::Tensor bytes = at::empty({n, 1, h, w}, at::kByte);
  std::memcpy(bytes.data_ptr(), images.pixels.data(), static_cast<size_t>(n * h * w));
  d.images = bytes.to(at::kFloat).div_(255.0);
  d.labels.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    d.labels[static_cast<size_t>(i)] = static_cast<uint8_t>(labels[static_cast<size_t>(i)]);
    require(d.labels[static_cast<size_t>(i)] < 10,
            "'" + lab_path + "': label " + std::to_string(d.labels[static_cast<size_t>(i)]) +
                " of image " + std::to_string(i) + " is not a Fashion-MNIST class");
  }
  return d;
}

}  // namespace lrpbench
