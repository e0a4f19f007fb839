#pragma once
// Reading untrusted files with bounds, and writing outputs atomically (output files
// appear complete or not at all). No LibTorch here: the parsers' fuzz targets link this.
#include <cstdint>
#include <string>
#include <vector>

namespace lrpbench {

// Reads a whole regular file of at most `max_bytes`. `what` names it in errors (e.g.
// "--input 'x.npy'"); a missing file, a directory, a device (/dev/zero) or a file over the
// bound is an InputError naming it.
std::string read_file(const std::string& path, const std::string& what, uint64_t max_bytes);

// The size of a regular file; InputError (naming `what`) when it is missing or not a regular
// file.
uint64_t regular_file_size(const std::string& path, const std::string& what);

// Refuses an output path that exists and is not a regular file (a device such as /dev/full, a
// FIFO, a socket, a directory or a symbolic link): renaming a finished output over it would
// replace it. InputError naming `path`; an absent path or a regular file passes. Commands call
// it on every output before computing; write_file_atomic() and commit_temp() call it again.
void check_output_file(const std::string& path);
// The same for an output folder: `dir` absent or a directory (a link to one is fine), and each
// of `files` inside it absent or a regular file.
void check_output_dir(const std::string& dir, const std::vector<std::string>& files);

// Writes `data` to `path` through a temporary file in the same folder, flushed and renamed
// over `path` only when every byte is written. Throws OutputError naming `path` (with the
// system's reason, e.g. "No space left on device") and leaves no partial file behind; a path
// that check_output_file() refuses is an InputError before anything is written.
void write_file_atomic(const std::string& path, const std::string& data);

// A temporary name next to `path` for a writer that cannot take a buffer (e.g. gnuplot);
// commit_temp() renames it over `path` (after check_output_file()), discard_temp() removes it.
std::string temp_path_for(const std::string& path);
void commit_temp(const std::string& temp, const std::string& path);
void discard_temp(const std::string& temp);

// Common bounds on what the parsers accept.
constexpr uint64_t kMiB = 1024ull * 1024ull;
constexpr uint64_t kGiB = 1024ull * kMiB;

}  // namespace lrpbench
