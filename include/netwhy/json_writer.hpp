// A streaming JSON writer for the large listings (links, addresses, 20,000
// routes): no document tree in memory, keys kept in the order written (ip -j's
// order), strings always valid UTF-8 whatever bytes came in.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace netwhy {

enum class JsonStyle { compact, pretty };

class JsonWriter {
 public:
  // Writes to out; when file is set, the buffer is flushed to it as it grows.
  explicit JsonWriter(JsonStyle style, std::FILE* file = nullptr);
  ~JsonWriter();
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  void key(std::string_view k);

  void value(std::string_view s);
  void value(const char* s) { value(std::string_view(s)); }
  void value(const std::string& s) { value(std::string_view(s)); }
  void value(bool b);
  void value(std::int64_t n);
  void value(std::uint64_t n);
  void value(int n) { value(static_cast<std::int64_t>(n)); }
  void value(unsigned n) { value(static_cast<std::uint64_t>(n)); }
  void null();

  template <class T>
  void field(std::string_view k, const T& v) {
    key(k);
    value(v);
  }
  void null_field(std::string_view k) {
    key(k);
    null();
  }

  // The text written so far and not yet flushed.
  [[nodiscard]] const std::string& text() const { return out_; }
  void flush();

 private:
  void before_value();
  void newline_indent();
  void maybe_flush();
  void string(std::string_view s);

  struct Level {
    bool array = false;
    bool empty = true;
  };
  JsonStyle style_;
  std::FILE* file_;
  std::string out_;
  std::vector<Level> stack_;
  bool after_key_ = false;
};

}  // namespace netwhy
