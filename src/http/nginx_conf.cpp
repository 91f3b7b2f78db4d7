#include "netwhy/nginx_conf.hpp"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include <fmt/format.h>

#include "netwhy/fd.hpp"
#include "netwhy/file.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

namespace {

// Debian's nginx (nginx -V): --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf.
constexpr std::string_view debian_prefix = "/usr/share/nginx/";
constexpr std::string_view debian_conf_path = "/etc/nginx/nginx.conf";

Error parse_error(std::string what) { return Error{ErrorKind::parse, 0, std::move(what)}; }

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// ---------------------------------------------------------------------------
// The grammar: ngx_conf_read_token() and ngx_conf_parse().

enum class TokenEnd { directive, block_start, block_end, file_end };

// A word's bytes as nginx hands them to the directive: \" \' \\ lose their
// backslash, \t \r \n become the control character, any other backslash
// stays.
std::string unescape(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  std::size_t i = 0;
  while (i < raw.size()) {
    if (raw[i] == '\\' && i + 1 < raw.size()) {
      const char next = raw[i + 1];
      if (next == '"' || next == '\'' || next == '\\') {
        out += next;
        i += 2;
        continue;
      }
      if (next == 't' || next == 'r' || next == 'n') {
        out += next == 't' ? '\t' : next == 'r' ? '\r' : '\n';
        i += 2;
        continue;
      }
    }
    out += raw[i++];
  }
  return out;
}

// ngx_conf_read_token() over a whole text: the same states, the same
// errors at the same lines.
class Tokenizer {
 public:
  Tokenizer(std::string_view text, std::string_view file) : text_(text), file_(file) {}

  // The words up to the next ';', '{' or '}', and what ended them. first_line
  // is where the first word began.
  Expected<TokenEnd> next(std::vector<std::string>& words, int& first_line) {
    words.clear();
    bool need_space = false;
    bool last_space = true;
    bool sharp_comment = false;
    bool variable = false;
    bool quoted = false;
    bool s_quoted = false;
    bool d_quoted = false;
    std::size_t start = pos_;
    int start_line = line_;

    for (;;) {
      if (pos_ >= text_.size()) {
        if (!words.empty() || !last_space) return error("unexpected end of file, expecting \";\" or \"}\"");
        return TokenEnd::file_end;
      }
      // nginx reads through a 4096-byte buffer: a word (or a comment) that
      // fills it is refused, at the line where it began.
      if (pos_ - start > nginx_max_parameter) {
        line_ = start_line;
        if (d_quoted || s_quoted) {
          return error(fmt::format("too long parameter, probably missing terminating \"{}\" character",
                                   d_quoted ? '"' : '\''));
        }
        return error(fmt::format("too long parameter \"{}...\" started", escape_text(text_.substr(start, 10))));
      }

      const char ch = text_[pos_++];
      if (ch == '\n') {
        ++line_;
        sharp_comment = false;
      }
      if (sharp_comment) continue;
      if (quoted) {
        quoted = false;
        continue;
      }

      if (need_space) {
        if (is_blank(ch)) {
          last_space = true;
          need_space = false;
          continue;
        }
        if (ch == ';') return TokenEnd::directive;
        if (ch == '{') return TokenEnd::block_start;
        if (ch != ')') return unexpected(ch);
        // "if ($a = "b")": the ')' is a word of its own
        last_space = true;
        need_space = false;
      }

      if (last_space) {
        start = pos_ - 1;
        start_line = line_;
        if (is_blank(ch)) continue;
        switch (ch) {
          case ';':
          case '{':
            if (words.empty()) return unexpected(ch);
            return ch == '{' ? TokenEnd::block_start : TokenEnd::directive;
          case '}':
            if (!words.empty()) return unexpected(ch);
            return TokenEnd::block_end;
          case '#':
            sharp_comment = true;
            continue;
          case '\\':
            quoted = true;
            last_space = false;
            continue;
          case '"':
            ++start;
            d_quoted = true;
            last_space = false;
            continue;
          case '\'':
            ++start;
            s_quoted = true;
            last_space = false;
            continue;
          case '$':
            variable = true;
            last_space = false;
            continue;
          default:
            last_space = false;
            continue;
        }
      }

      if (ch == '{' && variable) continue;  // "${name}"
      variable = false;
      if (ch == '\\') {
        quoted = true;
        continue;
      }
      if (ch == '$') {
        variable = true;
        continue;
      }
      bool found = false;
      if (d_quoted) {
        if (ch == '"') {
          d_quoted = false;
          need_space = true;
          found = true;
        }
      } else if (s_quoted) {
        if (ch == '\'') {
          s_quoted = false;
          need_space = true;
          found = true;
        }
      } else if (is_blank(ch) || ch == ';' || ch == '{') {
        last_space = true;
        found = true;
      }
      if (!found) continue;
      if (words.empty()) first_line = start_line;
      words.push_back(unescape(text_.substr(start, pos_ - 1 - start)));
      if (ch == ';') return TokenEnd::directive;
      if (ch == '{') return TokenEnd::block_start;
    }
  }

  // " in FILE:LINE", nginx's suffix, at the current line.
  [[nodiscard]] Error error(std::string_view what) const {
    return parse_error(fmt::format("{} in {}:{}", what, escape_text(file_), line_));
  }

 private:
  Error unexpected(char ch) const { return error(fmt::format("unexpected \"{}\"", escape_text({&ch, 1}))); }

  std::string_view text_;
  std::string_view file_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

class Parser {
 public:
  Parser(std::string_view text, std::string_view file, std::size_t& directives_left)
      : tokens_(text, file), file_(file), directives_left_(directives_left) {}

  // The directives up to the end of the text (in_block false) or up to the
  // '}' that closes the block (in_block true). depth: blocks around them.
  Expected<void> parse(std::vector<NginxDirective>& out, int depth, bool in_block) {
    std::vector<std::string> words;
    int first_line = 0;
    for (;;) {
      const auto end = tokens_.next(words, first_line);
      if (!end) return end.error();
      switch (*end) {
        case TokenEnd::block_end:
          if (!in_block) return tokens_.error("unexpected \"}\"");
          return {};
        case TokenEnd::file_end:
          if (in_block) return tokens_.error("unexpected end of file, expecting \"}\"");
          return {};
        case TokenEnd::directive:
        case TokenEnd::block_start:
          break;
      }
      if (directives_left_ == 0) return tokens_.error(fmt::format("more than {} directives", nginx_max_directives));
      --directives_left_;
      NginxDirective d;
      d.name = std::move(words.front());
      d.args.assign(std::make_move_iterator(words.begin() + 1), std::make_move_iterator(words.end()));
      d.file = std::string(file_);
      d.line = first_line;
      if (*end == TokenEnd::block_start) {
        if (depth >= nginx_max_depth) {
          return tokens_.error(fmt::format("blocks nested more than {} deep", nginx_max_depth));
        }
        d.has_block = true;
        if (auto r = parse(d.block, depth + 1, true); !r) return r.error();
      }
      out.push_back(std::move(d));
    }
  }

 private:
  Tokenizer tokens_;
  std::string_view file_;
  std::size_t& directives_left_;
};

Expected<std::vector<NginxDirective>> parse_text(std::string_view text, std::string_view file, int depth,
                                                 std::size_t& directives_left) {
  std::vector<NginxDirective> out;
  Parser parser(text, file, directives_left);
  if (auto r = parser.parse(out, depth, false); !r) return r.error();
  return out;
}

// ---------------------------------------------------------------------------
// Reading: the main file and its includes.

struct Glob {
  glob_t g{};
  int rc = 0;
  explicit Glob(const char* pattern) : rc(::glob(pattern, GLOB_NOSORT, nullptr, &g)) {}
  ~Glob() { ::globfree(&g); }
  Glob(const Glob&) = delete;
  Glob& operator=(const Glob&) = delete;
};

struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};

class Reader {
 public:
  // ngx_process_options(): conf_prefix is the main file's directory.
  explicit Reader(const std::string& main_file)
      : conf_prefix_(main_file.substr(0, main_file.rfind('/') == std::string::npos ? 0 : main_file.rfind('/') + 1)) {}

  Expected<NginxConfig> read(const std::string& main_file) {
    auto main = load(main_file, 0);
    if (!main) return main.error();
    config_.directives = std::move(*main);
    expand(config_.directives, 0);
    stack_.clear();
    return std::move(config_);
  }

 private:
  // One file read and parsed; its identity stays on the stack until its
  // includes are expanded (expand() pops it).
  Expected<std::vector<NginxDirective>> load(const std::string& path, int depth) {
    const std::string shown = escape_text(path);
    if (path.find('\0') != std::string::npos) return input_error(fmt::format("{}: a NUL byte in the path", shown));
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd.valid()) return system_error(fmt::format("open {}", shown));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return system_error(fmt::format("stat {}", shown));
    if (S_ISDIR(st.st_mode)) return input_error(fmt::format("{}: is a directory", shown));
    if (!S_ISREG(st.st_mode)) return input_error(fmt::format("{}: not a regular file", shown));
    const FileId id{st.st_dev, st.st_ino};
    if (std::find(stack_.begin(), stack_.end(), id) != stack_.end()) {
      return input_error(fmt::format("{}: an include loop: the file includes itself", shown));
    }
    auto text = read_fd(fd.get(), shown, nginx_max_file_bytes);
    if (!text) return text.error();
    if (total_bytes_ + text->size() > nginx_max_total_bytes) {
      stopped_ = true;
      return input_error(fmt::format("{}: past {} MiB in all files: not read, nor what follows", shown,
                                     nginx_max_total_bytes >> 20));
    }
    total_bytes_ += text->size();
    config_.files.push_back(path);
    auto parsed = parse_text(*text, path, depth, directives_left_);
    if (!parsed) {
      if (directives_left_ == 0) stopped_ = true;
      return parsed.error();
    }
    stack_.push_back(id);
    return parsed;
  }

  // The include directive's argument as nginx resolves it: the files, in order.
  std::vector<std::string> resolve(const NginxDirective& d) {
    std::string pattern = d.args.front();
    if (pattern.empty() || pattern.front() != '/') pattern = conf_prefix_ + pattern;
    if (pattern.find_first_of("*?[") == std::string::npos) return {pattern};
    if (pattern.find('\0') != std::string::npos) {
      note(d, "a NUL byte in the pattern");
      return {};
    }
    const Glob g(pattern.c_str());
    if (g.rc == GLOB_NOMATCH) return {};
    if (g.rc != 0) {
      note(d, "glob failed");
      return {};
    }
    std::vector<std::string> paths(g.g.gl_pathv, g.g.gl_pathv + g.g.gl_pathc);
    std::sort(paths.begin(), paths.end());  // the C locale's order: bytes
    return paths;
  }

  void note(const NginxDirective& include, std::string_view what) {
    config_.notes.push_back(fmt::format("{}:{}: include {}: {}", escape_text(include.file), include.line,
                                        escape_text(include.args.front()), what));
  }

  // Replaces each include in `list` (directives at `depth`) with what it
  // reads, recursively, in nginx's reading order; then pops the file whose
  // directives these are.
  void expand(std::vector<NginxDirective>& list, int depth) {
    expand_list(list, depth);
    if (!stack_.empty()) stack_.pop_back();
  }

  void expand_list(std::vector<NginxDirective>& list, int depth) {
    std::vector<NginxDirective> out;
    out.reserve(list.size());
    for (NginxDirective& d : list) {
      if (d.name != "include" || d.has_block || d.args.size() != 1) {
        if (d.has_block) expand_list(d.block, depth + 1);
        out.push_back(std::move(d));
        continue;
      }
      if (stopped_) continue;
      for (const std::string& path : resolve(d)) {
        if (stopped_) break;
        if (config_.files.size() >= nginx_max_files) {
          stopped_ = true;
          note(d, fmt::format("{}: past {} files: not read, nor what follows", escape_text(path), nginx_max_files));
          break;
        }
        auto included = load(path, depth);
        if (!included) {
          note(d, included.error().message());
          continue;
        }
        expand(*included, depth);
        std::move(included->begin(), included->end(), std::back_inserter(out));
      }
    }
    list = std::move(out);
  }

  std::string conf_prefix_;
  NginxConfig config_;
  std::vector<FileId> stack_;
  std::size_t total_bytes_ = 0;
  std::size_t directives_left_ = nginx_max_directives;
  bool stopped_ = false;
};

}  // namespace

Expected<std::vector<NginxDirective>> parse_nginx_config(std::string_view text, std::string_view file_name) {
  std::size_t directives_left = nginx_max_directives;
  return parse_text(text, file_name, 0, directives_left);
}

Expected<NginxConfig> read_nginx_config(const std::string& main_file) {
  Reader reader(main_file);
  return reader.read(main_file);
}

NginxLocation nginx_conf_from_cmdline(std::string_view cmdline) {
  const auto words = split_fields(cmdline);
  std::size_t i = 0;
  if (!words.empty() && words.front() == "nginx:") {
    // "nginx: master process ARGV..."; a worker's, the cache manager's: nothing
    i = words.size() >= 3 && words[1] == "master" && words[2] == "process" ? 3 : words.size();
  }
  ++i;  // argv[0]
  std::optional<std::string_view> conf;
  std::optional<std::string_view> prefix;
  for (; i < words.size(); ++i) {
    const std::string_view w = words[i];
    if (w.size() < 2 || w.front() != '-') continue;  // not an option: the rest of a -g value
    for (std::size_t k = 1; k < w.size(); ++k) {
      const char opt = w[k];
      if (opt != 'c' && opt != 'p' && opt != 'g' && opt != 'e' && opt != 's') continue;  // -t, -q, -T...
      std::string_view value = w.substr(k + 1);
      if (value.empty() && i + 1 < words.size()) value = words[++i];
      if (!value.empty() && opt == 'c') conf = value;
      if (!value.empty() && opt == 'p') prefix = value;
      break;
    }
  }
  NginxLocation loc;
  loc.prefix = prefix ? std::string(*prefix) : std::string(debian_prefix);
  if (loc.prefix.back() != '/') loc.prefix += '/';
  loc.main_file = conf ? std::string(*conf) : std::string(debian_conf_path);
  if (loc.main_file.front() != '/') loc.main_file = loc.prefix + loc.main_file;
  return loc;
}

}  // namespace netwhy
