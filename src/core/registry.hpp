// The registries of the extension points (tasks, bases, diagonals, measures): an ordered list of
// entries, each with a unique `name`, that starts with the built-in ones and takes more before
// the command line is built (a test or an embedding program). One implementation of listing,
// adding and looking up, so that every extension point reports an unknown name the same way.
#pragma once

#include "core/types.hpp"

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace adamgn {

template <class Entry>
class Registry {
 public:
  // `kind` names an entry in messages ("task", "basis"); `builtin` lists the built-in entries,
  // called once, on first use.
  Registry(std::string kind, std::function<std::vector<Entry>()> builtin)
      : kind_(std::move(kind)), builtin_(std::move(builtin)) {}

  const std::vector<Entry>& entries() {
    if (!loaded_) {
      std::vector<Entry> added = std::move(entries_);
      entries_ = builtin_();
      loaded_ = true;
      for (Entry& e : added) add(std::move(e));
    }
    return entries_;
  }

  // logic_error when the name is taken (a programming mistake, not a user's).
  void add(Entry entry) {
    if (loaded_)
      for (const Entry& e : entries_)
        if (e.name == entry.name) throw std::logic_error("register " + kind_ + ": the name " + entry.name + " is taken");
    entries_.push_back(std::move(entry));
  }

  // Null when no entry has that name.
  const Entry* lookup(const std::string& name) {
    for (const Entry& e : entries())
      if (e.name == name) return &e;
    return nullptr;
  }

  // UsageError "WHERE = NAME is not a KIND (one of a, b, c)" when no entry has that name.
  const Entry& find(const std::string& name, const std::string& where) {
    if (const Entry* e = lookup(name)) return *e;
    throw UsageError(where + " = " + name + " is not a " + kind_ + " (one of " + names_text() + ")");
  }

  std::vector<std::string> names() {
    std::vector<std::string> out;
    for (const Entry& e : entries()) out.push_back(e.name);
    return out;
  }

  // "a, b, c"
  std::string names_text() {
    std::string out;
    for (const Entry& e : entries()) out += (out.empty() ? "" : ", ") + e.name;
    return out;
  }

 private:
  std::string kind_;
  std::function<std::vector<Entry>()> builtin_;
  std::vector<Entry> entries_;
  bool loaded_ = false;
};

}  // namespace adamgn
