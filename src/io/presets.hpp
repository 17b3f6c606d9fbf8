// Presets: the JSON experiment definitions in presets/, compiled into the binary at build time so
// `adamgn run --preset NAME` works from any folder. A FILE.json path is read from disk instead.
#pragma once

#include "io/reader.hpp"

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

}  // namespace adamgn
