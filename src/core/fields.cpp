#include "core/fields.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace adamgn {
namespace {

// "a, b or c"
std::string alternatives(const std::vector<std::string>& choices) {
  std::string out;
  for (std::size_t i = 0; i < choices.size(); ++i) out += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  return out;
}

// A number as a table shows it: 1.8, 2, 1e6 (show_number's form without the exponent's '+' and
// leading zeros).
std::string compact(double x) {
  std::string s = show_number(x);
  const auto e = s.find('e');
  if (e == std::string::npos) return s;
  std::string exponent = s.substr(e + 1);
  const bool negative = !exponent.empty() && exponent[0] == '-';
  if (!exponent.empty() && (exponent[0] == '+' || exponent[0] == '-')) exponent.erase(0, 1);
  exponent.erase(0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
  return s.substr(0, e) + "e" + (negative ? "-" : "") + exponent;
}

}  // namespace

std::string flag_of(const std::string& key) {
  std::string flag = "--" + key;
  for (char& ch : flag)
    if (ch == '_') ch = '-';
  return flag;
}

std::string Field::value_name() const {
  if (!value_label.empty()) return value_label;
  switch (type) {
    case FieldType::integer: return "N";
    case FieldType::seed: return "S";
    case FieldType::number: return "X";
    case FieldType::numbers: return "A,B,...";
    case FieldType::boolean: return "true|false";
    case FieldType::text: break;
  }
  if (choices.empty()) return "TEXT";
  std::string out;
  for (const auto& c : choices) out += (out.empty() ? "" : "|") + c;
  return out;
}

std::string Field::default_text() const {
  const json& d = default_value;
  if (!derived_default.empty()) return "(default: " + derived_default + ")";
  if (d.is_null()) return "";
  if (d.is_string()) return d.get<std::string>().empty() ? "" : "(default " + d.get<std::string>() + ")";
  if (d.is_boolean()) return switch_flag ? "" : std::string("(default ") + (d.get<bool>() ? "true" : "false") + ")";
  if (d.is_array()) return d.empty() ? "" : "(default " + show(d) + ")";
  return "(default " + (d.is_number() ? compact(d.get<double>()) : show(d)) + ")";
}

void check_range(const Field& f, double value, const std::string& where, const std::string& shown) {
  const bool low = std::isfinite(f.min), high = std::isfinite(f.max);
  const bool ok = (!low || (f.min_open ? value > f.min : value >= f.min)) && (!high || (f.max_open ? value < f.max : value <= f.max));
  if (ok && !std::isnan(value)) return;
  std::string range;
  if (low && high)
    range = std::string("in ") + (f.min_open ? "(" : "[") + compact(f.min) + ", " + compact(f.max) + (f.max_open ? ")" : "]");
  else if (low)
    range = (f.min_open ? "> " : ">= ") + compact(f.min);
  else if (high)
    range = (f.max_open ? "< " : "<= ") + compact(f.max);
  else
    range = "a number";
  throw UsageError(where + " = " + shown + " must be " + range + (f.range_note.empty() ? "" : " " + f.range_note));
}

FieldReader::FieldReader(ObjectReader& reader, const std::vector<Field>& fields) : reader_(reader), fields_(fields) {}

bool FieldReader::given(const std::string& key) const { return reader_.has(key.c_str()); }

const Field& FieldReader::field(const std::string& key, FieldType type) const {
  for (const Field& f : fields_)
    if (f.key == key) {
      if (f.type != type) throw std::logic_error("field " + key + " read as another type");
      return f;
    }
  throw std::logic_error("field " + key + " is not in the table");
}

const json& FieldReader::fallback(const Field& f) const {
  if (f.default_value.is_null()) throw std::logic_error("field " + f.key + " has a derived default: check given() first");
  return f.default_value;
}

Index FieldReader::integer(const std::string& key) {
  const Field& f = field(key, FieldType::integer);
  if (!given(key)) return fallback(f).get<Index>();
  Index v = 0;
  reader_.read(key.c_str(), v);
  check_range(f, static_cast<double>(v), path_of(key), std::to_string(v));
  return v;
}

std::uint64_t FieldReader::seed(const std::string& key) {
  const Field& f = field(key, FieldType::seed);
  if (!given(key)) return fallback(f).get<std::uint64_t>();
  std::uint64_t v = 0;
  reader_.read(key.c_str(), v);
  return v;
}

double FieldReader::number(const std::string& key) {
  const Field& f = field(key, FieldType::number);
  if (!given(key)) return fallback(f).get<double>();
  double v = 0.0;
  reader_.read(key.c_str(), v);
  check_range(f, v, path_of(key), show_number(v));
  return v;
}

std::string FieldReader::text(const std::string& key) {
  const Field& f = field(key, FieldType::text);
  if (!given(key)) return fallback(f).get<std::string>();
  std::string v;
  reader_.read(key.c_str(), v);
  if (!f.choices.empty()) {
    bool known = false;
    for (const auto& c : f.choices) known = known || c == v;
    if (!known) throw UsageError(path_of(key) + " = " + v + " must be " + alternatives(f.choices));
  }
  return v;
}

bool FieldReader::boolean(const std::string& key) {
  const Field& f = field(key, FieldType::boolean);
  if (!given(key)) return fallback(f).get<bool>();
  bool v = false;
  reader_.read(key.c_str(), v);
  return v;
}

std::vector<double> FieldReader::numbers(const std::string& key) {
  const Field& f = field(key, FieldType::numbers);
  if (!given(key)) return fallback(f).get<std::vector<double>>();
  std::vector<double> v;
  reader_.read(key.c_str(), v);
  return v;
}

}  // namespace adamgn
