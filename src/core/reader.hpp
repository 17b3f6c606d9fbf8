// Strict reading of JSON: parse_json turns text a user gave into a document with bounded nesting
// and size and no duplicate keys, and ObjectReader reads configuration objects (STYLE.md point 3):
// every key must be known, every value must have the right type, and the error names the full key
// path and the value. Values that arrive as strings from the command line ("--set run.steps=100")
// are accepted for numeric and boolean fields when the whole string parses.
#pragma once

#include "core/types.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <istream>
#include <set>
#include <string>
#include <vector>

namespace adamgn {

using json = nlohmann::json;

// Limits on JSON read from users. 64 levels are far more than any document of adamgn nests (7 at
// most), and few enough that every recursive walk of a document stays shallow.
constexpr std::size_t kJsonMaxDepth = 64;
// Presets, sweep documents and stored definitions: the largest built-in preset is 29 KB.
constexpr std::size_t kJsonConfigBytes = std::size_t{4} << 20;  // 4 MiB
// Result documents (plot, report, summarize, stored runs): a paper-scale result is about 0.5 MB,
// a long run with many seeds tens of MB.
constexpr std::size_t kJsonResultBytes = std::size_t{256} << 20;  // 256 MiB

// The one parser of JSON that comes from outside the program. Refuses, with a one-line UsageError
// "WHERE: invalid JSON (...)": malformed text, text longer than max_bytes, arrays and objects
// nested deeper than kJsonMaxDepth levels, and an object holding the same key twice (named with
// its path, e.g. "arms[1].lr").
json parse_json(const std::string& text, const std::string& where, std::size_t max_bytes = kJsonConfigBytes);
// The same for a stream, read to its end but never more than max_bytes + 1 bytes; a stream that
// fails while reading (e.g. a folder opened as a file) is "WHERE: cannot be read".
json parse_json(std::istream& in, const std::string& where, std::size_t max_bytes = kJsonConfigBytes);

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

// The text with every control character (below 0x20, and 0x7f) written as an escape: \n, \t, \r,
// else \xHH. Other bytes, UTF-8 included, are kept.
std::string escape_control(const std::string& text);

// Parse a command-line value: a number if the whole text is one, true/false, else the string.
json parse_scalar(const std::string& text);

}  // namespace adamgn
