#include "data/fashion_mnist.h"

#include <ATen/ATen.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>

#include "util/error.h"

namespace lrpbench {
namespace {

std::string gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  require(f != nullptr, "cannot open '" + path + "' (install dataset-fashion-mnist)");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  int err = 0;
  gzerror(f, &err);
  gzclose(f);
  require(n == 0 && err == Z_OK, "'" + path + "': corrupt gzip data");
  return out;
}

uint32_t be32(const std::string& s, size_t off) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[off])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[off + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[off + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(s[off + 3]));
}

}  // namespace

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
  const std::string img = gunzip(img_path), lab = gunzip(lab_path);
  require(img.size() >= 16 && be32(img, 0) == 2051, "'" + img_path + "': not an idx3 image file");
  require(lab.size() >= 8 && be32(lab, 0) == 2049, "'" + lab_path + "': not an idx1 label file");
  const int64_t n = be32(img, 4), h = be32(img, 8), w = be32(img, 12);
  require(h == 28 && w == 28 && img.size() == static_cast<size_t>(16 + n * h * w),
          "'" + img_path + "': unexpected size");
  require(be32(lab, 4) == n && lab.size() == static_cast<size_t>(8 + n),
          "'" + lab_path + "': label count differs from the images");
  Dataset d;
  at::Tensor bytes = at::empty({n, 1, h, w}, at::kByte);
  std::memcpy(bytes.data_ptr(), img.data() + 16, static_cast<size_t>(n * h * w));
  d.images = bytes.to(at::kFloat).div_(255.0);
  d.labels.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    d.labels[static_cast<size_t>(i)] = static_cast<uint8_t>(lab[8 + i]);
  return d;
}

}  // namespace lrpbench
