#include "netwhy/findings.hpp"

namespace netwhy {

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::error: return "error";
    case Severity::warning: return "warning";
    case Severity::info: return "info";
  }
  return "info";
}

std::optional<Code> code_from_string(std::string_view name) {
  for (const CodeInfo& c : code_table) {
    if (c.name == name) return c.code;
  }
  return std::nullopt;
}

}  // namespace netwhy
