// /proc/net/{tcp,tcp6,udp,udp6}: one socket a line, addresses in hex in the
// kernel's byte order.
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "netwhy/file.hpp"
#include "netwhy/sockets.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

namespace {

template <class T>
bool parse_hex(std::string_view s, T& out) {
  if (s.empty() || s.size() > sizeof(T) * 2) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc{} && end == s.data() + s.size();
}

template <class T>
bool parse_dec(std::string_view s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 10);
  return !s.empty() && ec == std::errc{} && end == s.data() + s.size();
}

// "0100007F:1F40": the address as the kernel printed its 32-bit words (host
// order, little-endian here), then the port.
bool parse_endpoint(std::string_view s, Family family, IpAddr& addr, std::uint16_t& port) {
  const std::size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view hex = s.substr(0, colon);
  const std::size_t words = family == Family::inet6 ? 4 : 1;
  if (hex.size() != words * 8) return false;
  addr = IpAddr{};
  addr.family = family;
  for (std::size_t w = 0; w < words; ++w) {
    std::uint32_t v = 0;
    if (!parse_hex(hex.substr(w * 8, 8), v)) return false;
    std::memcpy(addr.bytes.data() + w * 4, &v, 4);  // the kernel wrote host order
  }
  return parse_hex(s.substr(colon + 1), port);
}

}  // namespace

ProcNetParse parse_proc_net(std::string_view text, Protocol protocol, Family family) {
  ProcNetParse out;
  bool header = true;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    const bool complete = eol != std::string_view::npos;
    if (!complete) eol = text.size();
    const std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (header) {  // the kernel always starts with "  sl  local_address rem_address ..."
      header = false;
      continue;
    }
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const auto f = split_fields(line);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
    Socket s;
    s.protocol = protocol;
    s.family = family;
    std::uint32_t tx = 0;
    std::uint32_t rx = 0;
    bool ok = complete && f.size() >= 10 && !f[0].empty() && f[0].back() == ':' &&
              parse_endpoint(f[1], family, s.local, s.port) &&
              parse_endpoint(f[2], family, s.remote, s.remote_port) && parse_hex(f[3], s.state) &&
              f[4].size() == 17 && f[4][8] == ':' && parse_hex(f[4].substr(0, 8), tx) &&
              parse_hex(f[4].substr(9), rx) && parse_dec(f[7], s.uid) && parse_dec(f[9], s.inode);
    if (!ok) {
      ++out.skipped_lines;
      continue;
    }
    if (protocol == Protocol::tcp && s.state == tcp_listen) s.queued = rx;
    unmap_ipv4(s);
    out.sockets.push_back(s);
  }
  return out;
}

namespace {

// About 150 bytes a socket: room for millions of connections.
constexpr std::size_t max_proc_net_bytes = std::size_t{1} << 30;

bool wanted(const Socket& s, const SocketQuery& q) {
  if (q.port && s.port != *q.port) return false;
  if (q.family != Family::unspec && s.family != q.family) return false;  // an unmapped one, in tcp6
  if (q.time_wait_only) return s.protocol == Protocol::tcp && s.state == tcp_time_wait;
  return !q.listening_only || s.listening();
}

}  // namespace

Expected<SocketRead> read_sockets_proc(const SocketQuery& q, const ProcSource& src) {
  SocketRead out;
  const std::string base = src.pid ? fmt::format("{}/{}/net", src.root, *src.pid) : src.root + "/net";
  struct File {
    const char* name;
    Protocol protocol;
    Family family;
  };
  static constexpr File files[] = {{"tcp", Protocol::tcp, Family::inet},
                                   {"tcp6", Protocol::tcp, Family::inet6},
                                   {"udp", Protocol::udp, Family::inet},
                                   {"udp6", Protocol::udp, Family::inet6}};
  for (const File& f : files) {
    if ((f.protocol == Protocol::tcp && !q.tcp) || (f.protocol == Protocol::udp && !q.udp)) continue;
    // IPv4 sockets are in tcp6 too (IPv4-mapped): read it also for -4.
    if (q.family == Family::inet6 && f.family == Family::inet) continue;
    const std::string path = fmt::format("{}/{}", base, f.name);
    auto text = read_file(path, max_proc_net_bytes);
    if (!text) {
      // No IPv6 in this kernel: its files are missing, not an error.
      if (text.error().code == ENOENT && f.family == Family::inet6) continue;
      if (q.family == Family::inet && f.family == Family::inet6) continue;  // looked at only for mapped ones
      return text.error();
    }
    auto parsed = parse_proc_net(*text, f.protocol, f.family);
    if (parsed.skipped_lines != 0) {
      out.warnings.push_back(fmt::format("{}: skipped {} malformed line{}", path, parsed.skipped_lines,
                                         parsed.skipped_lines == 1 ? "" : "s"));
    }
    for (const Socket& s : parsed.sockets) {
      if (wanted(s, q)) out.sockets.push_back(s);
    }
  }
  return out;
}

}  // namespace netwhy
