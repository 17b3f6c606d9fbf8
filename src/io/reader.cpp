#include "io/reader.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace adamgn {
namespace {

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

std::string show(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

std::string show_number(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
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
