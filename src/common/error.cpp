#include "netwhy/error.hpp"

#include <cstring>

namespace netwhy {

std::string Error::message() const {
  if (code == 0) return context;
  std::string text = context;
  if (!text.empty()) text += ": ";
  text += std::strerror(code);
  return text;
}

Error system_error(std::string context, int code) {
  return Error{ErrorKind::system, code, std::move(context)};
}

Error input_error(std::string what) { return Error{ErrorKind::input, 0, std::move(what)}; }

}  // namespace netwhy
