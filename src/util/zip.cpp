#include "util/zip.h"

#include <zlib.h>

#include <algorithm>
#include <set>

#include "util/bytes.h"
#include "util/error.h"

namespace lrpbench {
namespace {

constexpr uint32_t kEocd = 0x06054b50, kEocd64 = 0x06064b50, kLocator64 = 0x07064b50;
constexpr uint32_t kCentral = 0x02014b50, kLocal = 0x04034b50;
constexpr size_t kMaxEntries = 1u << 20;

}  // namespace

void ZipArchive::fail(const std::string& why) const {
  throw InputError(what_ + ": corrupt zip archive (" + why + ")");
}

ZipArchive::ZipArchive(std::string_view data, std::string what, uint64_t max_entry_bytes)
    : data_(data), what_(std::move(what)), max_entry_(max_entry_bytes) {
  const uint64_t n = data_.size();
  auto has = [&](uint64_t off, uint64_t len) { return off <= n && len <= n - off; };
  if (n < 22) fail("too short");
  // The end-of-central-directory record: within the last 64 KiB + 22 bytes.
  uint64_t eocd = n;
  const uint64_t lowest = n > 65557 ? n - 65557 : 0;
  for (uint64_t p = n - 22 + 1; p-- > lowest;)
    if (read_le(data_, p, 4) == kEocd) {
      eocd = p;
      break;
    }
  if (eocd == n) fail("no end of central directory");
  uint64_t count = read_le(data_, eocd + 10, 2);
  uint64_t cd_size = read_le(data_, eocd + 12, 4);
  uint64_t cd_offset = read_le(data_, eocd + 16, 4);
  if (count == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) {
    if (eocd < 20 || read_le(data_, eocd - 20, 4) != kLocator64) fail("zip64 locator missing");
    const uint64_t rec = read_le(data_, eocd - 20 + 8, 8);
    if (!has(rec, 56) || read_le(data_, rec, 4) != kEocd64) fail("zip64 end record missing");
    count = read_le(data_, rec + 32, 8);
    cd_size = read_le(data_, rec + 40, 8);
    cd_offset = read_le(data_, rec + 48, 8);
  }
  if (!has(cd_offset, cd_size)) fail("central directory lies outside the file");
  if (count > kMaxEntries || count > cd_size / 46 + 1) fail("implausible entry count");
  std::set<std::string> names;
  uint64_t p = cd_offset;
  const uint64_t end = cd_offset + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    if (p > end || end - p < 46 || read_le(data_, p, 4) != kCentral) fail("bad central directory entry");
    ZipEntry e;
    const uint64_t flags = read_le(data_, p + 8, 2);
    e.method = static_cast<uint16_t>(read_le(data_, p + 10, 2));
    e.crc = static_cast<uint32_t>(read_le(data_, p + 16, 4));
    e.compressed = read_le(data_, p + 20, 4);
    e.size = read_le(data_, p + 24, 4);
    const uint64_t name_len = read_le(data_, p + 28, 2), extra_len = read_le(data_, p + 30, 2),
                   comment_len = read_le(data_, p + 32, 2);
    uint64_t local = read_le(data_, p + 42, 4);
    if (end - p - 46 < name_len + extra_len + comment_len) fail("entry runs past the directory");
    e.name = std::string(data_.substr(static_cast<size_t>(p + 46), static_cast<size_t>(name_len)));
    // zip64 extra field: the sizes and offset that were 0xffffffff, in that order.
    uint64_t x = p + 46 + name_len;
    const uint64_t x_end = x + extra_len;
    while (x + 4 <= x_end) {
      const uint64_t id = read_le(data_, x, 2), len = read_le(data_, x + 2, 2);
      if (x + 4 + len > x_end) fail("bad extra field");
      if (id == 1) {
        uint64_t q = x + 4;
        auto take = [&](uint64_t& v) {
          if (v != 0xffffffff) return;
          if (q + 8 > x + 4 + len) fail("short zip64 field");
          v = read_le(data_, q, 8);
          q += 8;
        };
        take(e.size);
        take(e.compressed);
        take(local);
      }
      x += 4 + len;
    }
    p = x_end + comment_len;
    if (flags & 1) fail("encrypted entry '" + e.name + "'");
    if (e.method != 0 && e.method != 8)
      fail("entry '" + e.name + "' uses compression method " + std::to_string(e.method));
    if (e.method == 0 && e.compressed != e.size) fail("stored entry '" + e.name + "' sizes differ");
    if (e.size > max_entry_)
      fail("entry '" + e.name + "' would inflate to " + std::to_string(e.size) +
           " bytes, more than the bound of " + std::to_string(max_entry_));
    if (!has(local, 30) || read_le(data_, local, 4) != kLocal) fail("bad local header of '" + e.name + "'");
    const uint64_t data_at = local + 30 + read_le(data_, local + 26, 2) + read_le(data_, local + 28, 2);
    if (!has(data_at, e.compressed)) fail("entry '" + e.name + "' lies outside the file");
    e.data_offset = data_at;
    if (!names.insert(e.name).second) fail("duplicate entry '" + e.name + "'");
    entries_.push_back(std::move(e));
  }
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  for (const ZipEntry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

const ZipEntry* ZipArchive::find_suffix(const std::string& suffix) const {
  for (const ZipEntry& e : entries_) {
    if (e.name == suffix) return &e;
    if (e.name.size() > suffix.size() &&
        e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        e.name[e.name.size() - suffix.size() - 1] == '/')
      return &e;
  }
  return nullptr;
}

std::string_view ZipArchive::view(const ZipEntry& e) const {
  if (e.method != 0) fail("entry '" + e.name + "' is compressed");
  return data_.substr(static_cast<size_t>(e.data_offset), static_cast<size_t>(e.size));
}

std::string ZipArchive::read(const ZipEntry& e) const {
  std::string out;
  if (e.method == 0) {
    out = std::string(view(e));
  } else {
    if (e.size > 0xffffffffull || e.compressed > 0xffffffffull)
      fail("deflated entry '" + e.name + "' is too large");
    out.resize(static_cast<size_t>(e.size));
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) fail("zlib failed to start");
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data_.data() + e.data_offset));
    zs.avail_in = static_cast<uInt>(e.compressed);
    char none = 0;
    zs.next_out = e.size ? reinterpret_cast<Bytef*>(out.data()) : reinterpret_cast<Bytef*>(&none);
    zs.avail_out = static_cast<uInt>(e.size);
    const int rc = inflate(&zs, Z_FINISH);
    const uint64_t produced = zs.total_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || produced != e.size)
      fail("entry '" + e.name + "' does not inflate to its declared size");
  }
  const uLong crc = crc32_z(0L, reinterpret_cast<const Bytef*>(out.data()), out.size());
  if (crc != e.crc) fail("CRC mismatch in '" + e.name + "'");
  return out;
}

}  // namespace lrpbench
