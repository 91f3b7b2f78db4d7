// The proxy curl 7.88.1 would use, from the environment: a port of the parts
// of curl that decide it (curl-7_88_1 tag of github.com/curl/curl), with
// each function naming what it follows. See include/netwhy/proxy_env.hpp.
#include "netwhy/proxy_env.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "netwhy/text.hpp"

namespace netwhy {

namespace {

// curl reads C strings: nothing after a NUL is seen.
std::string_view c_string(std::string_view s) {
  const auto nul = s.find('\0');
  return nul == std::string_view::npos ? s : s.substr(0, nul);
}

// lib/curl_ctype.h, lib/strcase.c: ASCII only, whatever the locale.
bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_xdigit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), to_upper);
  return out;
}

// strncasecompare() over two views of the same length.
bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_upper(a[i]) != to_upper(b[i])) return false;
  return true;
}

// checkprefix(): case-insensitive prefix.
bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequal(s.substr(0, prefix.size()), prefix);
}

// Curl_inet_pton() is the C library's inet_pton() on Linux (HAVE_INET_PTON).
bool pton4(const std::string& text, in_addr* out) { return inet_pton(AF_INET, text.c_str(), out) == 1; }
bool pton6(const std::string& text, in6_addr* out) { return inet_pton(AF_INET6, text.c_str(), out) == 1; }

// atoi() as glibc has it: (int)strtol(s, NULL, 10), then stored in curl's
// unsigned int: "-1" is 4294967295, "x" is 0.
unsigned int curl_atoi_bits(const std::string& s) {
  const long value = std::strtol(s.c_str(), nullptr, 10);
  return static_cast<unsigned int>(static_cast<int>(value));
}

// lib/noproxy.c Curl_cidr4_match() of 7.88.1.
bool cidr4_match(const std::string& ipv4, const std::string& network, unsigned int bits) {
  if (bits > 32) return false;  // "strange input"
  in_addr address{};
  in_addr check{};
  if (!pton4(ipv4, &address) || !pton4(network, &check)) return false;
  if (bits != 0 && bits != 32) {
    const std::uint32_t mask = 0xffffffffU << (32 - bits);
    return ((ntohl(address.s_addr) ^ ntohl(check.s_addr)) & mask) == 0;
  }
  return address.s_addr == check.s_addr;  // /0 and /32: the same address
}

// lib/noproxy.c Curl_cidr6_match() of 7.88.1, with its bug: for a prefix
// that is not a multiple of 8 the test of the last, partial byte is upside
// down (fixed in curl 8.17.0, commit 1a3a5cb720). Only reached for a host
// name in brackets, which lib/url.c never passes (see check_no_proxy).
bool cidr6_match(const std::string& ipv6, const std::string& network, unsigned int bits) {
  if (bits == 0) bits = 128;
  const unsigned int bytes = bits / 8;
  const unsigned int rest = bits & 0x07;
  in6_addr address{};
  in6_addr check{};
  if (!pton6(ipv6, &address) || !pton6(network, &check)) return false;
  if (bytes > 16 || (bytes == 16 && rest != 0)) return false;
  if (bytes != 0 && std::memcmp(address.s6_addr, check.s6_addr, bytes) != 0) return false;
  if (rest != 0 && ((address.s6_addr[bytes] ^ check.s6_addr[bytes]) & (0xff << (8 - rest))) == 0)
    return false;  // sic: 7.88.1 answers "no" when the masked bits are equal
  return true;
}

enum class NameType { host, ipv4, ipv6 };

}  // namespace

// lib/noproxy.c Curl_check_noproxy() of 7.88.1, line by line; `name` is
// what lib/url.c passes (conn->host.name), no_proxy the variable's value.
NoProxyCheck detail::curl_check_noproxy(std::string_view name, std::string_view no_proxy) {
  NoProxyCheck out;
  // "If we don't have a hostname at all, like for example with a FILE
  // transfer, we have nothing to interrogate the noproxy list with."
  if (name.empty() || no_proxy.empty()) return out;
  if (no_proxy == "*") {  // strcmp: "*" and nothing else, no blanks
    out.entry = "*";
    return out;
  }

  NameType type = NameType::host;
  if (name.front() == '[') {
    const auto end = name.find(']');
    if (end == std::string_view::npos) return out;
    name = name.substr(1, end - 1);
    if (name.size() >= 128) return out;  // char hostip[128]
    type = NameType::ipv6;
  } else {
    in_addr unused{};
    if (pton4(std::string(name), &unused))
      type = NameType::ipv4;
    else if (name.back() == '.')  // "ignore trailing dots in the host name"
      name.remove_suffix(1);
  }

  std::size_t p = 0;
  const std::size_t size = no_proxy.size();
  while (p < size) {
    while (p < size && is_blank(no_proxy[p])) ++p;  // pass blanks
    const std::size_t start = p;
    while (p < size && !is_blank(no_proxy[p]) && no_proxy[p] != ',') ++p;  // pass over the pattern
    const std::string_view token = no_proxy.substr(start, p - start);

    if (!token.empty()) {
      bool match = false;
      if (type == NameType::host) {
        std::string_view t = token;
        if (t.back() == '.') t.remove_suffix(1);               // trailing dot in the token
        if (!t.empty() && t.front() == '.') t.remove_prefix(1);  // leading dot as well
        if (t.size() == name.size())
          match = iequal(t, name);  // A: example.com matches 'example.com'
        else if (t.size() < name.size())
          // B: www.example.com matches 'example.com'; C: nonexample.com does not
          match = name[name.size() - t.size() - 1] == '.' && iequal(t, name.substr(name.size() - t.size()));
      } else if (token.size() < 128) {  // char checkip[128]: a longer token "cannot match"
        std::string check(token);
        unsigned int bits = 0;
        const auto slash = check.find('/');
        if (slash != std::string::npos) {
          bits = curl_atoi_bits(check.substr(slash + 1));
          check.resize(slash);
        }
        match = type == NameType::ipv6 ? cidr6_match(std::string(name), check, bits)
                                       : cidr4_match(std::string(name), check, bits);
      }
      if (match) {
        out.entry = std::string(token);
        return out;
      }
    }
    while (p < size && is_blank(no_proxy[p])) ++p;  // pass blanks after pattern
    if (p < size && no_proxy[p] != ',') {           // "if not a comma!"
      out.space_separated = true;
      continue;
    }
    while (p < size && no_proxy[p] == ',') ++p;  // pass any number of commas
  }
  return out;
}

namespace {

// lib/url.c parseurlandfillconn(): "[::1]" reaches the no_proxy check as
// "::1" (the first and last characters cut off).
std::string_view url_host_name(std::string_view url_host) {
  url_host = c_string(url_host);
  if (!url_host.empty() && url_host.front() == '[') {
    url_host.remove_prefix(1);
    if (!url_host.empty()) url_host.remove_suffix(1);
  }
  return url_host;
}

// --- lib/urlapi.c of 7.88.1, as far as parse_proxy() needs it ---

// junkscan(): bytes 0x01-0x1f, 0x7f, and a space (no CURLU_ALLOW_SPACE).
bool has_junk(std::string_view part) {
  return std::any_of(part.begin(), part.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f || c == ' ';
  });
}

// STARTS_WITH_URL_DRIVE_PREFIX()
bool url_drive_prefix(std::string_view s) {
  return s.size() >= 2 && is_alpha(s[0]) && (s[1] == ':' || s[1] == '|') &&
         (s.size() == 2 || s[2] == '/' || s[2] == '\\');
}

// ipv4_normalize(): "127.1", "0x7f.1", "2130706433" are 127.0.0.1.
std::optional<std::string> ipv4_normalize(const std::string& hostname) {
  const char* c = hostname.c_str();
  int n = 0;
  std::array<unsigned long, 4> parts{};
  for (;;) {
    if (*c < '0' || *c > '9') return std::nullopt;  // no leading plus or minus
    char* endp = nullptr;
    errno = 0;
    const unsigned long l = std::strtoul(c, &endp, 0);
    if ((l == ULONG_MAX && errno == ERANGE) || endp == c) return std::nullopt;
    if (l > UINT_MAX) return std::nullopt;
    parts[static_cast<std::size_t>(n)] = l;
    c = endp;
    if (*c == '.') {
      if (n == 3) return std::nullopt;
      ++n;
      ++c;
    } else if (*c == '\0') {
      break;
    } else {
      return std::nullopt;
    }
  }
  unsigned long a = parts[0], b = 0, cc = 0, d = 0;
  switch (n) {
    case 0:  // a: 32 bits
      b = (a >> 16) & 0xff;
      cc = (a >> 8) & 0xff;
      d = a & 0xff;
      a = a >> 24;
      break;
    case 1:  // a.b: 8.24 bits
      if (parts[0] > 0xff || parts[1] > 0xffffff) return std::nullopt;
      b = (parts[1] >> 16) & 0xff;
      cc = (parts[1] >> 8) & 0xff;
      d = parts[1] & 0xff;
      break;
    case 2:  // a.b.c: 8.8.16 bits
      if (parts[0] > 0xff || parts[1] > 0xff || parts[2] > 0xffff) return std::nullopt;
      b = parts[1];
      cc = (parts[2] >> 8) & 0xff;
      d = parts[2] & 0xff;
      break;
    default:  // a.b.c.d
      if (parts[0] > 0xff || parts[1] > 0xff || parts[2] > 0xff || parts[3] > 0xff) return std::nullopt;
      b = parts[1];
      cc = parts[2];
      d = parts[3];
      break;
  }
  return std::to_string(a) + '.' + std::to_string(b) + '.' + std::to_string(cc) + '.' + std::to_string(d);
}

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  return ascii_lower(c) - 'a' + 10;
}

// Curl_urldecode(..., REJECT_CTRL): %XX decoded, a byte below 0x20 refused.
std::optional<std::string> url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    auto in = static_cast<unsigned char>(s[i]);
    if (in == '%' && s.size() - i > 2 && is_xdigit(s[i + 1]) && is_xdigit(s[i + 2])) {
      in = static_cast<unsigned char>((hex_value(s[i + 1]) << 4) | hex_value(s[i + 2]));
      i += 3;
    } else {
      ++i;
    }
    if (in < 0x20) return std::nullopt;
    out.push_back(static_cast<char>(in));
  }
  return out;
}

// hostname_check(): host is "[v6]" or a name; on success an IPv6 literal
// is shortened as inet_ntop writes it (when that is shorter) and its zone
// taken out.
bool hostname_check(std::string& host, std::optional<std::string>& zone) {
  if (host.empty()) return false;  // CURLUE_NO_HOST
  if (host.front() != '[') return host.find_first_of(" \r\n\t/:#?!@{}[]\\$'\"^`*<>=;,+&()") == std::string::npos;

  if (host.size() < 4) return false;  // '[::]' is the shortest
  std::string inner = host.substr(1, host.size() - 2);
  const std::size_t len = inner.find_first_not_of("0123456789abcdefABCDEF:.");
  if (len != std::string::npos) {
    if (inner[len] != '%') return false;
    // '%[zone id]', a "25" after the % passed if it is a URL-encoded %
    std::string_view h = std::string_view(host).substr(1 + len + 1);  // up to and with the final ']'
    if (h.substr(0, 2) == "25" && h.size() > 2 && h[2] != ']') h.remove_prefix(2);
    std::string id;
    while (!h.empty() && h.front() != ']' && id.size() < 15) {
      id.push_back(h.front());
      h.remove_prefix(1);
    }
    if (id.empty() || h.empty() || h.front() != ']') return false;
    zone = id;
    inner.resize(len);
  }
  in6_addr dest{};
  if (!pton6(inner, &dest)) return false;
  std::array<char, INET6_ADDRSTRLEN> norm{};
  if (inet_ntop(AF_INET6, &dest, norm.data(), norm.size()) != nullptr && std::strlen(norm.data()) < inner.size())
    inner = norm.data();
  host = '[' + inner + ']';
  return true;
}

}  // namespace

std::string ProxyEndpoint::shown() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(proxy_type_name(type)) + "://" + h + ":" + std::to_string(port);
}

std::string_view proxy_type_name(ProxyType type) {
  switch (type) {
    case ProxyType::http: return "http";
    case ProxyType::https: return "https";
    case ProxyType::socks4: return "socks4";
    case ProxyType::socks4a: return "socks4a";
    case ProxyType::socks5: return "socks5";
    case ProxyType::socks5h: return "socks5h";
  }
  return "http";
}

// lib/url.c parse_proxy() of 7.88.1, over lib/urlapi.c parseurl() with
// CURLU_NON_SUPPORT_SCHEME | CURLU_GUESS_SCHEME. Approximations, all on
// URLs no one sets as a proxy: a file: URL is told apart from a malformed
// one only roughly, a Unix socket path is not cleaned of "." and ".."
// segments, and a host is not IDN-converted.
std::variant<ProxyEndpoint, ProxyUrlError> parse_proxy_url(std::string_view raw) {
  const std::string_view url = c_string(raw);
  const auto syntax = [&] {  // CURLE_COULDNT_RESOLVE_PROXY
    return ProxyUrlError{5, "Unsupported proxy syntax in '" + std::string(url) + "'"};
  };
  const auto bad_scheme = [&] {  // CURLE_COULDNT_CONNECT
    return ProxyUrlError{7, "Unsupported proxy scheme for '" + std::string(url) + "'"};
  };

  if (url.size() > 8000000) return syntax();  // CURL_MAX_INPUT_LENGTH

  // Curl_is_absolute_url(guess_scheme): up to 40 of ALPHA DIGIT + - . and
  // then ":/"; "proxy:3128" has no scheme.
  std::size_t i = 0;
  while (i < 40 && i < url.size() &&
         (is_alpha(url[i]) || is_digit(url[i]) || url[i] == '+' || url[i] == '-' || url[i] == '.'))
    ++i;
  std::optional<std::string> scheme;
  if (i != 0 && i + 1 < url.size() && url[i] == ':' && url[i + 1] == '/') scheme = ascii_lower(url.substr(0, i));

  if (scheme == "file") {
    // parseurl()'s file: branch. Whatever parses is then refused by
    // parse_proxy() as a scheme.
    if (url.size() <= 6) return syntax();  // CURLUE_BAD_FILE_URL
    std::string_view path = url.substr(5);
    if (path.substr(0, 2) == "//") {
      std::string_view ptr = path.substr(2);
      if ((ptr.empty() || ptr.front() != '/') && !url_drive_prefix(ptr)) {
        if (!istarts_with(ptr, "localhost/") && !istarts_with(ptr, "127.0.0.1/")) return syntax();
        ptr.remove_prefix(9);
      }
      path = ptr;
    }
    if ((!path.empty() && path.front() == '/' && url_drive_prefix(path.substr(1))) || url_drive_prefix(path))
      return syntax();
    if (has_junk(path)) return syntax();
    return bad_scheme();
  }

  std::size_t p = 0;
  if (scheme) {
    p = scheme->size() + 1;
    int slashes = 0;
    while (p < url.size() && url[p] == '/' && slashes < 4) {
      ++p;
      ++slashes;
    }
    if (slashes < 1 || slashes > 3) return syntax();  // CURLUE_BAD_SLASHES
  }
  std::size_t host_end = p;
  while (host_end < url.size() && url[host_end] != '/' && url[host_end] != '?' && url[host_end] != '#') ++host_end;
  std::string host(url.substr(p, host_end - p));
  const std::string_view rest = url.substr(host_end);  // path, query, fragment
  if (host.empty()) return syntax();                   // CURLUE_NO_HOST
  if (has_junk(rest)) return syntax();                 // CURLUE_BAD_PATH, _QUERY, _FRAGMENT

  ProxyEndpoint ep;
  // parse_hostname_login(): up to the first '@' is user[:password].
  if (const auto at = host.find('@'); at != std::string::npos) {
    if (has_junk(std::string_view(host).substr(0, at))) return syntax();  // CURLUE_BAD_USER, _PASSWORD
    ep.credentials = true;
    host.erase(0, at + 1);
  }

  // Curl_parse_port()
  std::size_t colon = std::string::npos;
  if (!host.empty() && host.front() == '[') {
    const auto bracket = host.find(']');
    if (bracket == std::string::npos) return syntax();  // CURLUE_BAD_IPV6
    if (bracket + 1 < host.size()) {
      if (host[bracket + 1] != ':') return syntax();
      colon = bracket + 1;
    }
  } else {
    colon = host.find(':');
  }
  if (colon != std::string::npos) {
    const std::string port = host.substr(colon + 1);
    host.resize(colon);
    if (port.empty()) {
      // "http://proxy:/" is the default port, "proxy:" without a scheme an error
      if (!scheme) return syntax();
    } else {
      if (!is_digit(port.front())) return syntax();
      char* end = nullptr;
      const long value = std::strtol(port.c_str(), &end, 10);
      if (value > 0xffff || *end != '\0') return syntax();
      ep.port = static_cast<std::uint16_t>(value);
      ep.port_given = true;
    }
  }

  if (has_junk(host)) return syntax();  // CURLUE_BAD_HOSTNAME
  if (auto v4 = ipv4_normalize(host)) {
    host = *v4;
  } else {
    if (host.empty() || host.front() != '[') {  // decode_host(): not an IPv6 literal
      if (host.find('%') != std::string::npos) {
        auto decoded = url_decode(host);
        if (!decoded) return syntax();
        host = *decoded;
      }
    }
    if (!hostname_check(host, ep.zone)) return syntax();
  }

  if (!scheme) {  // "legacy curl-style guess based on host name"
    if (istarts_with(host, "ftp."))
      scheme = "ftp";
    else if (istarts_with(host, "dict."))
      scheme = "dict";
    else if (istarts_with(host, "ldap."))
      scheme = "ldap";
    else if (istarts_with(host, "imap."))
      scheme = "imap";
    else if (istarts_with(host, "smtp."))
      scheme = "smtp";
    else if (istarts_with(host, "pop3."))
      scheme = "pop3";
    else
      scheme = "http";
  }

  if (scheme == "https")
    ep.type = ProxyType::https;
  else if (scheme == "socks5h")
    ep.type = ProxyType::socks5h;
  else if (scheme == "socks5")
    ep.type = ProxyType::socks5;
  else if (scheme == "socks4a")
    ep.type = ProxyType::socks4a;
  else if (scheme == "socks4" || scheme == "socks")
    ep.type = ProxyType::socks4;
  else if (scheme == "http")
    ep.type = ProxyType::http;
  else
    return bad_scheme();  // "Any other xxx:// reject!"

  if (!ep.port_given) ep.port = ep.type == ProxyType::https ? 443 : 1080;

  const bool socks = ep.type != ProxyType::http && ep.type != ProxyType::https;
  if (socks && iequal(host, "localhost")) {
    // UNIX_SOCKET_PREFIX: socks5h://localhost/run/tor/socks is a Unix socket
    const std::string_view path = rest.substr(0, rest.find_first_of("?#"));
    if (path.size() > 1) {
      auto decoded = url_decode(path);
      if (!decoded) return syntax();
      ep.unix_socket = *decoded;
    }
  }
  if (host.front() == '[') host = host.substr(1, host.size() - 2);  // "strip off the brackets"
  ep.host = host;
  return ep;
}

NoProxyCheck check_no_proxy(std::string_view no_proxy, std::string_view url_host) {
  return detail::curl_check_noproxy(url_host_name(url_host), c_string(no_proxy));
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view url_host) {
  return check_no_proxy(no_proxy, url_host).entry.has_value();
}

ProxyDecision decide_proxy(std::string_view url_scheme, std::string_view url_host, const Environment& env) {
  ProxyDecision d;
  // curl_getenv(): unset, or set to "", is NULL.
  const auto get = [&env](const std::string& name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    const std::string_view value = c_string(it->second);
    if (value.empty()) return std::nullopt;
    return std::string(value);
  };

  const std::string scheme = ascii_lower(c_string(url_scheme));
  d.host_is_local = host_is_local(url_host);

  // create_conn_helper_init_proxy(): "no_proxy", else "NO_PROXY".
  if (auto v = get("no_proxy")) {
    d.no_proxy_variable = "no_proxy";
    d.no_proxy_value = std::move(v);
    if (get("NO_PROXY")) d.ignored_variables.emplace_back("NO_PROXY");
  } else if (auto w = get("NO_PROXY")) {
    d.no_proxy_variable = "NO_PROXY";
    d.no_proxy_value = std::move(w);
  }
  if (d.no_proxy_value) {
    const NoProxyCheck check = check_no_proxy(*d.no_proxy_value, url_host);
    d.no_proxy_match = check.entry;
    d.no_proxy_space_separated = check.space_separated;
  }

  // detect_proxy(): "<scheme>_proxy", "<SCHEME>_PROXY" but not HTTP_PROXY,
  // "all_proxy", "ALL_PROXY".
  const std::string lower_name = scheme + "_proxy";
  const std::string upper_name = upper(lower_name);
  const bool is_http = lower_name == "http_proxy";
  std::string variable;
  std::optional<std::string> value = get(lower_name);
  if (value) {
    variable = lower_name;
    if (get(upper_name)) d.ignored_variables.push_back(upper_name);
  } else if (is_http) {
    if (get(upper_name)) d.ignored_variables.push_back(upper_name);  // httpoxy
  } else if ((value = get(upper_name))) {
    variable = upper_name;
  }
  if (!value) {
    if ((value = get("all_proxy"))) {
      variable = "all_proxy";
      if (get("ALL_PROXY")) d.ignored_variables.emplace_back("ALL_PROXY");
    } else if ((value = get("ALL_PROXY"))) {
      variable = "ALL_PROXY";
    }
  }

  if (d.no_proxy_match) {  // the *_proxy variables are not even read
    d.bypassed_variable = variable;
    return d;
  }
  if (!value) return d;
  if (scheme == "file") {  // PROTOPT_NONETWORK: read, then dropped
    d.ignored_variables.push_back(variable);
    return d;
  }

  d.proxy_url = value;
  d.variable = variable;
  auto parsed = parse_proxy_url(*value);
  if (auto* error = std::get_if<ProxyUrlError>(&parsed)) {
    d.proxy_error = std::move(*error);
    return d;
  }
  d.proxy = std::get<ProxyEndpoint>(std::move(parsed));
  const bool http_proxy = d.proxy->type == ProxyType::http || d.proxy->type == ProxyType::https;
  // create_conn(): PROTOPT_SSL (https, ftps...) tunnels; of the rest only
  // ftp (PROTOPT_PROXY_AS_HTTP) and http itself go as plain requests.
  d.tunnel = http_proxy && scheme != "http" && scheme != "ftp";
  d.proxy_resolves_host = d.proxy->type != ProxyType::socks4 && d.proxy->type != ProxyType::socks5;
  return d;
}

std::string no_proxy_entry_for(std::string_view url_host) {
  std::string_view name = url_host_name(url_host);
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return std::string(name);
}

namespace {

bool is_loopback(std::string_view url_host) {
  const std::string name = ascii_lower(no_proxy_entry_for(url_host));
  if (name == "localhost" || (name.size() > 10 && name.ends_with(".localhost"))) return true;
  in_addr v4{};
  if (pton4(name, &v4)) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return pton6(name, &v6) && IN6_IS_ADDR_LOOPBACK(&v6);
}

bool ipv4_is_local(std::uint32_t a) {
  return (a >> 24) == 127 || (a >> 24) == 10 || (a >> 20) == 0xac1 /* 172.16/12 */ ||
         (a >> 16) == 0xc0a8 /* 192.168/16 */ || (a >> 16) == 0xa9fe /* 169.254/16 */;
}

}  // namespace

bool host_is_local(std::string_view url_host) {
  if (is_loopback(url_host)) return true;
  std::string name = no_proxy_entry_for(url_host);
  name = name.substr(0, name.find('%'));  // a zone
  in_addr v4{};
  if (pton4(name, &v4)) return ipv4_is_local(ntohl(v4.s_addr));
  in6_addr v6{};
  if (!pton6(name, &v6)) return false;
  const auto* b = v6.s6_addr;
  if ((b[0] & 0xfe) == 0xfc) return true;                  // fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;  // fe80::/10
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    const std::uint32_t a = (std::uint32_t{b[12]} << 24) | (std::uint32_t{b[13]} << 16) |
                            (std::uint32_t{b[14]} << 8) | std::uint32_t{b[15]};
    return ipv4_is_local(a);
  }
  return false;
}

std::optional<std::string> suggest_no_proxy(std::string_view current, std::string_view url_host) {
  const std::string_view now = c_string(current);
  if (no_proxy_matches(now, url_host)) return std::string(now);
  const std::string entry = no_proxy_entry_for(url_host);
  if (entry.empty() || entry.find_first_of(" \t,") != std::string::npos) return std::nullopt;

  std::string out(now);
  const auto last = out.find_last_not_of(" \t");
  bool need_comma = last != std::string::npos && out[last] != ',';
  const auto add = [&](std::string_view e) {
    if (need_comma) out += ',';
    out += e;
    need_comma = true;
  };
  if (is_loopback(url_host))
    for (const char* usual : {"localhost", "127.0.0.1", "::1"})
      if (!no_proxy_matches(now, usual)) add(usual);
  if (!no_proxy_matches(out, url_host)) add(entry);  // "localhost" already covers app.localhost
  if (!no_proxy_matches(out, url_host)) return std::nullopt;
  return out;
}

}  // namespace netwhy
