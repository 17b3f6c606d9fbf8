#include "core/reader.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <utility>

namespace adamgn {
namespace {

// Builds the document from nlohmann's SAX events, refusing what parse_json refuses as soon as it
// is seen, so a document too deep is never built. Every event fills the innermost open
// container; ancestors of that container are not modified while it is open, so the pointers kept
// to them stay valid.
class StrictBuilder final : public nlohmann::json_sax<json> {
 public:
  explicit StrictBuilder(json& root) : root_(root) {}
  const std::string& error() const { return error_; }

  bool null() override { return add(json(nullptr)); }
  bool boolean(bool v) override { return add(json(v)); }
  bool number_integer(number_integer_t v) override { return add(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return add(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return add(json(v)); }
  bool string(string_t& v) override { return add(json(std::move(v))); }
  bool binary(binary_t& v) override { return add(json::binary(std::move(v))); }
  bool start_object(std::size_t) override { return open(json::object()); }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool key(string_t& k) override {
    if (open_.back()->contains(k)) {
      error_ = "duplicate key '" + member_path(k) + "'";
      return false;
    }
    key_ = std::move(k);
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    const std::string what = e.what();
    const auto at = what.find("parse error");
    error_ = at == std::string::npos ? what : what.substr(at);
    for (char& c : error_)
      if (c == '\n' || c == '\r') c = ' ';
    return false;
  }

 private:
  std::string member_path(const std::string& k) const { return paths_.back().empty() ? k : paths_.back() + "." + k; }

  // The path of the value the next event adds ("" for the document itself).
  std::string next_path() const {
    if (open_.empty()) return "";
    if (open_.back()->is_array()) return paths_.back() + "[" + std::to_string(open_.back()->size()) + "]";
    return member_path(key_);
  }

  json* place(json&& v) {
    if (open_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(v);
    return &slot;
  }

  bool add(json&& v) {
    place(std::move(v));
    return true;
  }

  bool open(json&& container) {
    if (open_.size() >= kJsonMaxDepth) {
      error_ = "nested deeper than " + std::to_string(kJsonMaxDepth) + " levels";
      return false;
    }
    std::string path = next_path();
    open_.push_back(place(std::move(container)));
    paths_.push_back(std::move(path));
    return true;
  }

  bool close() {
    open_.pop_back();
    paths_.pop_back();
    return true;
  }

  json& root_;
  std::vector<json*> open_;         // the containers not closed yet, outermost first
  std::vector<std::string> paths_;  // their paths
  std::string key_;                 // the key of the next member of the innermost object
  std::string error_;
};

UsageError too_large(const std::string& where, std::size_t max_bytes) {
  return UsageError(where + ": invalid JSON (larger than the limit of " + std::to_string(max_bytes) + " bytes)");
}

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

bool number_of(const json& v, double& out) {
  if (v.is_number()) {
    out = v.get<double>();
    return true;
  }
  if (v.is_string()) return parse_double(v.get<std::string>(), out);
  return false;
}

}  // namespace

json parse_json(const std::string& text, const std::string& where, std::size_t max_bytes) {
  if (text.size() > max_bytes) throw too_large(where, max_bytes);
  json doc;
  StrictBuilder builder(doc);
  if (!json::sax_parse(text, &builder)) throw UsageError(where + ": invalid JSON (" + builder.error() + ")");
  return doc;
}

json parse_json(std::istream& in, const std::string& where, std::size_t max_bytes) {
  std::string text;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes) throw too_large(where, max_bytes);
  }
  if (in.bad()) throw UsageError(where + ": cannot be read");
  return parse_json(text, where, max_bytes);
}

std::string show(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

std::string show_number(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

std::string escape_control(const std::string& text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out += c;
    } else if (c == '\n' || c == '\t' || c == '\r') {
      out += c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r";
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(u));
      out += hex;
    }
  }
  return out;
}

json parse_scalar(const std::string& text) {
  double d;
  if (parse_double(text, d) && std::isfinite(d)) {
    if (d == std::floor(d) && std::fabs(d) < 9e15 && text.find_first_of(".eE") == std::string::npos)
      return json(static_cast<std::int64_t>(d));
    return json(d);
  }
  if (text == "true") return json(true);
  if (text == "false") return json(false);
  return json(text);
}

ObjectReader::ObjectReader(const json& object, std::string path)
    : object_(object), path_(std::move(path)) {
  if (!object_.is_object())
    throw UsageError("'" + path_ + "' must be a JSON object, got " + show(object_));
}

std::string ObjectReader::path_of(const char* key) const {
  return path_.empty() ? std::string(key) : path_ + "." + key;
}

bool ObjectReader::has(const char* key) const { return object_.contains(key); }

const json& ObjectReader::raw(const char* key) {
  used_.insert(key);
  return object_.at(key);
}

void ObjectReader::read(const char* key, double& out) {
  if (!has(key)) return;
  const json& v = raw(key);
  if (!number_of(v, out) || !std::isfinite(out))
    throw UsageError(path_of(key) + " = " + show(v) + " is not a finite number");
}

void ObjectReader::read(const char* key, Index& out) {
  if (!has(key)) return;
  const json& v = raw(key);
  double d;
  if (!number_of(v, d) || d != std::floor(d) || std::fabs(d) > 9e15)
    throw UsageError(path_of(key) + " = " + show(v) + " is not an integer");
  out = static_cast<Index>(d);
}

void ObjectReader::read(const char* key, std::uint64_t& out) {
  Index i = 0;
  if (!has(key)) return;
  read(key, i);
  if (i < 0) throw UsageError(path_of(key) + " = " + show(object_.at(key)) + " must be >= 0");
  out = static_cast<std::uint64_t>(i);
}

void ObjectReader::read(const char* key, bool& out) {
  if (!has(key)) return;
  const json& v = raw(key);
  if (v.is_boolean()) {
    out = v.get<bool>();
  } else if (v.is_string() && (v == "true" || v == "false")) {
    out = v == "true";
  } else {
    throw UsageError(path_of(key) + " = " + show(v) + " is not true or false");
  }
}

void ObjectReader::read(const char* key, std::string& out) {
  if (!has(key)) return;
  const json& v = raw(key);
  if (v.is_string()) {
    out = v.get<std::string>();
  } else if (v.is_number()) {
    out = v.dump();
  } else {
    throw UsageError(path_of(key) + " = " + show(v) + " is not a string");
  }
}

void ObjectReader::read(const char* key, std::vector<double>& out) {
  if (!has(key)) return;
  const json& v = raw(key);
  std::vector<double> values;
  auto fail = [&] { throw UsageError(path_of(key) + " = " + show(v) + " is not a list of numbers"); };
  if (v.is_array()) {
    for (const auto& e : v) {
      double d;
      if (!number_of(e, d) || !std::isfinite(d)) fail();
      values.push_back(d);
    }
  } else if (v.is_string() || v.is_number()) {
    std::stringstream ss(show(v));
    std::string item;
    while (std::getline(ss, item, ',')) {
      double d;
      if (!parse_double(item, d) || !std::isfinite(d)) fail();
      values.push_back(d);
    }
  } else {
    fail();
  }
  out = std::move(values);
}

void ObjectReader::finish() const {
  for (auto it = object_.begin(); it != object_.end(); ++it)
    if (!used_.count(it.key())) throw UsageError("unknown key '" + path_of(it.key().c_str()) + "'");
}

}  // namespace adamgn
