#pragma once
// Each subcommand registers itself on the app; its callback does the work.
#include <CLI/CLI.hpp>

namespace lrpbench {

void add_explain_command(CLI::App& app);
void add_classify_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_search_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_composites_command(CLI::App& app);
void add_bench_command(CLI::App& app);

}  // namespace lrpbench
