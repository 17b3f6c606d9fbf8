// The bodies of the fuzz targets (tests/fuzz/fuzz_*.cpp), shared with the doctest suite that
// replays the seed corpus and the crash regressions (tests/test_fuzz_regressions.cpp).
// Contract of each: feed `data` through the named parser the way the program does; a UsageError
// is an accepted outcome and is swallowed, anything else (another exception, a crash, a
// sanitizer report) escapes and is a bug. Files go to one scratch folder per process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace adamgn::fuzz {

// The text as a preset file (`adamgn run --preset FILE.json`): load_preset, then for the
// default scale and each scale the document names, resolve_scale, parse_experiment and, for a
// task small enough to build in a few milliseconds, make_task_factory and check_compatible.
void preset(const std::uint8_t* data, std::size_t size);
// Each line of the text as one `--set KEY=VALUE` on a fixed two-arm document, then parse_experiment.
void set_assignments(const std::uint8_t* data, std::size_t size);
// The bytes as a stored run of a fixed hash in a scratch RunStore: scan (as `check` does), load
// (the verification), then for a run that loads the sweep's scores under every metric,
// run_from_json and the summary of an arm holding it as resume builds it.
void stored_run(const std::uint8_t* data, std::size_t size);
// The bytes as a CIFAR-10 batch file given to read_cifar_files.
void cifar(const std::uint8_t* data, std::size_t size);

// The fixed hashes stored_run files the input under: those of the seed runs valid.json,
// measured-quadratic.json and measured-parity.json (runs with measures, whose configuration and
// so whose hash differ), so that every kind of valid seed passes verification under one of them.
extern const std::vector<std::string> kStoredRunHashes;

// This process's scratch folder (created on first use, removed at exit).
const std::string& scratch_dir();

}  // namespace adamgn::fuzz
