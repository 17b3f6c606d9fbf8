// Strict reading of JSON configuration objects (STYLE.md point 3): every key must be known,
// every value must have the right type, and the error names the full key path and the value.
// Values that arrive as strings from the command line ("--set run.steps=100") are accepted for
// numeric and boolean fields when the whole string parses.
#pragma once

#include "core/types.hpp"

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

namespace adamgn {

using json = nlohmann::json;

class ObjectReader {
 public:
  ObjectReader(const json& object, std::string path);

  bool has(const char* key) const;
  void read(const char* key, double& out);
  void read(const char* key, Index& out);
  void read(const char* key, std::uint64_t& out);
  void read(const char* key, bool& out);
  void read(const char* key, std::string& out);
  void read(const char* key, std::vector<double>& out);
  // The raw value (marked as consumed), for fields with their own syntax.
  const json& raw(const char* key);
  std::string path_of(const char* key) const;
  // Throws UsageError naming the first key that was never read.
  void finish() const;

 private:
  const json& object_;
  std::string path_;
  std::set<std::string> used_;
};

// "value" rendered for error messages: strings without quotes, numbers as written.
std::string show(const json& value);
// A number as a user would write it in a message ("0.001", "1e-08").
std::string show_number(double x);

// Parse a command-line value: a number if the whole text is one, true/false, else the string.
json parse_scalar(const std::string& text);

}  // namespace adamgn
