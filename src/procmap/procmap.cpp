#include "netwhy/procmap.hpp"

#include "netwhy/fd.hpp"
#include "netwhy/file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <thread>
#include <unordered_set>

namespace netwhy {

namespace {

// "PREFIX[12345]" -> 12345: how /proc spells the inode behind a socket or a
// namespace link.
std::optional<std::uint64_t> bracketed_inode(std::string_view target, std::string_view prefix) {
  if (target.size() <= prefix.size() + 1 || target.substr(0, prefix.size()) != prefix || target.back() != ']') {
    return std::nullopt;
  }
  const std::string_view num = target.substr(prefix.size(), target.size() - prefix.size() - 1);
  std::uint64_t inode = 0;
  const auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), inode);
  if (ec != std::errc{} || end != num.data() + num.size()) return std::nullopt;
  return inode;
}

}  // namespace

std::optional<std::uint64_t> parse_socket_link(std::string_view target) { return bracketed_inode(target, "socket:["); }

std::optional<std::uint64_t> parse_netns_link(std::string_view target) { return bracketed_inode(target, "net:["); }

std::string parse_cmdline(std::string_view raw) {
  while (!raw.empty() && raw.back() == '\0') raw.remove_suffix(1);
  std::string out(raw);
  std::replace(out.begin(), out.end(), '\0', ' ');
  return out;
}

std::optional<StatFields> parse_stat(std::string_view text) {
  // "PID (COMM) S PPID ...": COMM may hold spaces and parentheses; it ends at
  // the last ')'.
  const std::size_t open = text.find('(');
  const std::size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open ||
      close + 4 >= text.size()) {
    return std::nullopt;
  }
  StatFields f;
  f.comm = std::string(text.substr(open + 1, close - open - 1));
  std::string_view rest = text.substr(close + 2);  // "S PPID ..."
  const std::size_t space = rest.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  rest.remove_prefix(space + 1);
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), f.ppid);
  if (ec != std::errc{} || end == rest.data()) return std::nullopt;
  return f;
}

namespace {

// getdents64's record: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
constexpr std::size_t dirent_reclen_offset = 16;
constexpr std::size_t dirent_name_offset = 19;

// Calls fn(name) for each entry of the directory open as dirfd.
template <class Fn>
void for_each_entry(int dirfd, std::vector<char>& buf, Fn&& fn) {
  for (;;) {
    const long n = syscall(SYS_getdents64, dirfd, buf.data(), buf.size());
    if (n <= 0) return;
    for (long off = 0; off < n;) {
      const char* rec = buf.data() + off;
      unsigned short reclen = 0;
      std::memcpy(&reclen, rec + dirent_reclen_offset, sizeof reclen);
      if (reclen == 0) return;
      off += reclen;
      const char* name = rec + dirent_name_offset;
      if (name[0] == '.') continue;
      fn(std::string_view(name));
    }
  }
}

std::optional<pid_t> as_pid(std::string_view name) {
  pid_t pid = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
  if (ec != std::errc{} || end != name.data() + name.size() || pid <= 0) return std::nullopt;
  return pid;
}

// A command line is bounded; so is this read. Empty when the process is gone.
std::string read_small(int dirfd, const char* name) {
  return read_file_at(dirfd, name, 1U << 20, OverLimit::truncate).value_or(std::string());
}

struct Partial {
  std::vector<std::pair<std::uint64_t, pid_t>> hits;
  std::vector<Process> processes;  // details of each pid with a hit
  std::size_t scanned = 0;
  std::vector<pid_t> denied;
};

// comm and parent from /proc/PID/stat, the command line, and the owner of
// /proc/PID (the process's effective uid, as ps shows it).
Process read_process(int piddir, pid_t pid) {
  Process p;
  p.pid = pid;
  if (auto st = parse_stat(read_small(piddir, "stat"))) {
    p.comm = std::move(st->comm);
    p.ppid = st->ppid;
  }
  p.cmdline = parse_cmdline(read_small(piddir, "cmdline"));
  struct stat sb {};
  if (fstat(piddir, &sb) == 0) p.uid = sb.st_uid;
  return p;
}

void scan_range(int procfd, const std::vector<pid_t>& pids, std::size_t first, std::size_t step,
                const std::unordered_set<std::uint64_t>& wanted, Partial& out) {
  std::vector<char> buf(1U << 16);
  char name[32];
  char link[64];
  for (std::size_t i = first; i < pids.size(); i += step) {
    const pid_t pid = pids[i];
    const auto len = std::to_chars(name, name + sizeof name - 4, pid).ptr;
    std::memcpy(len, "/fd", 4);
    UniqueFd dir(::openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0) {
      if (errno == EACCES || errno == EPERM) out.denied.push_back(pid);
      continue;  // ENOENT: the process exited while we looked; skip it
    }
    ++out.scanned;
    bool hit = false;
    for_each_entry(dir.get(), buf, [&](std::string_view fd_name) {
      // fd_name is NUL-terminated inside the dirent
      const ssize_t n = ::readlinkat(dir.get(), fd_name.data(), link, sizeof link);
      if (n <= 8 || link[0] != 's' || link[6] != ':') return;  // not "socket:[...]"
      const auto inode = parse_socket_link(std::string_view(link, static_cast<std::size_t>(n)));
      if (inode && wanted.count(*inode) != 0) {
        out.hits.emplace_back(*inode, pid);
        hit = true;
      }
    });
    if (hit) {  // read its details now, on this thread, while /proc/PID is hot
      *len = '\0';  // "PID/fd" -> "PID"
      UniqueFd piddir(::openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (piddir.get() >= 0) out.processes.push_back(read_process(piddir.get(), pid));
    }
  }
}

std::string user_name(std::uint32_t uid) {
  static std::unordered_map<std::uint32_t, std::string> cache;
  if (auto it = cache.find(uid); it != cache.end()) return it->second;
  passwd pw{};
  passwd* result = nullptr;
  std::vector<char> buf(16384);
  std::string name = std::to_string(uid);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) == 0 && result != nullptr && pw.pw_name != nullptr) {
    name = pw.pw_name;
  }
  cache.emplace(uid, name);
  return name;
}

}  // namespace

ProcessMap map_socket_owners(const std::vector<std::uint64_t>& inodes, const ScanOptions& opt) {
  ProcessMap map;
  if (inodes.empty()) return map;
  const std::unordered_set<std::uint64_t> wanted(inodes.begin(), inodes.end());
  UniqueFd proc(::open(opt.proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (proc.get() < 0) return map;

  std::vector<pid_t> pids;
  {
    std::vector<char> buf(1U << 16);
    for_each_entry(proc.get(), buf, [&](std::string_view name) {
      if (auto pid = as_pid(name)) pids.push_back(*pid);
    });
  }
  unsigned threads = opt.threads != 0 ? opt.threads : std::max(1U, std::thread::hardware_concurrency());
  threads = std::min<unsigned>(threads, static_cast<unsigned>((pids.size() + 63) / 64));
  threads = std::max(threads, 1U);
  std::vector<Partial> parts(threads);
  {
    std::vector<std::jthread> workers;
    for (unsigned t = 1; t < threads; ++t) {
      workers.emplace_back([&, t] { scan_range(proc.get(), pids, t, threads, wanted, parts[t]); });
    }
    scan_range(proc.get(), pids, 0, threads, wanted, parts[0]);
  }
  for (Partial& p : parts) {
    map.scanned += p.scanned;
    for (const auto& [inode, pid] : p.hits) map.holders[inode].push_back(pid);
    for (const pid_t pid : p.denied) {
      // Kernel threads hold no files; only user processes hide sockets.
      char name[32];
      *std::to_chars(name, name + sizeof name - 1, pid).ptr = '\0';
      UniqueFd dir(::openat(proc.get(), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (dir.get() >= 0 && !read_small(dir.get(), "cmdline").empty()) ++map.unreadable;
    }
  }
  for (Partial& p : parts) {
    for (Process& holder : p.processes) {
      holder.user = user_name(holder.uid);
      const pid_t pid = holder.pid;
      map.processes.emplace(pid, std::move(holder));
    }
  }
  for (auto& [inode, pids_of] : map.holders) {
    std::sort(pids_of.begin(), pids_of.end());
    pids_of.erase(std::unique(pids_of.begin(), pids_of.end()), pids_of.end());
  }
  return map;
}

}  // namespace netwhy

namespace netwhy {

std::vector<NetnsMember> other_network_namespaces(const std::string& proc_root) {
  std::vector<NetnsMember> out;
  UniqueFd proc(::open(proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (proc.get() < 0) return out;
  char link[64];
  ssize_t n = ::readlinkat(proc.get(), "self/ns/net", link, sizeof link);
  const auto own = n > 0 ? parse_netns_link(std::string_view(link, static_cast<std::size_t>(n))) : std::nullopt;
  std::map<std::uint64_t, pid_t> seen;
  std::vector<char> buf(1U << 16);
  for_each_entry(proc.get(), buf, [&](std::string_view name) {
    const auto pid = as_pid(name);
    if (!pid) return;
    char path[48];
    const auto end = std::to_chars(path, path + 32, *pid).ptr;
    std::memcpy(end, "/ns/net", 8);
    n = ::readlinkat(proc.get(), path, link, sizeof link);
    if (n <= 0) return;  // gone, or not ours to read
    const auto inode = parse_netns_link(std::string_view(link, static_cast<std::size_t>(n)));
    if (inode && inode != own) seen.emplace(*inode, *pid);
  });
  for (const auto& [inode, pid] : seen) out.push_back({inode, pid});
  return out;
}

std::map<std::uint64_t, std::string> named_network_namespaces(const std::string& dir) {
  std::map<std::uint64_t, std::string> out;
  const UniqueDir d(opendir(dir.c_str()));
  if (d == nullptr) return out;
  while (const dirent* e = readdir(d.get())) {
    if (e->d_name[0] == '.') continue;
    struct stat st {};
    if (::stat((dir + "/" + e->d_name).c_str(), &st) == 0) out.emplace(st.st_ino, e->d_name);
  }
  return out;
}

}  // namespace netwhy
