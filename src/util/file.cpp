#include "util/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/error.h"

namespace lrpbench {
namespace {

std::string sys_reason(int err) {
  return std::strerror(err);
}

const char* file_type_name(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "a special file";
}

}  // namespace

uint64_t regular_file_size(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw InputError(what + ": cannot open '" + path + "' (" + sys_reason(errno) + ")");
  require(S_ISREG(st.st_mode), what + ": '" + path + "' is not a regular file");
  return static_cast<uint64_t>(st.st_size);
}

std::string read_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO (or a device) never waits for a writer; it is then refused as
  // not a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw InputError(what + ": cannot open '" + path + "' (" + sys_reason(errno) + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(what + ": '" + path + "' is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    throw InputError(what + ": '" + path + "' is too large (" + std::to_string(st.st_size) +
                     " bytes, at most " + std::to_string(max_bytes) + ")");
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      if (n == 0) {
        out.resize(got);  // the file shrank while reading
        return out;
      }
      throw InputError(what + ": cannot read '" + path + "' (" + sys_reason(err) + ")");
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

std::string temp_path_for(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return dir + "." + base + ".tmp" + std::to_string(::getpid());
}

void check_output_file(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;  // absent (or unreachable: the write says why)
  require(S_ISREG(st.st_mode), "output '" + path + "' exists and is " +
                                   file_type_name(st.st_mode) +
                                   ", not a regular file: refusing to replace it");
}

void check_output_dir(const std::string& dir, const std::vector<std::string>& files) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return;  // created later (make_dir says why it cannot)
  require(S_ISDIR(st.st_mode), "output folder '" + dir + "' exists and is " +
                                   file_type_name(st.st_mode) + ", not a directory");
  for (const std::string& f : files) check_output_file(dir + "/" + f);
}

void discard_temp(const std::string& temp) {
  ::unlink(temp.c_str());
}

void commit_temp(const std::string& temp, const std::string& path) {
  try {
    check_output_file(path);
  } catch (...) {
    discard_temp(temp);
    throw;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    discard_temp(temp);
    throw OutputError("cannot write '" + path + "': " + sys_reason(err));
  }
}

void write_file_atomic(const std::string& path, const std::string& data) {
  check_output_file(path);
  const std::string temp = temp_path_for(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw OutputError("cannot write '" + path + "': " + sys_reason(errno));
  size_t done = 0;
  int err = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : ENOSPC;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    discard_temp(temp);
    throw OutputError("cannot write '" + path + "': " + sys_reason(err));
  }
  commit_temp(temp, path);
}

}  // namespace lrpbench
