// Presets: the JSON experiment definitions in presets/, compiled into the binary at build time so
// `adamgn run --preset NAME` works from any folder. A FILE.json path is read from disk instead.
#pragma once

#include "core/reader.hpp"

#include <string>
#include <vector>

namespace adamgn {

struct EmbeddedPreset {
  const char* name;
  const char* text;
};
const std::vector<EmbeddedPreset>& embedded_presets();

// The parsed document of a preset name or a JSON file path. Throws UsageError (unknown name,
// missing or malformed file).
json load_preset(const std::string& name_or_path);

// `--set KEY=VALUE` on an experiment document: task.KEY, run.KEY, arms.NAME.KEY, or a bare
// optimizer KEY for every arm.
void apply_set(json& doc, const std::string& assignment);
// `--arms A,B`: keeps only the named arms, in the order given (and the claims about them).
void keep_arms(json& doc, const std::string& list);
// Drops the claims that name an arm the document does not have.
void drop_claims_without_arms(json& doc);

}  // namespace adamgn
