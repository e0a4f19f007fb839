// Shared by the fuzz targets: a parser may refuse its input with InputError (that is the
// contract: exit code 2, and the CLI prints the message as one line, escaping what the input
// carried into it); anything else escaping it, an empty message, or any sanitizer report is a
// finding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "util/error.h"

#define LRPBENCH_FUZZ(...)                                                           \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {          \
    const std::string input(reinterpret_cast<const char*>(data), size);             \
    try {                                                                            \
      __VA_ARGS__                                                                    \
    } catch (const lrpbench::InputError& e) {                                        \
      const std::string msg = e.what();                                              \
      if (msg.empty() || lrpbench::one_line(msg).find('\n') != std::string::npos)   \
        __builtin_trap();                                                            \
    }                                                                                \
    return 0;                                                                        \
  }
