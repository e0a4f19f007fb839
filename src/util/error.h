#pragma once
// Errors that reach the user. InputError: bad input (exit code 2); anything else is an
// internal failure (exit code 1). Messages are one line and name the file or argument.
#include <stdexcept>
#include <string>

namespace lrpbench {

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws InputError(message) when the condition is false.
void require(bool condition, const std::string& message);

// Collapses a multi-line message (e.g. a c10::Error) into its first line.
std::string first_line(const std::string& text);

}  // namespace lrpbench
