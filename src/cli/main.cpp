// lrpbench: LRP explanations, pixel-flipping scores and hyperparameter search.
#include <c10/util/Exception.h>
#include <malloc.h>
#include <signal.h>
#include <dlfcn.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "cli/commands.h"
#include "util/error.h"

namespace {

// A command's output on stdout must reach it: `dump > /dev/full` is a failed write (exit 1),
// not a success that wrote nothing.
int check_stdout() {
  errno = 0;
  std::cout.flush();
  const bool failed = std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout;
  if (!failed) return 0;
  const int err = errno;
  std::cerr << "lrpbench: error: cannot write standard output"
            << (err != 0 ? std::string(": ") + std::strerror(err) : std::string()) << "\n";
  return 1;
}

// An option given an empty value ('') names nothing: refused (exit 2, naming the option)
// rather than taken for "not given" (--normalize '' silently choosing the default,
// --metrics '' computing none).
void refuse_empty_values(CLI::App* app) {
  const CLI::Validator nonempty(
      [](std::string& value) {
        return value.empty() ? std::string("an empty value is not allowed") : std::string();
      },
      "", "NONEMPTY");
  for (CLI::Option* o : app->get_options())
    if (o->get_type_size_max() > 0) o->check(nonempty);
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; }))
    refuse_empty_values(sub);
}

}  // namespace

// OpenBLAS 0.3.21 (Debian 12) does not know CPUs newer than Ice Lake and falls back to its
// SSE3 ("Prescott") kernels there: dense layers ran 2x slower. Where OpenBLAS says it chose
// Prescott on a CPU with AVX-512 and no OPENBLAS_CORETYPE is set, the process starts again with
// OPENBLAS_CORETYPE=SkylakeX (OpenBLAS reads it when it loads, before main; the restarted
// process sees the variable and goes on). LRPBENCH_KEEP_BLAS=1 keeps OpenBLAS's own choice.
// Nothing happens when this binary was started through the dynamic loader (/proc/self/exe is
// then ld.so) or OpenBLAS is not the BLAS in use.
void choose_blas_kernels(char** argv) {
#if defined(__x86_64__)
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("LRPBENCH_KEEP_BLAS")) return;
  using CoreName = char* (*)();
  const auto core = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!core || std::strcmp(core(), "Prescott") != 0) return;
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw")) return;
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return;
  self[n] = '\0';
  if (std::strstr(self, "ld-linux") || std::strstr(self, "/ld.so")) return;
  setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
  execv(self, argv);  // returns only on failure: go on as we are
  unsetenv("OPENBLAS_CORETYPE");
#else
  (void)argv;
#endif
}

int main(int argc, char** argv) {
  choose_blas_kernels(argv);
  // Keep freed tensor memory in the heap instead of returning it to the kernel: glibc
  // otherwise mmaps and unmaps every large tensor, and the page faults of re-touching it
  // cost ~15% of a VGG-16 explanation on these machines.
  mallopt(M_MMAP_THRESHOLD, 512 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  // A write past RLIMIT_FSIZE fails with EFBIG (reported, naming the file) instead of killing
  // the process.
  signal(SIGXFSZ, SIG_IGN);
  CLI::App app{
      "lrpbench: explain CNN and ViT classifiers with LRP, score explanations by "
      "pixel-flipping AUC, and choose LRP hyperparameters by measurement"};
  app.set_version_flag("--version", std::string("lrpbench ") + LRPBENCH_VERSION);
  app.require_subcommand(1);
  lrpbench::add_explain_command(app);
  lrpbench::add_search_command(app);
  lrpbench::add_evaluate_command(app);
  lrpbench::add_classify_command(app);
  lrpbench::add_train_command(app);
  lrpbench::add_composites_command(app);
  lrpbench::add_bench_command(app);
  refuse_empty_values(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {  // help and version go to stdout: checked as output
    const int rc = app.exit(e);
    return rc ? rc : check_stdout();
  } catch (const CLI::CallForAllHelp& e) {
    const int rc = app.exit(e);
    return rc ? rc : check_stdout();
  } catch (const CLI::CallForVersion& e) {
    const int rc = app.exit(e);
    return rc ? rc : check_stdout();
  } catch (const CLI::ParseError& e) {
    std::cerr << "lrpbench: error: " << lrpbench::one_line(lrpbench::first_line(e.what())) << "\n";
    return 2;
  } catch (const lrpbench::InputError& e) {
    std::cerr << "lrpbench: error: " << lrpbench::one_line(e.what()) << "\n";
    return 2;
  } catch (const lrpbench::OutputError& e) {
    std::cerr << "lrpbench: error: " << lrpbench::one_line(e.what()) << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "lrpbench: internal error: " << lrpbench::first_line(e.what_without_backtrace())
              << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "lrpbench: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "lrpbench: internal error: " << lrpbench::first_line(e.what()) << "\n";
    return 1;
  }
  return check_stdout();
}
