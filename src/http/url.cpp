#include "netwhy/url.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include <fmt/format.h>

#include "netwhy/inet.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

namespace {

constexpr std::size_t max_url = 8192;  // curl's own limit is 8 MB; a request line this long is a mistake

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// curl's urlapi: a host name holds none of these (hostname_check()).
bool bad_host_char(char c) {
  return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || std::string_view(" \r\n\t/:#?!@{}[]\\$'\"^`*<>=;,+&()%").find(c) != std::string_view::npos;
}

// An IPv4 address in any of inet_aton's forms ("127.1", "0x7f.0.0.1",
// "2130706433"), as curl's ipv4_normalize() takes it; nullopt for a name.
std::optional<std::string> ipv4_normalised(std::string_view host) {
  if (host.empty() || host.size() > 40) return std::nullopt;
  for (char c : host) {
    if (!(is_digit(c) || c == '.' || c == 'x' || c == 'X' || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return std::nullopt;
    }
  }
  if (!is_digit(host.front())) return std::nullopt;  // "deadbeef" is a name
  in_addr a{};
  const std::string z(host);
  if (::inet_aton(z.c_str(), &a) == 0) return std::nullopt;
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return std::string(buf);
}

}  // namespace

std::string Url::url_host() const { return host.find(':') != std::string::npos ? "[" + host + "]" : host; }

std::string Url::host_header() const {
  return port == default_port() ? url_host() : fmt::format("{}:{}", url_host(), port);
}

std::string Url::authority() const { return fmt::format("{}:{}", url_host(), port); }

std::string Url::to_string() const { return fmt::format("{}://{}{}", scheme, host_header(), target); }

Url Url::with_scheme(std::string_view s) const {
  Url u = *this;
  const bool was_default = port == default_port();
  u.scheme = std::string(s);
  if (was_default) {
    u.port = u.default_port();
    u.port_given = false;
  }
  return u;
}

Expected<Url> parse_url(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return input_error(fmt::format("bad URL \"{}\": {}", escape_arg(text), why));
  };
  if (text.empty()) return input_error("empty URL");
  if (text.size() > max_url) return bad(fmt::format("longer than {} bytes", max_url));
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("it holds a blank or a control character");
  }
  Url u;
  std::string_view rest = text;
  if (const auto sep = rest.find("://"); sep != std::string_view::npos) {
    const std::string_view scheme = rest.substr(0, sep);
    const bool is_scheme = !scheme.empty() && is_alpha(scheme.front()) &&
                           std::all_of(scheme.begin(), scheme.end(), [](char c) {
                             return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
                           });
    if (is_scheme) {
      u.scheme = ascii_lower(scheme);
      if (u.scheme != "http" && u.scheme != "https") {
        return input_error(fmt::format("unsupported scheme \"{}\" in \"{}\" (netwhy url takes http and https)",
                                       escape_arg(scheme), escape_arg(text)));
      }
      rest.remove_prefix(sep + 3);
    }
  }
  // authority ends at the first '/', '?' or '#'
  const auto end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    // not quoted: the password stays off the screen
    return input_error("bad URL: it holds user:password@, and netwhy does not send credentials (give the URL without them)");
  }
  std::string_view port_text;
  std::string host;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("an IPv6 address without its closing ']'");
    const std::string_view literal = authority.substr(1, close - 1);
    if (literal.find('%') != std::string_view::npos) return bad("an IPv6 zone (%) is not supported");
    const auto addr = IpAddr::parse(literal);
    if (!addr || addr->family != Family::inet6) return bad("not an IPv6 address in brackets");
    host = addr->to_string();
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after ']'");
      port_text = after.substr(1);
      u.port_given = true;
    }
  } else {
    const auto colon = authority.rfind(':');
    std::string_view name = authority;
    if (colon != std::string_view::npos) {
      name = authority.substr(0, colon);
      port_text = authority.substr(colon + 1);
      u.port_given = true;
    }
    if (name.empty()) return bad("no host");
    if (name.size() > 253) return bad("the host name is longer than 253 bytes");
    if (std::any_of(name.begin(), name.end(), bad_host_char)) return bad("a character a host name can't hold");
    host = ipv4_normalised(name).value_or(std::string(name));
  }
  if (host.empty()) return bad("no host");
  u.host = std::move(host);
  u.port = u.default_port();
  if (u.port_given && !port_text.empty()) {
    unsigned value = 0;
    const auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || p != port_text.data() + port_text.size() || value == 0 || value > 65535 ||
        !std::all_of(port_text.begin(), port_text.end(), is_digit)) {
      return bad(fmt::format("bad port \"{}\" (1 to 65535)", escape_arg(port_text)));
    }
    u.port = static_cast<std::uint16_t>(value);
  } else {
    u.port_given = false;  // "host:/" is the default port, as curl takes it
  }
  // The request target: path and query; the fragment stays with the client.
  if (const auto hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  if (tail.empty()) {
    u.target = "/";
  } else if (tail.front() == '?') {
    u.target = "/" + std::string(tail);
  } else {
    u.target = std::string(tail);
  }
  return u;
}

}  // namespace netwhy
