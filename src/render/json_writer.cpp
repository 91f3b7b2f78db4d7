#include "netwhy/json_writer.hpp"

#include <fmt/format.h>

#include "netwhy/text.hpp"

namespace netwhy {

JsonWriter::JsonWriter(JsonStyle style, std::FILE* file) : style_(style), file_(file) {
  out_.reserve(file != nullptr ? 1U << 16 : 256);
}

JsonWriter::~JsonWriter() { flush(); }

void JsonWriter::flush() {
  if (file_ != nullptr && !out_.empty()) {
    std::fwrite(out_.data(), 1, out_.size(), file_);
    out_.clear();
  }
}

void JsonWriter::maybe_flush() {
  if (file_ != nullptr && out_.size() >= (1U << 16)) flush();
}

void JsonWriter::newline_indent() {
  out_ += '\n';
  out_.append(stack_.size() * 4, ' ');
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (stack_.empty()) return;
  Level& top = stack_.back();
  if (!top.empty) out_ += ',';
  top.empty = false;
  if (style_ == JsonStyle::pretty) newline_indent();
}

void JsonWriter::begin_object() {
  before_value();
  out_ += '{';
  stack_.push_back(Level{false, true});
}

void JsonWriter::end_object() {
  const bool empty = stack_.back().empty;
  stack_.pop_back();
  if (style_ == JsonStyle::pretty && !empty) newline_indent();
  out_ += '}';
  if (stack_.empty()) out_ += '\n';  // a document ends its line
  maybe_flush();
}

void JsonWriter::begin_array() {
  before_value();
  out_ += '[';
  stack_.push_back(Level{true, true});
}

void JsonWriter::end_array() {
  const bool empty = stack_.back().empty;
  stack_.pop_back();
  if (style_ == JsonStyle::pretty && !empty) newline_indent();
  out_ += ']';
  if (stack_.empty()) out_ += '\n';  // a document ends its line
  maybe_flush();
}

void JsonWriter::key(std::string_view k) {
  before_value();
  string(k);
  out_ += style_ == JsonStyle::pretty ? ": " : ":";
  after_key_ = true;
}

void JsonWriter::value(std::string_view s) {
  before_value();
  string(s);
}

void JsonWriter::value(bool b) {
  before_value();
  out_ += b ? "true" : "false";
}

void JsonWriter::value(std::int64_t n) {
  before_value();
  fmt::format_to(std::back_inserter(out_), "{}", n);
}

void JsonWriter::value(std::uint64_t n) {
  before_value();
  fmt::format_to(std::back_inserter(out_), "{}", n);
}

void JsonWriter::null() {
  before_value();
  out_ += "null";
}

void JsonWriter::string(std::string_view s) {
  out_ += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t len = utf8_sequence_length(s, i);
      if (len == 0) {
        out_ += "\xEF\xBF\xBD";
        ++i;
      } else {
        out_.append(s.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\n': out_ += "\\n"; break;
      case '\t': out_ += "\\t"; break;
      case '\r': out_ += "\\r"; break;
      case '\b': out_ += "\\b"; break;
      case '\f': out_ += "\\f"; break;
      default:
        if (c < 0x20) {
          fmt::format_to(std::back_inserter(out_), "\\u{:04x}", c);
        } else {
          out_ += static_cast<char>(c);
        }
    }
    ++i;
  }
  out_ += '"';
}

}  // namespace netwhy
