// For unit tests that read files of the source tree (tests/data recordings,
// the man page, docs): where the tree is, and a file's whole text.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace unittest {

// NETWHY_SOURCE_DIR (meson sets it for the tests that read the tree), else
// the current directory or its parent: a test run by hand from the source
// tree or from a build directory inside it.
inline std::string source_dir() {
  if (const char* dir = std::getenv("NETWHY_SOURCE_DIR"); dir != nullptr && *dir != '\0') return dir;
  for (const char* guess : {".", ".."}) {
    if (std::filesystem::exists(std::string(guess) + "/tests/data")) return guess;
  }
  return ".";
}

// The whole file; a file that can't be read fails the test, saying how to point at the tree.
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) FAIL("cannot read " << path << " (set NETWHY_SOURCE_DIR to the source tree)");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace unittest
