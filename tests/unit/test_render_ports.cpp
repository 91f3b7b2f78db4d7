#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "netwhy/ports.hpp"

using namespace netwhy;

namespace {

Process proc(pid_t pid, pid_t ppid, std::string comm) {
  Process p;
  p.pid = pid;
  p.ppid = ppid;
  p.comm = std::move(comm);
  p.cmdline = p.comm;
  p.user = "www-data";
  p.uid = 33;
  return p;
}

Listener listener(const char* addr, std::uint16_t port, std::vector<Process> procs) {
  Listener l;
  l.socket.local = *IpAddr::parse(addr);
  l.socket.family = l.socket.local.family;
  l.socket.port = port;
  l.socket.state = tcp_listen;
  l.socket.queued = 0;
  l.socket.backlog = 2048;
  l.socket.inode = 42;
  l.processes = std::move(procs);
  return l;
}

std::string line_with(const std::string& text, const std::string& needle) {
  const std::size_t at = text.find(needle);
  if (at == std::string::npos) return "(missing)";
  const std::size_t start = text.rfind('\n', at) + 1;
  return text.substr(start, text.find('\n', at) - start);
}

}  // namespace

TEST_CASE("gunicorn's master and its workers read as one line") {
  CHECK(describe_processes({proc(256, 1, "gunicorn"), proc(257, 256, "gunicorn"), proc(258, 256, "gunicorn"),
                            proc(259, 256, "gunicorn")}) == "gunicorn(256) +3 workers");
  CHECK(describe_processes({proc(10, 1, "sshd")}) == "sshd(10)");
  CHECK(describe_processes({proc(10, 1, "a"), proc(11, 1, "b")}) == "a(10), b(11)");
  CHECK(describe_processes({}) == "-");
}

TEST_CASE("the table says dual-stack and v6only in words") {
  Listener dual = listener("::", 22, {proc(700, 1, "sshd")});
  dual.socket.v6only = false;
  Listener v6 = listener("::", 8080, {});
  v6.socket.v6only = true;
  Listener local = listener("127.0.0.1", 8000, {proc(256, 1, "gunicorn"), proc(257, 256, "gunicorn")});
  Listener udp = listener("0.0.0.0", 68, {proc(500, 1, "dhclient")});
  udp.socket.protocol = Protocol::udp;
  udp.interface = "eth0";
  const std::string text = render_listeners_text({dual, v6, local, udp}, Palette{});
  CHECK(line_with(text, "[::]:22") == "tcp    [::]:22             IPv4+IPv6       0/2048  sshd(700)");
  CHECK(line_with(text, "[::]:8080") == "tcp    [::]:8080           IPv6 only       0/2048  -");
  CHECK(line_with(text, "127.0.0.1:8000") == "tcp    127.0.0.1:8000      IPv4, loopback  0/2048  gunicorn(256) +1 worker");
  CHECK(line_with(text, "0.0.0.0:68") == "udp    0.0.0.0:68          IPv4 on eth0    -       dhclient(500)");
  CHECK(text.substr(0, text.find('\n')) == "Proto  Local address:port  Accepts         Queue   Processes");
}

TEST_CASE("hostile process names: escaped in text, valid UTF-8 in JSON") {
  Process evil = proc(666, 1, "\x1b]0;pwned\x07\xff");
  evil.cmdline = "python3 -c \x1b[2J\nrm\xfe";
  const Listener l = listener("0.0.0.0", 5000, {evil});
  const std::string text = render_listeners_text({l}, Palette{});
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find("\\x1b]0;pwned\\x07\\xff(666)") != std::string::npos);
  JsonWriter w(JsonStyle::compact);
  render_listeners_json(w, {l});
  const auto doc = nlohmann::json::parse(w.text());
  CHECK(doc[0]["processes"][0]["comm"] == "\x1b]0;pwned\x07\xef\xbf\xbd");
  CHECK(doc[0]["processes"][0]["cmdline"] == "python3 -c \x1b[2J\nrm\xef\xbf\xbd");
}

TEST_CASE("listener JSON follows the contract's fields and types") {
  Listener l = listener("10.0.2.15", 8080, {proc(9, 1, "java")});
  JsonWriter w(JsonStyle::compact);
  render_listeners_json(w, {l});
  const auto doc = nlohmann::json::parse(w.text());
  const auto& o = doc[0];
  CHECK(o["protocol"] == "tcp");
  CHECK(o["family"] == "inet");
  CHECK(o["local_address"] == "10.0.2.15");
  CHECK(o["port"] == 8080);
  CHECK(o["interface"].is_null());
  CHECK(o["v6only"].is_null());
  CHECK(o["backlog"] == 2048);
  CHECK(o["queued"] == 0);
  CHECK(o["inode"] == 42);
  CHECK(o["uid"] == 0);
  CHECK(o["processes"][0]["pid"] == 9);
  CHECK(o["processes"][0]["user"] == "www-data");
}

TEST_CASE("join_listeners attaches every holder and sorts by protocol, then port") {
  Socket a;
  a.port = 9000;
  a.inode = 1;
  a.state = tcp_listen;
  Socket b;
  b.port = 80;
  b.inode = 2;
  b.state = tcp_listen;
  Socket u;
  u.protocol = Protocol::udp;
  u.port = 53;
  u.inode = 3;
  ProcessMap map;
  map.holders[2] = {256, 257};
  map.processes[256] = proc(256, 1, "nginx");
  map.processes[257] = proc(257, 256, "nginx");
  const auto ls = join_listeners({a, u, b}, map);
  REQUIRE(ls.size() == 3);
  CHECK(ls[0].socket.port == 80);
  CHECK(ls[0].processes.size() == 2);
  CHECK(ls[1].socket.port == 9000);
  CHECK(ls[1].processes.empty());
  CHECK(ls[2].socket.protocol == Protocol::udp);
}
