#pragma once
// Errors that reach the user. InputError: bad input (exit code 2). OutputError: an output
// could not be written (exit code 1, naming the file). Anything else is an internal failure
// (exit code 1). Messages are one line and name the file or argument.
#include <stdexcept>
#include <string>

namespace lrpbench {

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OutputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws InputError(message) when the condition is false.
void require(bool condition, const std::string& message);

// Collapses a multi-line message (e.g. a c10::Error) into its first line.
std::string first_line(const std::string& text);

// A message as one printable line: control characters that hostile input can carry into a
// message (a key or a file name holding a newline) are escaped as \xNN, and the text is cut
// at `max_chars`.
std::string one_line(const std::string& text, size_t max_chars = 600);

}  // namespace lrpbench
