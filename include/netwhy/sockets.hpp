// Sockets from the kernel: sock_diag over netlink (the complete answer), or
// /proc/net/{tcp,tcp6,udp,udp6} (the fallback, and the way to read another
// namespace through /proc/PID/net without entering it).
#pragma once

#include <linux/netlink.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netwhy/error.hpp"
#include "netwhy/inet.hpp"

namespace netwhy {

enum class Protocol : std::uint8_t { tcp, udp };
[[nodiscard]] std::string_view to_string(Protocol p);

// Kernel socket states (include/net/tcp_states.h).
inline constexpr std::uint8_t tcp_established = 1;
inline constexpr std::uint8_t tcp_time_wait = 6;
inline constexpr std::uint8_t tcp_close = 7;  // UDP: bound, unconnected
inline constexpr std::uint8_t tcp_listen = 10;

struct Socket {
  Protocol protocol = Protocol::tcp;
  Family family = Family::inet;
  std::uint8_t state = 0;
  IpAddr local;
  std::uint16_t port = 0;
  IpAddr remote;
  std::uint16_t remote_port = 0;
  int bound_ifindex = 0;               // SO_BINDTODEVICE; 0 = any
  std::optional<bool> v6only;          // inet6 only; unknown from /proc
  std::optional<std::uint32_t> queued;   // accept queue (TCP listeners)
  std::optional<std::uint32_t> backlog;  // listen() backlog; unknown from /proc
  std::uint64_t inode = 0;
  std::uint32_t uid = 0;
  bool operator==(const Socket&) const = default;

  // A listener: TCP in LISTEN, or UDP bound and unconnected.
  [[nodiscard]] bool listening() const {
    return protocol == Protocol::tcp ? state == tcp_listen : state == tcp_close;
  }
};

// An IPv4-mapped IPv6 socket is its IPv4 address: a Java server bound to
// 127.0.0.1 holds an AF_INET6 socket on ::ffff:127.0.0.1. When the local
// address is ::ffff:a.b.c.d the socket becomes family inet, local a.b.c.d,
// v6only unknown, and its remote address (mapped, or the wildcard) IPv4 too.
// Every decoder applies it. Returns whether it changed anything.
bool unmap_ipv4(Socket& s);

struct SocketQuery {
  bool tcp = true;
  bool udp = true;
  Family family = Family::unspec;        // unspec: both
  std::optional<std::uint16_t> port;     // local port
  bool listening_only = true;            // false: every state (TIME_WAIT, ...)
  bool time_wait_only = false;           // only TIME_WAIT (overrides listening_only)
};

// ---- /proc/net ----

struct ProcNetParse {
  std::vector<Socket> sockets;
  std::size_t skipped_lines = 0;  // malformed or truncated lines
};
// One /proc/net/{tcp,tcp6,udp,udp6} file's text. Pure; never throws.
[[nodiscard]] ProcNetParse parse_proc_net(std::string_view text, Protocol protocol, Family family);

struct ProcSource {
  std::string root = "/proc";
  std::optional<pid_t> pid;  // read /proc/PID/net/...: that process's namespace
};
struct SocketRead {
  std::vector<Socket> sockets;
  std::vector<std::string> warnings;
};
[[nodiscard]] Expected<SocketRead> read_sockets_proc(const SocketQuery& q, const ProcSource& src);

// ---- sock_diag ----

// Asks the kernel for the wanted states only, with a bytecode port filter.
[[nodiscard]] Expected<SocketRead> read_sockets_diag(const SocketQuery& q);
// Decodes one SOCK_DIAG_BY_FAMILY answer (inet_diag_msg and its attributes).
[[nodiscard]] Expected<Socket> socket_from_diag(const nlmsghdr* msg, Protocol protocol);
// The inet_diag bytecode that keeps sockets whose local port is `port`.
[[nodiscard]] std::vector<std::uint8_t> port_filter_bytecode(std::uint16_t port);

}  // namespace netwhy
