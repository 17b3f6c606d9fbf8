// The form of a preset's claims (its "claims": [...], each a comparison between arms whose verdict
// report/verdicts.hpp gives): checked when an experiment is read, before anything runs.
#pragma once

#include "core/reader.hpp"

#include <string>
#include <vector>

namespace adamgn {

// A claim metric "measure:SERIES" reads the final value of a recorded measure series (e.g.
// measure:adam_gn_ratio_p50).
inline constexpr const char* kMeasureMetric = "measure:";

// Checks the claims' form and that every arm they name exists (UsageError otherwise).
void validate_claims(const json& claims, const std::vector<std::string>& arm_names, const std::string& where);

// The arms one side of a claim names: a name or a list of names (non-strings are left out).
std::vector<std::string> claim_arms(const json& side);

}  // namespace adamgn
