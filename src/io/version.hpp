// Program version and the git commit it was built from ("unknown" outside a git checkout).
#pragma once

#include <string>

namespace adamgn {
std::string version_string();
std::string git_commit();
}  // namespace adamgn
