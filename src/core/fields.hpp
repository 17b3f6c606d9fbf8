// Field tables (docs/extending.md): each key of a configuration object that an extension point
// reads (a task's "task" object today) is one Field, which says how the key is read and checked,
// its default, and how it is offered as a command-line flag and documented. The table is the one
// place a default or a range is written: the flags, their help text, the README's tables, the
// strict JSON reading and its range errors all come from it.
#pragma once

#include "core/reader.hpp"

#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace adamgn {

enum class FieldType { integer, seed, number, text, boolean, numbers };

struct Field {
  Field(std::string key_, FieldType type_, std::string help_)
      : key(std::move(key_)), type(type_), help(std::move(help_)) {}

  std::string key;   // the JSON key; its flag is --key with '_' written '-'
  FieldType type;
  std::string help;  // one line, without the default
  // The default. Null when the task derives it from other keys; `derived_default` then says how,
  // for the help text and the README.
  json default_value = nullptr;
  std::string derived_default;
  // Range of an integer or number, each end closed unless marked open, and the values a text may
  // take (empty: any).
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false, max_open = false;
  std::string range_note;  // appended to the range error (why the range is what it is)
  std::vector<std::string> choices;
  // A boolean given by its bare flag (--rotate) rather than --key true|false.
  bool switch_flag = false;
  std::string value_label;  // the value as the flag's help shows it, when not the type's ("DIR")

  // Builders, so that a table reads as one line per key.
  Field& defaults(json value) { default_value = std::move(value); return *this; }
  Field& derives(std::string how) { derived_default = std::move(how); return *this; }
  Field& at_least(double low) { min = low; return *this; }
  Field& above(double low) { min = low; min_open = true; return *this; }
  Field& below(double high) { max = high; max_open = true; return *this; }
  Field& within(double low, double high) { min = low; max = high; return *this; }
  Field& strictly_within(double low, double high) { min = low; max = high; min_open = max_open = true; return *this; }
  Field& because(std::string note) { range_note = std::move(note); return *this; }
  Field& one_of(std::vector<std::string> values) { choices = std::move(values); return *this; }
  Field& as_switch() { switch_flag = true; return *this; }
  Field& shown_as(std::string label) { value_label = std::move(label); return *this; }

  // A value as the flag's help shows it: "N", "X", "A,B,...", "a|b|c".
  std::string value_name() const;
  // "(default 1.8)", "(default: block 100, half/one 5)" or "" when there is neither.
  std::string default_text() const;
};

// UsageError "WHERE = SHOWN must be in [a, b) NOTE" unless `value` lies in f's range (NaN never
// does); no check for a field without a range.
void check_range(const Field& f, double value, const std::string& where, const std::string& shown);

// "--key" for "key" (underscores as hyphens).
std::string flag_of(const std::string& key);

// Reads one object's keys through its field table: a key that is present is read strictly
// (ObjectReader) and checked against its range or choices, with the error "PATH = VALUE must be
// ..."; a key that is absent takes the table's default. Keys outside the table are refused by
// finish(), as ObjectReader does.
class FieldReader {
 public:
  FieldReader(ObjectReader& reader, const std::vector<Field>& fields);

  bool given(const std::string& key) const;
  Index integer(const std::string& key);
  std::uint64_t seed(const std::string& key);
  double number(const std::string& key);
  std::string text(const std::string& key);
  bool boolean(const std::string& key);
  std::vector<double> numbers(const std::string& key);
  std::string path_of(const std::string& key) const { return reader_.path_of(key.c_str()); }
  void finish() const { reader_.finish(); }

 private:
  const Field& field(const std::string& key, FieldType type) const;
  // The table's default for an absent key (logic_error when the field's default is derived).
  const json& fallback(const Field& f) const;

  ObjectReader& reader_;
  const std::vector<Field>& fields_;
};

}  // namespace adamgn
