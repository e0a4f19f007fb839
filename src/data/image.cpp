#include "data/image.h"

#include <ATen/ATen.h>

#include <cmath>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data/image_header.h"
#include "util/error.h"
#include "util/file.h"

namespace lrpbench {
namespace {

at::Tensor per_channel(const std::vector<double>& v, const at::Tensor& like) {
  std::vector<int64_t> shape(static_cast<size_t>(like.dim()), 1);
  shape[static_cast<size_t>(like.dim() - 3)] = static_cast<int64_t>(v.size());
  return at::tensor(std::vector<float>(v.begin(), v.end()), like.options()).view(shape);
}

}  // namespace

ResizeGeometry resize_geometry(int64_t width, int64_t height, const std::string& resize,
                               int64_t size) {
  ResizeGeometry g;
  g.width = width;
  g.height = height;
  if (resize == "none") return g;
  const int64_t shorter =
      resize == "256-crop224" ? static_cast<int64_t>(std::lround(size * 256.0 / 224.0)) : size;
  const double s = static_cast<double>(shorter) / static_cast<double>(std::min(width, height));
  const int64_t w = std::max<int64_t>(1, std::lround(static_cast<double>(width) * s));
  const int64_t h = std::max<int64_t>(1, std::lround(static_cast<double>(height) * s));
  require(w >= size && h >= size, "image smaller than the crop");
  g.scale = s;
  g.sx = static_cast<double>(w) / static_cast<double>(width);
  g.sy = static_cast<double>(h) / static_cast<double>(height);
  g.ox = (w - size) / 2;
  g.oy = (h - size) / 2;
  g.width = g.height = size;
  return g;
}

void check_resize_mode(const std::string& mode) {
  require(mode == "256-crop224" || mode == "224" || mode == "none",
          "--resize: expected 256-crop224, 224 or none, got '" + mode + "'");
}

at::Tensor load_image(const std::string& path, int64_t channels, const std::string& resize,
                      int64_t size, ResizeGeometry* geometry) {
  check_resize_mode(resize);
  const std::string bytes = read_file(path, "--image", kMaxImageFileBytes);
  const ImageInfo info = inspect_image(bytes, path);
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1,
                    const_cast<char*>(bytes.data()));
  cv::Mat m;
  try {
    m = cv::imdecode(raw, channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    m = cv::Mat();
  }
  // (EXIF orientation may swap the sides.)
  require(!m.empty() && ((m.cols == info.width && m.rows == info.height) ||
                         (m.cols == info.height && m.rows == info.width)),
          path + ": corrupt " + info.format + " data (cannot decode the image)");
  if (channels == 3) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  // Shorter side to 256/224 x size (or size), then the centre crop: one geometry for the
  // pixels and for the boxes mapped onto them.
  const ResizeGeometry g = resize_geometry(m.cols, m.rows, resize, size);
  if (resize != "none") {
    const int w = static_cast<int>(std::lround(g.sx * m.cols)),
              h = static_cast<int>(std::lround(g.sy * m.rows));
    cv::Mat scaled;
    cv::resize(m, scaled, cv::Size(w, h), 0, 0, g.scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
    m = scaled(cv::Rect(static_cast<int>(g.ox), static_cast<int>(g.oy), static_cast<int>(size),
                        static_cast<int>(size)))
            .clone();
  }
  if (geometry) *geometry = g;
  m = m.isContinuous() ? m : m.clone();
  at::Tensor t = at::from_blob(m.data, {m.rows, m.cols, channels}, at::kByte).clone();
  return t.permute({2, 0, 1}).contiguous().to(at::kFloat).div_(255.0);
}

at::Tensor normalize(const at::Tensor& x, const std::vector<double>& mean,
                     const std::vector<double>& std) {
  return (x - per_channel(mean, x)) / per_channel(std, x);
}

at::Tensor denormalize(const at::Tensor& x, const std::vector<double>& mean,
                       const std::vector<double>& std) {
  return x * per_channel(std, x) + per_channel(mean, x);
}

void write_png(const std::string& path, const at::Tensor& image) {
  at::Tensor t =
      image.detach().to(at::kCPU).to(at::kFloat).clamp(0, 1).mul(255.0).round().to(at::kByte);
  const int64_t c = t.size(0);
  t = t.permute({1, 2, 0}).contiguous();
  cv::Mat m(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), c == 1 ? CV_8UC1 : CV_8UC3,
            t.data_ptr());
  cv::Mat out;
  if (c == 3)
    cv::cvtColor(m, out, cv::COLOR_RGB2BGR);
  else
    out = m;
  std::vector<uchar> buf;
  if (!cv::imencode(".png", out, buf)) throw OutputError("cannot encode '" + path + "' as PNG");
  write_file_atomic(path, std::string(buf.begin(), buf.end()));
}

}  // namespace lrpbench
