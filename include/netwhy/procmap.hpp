// Which processes hold which sockets: /proc/*/fd, read with directory fds,
// getdents64 and readlinkat, on every core, keeping only the inodes asked for.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace netwhy {

// The container a process runs in, or holds a published port for from
// outside it (docker-proxy, podman's conmon): who the user knows it as.
struct ProcessContainer {
  std::string engine;   // "docker", "podman", "containerd", "kubernetes"
  std::string id;       // the engine's full id
  std::string name;     // "web"; empty when not known
  bool holder = false;  // outside the container, holding its published port
  bool operator==(const ProcessContainer&) const = default;
};

struct Process {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string comm;     // raw bytes: chosen by whoever started the process
  std::string cmdline;  // arguments joined by spaces; raw bytes
  std::uint32_t uid = 0;  // effective uid (owner of /proc/PID)
  std::string user;       // name of uid, or the number
  std::string framework;  // what the program turned out to be, when known: "flask"
  std::optional<ProcessContainer> container;
  bool operator==(const Process&) const = default;
};

struct ProcessMap {
  std::unordered_map<std::uint64_t, std::vector<pid_t>> holders;  // inode -> pids, ascending
  std::map<pid_t, Process> processes;                              // every holder's details
  std::size_t scanned = 0;     // processes whose descriptors were read
  std::size_t unreadable = 0;  // user processes whose descriptors could not be read
};

struct ScanOptions {
  std::string proc_root = "/proc";
  unsigned threads = 0;  // 0: one per core
};

[[nodiscard]] ProcessMap map_socket_owners(const std::vector<std::uint64_t>& inodes,
                                           const ScanOptions& opt = {});

// One process in each network namespace other than the caller's, found by
// reading /proc/*/ns/net (sorted by namespace inode).
struct NetnsMember {
  std::uint64_t inode = 0;  // the namespace's inode (as in "net:[4026532290]")
  pid_t pid = 0;
};
[[nodiscard]] std::vector<NetnsMember> other_network_namespaces(const std::string& proc_root = "/proc");
// /run/netns names by namespace inode.
[[nodiscard]] std::map<std::uint64_t, std::string> named_network_namespaces(const std::string& dir = "/run/netns");

// Pure pieces, unit-tested on literal text.
[[nodiscard]] std::optional<std::uint64_t> parse_netns_link(std::string_view target);  // "net:[4026531840]"
[[nodiscard]] std::optional<std::uint64_t> parse_socket_link(std::string_view target);  // "socket:[123]"
[[nodiscard]] std::string parse_cmdline(std::string_view raw);  // NUL-separated -> spaces
struct StatFields {
  std::string comm;  // raw, as in /proc/PID/comm
  pid_t ppid = 0;
};
[[nodiscard]] std::optional<StatFields> parse_stat(std::string_view text);  // /proc/PID/stat

}  // namespace netwhy
