#include "data/idx.h"

#include <zlib.h>

#include "util/bytes.h"
#include "util/error.h"
#include "util/file.h"

namespace lrpbench {
IdxImages parse_idx_images(std::string_view bytes, const std::string& what) {
  require(bytes.size() >= 16 && read_be32(bytes, 0) == 2051, "'" + what + "': not an idx3 image file");
  IdxImages out;
  out.count = read_be32(bytes, 4);
  out.rows = read_be32(bytes, 8);
  out.cols = read_be32(bytes, 12);
  require(out.rows > 0 && out.cols > 0 && out.rows <= 4096 && out.cols <= 4096,
          "'" + what + "': implausible image size");
  const uint64_t need = static_cast<uint64_t>(out.count) * static_cast<uint64_t>(out.rows) *
                        static_cast<uint64_t>(out.cols);
  require(bytes.size() - 16 == need, "'" + what + "': size does not match its header (" +
                                         std::to_string(out.count) + " images of " +
                                         std::to_string(out.rows) + "x" +
                                         std::to_string(out.cols) + ")");
  out.pixels = bytes.substr(16);
  return out;
}

std::string_view parse_idx_labels(std::string_view bytes, const std::string& what) {
  require(bytes.size() >= 8 && read_be32(bytes, 0) == 2049, "'" + what + "': not an idx1 label file");
  require(bytes.size() - 8 == read_be32(bytes, 4),
          "'" + what + "': size does not match its header");
  return bytes.substr(8);
}

std::string gunzip_file(const std::string& path, uint64_t max_bytes) {
  regular_file_size(path, "'" + path + "'");
  gzFile f = gzopen(path.c_str(), "rb");
  require(f != nullptr, "cannot open '" + path + "'");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      gzclose(f);
      throw InputError("'" + path + "': decompresses to more than " + std::to_string(max_bytes) +
                       " bytes");
    }
  }
  int err = 0;
  gzerror(f, &err);
  gzclose(f);
  require(n == 0 && err == Z_OK, "'" + path + "': corrupt or truncated gzip data");
  return out;
}

}  // namespace lrpbench
