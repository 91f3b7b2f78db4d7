// What the fuzz targets share: the input as text, a selector byte for the
// targets that group several small parsers, fixed packets to evaluate a
// parsed ruleset with, and a check that stops the run with a message when an
// invariant fails (libFuzzer saves the input as a crash).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "netwhy/firewall.hpp"
#include "netwhy/inet.hpp"

namespace fuzz {

inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// An invariant: on failure, say which and abort (a crash for libFuzzer).
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant failed: %s\n", what);
    std::abort();
  }
}

// Two inputs from one: the bytes before the first NUL and those after it
// (the second is empty without a NUL).
inline std::pair<std::string_view, std::string_view> split_at_nul(std::string_view text) {
  const std::size_t nul = text.find('\0');
  if (nul == std::string_view::npos) return {text, {}};
  return {text.substr(0, nul), text.substr(nul + 1)};
}

// Valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF),
// checked here without netwhy's own code.
inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if (b >= 0xc2 && b <= 0xdf) {
      n = 1;
      cp = b & 0x1fU;
    } else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      cp = b & 0x0fU;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      cp = b & 0x07U;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // cut short
    for (std::size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0U) != 0x80U) return false;
      cp = (cp << 6U) | (c & 0x3fU);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// Text for a terminal without colour: valid UTF-8 with no control
// character but newline and tab (no ESC, BEL, DEL, nor C1 U+0080-U+009F).
inline bool terminal_safe(std::string_view s) {
  if (!valid_utf8(s)) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if ((b < 0x20 && b != '\n' && b != '\t') || b == 0x7f) return false;
    if (b == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9f) return false;
  }
  return true;
}

inline netwhy::IpAddr ip(const char* text) { return *netwhy::IpAddr::parse(text); }

// Packets the diagnosis asks about: a client's TCP connect, a forwarded
// (DNATed) one, IPv6 UDP, a server's reply, one with marks set, and one
// whose marks are unknown.
inline std::vector<netwhy::FwPacket> fixed_packets() {
  using netwhy::Family;
  using netwhy::FwPacket;
  using netwhy::Protocol;
  std::vector<FwPacket> out;
  FwPacket p;
  p.family = Family::inet;
  p.protocol = Protocol::tcp;
  p.daddr = ip("10.0.0.1");
  p.dport = 80;
  p.saddr = ip("198.51.100.7");
  p.saddr_len = 32;
  p.iifname = "eth0";
  p.iif = 2;
  out.push_back(p);

  FwPacket fwd = p;
  fwd.daddr = ip("172.17.0.2");
  fwd.dport = 8080;
  fwd.saddr = ip("192.168.1.0");
  fwd.saddr_len = 24;
  fwd.oifname = "docker0";
  fwd.oif = 3;
  fwd.daddr_local = false;
  fwd.dnat = true;
  out.push_back(fwd);

  FwPacket v6;
  v6.family = Family::inet6;
  v6.protocol = Protocol::udp;
  v6.daddr = ip("2001:db8::1");
  v6.dport = 53;
  v6.saddr = ip("2001:db8::");
  v6.saddr_len = 64;
  v6.iifname = "lo";
  v6.iif = 1;
  out.push_back(v6);

  FwPacket reply;
  reply.family = Family::inet;
  reply.protocol = Protocol::tcp;
  reply.reply = true;
  reply.saddr = ip("10.0.0.1");
  reply.saddr_len = 32;
  reply.sport = 80;
  reply.daddr = ip("198.51.100.0");
  reply.daddr_len = 24;
  reply.dport_known = false;
  reply.oifname = "eth0";
  reply.oif = 2;
  out.push_back(reply);

  FwPacket marked = p;
  marked.dport = 22;
  marked.mark = 0x1;
  marked.ct_mark = 0x4000;
  out.push_back(marked);

  FwPacket unknown = v6;
  unknown.protocol = Protocol::tcp;
  unknown.dport = 443;
  unknown.mark = std::nullopt;
  unknown.ct_mark = std::nullopt;
  unknown.saddr = netwhy::IpAddr{Family::inet6, {}};
  unknown.saddr_len = 0;
  out.push_back(unknown);
  return out;
}

// Every hook and both nat paths, for each fixed packet; and the DNAT targets.
inline void evaluate_fixed_packets(const netwhy::Firewall& fw) {
  static const std::vector<netwhy::FwPacket> packets = fixed_packets();
  const netwhy::FwEvaluator ev(fw);
  for (const netwhy::FwPacket& p : packets) {
    for (std::string_view hook : {"ingress", "prerouting", "input", "forward", "output", "postrouting"}) {
      (void)ev.hook(hook, p);
    }
    (void)ev.nat("prerouting", p);
    (void)ev.nat("output", p);
  }
  (void)netwhy::port_forward_targets(fw);
}

}  // namespace fuzz
