#pragma once
// Reading untrusted files with bounds, and writing outputs atomically (output files
// appear complete or not at all). No LibTorch here: the parsers' fuzz targets link this.
#include <cstdint>
#include <string>

namespace lrpbench {

// Reads a whole regular file of at most `max_bytes`. `what` names it in errors (e.g.
// "--input 'x.npy'"); a missing file, a directory, a device (/dev/zero) or a file over the
// bound is an InputError naming it.
std::string read_file(const std::string& path, const std::string& what, uint64_t max_bytes);

// The size of a regular file; InputError (naming `what`) when it is missing or not a regular
// file.
uint64_t regular_file_size(const std::string& path, const std::string& what);

// Writes `data` to `path` through a temporary file in the same folder, flushed and renamed
// over `path` only when every byte is written. Throws OutputError naming `path` (with the
// system's reason, e.g. "No space left on device") and leaves no partial file behind.
void write_file_atomic(const std::string& path, const std::string& data);

// A temporary name next to `path` for a writer that cannot take a buffer (e.g. gnuplot);
// commit_temp() renames it over `path`, discard_temp() removes it.
std::string temp_path_for(const std::string& path);
void commit_temp(const std::string& temp, const std::string& path);
void discard_temp(const std::string& temp);

// Common bounds on what the parsers accept.
constexpr uint64_t kMiB = 1024ull * 1024ull;
constexpr uint64_t kGiB = 1024ull * kMiB;

}  // namespace lrpbench
