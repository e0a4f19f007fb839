#pragma once
// A bounded reader of zip archives held in memory (what torch.save and torch.jit.save write:
// stored or deflated entries, zip64 sizes). Every offset and size is checked against the
// buffer before use; an entry that would inflate past `max_entry_bytes` is refused. No
// LibTorch: the .pth and TorchScript fuzz targets link this.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lrpbench {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint64_t compressed = 0, size = 0;
  uint64_t data_offset = 0;  // of the entry's (compressed) bytes in the archive
  uint32_t crc = 0;
};

class ZipArchive {
 public:
  // Parses the central directory of `data` (which must outlive the archive). `what` names
  // the file in errors (InputError).
  ZipArchive(std::string_view data, std::string what, uint64_t max_entry_bytes = 4ull << 30);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  // The entry named `name`, or nullptr.
  const ZipEntry* find(const std::string& name) const;
  // The entry whose name ends with "/" + suffix or equals suffix (torch prefixes every record
  // with the archive's folder name), or nullptr.
  const ZipEntry* find_suffix(const std::string& suffix) const;
  // A stored entry's bytes, without a copy.
  std::string_view view(const ZipEntry& e) const;
  // An entry's bytes (inflated when deflated), checked against its size and CRC.
  std::string read(const ZipEntry& e) const;
  const std::string& what() const { return what_; }

 private:
  std::string_view data_;
  std::string what_;
  uint64_t max_entry_;
  std::vector<ZipEntry> entries_;
  [[noreturn]] void fail(const std::string& why) const;
};

}  // namespace lrpbench
