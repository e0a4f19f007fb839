#pragma once
// SHA-256 of a file's bytes (OpenSSL), as 64 lowercase hex digits.
#include <string>

namespace lrpbench {

// Throws InputError naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace lrpbench
