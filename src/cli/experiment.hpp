// `nnmf experiment table1|table2`: reruns the Neural NMF paper's comparisons (Tables 1 and 2,
// the keyword tables and the A(1) heat maps) through the same method registry as `nnmf fit`,
// and writes Markdown (and SVG) results. See docs/baselines.md.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

#include "cli/cli.hpp"

namespace nnmf::cli {

/// Adds `experiment` to @p app. @p argc / @p argv are kept to write the exact command into the
/// results; @p common holds the global options (device, threads, quiet).
Command add_experiment_command(CLI::App& app, const Common& common, int argc, char** argv);

}  // namespace nnmf::cli
