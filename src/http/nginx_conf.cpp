#include "netwhy/nginx_conf.hpp"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <span>
#include <utility>

#include <fmt/format.h>

#include "netwhy/fd.hpp"
#include "netwhy/file.hpp"
#include "netwhy/inet.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

namespace {

// Debian's nginx (nginx -V): --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf.
constexpr std::string_view debian_prefix = "/usr/share/nginx/";
constexpr std::string_view debian_conf_path = "/etc/nginx/nginx.conf";

Error parse_error(std::string what) { return Error{ErrorKind::parse, 0, std::move(what)}; }

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string join_words(std::string_view name, const std::vector<std::string>& args) {
  std::string out(name);
  for (const std::string& a : args) {
    out += ' ';
    out += a;
  }
  return out;
}

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

// ---------------------------------------------------------------------------
// Addresses: ngx_parse_url().

// ngx_atoi() for a port: digits only, 1 to 65535.
std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty()) return std::nullopt;
  unsigned n = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<unsigned>(c - '0');
    if (n > 65535) return std::nullopt;
  }
  if (n < 1) return std::nullopt;
  return static_cast<std::uint16_t>(n);
}

struct Address {
  std::string host;  // IPv6 without brackets
  std::optional<std::uint16_t> port;
  bool no_port = false;  // none written (port is then the default, if any)
  std::optional<std::string> unix_path;
};

// host[:port], [v6][:port] or unix:PATH, with nothing after it; nullopt
// where nginx says "invalid host", "invalid port", "no host" or "no path".
std::optional<Address> parse_address(std::string_view text, std::optional<std::uint16_t> default_port) {
  Address a;
  if (starts_with_ascii_ci(text, "unix:")) {
    if (text.size() == 5) return std::nullopt;
    a.unix_path = std::string(text.substr(5));
    return a;
  }
  std::string_view port_text;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const auto ip = IpAddr::parse(text.substr(1, close - 1));
    if (!ip || ip->family != Family::inet6) return std::nullopt;
    a.host = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
      has_port = true;
    }
  } else {
    if (text.find_first_of("/?") != std::string_view::npos) return std::nullopt;  // a path: "invalid host"
    const std::size_t colon = text.find(':');
    a.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = text.substr(colon + 1);
      has_port = true;
    }
    if (a.host.empty()) return std::nullopt;
  }
  if (has_port) {
    a.port = parse_port(port_text);
    if (!a.port) return std::nullopt;
  } else {
    a.no_port = true;
    a.port = default_port;
  }
  return a;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// A variable at s[0] ('$') whose value always begins with '/': $request_uri,
// $uri, $document_uri, also as ${name}.
bool is_path_variable(std::string_view s) {
  for (const std::string_view name : {"request_uri", "uri", "document_uri"}) {
    if (s.substr(1, name.size()) == name && (s.size() == name.size() + 1 || !is_name_char(s[name.size() + 1]))) {
      return true;
    }
    if (s.substr(1, 1) == "{" && s.substr(2, name.size()) == name && s.substr(2 + name.size(), 1) == "}") return true;
  }
  return false;
}

// A *_pass target after its scheme, as ngx_parse_url() reads it. uri_part:
// proxy_pass's, where a path may follow ("http://unix:/s.sock:/api/",
// "http://127.0.0.1:9000/api/").
struct Target {
  Address address;
  bool variables = false;
  std::string as_written;  // the address part, when it holds a variable
};

std::optional<Target> parse_target(std::string_view url, std::optional<std::uint16_t> default_port, bool uri_part) {
  Target t;
  std::size_t end = url.size();
  if (uri_part) {
    if (starts_with_ascii_ci(url, "unix:")) {
      end = std::min(end, url.find(':', 5));
    } else if (!url.empty() && url.front() == '[') {
      end = std::min(end, url.find('/', url.find(']')));
    } else {
      end = std::min(end, url.find_first_of("/?"));
    }
  }
  // A variable in the address: nginx builds it per request.
  if (const std::size_t dollar = url.find('$'); dollar < end) {
    if (uri_part && is_path_variable(url.substr(dollar))) {
      end = dollar;
    } else {
      t.variables = true;
      t.as_written = std::string(url.substr(0, end));
      return t;
    }
  }
  auto address = parse_address(url.substr(0, end), default_port);
  if (!address) return std::nullopt;
  t.address = std::move(*address);
  return t;
}

// ---------------------------------------------------------------------------
// Server blocks and their upstreams.

struct ServerView {
  const NginxDirective* block = nullptr;
  bool default_server = false;     // "default_server" on a listen of the port
  std::vector<std::string> names;  // lowercased, regular expressions as written
};

// The port a listen directive's address gives (ngx_parse_url with listen
// set: "8080" is a port, "127.0.0.1" is port 80).
std::optional<std::uint16_t> listen_port(std::string_view arg) {
  if (starts_with_ascii_ci(arg, "unix:")) return std::nullopt;
  if (!arg.empty() && arg.front() != '[' && arg.find(':') == std::string_view::npos) {
    if (const auto port = parse_port(arg)) return port;
    if (!arg.empty() && arg.find_first_not_of("0123456789") == std::string_view::npos) return std::nullopt;
  }
  const auto a = parse_address(arg, std::uint16_t{80});
  if (!a) return std::nullopt;
  return a->port;
}

std::optional<ServerView> server_on_port(const NginxDirective& server, std::uint16_t port) {
  ServerView view;
  view.block = &server;
  bool has_listen = false;
  bool on_port = false;
  for (const NginxDirective& d : server.block) {
    if (d.name == "server_name") {
      for (const std::string& name : d.args) {
        view.names.push_back(!name.empty() && name.front() == '~' ? name : ascii_lower(name));
      }
    }
    if (d.name != "listen" || d.args.empty()) continue;
    has_listen = true;
    if (listen_port(d.args.front()) != port) continue;
    on_port = true;
    for (std::size_t i = 1; i < d.args.size(); ++i) {
      if (d.args[i] == "default_server" || d.args[i] == "default") view.default_server = true;
    }
  }
  if (!has_listen) on_port = port == 80;  // nginx's *:80
  if (!on_port) return std::nullopt;
  if (view.names.empty()) view.names.emplace_back();  // server_name "" is nginx's default
  return view;
}

bool is_regex(std::string_view name) { return !name.empty() && name.front() == '~'; }

bool is_plain(std::string_view name) {
  return !is_regex(name) && (name.empty() || (name.front() != '*' && name.front() != '.' && name.back() != '*'));
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// How long a "*.example.com" or ".example.com" match of host is; 0 if none.
std::size_t head_wildcard_match(std::string_view name, std::string_view host) {
  if (name.size() >= 2 && name.substr(0, 2) == "*.") {
    const std::string_view suffix = name.substr(1);
    return host.size() > suffix.size() && ends_with(host, suffix) ? suffix.size() : 0;
  }
  if (name.size() >= 2 && name.front() == '.') {
    if (host == name.substr(1)) return name.size();
    return host.size() > name.size() && ends_with(host, name) ? name.size() : 0;
  }
  return 0;
}

// How long a "www.example.*" match of host is; 0 if none.
std::size_t tail_wildcard_match(std::string_view name, std::string_view host) {
  if (name.size() < 3 || name.substr(name.size() - 2) != ".*" || is_regex(name)) return 0;
  const std::string_view prefix = name.substr(0, name.size() - 1);
  return host.size() > prefix.size() && host.substr(0, prefix.size()) == prefix ? prefix.size() : 0;
}

// ngx_http_find_virtual_server(), without regular expressions.
std::vector<const ServerView*> pick_servers(const std::vector<ServerView>& servers, std::string_view raw_host) {
  std::string host = ascii_lower(raw_host);
  if (!host.empty() && host.back() == '.') host.pop_back();
  for (const ServerView& s : servers) {
    for (const std::string& name : s.names) {
      if (is_plain(name) && name == host) return {&s};
    }
  }
  for (const auto match : {head_wildcard_match, tail_wildcard_match}) {
    const ServerView* best = nullptr;
    std::size_t best_len = 0;
    for (const ServerView& s : servers) {
      for (const std::string& name : s.names) {
        if (const std::size_t len = match(name, host); len > best_len) {
          best = &s;
          best_len = len;
        }
      }
    }
    if (best != nullptr) return {best};
  }
  const ServerView* chosen = &servers.front();
  for (const ServerView& s : servers) {
    if (s.default_server) {
      chosen = &s;
      break;
    }
  }
  std::vector<const ServerView*> out{chosen};
  for (const ServerView& s : servers) {
    if (&s != chosen && std::any_of(s.names.begin(), s.names.end(), [](const std::string& n) { return is_regex(n); })) {
      out.push_back(&s);
    }
  }
  return out;
}

// The "upstream NAME { ... }" blocks of http, by lowercased name; the first of a name.
using UpstreamBlocks = std::vector<std::pair<std::string, const NginxDirective*>>;

const NginxDirective* find_upstream(const UpstreamBlocks& blocks, std::string_view host) {
  const std::string name = ascii_lower(host);
  for (const auto& [n, d] : blocks) {
    if (n == name) return d;
  }
  return nullptr;
}

struct Scheme {
  std::string_view prefix;  // case does not matter
  std::string_view protocol;
  std::optional<std::uint16_t> default_port;
};

constexpr std::array http_schemes{Scheme{"http://", "http", 80}, Scheme{"https://", "https", 443}};
constexpr std::array grpc_schemes{Scheme{"grpc://", "grpc", std::nullopt}, Scheme{"grpcs://", "grpcs", std::nullopt}};
constexpr std::array uwsgi_schemes{Scheme{"uwsgi://", "uwsgi", std::nullopt},
                                   Scheme{"suwsgi://", "suwsgi", std::nullopt}};

// The directives that send a request on, and how each reads its target.
struct PassKind {
  std::string_view directive;
  std::string_view protocol;  // when no scheme is written
  std::span<const Scheme> schemes;
  bool scheme_required = false;  // proxy_pass: "invalid URL prefix" without one
  bool uri_part = false;         // a path may follow the address
};

constexpr std::array pass_kinds{
    PassKind{"proxy_pass", "http", http_schemes, true, true},
    PassKind{"fastcgi_pass", "fastcgi", {}, false, false},
    PassKind{"uwsgi_pass", "uwsgi", uwsgi_schemes, false, false},
    PassKind{"scgi_pass", "scgi", {}, false, false},
    PassKind{"grpc_pass", "grpc", grpc_schemes, false, false},
    PassKind{"memcached_pass", "memcached", {}, false, false},
};

void add_targets(const NginxDirective& d, const PassKind& kind, const std::string& location,
                 const UpstreamBlocks& blocks, std::vector<NginxUpstream>& out) {
  std::string_view url = d.args.front();
  std::string_view protocol = kind.protocol;
  std::optional<std::uint16_t> default_port;
  bool schemed = false;
  for (const Scheme& s : kind.schemes) {
    if (starts_with_ascii_ci(url, s.prefix)) {
      url.remove_prefix(s.prefix.size());
      protocol = s.protocol;
      default_port = s.default_port;
      schemed = true;
      break;
    }
  }
  if (kind.scheme_required && !schemed) return;
  const auto target = parse_target(url, default_port, kind.uri_part);
  if (!target) return;

  NginxUpstream base;
  base.protocol = std::string(protocol);
  base.directive_text = join_words(d.name, d.args);
  base.location = location;
  base.file = d.file;
  base.line = d.line;
  if (target->variables) {
    base.has_variables = true;
    base.host = target->as_written;
    out.push_back(std::move(base));
    return;
  }
  const Address& a = target->address;
  const NginxDirective* upstream = a.unix_path || !a.no_port ? nullptr : find_upstream(blocks, a.host);
  if (upstream == nullptr) {
    base.host = a.host;
    base.port = a.port;
    base.unix_path = a.unix_path;
    out.push_back(std::move(base));
    return;
  }
  // ngx_http_upstream_server(): the port defaults to 80, whatever the scheme.
  for (const NginxDirective& server : upstream->block) {
    if (server.name != "server" || server.has_block || server.args.empty()) continue;
    const auto sa = parse_address(server.args.front(), std::uint16_t{80});
    if (!sa) continue;
    NginxUpstream u = base;
    u.host = sa->host;
    u.port = sa->port;
    u.unix_path = sa->unix_path;
    u.upstream_block = upstream->args.front();
    u.server_text = join_words(server.name, server.args);
    u.server_file = server.file;
    u.server_line = server.line;
    for (std::size_t i = 1; i < server.args.size(); ++i) {
      if (server.args[i] == "down") u.down = true;
      if (server.args[i] == "backup") u.backup = true;
    }
    out.push_back(std::move(u));
  }
}

void collect(const std::vector<NginxDirective>& block, const std::string& location, const UpstreamBlocks& blocks,
             std::vector<NginxUpstream>& out) {
  for (const NginxDirective& d : block) {
    if (d.has_block) {
      collect(d.block, d.name == "location" ? join_words(d.name, d.args) : location, blocks, out);
      continue;
    }
    if (d.args.empty()) continue;
    for (const PassKind& kind : pass_kinds) {
      if (d.name == kind.directive) add_targets(d, kind, location, blocks, out);
    }
  }
}

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

std::vector<NginxUpstream> upstreams_for_port(const NginxConfig& config, std::uint16_t port,
                                              std::optional<std::string_view> host) {
  UpstreamBlocks blocks;
  std::vector<ServerView> servers;
  for (const NginxDirective& http : config.directives) {
    if (http.name != "http" || !http.has_block) continue;
    for (const NginxDirective& d : http.block) {
      if (!d.has_block) continue;
      if (d.name == "upstream" && !d.args.empty() && !find_upstream(blocks, d.args.front())) {
        blocks.emplace_back(ascii_lower(d.args.front()), &d);
      }
      if (d.name == "server") {
        if (auto view = server_on_port(d, port)) servers.push_back(std::move(*view));
      }
    }
  }
  std::vector<NginxUpstream> out;
  if (servers.empty()) return out;
  std::vector<const ServerView*> chosen;
  if (host) {
    chosen = pick_servers(servers, *host);
  } else {
    for (const ServerView& s : servers) chosen.push_back(&s);
  }
  for (const ServerView* s : chosen) collect(s->block->block, "", blocks, out);
  return out;
}

}  // namespace netwhy
