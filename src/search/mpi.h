#pragma once
// Distribution over Open MPI ranks (built when CMake finds MPI): rank 0 owns the store
// and hands out work units to the other ranks as they free up.
#include "search/runner.h"

namespace lrpbench {

// Whether this binary has MPI support, and whether it was started by mpirun with > 1 rank.
bool mpi_available();
bool mpi_launched();

// Under mpirun: rank 0 runs the search (every strategy: a rung or generation is a batch that
// rank 0 waits for) with an executor that sends units, with their configurations, to ranks
// 1..N-1; the other ranks compute units until told to stop. Each rank uses its own GPU with CUDA.
int64_t run_search_mpi(const Experiment& exp, const at::Device& device, const SearchOptions& opt);

// Serialises a unit's result (for the wire); a malformed message throws std::runtime_error.
std::string encode_unit(int64_t unit, const UnitResult& result);
UnitResult decode_unit(const std::string& bytes, int64_t* unit);

// The work message: a unit and the configurations (id, spec) it scores, so that a worker
// learns the trials of a generation it did not draw; unit -1 means stop.
std::string encode_work(int64_t unit, const std::vector<ConfigRow>& configs);
std::vector<ConfigRow> decode_work(const std::string& bytes, int64_t* unit);

}  // namespace lrpbench
