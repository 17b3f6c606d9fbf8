#include "io/presets.hpp"

#include <fstream>
#include <sstream>

namespace adamgn {
namespace {

json parse_text(const std::string& text, const std::string& where) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    std::string msg = e.what();
    const auto colon = msg.find("parse error");
    throw UsageError(where + ": invalid JSON (" + (colon == std::string::npos ? msg : msg.substr(colon)) + ")");
  }
}

}  // namespace

json load_preset(const std::string& name_or_path) {
  const bool is_path = name_or_path.find('/') != std::string::npos ||
                       (name_or_path.size() > 5 && name_or_path.substr(name_or_path.size() - 5) == ".json");
  if (!is_path) {
    for (const auto& p : embedded_presets())
      if (name_or_path == p.name) return parse_text(p.text, "preset " + name_or_path);
    std::string known;
    for (const auto& p : embedded_presets()) known += (known.empty() ? "" : ", ") + std::string(p.name);
    throw UsageError("--preset " + name_or_path + " is not a preset (known: " + known + ")");
  }
  std::ifstream in(name_or_path, std::ios::binary);
  if (!in) throw UsageError("--preset " + name_or_path + ": file not found or not readable");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_text(ss.str(), name_or_path);
}

}  // namespace adamgn
