#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "netwhy/firewall.hpp"
#include "source_tree.hpp"
#include "snapshot_builder.hpp"

using namespace snaptest;
using unittest::read_text;
using unittest::source_dir;

TEST_CASE("a snapshot survives the round trip through its file") {
  Host h;
  Listener& l = h.listen("::", 8080, {proc(9, 1, "python3", "python3 -m http.server --bind ::")});
  l.socket.v6only = true;
  l.interface = "eth0";
  l.socket.bound_ifindex = 2;
  h.s.time_wait.push_back({Protocol::tcp, 8000, 2});
  h.s.sysctls["net.ipv4.ip_unprivileged_port_start"] = 1024;
  h.s.counters["TcpExt.ListenOverflows"] = 3;
  h.s.gaps.root = false;
  h.s.gaps.unreadable_processes = 4;
  ForeignListener f;
  f.netns = "web";
  f.netns_inode = 4026532290ULL;
  f.listener = h.s.listeners.front();
  h.s.other_netns.push_back(f);
  Route r;
  r.family = Family::inet;
  r.dst = IpAddr::parse("10.0.2.0");
  r.dst_len = 24;
  r.oif = 2;
  r.table = 254;
  r.type = RTN_UNICAST;
  h.s.routes.push_back(r);
  h.s.hostname = "web1";
  for (bool pretty : {false, true}) {
    auto back = snapshot_from_json(snapshot_to_json(h.s, pretty));
    REQUIRE(back);
    CHECK(back->listeners == h.s.listeners);
    CHECK(back->links.size() == h.s.links.size());
    CHECK(back->addresses.size() == h.s.addresses.size());
    CHECK(back->time_wait == h.s.time_wait);
    CHECK(back->other_netns == h.s.other_netns);
    CHECK(back->sysctls == h.s.sysctls);
    CHECK(back->counters == h.s.counters);
    CHECK(back->gaps == h.s.gaps);
    CHECK(back->hostname == "web1");
    REQUIRE(back->routes.size() == 1);
    CHECK(back->routes[0].dst == r.dst);
    // The same diagnosis from the file as from the values.
    const auto a = diagnose(h.s, query(8080));
    const auto b = diagnose(*back, query(8080));
    CHECK(a.verdict == b.verdict);
    CHECK(a.endpoints == b.endpoints);
    CHECK(a.findings == b.findings);
  }
}

TEST_CASE("a container's macvlan (its kind, parent here and mode) and this host's own survive the round trip") {
  Host h;
  h.link(5, "mv-host", up_flags);
  Link& mine = h.link_named("mv-host");
  mine.kind = "macvlan";
  mine.link = 2;
  mine.macvlan_mode = 4;
  h.link(6, "veth9", up_flags);
  h.link_named("veth9").link = 7;
  h.link_named("veth9").link_netnsid = 1;
  h.link(8, "ipvl-host", up_flags);
  h.link_named("ipvl-host").ipvlan_mode = 1;
  ForeignAddress child;
  child.netns = "ctr";
  child.address = *IpAddr::parse("10.0.2.50");
  child.interface = "mv0";
  child.kind = "macvlan";
  child.parent = 2;
  child.macvlan_mode = 1;
  child.routes.emplace_back(*IpAddr::parse("0.0.0.0"), 0);
  h.s.other_netns_addresses.push_back(child);
  ForeignAddress plain;  // a DNAT target on a veth, from a file written before kinds were kept
  plain.netns = "pid:42";
  plain.address = *IpAddr::parse("fd00::2");
  plain.interface = "eth0";
  h.s.other_netns_addresses.push_back(plain);
  ForeignAddress ipvlan = child;
  ipvlan.kind = "ipvlan";
  ipvlan.macvlan_mode.reset();
  ipvlan.ipvlan_mode = 2;
  h.s.other_netns_addresses.push_back(ipvlan);
  auto back = snapshot_from_json(snapshot_to_json(h.s, false));
  REQUIRE(back);
  CHECK(back->other_netns_addresses == h.s.other_netns_addresses);
  REQUIRE(back->links.size() == h.s.links.size());
  for (std::size_t i = 0; i < h.s.links.size(); ++i) {
    CAPTURE(h.s.links[i].name);
    CHECK(back->links[i].kind == h.s.links[i].kind);
    CHECK(back->links[i].link == h.s.links[i].link);
    CHECK(back->links[i].link_netnsid == h.s.links[i].link_netnsid);
    CHECK(back->links[i].macvlan_mode == h.s.links[i].macvlan_mode);
    CHECK(back->links[i].ipvlan_mode == h.s.links[i].ipvlan_mode);
  }
  const auto bad = [](std::string_view text) {
    auto s = snapshot_from_json(text);
    REQUIRE_FALSE(s.has_value());
    return s.error().message();
  };
  CHECK(bad(R"({"netwhy_snapshot": 1, "other_netns_addresses": [{"netns": "c", "address": "10.0.0.2",
           "interface": "mv0", "parent": 0}]})")
            .find("other_netns_addresses[0].parent: 0 is out of range") != std::string::npos);
  CHECK(bad(R"({"netwhy_snapshot": 1, "other_netns_addresses": [{"netns": "c", "address": "10.0.0.2",
           "interface": "mv0", "kind": 7}]})")
            .find("other_netns_addresses[0].kind: expected a string") != std::string::npos);
  CHECK(bad(R"({"netwhy_snapshot": 1, "links": [{"ifindex": 3, "flags": 0, "ipvlan_mode": 70000}]})")
            .find("links[0].ipvlan_mode") != std::string::npos);
}

TEST_CASE("malformed and hostile snapshot files: a clear error naming the field, never a crash") {
  const auto err = [](std::string_view text) {
    auto s = snapshot_from_json(text);
    REQUIRE_FALSE(s.has_value());
    return s.error().message();
  };
  CHECK(err("") == "not JSON: empty");
  CHECK(err(" \n") == "not JSON: empty");
  CHECK(err("{\"netwhy_snapshot\": 1, ") == "not JSON: cut short at byte 24");
  CHECK(err("{\"netwhy_snapshot\": 1, \"x\": nope}") == "not JSON: syntax error at byte 30");
  CHECK(err("[1,2,3]").find("expected an object") != std::string::npos);
  CHECK(err("{}").find("netwhy_snapshot") != std::string::npos);
  CHECK(err(R"({"netwhy_snapshot": 2})").find("version") != std::string::npos);
  CHECK(err(R"({"netwhy_snapshot": 1, "links": [{"ifindex": "one"}]})") == "snapshot: links[0].ifindex: expected an integer");
  CHECK(err(R"({"netwhy_snapshot": 1, "links": [{"ifindex": 1, "flags": 0}, {"ifindex": -4, "flags": 0}]})")
            .find("links[1].ifindex: -4 is out of range") != std::string::npos);
  CHECK(err(R"({"netwhy_snapshot": 1, "links": {"ifindex": 1}})").find("links: expected an array") != std::string::npos);
  CHECK(err(R"({"netwhy_snapshot": 1, "addresses": [{"ifindex": 1, "family": "inet", "local": "10.0.0.999", "prefixlen": 8}]})")
            .find("addresses[0].local: expected an IP address") != std::string::npos);
  CHECK(err(R"({"netwhy_snapshot": 1, "addresses": [{"ifindex": 1, "family": "inet", "local": "10.0.0.1", "prefixlen": 33}]})")
            .find("addresses[0].prefixlen") != std::string::npos);
  CHECK(err(R"({"netwhy_snapshot": 1, "addresses": [{"ifindex": 1, "family": "inet", "local": "::1", "prefixlen": 8}]})")
            .find("family") != std::string::npos);
  CHECK(err(R"({"netwhy_snapshot": 1, "listeners": [{"protocol": "sctp"}]})").find("listeners[0].protocol") != std::string::npos);
  CHECK(err(R"({"netwhy_snapshot": 1, "listeners": [{"protocol": "tcp", "family": "inet", "local_address": "0.0.0.0", "port": 70000}]})")
            .find("listeners[0].port: 70000 is out of range") != std::string::npos);
  CHECK(err(R"({"netwhy_snapshot": 1, "probes": [{"address": "10.0.0.1", "port": 1, "result": "maybe"}]})")
            .find("probes[0].result") != std::string::npos);
  CHECK(err(R"({"netwhy_snapshot": 1, "sysctls": {"x": "y"}})").find("sysctls.x: expected an integer") != std::string::npos);
  CHECK(err(R"({"netwhy_snapshot": 1, "links": [{"ifindex": 99999999999999999999999}]})").find("links[0].ifindex") != std::string::npos);
  SUBCASE("deep nesting is refused before it can hurt") {
    std::string deep = R"({"netwhy_snapshot": 1, "x": )" + std::string(100000, '[') + std::string(100000, ']') + "}";
    CHECK(err(deep).find("nested deeper") != std::string::npos);
  }
  SUBCASE("invalid UTF-8 inside strings") {
    CHECK(err("{\"netwhy_snapshot\": 1, \"hostname\": \"\xff\"}") == "not JSON: invalid UTF-8 at byte 37");
  }
}

TEST_CASE("/proc/net/netstat: TcpExt counters by name") {
  const char* text =
      "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops\n"
      "TcpExt: 0 0 17 19\n"
      "IpExt: InNoRoutes InTruncatedPkts\n"
      "IpExt: 5 0\n"
      "Broken: a b\n"
      "Broken: 1\n";
  const auto c = parse_netstat(text);
  CHECK(c.at("TcpExt.ListenOverflows") == 17U);
  CHECK(c.at("TcpExt.ListenDrops") == 19U);
  CHECK(c.at("IpExt.InNoRoutes") == 5U);
  CHECK(c.count("Broken.a") == 0);
  CHECK(parse_netstat("").empty());
}

TEST_CASE("hidepid in /proc's mount options") {
  CHECK(parse_hidepid("22 1 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw,hidepid=invisible\n"));
  CHECK(parse_hidepid("22 1 0:5 / /proc rw shared:13 - proc proc rw,hidepid=2,gid=4\n"));
  CHECK_FALSE(parse_hidepid("22 1 0:5 / /proc rw shared:13 - proc proc rw\n"));
  CHECK_FALSE(parse_hidepid("22 1 0:5 / /proc rw shared:13 - proc proc rw,hidepid=0\n"));
  CHECK_FALSE(parse_hidepid("30 1 0:9 / /mnt/other rw - ext4 /dev/sda1 rw,hidepid=2\n"));
}

TEST_CASE("containers and a process's container tag survive the round trip; a bad engine is named") {
  Host h;
  Process proxy = proc(31700, 31557, "docker-proxy",
                       "/usr/sbin/docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 "
                       "-container-port 80");
  const std::string web_id = "e2f6936f2fc6d8c703e20debd25fd7b0a10bd827f23c301d39ecede5c947913e";
  h.listen("0.0.0.0", 8080, {tagged(proxy, container_tag("docker", web_id, "web", true))});
  h.listen_in("pid:31750", "::", 80,
              {tagged(proc(31750, 31727, "httpd", "httpd -f -p 80 -h /www"), container_tag("docker", web_id, "web", false))});
  ContainerState web = container_state(Engine::docker, web_id, "web", true, "pid:31750", 31750);
  web.id.compose_project = "shop";
  web.id.compose_service = "web";
  web.id.image = "nwtest:1";
  web.id.containerd_namespace = "moby";
  web.id.sources = {"docker-proxy cmdline", "config.v2.json", "hostconfig.json"};
  web.networking.network_mode = "shop_default";
  web.networking.published = {binding(8080, 80, "0.0.0.0"), binding(8080, 80, "::"), binding(5353, 53, "127.0.0.1", "udp")};
  web.networking.requested = {binding(8080, 80), binding(5353, 53, "127.0.0.1", "udp"), binding(0, 9000)};
  ContainerAddress v4;
  v4.network = "shop_default";
  v4.addr = *IpAddr::parse("172.18.0.2");
  ContainerAddress v6;
  v6.network = "shop_default";
  v6.addr = *IpAddr::parse("fd00:dead:beef::2");
  web.networking.addresses = {v4, v6};
  h.s.containers.push_back(web);
  ContainerState pod = container_state(Engine::kubernetes, std::string(64, 'a'), "", false);
  pod.id.pod_uid = "2f0c1d5e-8a7b-4c3d-9e1f-0a1b2c3d4e5f";
  pod.id.containerd_namespace = "k8s.io";
  pod.id.sources = {"cgroup"};
  pod.networking.network_mode.clear();
  pod.engine_here = false;  // and no pid, no netns: not running
  h.s.containers.push_back(pod);
  for (bool pretty : {false, true}) {
    auto back = snapshot_from_json(snapshot_to_json(h.s, pretty));
    REQUIRE(back);
    CHECK(back->containers == h.s.containers);
    CHECK(back->listeners == h.s.listeners);
    CHECK(back->other_netns == h.s.other_netns);
    REQUIRE(back->listeners.size() == 1);
    REQUIRE(back->listeners[0].processes.size() == 1);
    CHECK(back->listeners[0].processes[0].container == container_tag("docker", web_id, "web", true));
    REQUIRE(back->containers.size() == 2);
    CHECK_FALSE(back->containers[1].engine_here);
    CHECK_FALSE(back->containers[1].networking.pid.has_value());
    CHECK_FALSE(back->containers[0].networking.requested[0].host_ip.has_value());
    CHECK(back->containers[0].networking.requested[1].host_ip == IpAddr::parse("127.0.0.1"));
    // The same diagnosis from the file as from the values.
    for (const std::uint16_t port : {std::uint16_t{8080}, std::uint16_t{5353}}) {
      const auto a = diagnose(h.s, query(port));
      const auto b = diagnose(*back, query(port));
      CHECK(a.verdict == b.verdict);
      CHECK(a.findings == b.findings);
      CHECK(a.headline == b.headline);
    }
  }
  // A host process: no container object, and none after the trip.
  Host plain;
  plain.listen("0.0.0.0", 22, {proc(11, 1, "sshd", "sshd")});
  auto back = snapshot_from_json(snapshot_to_json(plain.s, false));
  REQUIRE(back);
  CHECK_FALSE(back->listeners[0].processes[0].container.has_value());

  const auto bad = [](std::string_view text) {
    auto s = snapshot_from_json(text);
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().kind == ErrorKind::input);
    return s.error().message();
  };
  const std::string engine_error = bad(R"({"netwhy_snapshot": 1, "containers": [{"engine": "lxc", "id": "x",
           "name": "web", "running": true, "published": [], "requested": [], "addresses": [], "sources": []}]})");
  CAPTURE(engine_error);
  CHECK(engine_error.find("containers[0].engine") != std::string::npos);
  CHECK(engine_error.find("expected docker, podman, containerd or kubernetes") != std::string::npos);
  CHECK(bad(R"({"netwhy_snapshot": 1, "containers": [{"engine": "unknown", "id": "x", "name": "web", "running": true,
           "published": [], "requested": [], "addresses": [], "sources": []}]})")
            .find("containers[0].engine") != std::string::npos);
  // A process's container names its engine the same way (found by the JSON schema's tests: "lxc"
  // passed through to port -j's output).
  const auto listener = [](std::string_view protocol, std::string_view backlog, std::string_view queued,
                            std::string_view engine) {
    return fmt::format(R"({{"netwhy_snapshot": 1, "listeners": [{{"protocol": "{}", "family": "inet",
        "local_address": "0.0.0.0", "port": 53, "interface": null, "v6only": null, "backlog": {}, "queued": {},
        "inode": 1, "uid": 0, "processes": [{{"pid": 5, "comm": "x", "cmdline": "x", "user": "root",
        "container": {{"engine": "{}", "id": "1", "name": "c", "holder": false}}}}]}}]}})",
        protocol, backlog, queued, engine);
  };
  REQUIRE(snapshot_from_json(listener("udp", "null", "null", "podman")));
  REQUIRE(snapshot_from_json(listener("tcp", "5", "0", "docker")));
  const std::string proc_engine = bad(listener("tcp", "5", "0", "lxc"));
  CAPTURE(proc_engine);
  CHECK(proc_engine.find("listeners[0].processes[0].container.engine") != std::string::npos);
  // UDP has no accept queue: a file that gives one is wrong, not a queue to diagnose.
  const std::string udp_queue = bad(listener("udp", "5", "9", "docker"));
  CAPTURE(udp_queue);
  CHECK(udp_queue.find("listeners[0]") != std::string::npos);
  CHECK(udp_queue.find("UDP") != std::string::npos);
  CHECK(bad(R"({"netwhy_snapshot": 1, "containers": [{"engine": 7}]})").find("containers[0].engine") !=
        std::string::npos);
  CHECK(bad(R"({"netwhy_snapshot": 1, "containers": [{"engine": "docker", "id": "x", "name": "web", "running": true,
           "published": [{"proto": "tcp", "container_port": 80, "host_ip": "300.0.0.1", "host_port": 8080}],
           "requested": [], "addresses": [], "sources": []}]})")
            .find("containers[0].published[0].host_ip") != std::string::npos);
}

// ---- the loader's limits: depth, numbers, escaping, size (issue 11) ----

namespace {

// How deeply arrays and objects nest in a JSON text (the document is 1).
int json_depth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// {"netwhy_snapshot": 1, "x": [[...[]...]]}: `depth` levels in all.
std::string nested(int depth) {
  const auto arrays = static_cast<std::size_t>(depth - 1);
  return R"({"netwhy_snapshot": 1, "x": )" + std::string(arrays, '[') + std::string(arrays, ']') + "}";
}

std::string load_error(std::string_view text) {
  auto s = snapshot_from_json(text);
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error().kind == ErrorKind::input);
  return s.error().message();
}

}  // namespace

TEST_CASE("numbers out of range are an error naming the field, never a cast") {
  const auto in = [](std::string_view field, std::string_view json_value) {
    return fmt::format(R"({{"netwhy_snapshot": 1, {}}})", fmt::format(fmt::runtime(field), json_value));
  };
  const std::string address = R"("addresses": [{{"ifindex": 1, "family": "inet", "local": "10.0.0.1", "prefixlen": {}}}])";
  const std::string listener =
      R"("listeners": [{{"protocol": "tcp", "family": "inet", "local_address": "0.0.0.0", "port": {}, "inode": 1, "uid": 0}}])";
  // 2^32+8 is not /8, 2^32+80 is not port 80
  CHECK(load_error(in(address, "4294967304")) == "snapshot: addresses[0].prefixlen: 4294967304 is out of range (0 to 32)");
  CHECK(load_error(in(listener, "4294967376")) == "snapshot: listeners[0].port: 4294967376 is out of range (0 to 65535)");
  CHECK(load_error(in(R"("containers": [{{"engine": "docker", "id": "x", "name": "w", "running": true,
        "published": [{{"proto": "tcp", "container_port": 80, "host_ip": null, "host_port": {}}}]}}])",
                      "4294967376")) ==
        "snapshot: containers[0].published[0].host_port: 4294967376 is out of range (0 to 65535)");
  CHECK(load_error(in(R"("time_wait": [{{"protocol": "tcp", "port": {}, "count": 1}}])", "-1"))
            .find("time_wait[0].port: -1 is out of range") != std::string::npos);
  CHECK(load_error(in(R"("links": [{{"ifindex": 1, "flags": 0, "mtu": {}}}])", "4294967296")) ==
        "snapshot: links[0].mtu: 4294967296 is out of range (0 to 4294967295)");
  CHECK(load_error(in(R"("links": [{{"ifindex": 1, "flags": 0, "operstate": {}}}])", "256")) ==
        "snapshot: links[0].operstate: 256 is out of range (0 to 255)");
  CHECK(load_error(in(R"("routes": [{{"family": "inet", "type": 1, "dst_len": {}, "table": 254}}])", "4294967304"))
            .find("routes[0].dst_len: 4294967304 is out of range") != std::string::npos);
  CHECK(load_error(in(R"("other_netns": [{{"netns": "n", "netns_inode": {}, "listener": {{}}}}])", "-5")) ==
        "snapshot: other_netns[0].netns_inode: -5 is out of range (0 to 18446744073709551615)");
  CHECK(load_error(in(R"("other_netns_addresses": [{{"netns": "n", "address": "10.0.0.2", "interface": "e",
        "routes": [{}]}}])", R"("10.0.0.0/4294967304")")) ==
        "snapshot: other_netns_addresses[0].routes[0]: expected ADDRESS/LENGTH, LENGTH at most 32");
  CHECK(load_error(in(R"("other_netns_addresses": [{{"netns": "n", "address": "10.0.0.2", "interface": "e",
        "routes": [{}]}}])", R"("10.0.0.0/8x")")).find("routes[0]: expected ADDRESS/LENGTH") != std::string::npos);
  // 2^63+5 does not fit a sysctl's int64: it was read as 2^63-1
  CHECK(load_error(in(R"("sysctls": {{"net.core.somaxconn": {}}})", "9223372036854775813")) ==
        "snapshot: sysctls.net.core.somaxconn: 9223372036854775813 is out of range "
        "(-9223372036854775808 to 9223372036854775807)");
  CHECK(load_error(in(R"("counters": {{"TcpExt.ListenDrops": {}}})", "-1")).find("counters.TcpExt.ListenDrops: -1") !=
        std::string::npos);
  // nlohmann reads 2^64 as a double
  CHECK(load_error(in(R"("counters": {{"TcpExt.ListenDrops": {}}})", "18446744073709551616")) ==
        "snapshot: counters.TcpExt.ListenDrops: expected an integer");
  CHECK(load_error(in(R"("gaps": {{"unreadable_processes": {}}})", "-3")).find("gaps.unreadable_processes: -3") !=
        std::string::npos);
  SUBCASE("a probe's time: a finite number of milliseconds, not negative, at most an hour") {
    const std::string probe = R"("probes": [{{"address": "10.0.0.1", "port": 1, "result": "ok", "millis": {}}}])";
    for (const char* bad : {"-1", "-1e308", "1e300", "3600001"}) {
      CAPTURE(bad);
      CHECK(load_error(in(probe, bad)).starts_with("snapshot: probes[0].millis: "));
    }
    CHECK(load_error(in(probe, "1e999")).starts_with("not JSON"));  // no infinity in JSON
    auto ok = snapshot_from_json(in(probe, "12.5"));
    REQUIRE(ok);
    CHECK(ok->probes.at(0).millis == 12.5);
  }
  SUBCASE("the same checks when the records come before netwhy_snapshot (kept in the document until then)") {
    CHECK(load_error(R"({"addresses": [{"ifindex": 1, "family": "inet", "local": "10.0.0.1", "prefixlen": 4294967304}],
                         "netwhy_snapshot": 1})") ==
          "snapshot: addresses[0].prefixlen: 4294967304 is out of range (0 to 32)");
  }
}

TEST_CASE("bytes from the file in an error message are escaped: a key of sysctls or counters") {
  // ESC ] 0 ; ... BEL sets a terminal's title; CSI (C1 0x9b) starts a sequence.
  for (const char* table : {"sysctls", "counters"}) {
    CAPTURE(table);
    const std::string message =
        load_error(fmt::format(R"({{"netwhy_snapshot": 1, "{}": {{"a\u001b]0;pwned\u0007\u009b31m\\b": "x"}}}})", table));
    CHECK(message == fmt::format(R"(snapshot: {}.a\x1b]0;pwned\x07\xc2\x9b31m\\b: expected an integer)", table));
    CHECK(std::none_of(message.begin(), message.end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return u < 0x20 || u == 0x7f || u >= 0x80;
    }));
  }
  // A long key is shortened, as an argument is.
  const std::string long_key = load_error(fmt::format(R"({{"netwhy_snapshot": 1, "sysctls": {{"{}": -1.5}}}})",
                                                      std::string(100000, 'k')));
  CHECK(long_key == fmt::format("snapshot: sysctls.{}...: expected an integer", std::string(60, 'k')));
}

TEST_CASE("the deepest snapshot netwhy writes loads back: maps over concatenations of ranges in its ruleset") {
  // A snapshot keeps libnftables' JSON when the text listing can't be read
  // (and files from netwhy before 0.2 always have it). tests/data/nft/deep
  // is the deepest JSON of rules netwhy reads, recorded from nft 1.0.6:
  // 18 levels, 20 in the file (past the old limit of 16).
  const std::filesystem::path dir = std::filesystem::path(source_dir()) / "tests/data/nft";
  const std::string ruleset = read_text(dir / "deep.json");
  const std::string listing = read_text(dir / "deep.txt");
  auto fw = parse_nft_ruleset(ruleset, listing);
  REQUIRE(fw);
  fw->raw_json = ruleset;
  fw->raw_text = listing;
  Host h;
  h.s.firewall = *fw;
  const std::string id(64, 'c');
  h.listen("0.0.0.0", 8080, {tagged(proc(31700, 1, "docker-proxy", "docker-proxy"), container_tag("docker", id, "web", true))});
  h.s.other_netns.push_back({"pid:4", 4026532290ULL, h.s.listeners.front()});
  for (bool pretty : {false, true}) {
    const std::string file = snapshot_to_json(h.s, pretty);
    CAPTURE(file);
    CHECK(json_depth(file) == 20);
    CHECK(json_depth(file) * 3 <= snapshot_max_depth);  // a margin for rulesets deeper than these
    auto back = snapshot_from_json(file);
    REQUIRE(back);
    CHECK(back->firewall.rules == h.s.firewall.rules);
    CHECK(back->firewall.chains == h.s.firewall.chains);
    CHECK(back->firewall.sets == h.s.firewall.sets);
    CHECK(back->firewall.rules.size() == 4);
    CHECK(back->listeners == h.s.listeners);
    CHECK(back->other_netns == h.s.other_netns);
    CHECK(diagnose(*back, query(8080)).findings == diagnose(h.s, query(8080)).findings);
  }
}

TEST_CASE("firewall.nftables is kept as the file's JSON text, written back without a document") {
  const std::string nft =
      R"({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "t\"q\\b\u0001\u00e9", "handle": 1}},
        {"x": [1, -2, 3.5e10, 1E300, -0.0, 18446744073709551615, true, false, null, {}, [], {"k": [[{}]]}, "\ud83d\ude00"]}]})";
  const auto with = [&](std::string_view nftables) {
    return fmt::format(R"({{"netwhy_snapshot": 1, "firewall": {{"read": true, "listing": "", "nftables": {}}}}})",
                       nftables);
  };
  auto s = snapshot_from_json(with(nft));
  REQUIRE(s);
  CHECK(nlohmann::json::parse(s->firewall.raw_json) == nlohmann::json::parse(nft));
  CHECK(s->firewall.raw_json.find('\n') == std::string::npos);  // compact
  // what parse_nft_ruleset makes of the same text
  auto direct = parse_nft_ruleset(nft, "");
  REQUIRE(direct);
  CHECK(s->firewall.chains == direct->chains);
  CHECK(s->firewall.rules == direct->rules);
  // null is none (the listing is read); twin keys: the last wins
  auto none = snapshot_from_json(with("null"));
  REQUIRE(none);
  CHECK(none->firewall.raw_json.empty());
  auto twin = snapshot_from_json(with(R"({"nftables": [{"bad": 1}]}, "nftables": null)"));
  REQUIRE(twin);
  CHECK(twin->firewall.raw_json.empty());
  CHECK(load_error(with(R"("text")")).starts_with("snapshot: firewall.nftables: "));
  // Written back and loaded again, the same Snapshot (floats as nlohmann writes them)
  for (const auto* loaded : {&s, &none, &twin}) {
    auto again = snapshot_from_json(snapshot_to_json(**loaded, false));
    REQUIRE(again);
    CHECK(*again == **loaded);
  }
  // twin keys inside it would become one when written back: refused
  CHECK(load_error(with(R"({"nftables": [{"table": {"name": "a", "family": "inet", "name": "b"}}]})")) ==
        R"(snapshot: firewall.nftables.nftables[0].table: "name" twice)");
  std::string many = R"({"nftables": [{"x": {)";
  for (int i = 0; i < 1000; ++i) many += fmt::format(R"("k{}": {}, )", i, i);
  CHECK(load_error(with(many + R"("k999": 0}}]})")) == R"(snapshot: firewall.nftables.nftables[0].x: "k999" twice)");
  CHECK(snapshot_from_json(with(many + R"("k1000": 0}}]})")).has_value());
}

TEST_CASE("top-level keys netwhy does not read are checked as JSON and dropped unbuilt") {
  std::string unread = R"({"netwhy_snapshot": 1, "x": [)";
  for (int i = 0; i < 200000; ++i) unread += i == 0 ? R"({"a": [1, "b", null]})" : R"(,{"a": [1, "b", null]})";
  unread += R"(], "y": {"z": 1e300}, "w": -5, "hostname": "h"})";
  auto s = snapshot_from_json(unread);
  REQUIRE(s);
  CHECK(s->hostname == "h");
  CHECK(load_error(R"({"netwhy_snapshot": 1, "x": [1, {"a": nope}]})").starts_with("not JSON: syntax error"));
  CHECK(load_error(R"({"netwhy_snapshot": 1, "x": [1, 2, {"a\u0007": [[)" + std::string(100, '[')) ==
        fmt::format("snapshot: x[2].a\\x07{}: nested deeper than {} levels", [] {
          std::string indexes;
          for (int level = 5; level <= snapshot_max_depth + 1; ++level) indexes += "[0]";
          return indexes;
        }(), snapshot_max_depth));
}

TEST_CASE("nesting: the limit loads, one level past it is refused naming the depth and where") {
  CHECK(snapshot_from_json(nested(snapshot_max_depth)).has_value());
  const std::string over = load_error(nested(snapshot_max_depth + 1));
  CAPTURE(over);
  std::string where = "x";  // level 2; the refused array is level 65, x[0]...[0] with 63 indexes
  for (int level = 3; level <= snapshot_max_depth + 1; ++level) where += "[0]";
  CHECK(over == fmt::format("snapshot: {}: nested deeper than {} levels", where, snapshot_max_depth));
  SUBCASE("inside a record of a top-level array, and inside a ruleset") {
    std::string deep_record = R"({"netwhy_snapshot": 1, "listeners": [{"processes": [)";
    deep_record += std::string(100, '[') + std::string(100, ']') + "]}]}";
    CHECK(load_error(deep_record).starts_with("snapshot: listeners[0].processes[0][0]"));
    CHECK(load_error(deep_record).ends_with(fmt::format("nested deeper than {} levels", snapshot_max_depth)));
    std::string deep_ruleset = R"({"netwhy_snapshot": 1, "firewall": {"read": true, "nftables": {"nftables": [)";
    deep_ruleset += std::string(100000, '[');  // cut short as well: the depth is what is said
    CHECK(load_error(deep_ruleset).starts_with("snapshot: firewall.nftables.nftables[0][0][0]"));
    std::string deep_keys = R"({"netwhy_snapshot": 1, "firewall": {"nftables": {"nftables": [{"rule": )";
    for (int i = 0; i < 100; ++i) deep_keys += R"({"k\u001b": )";
    CHECK(load_error(deep_keys).starts_with(R"(snapshot: firewall.nftables.nftables[0].rule.k\x1b.k\x1b.)"));
  }
}

TEST_CASE("large files of small records load, in any key order; twin keys: the last wins") {
  SUBCASE("200,000 small objects in an array (quadratic before: 45 s)") {
    std::string text = R"({"netwhy_snapshot": 1, "x": [)";
    for (int i = 0; i < 200000; ++i) text += i == 0 ? "{}" : ",{}";
    text += "]}";
    CHECK(snapshot_from_json(text).has_value());
  }
  SUBCASE("200,000 records, and an object of 100,000 keys") {
    std::string text = R"({"netwhy_snapshot": 1, "time_wait": [)";
    for (int i = 0; i < 200000; ++i) {
      text += fmt::format(R"({}{{"protocol": "tcp", "port": {}, "count": {}}})", i == 0 ? "" : ",", i % 65536, i);
    }
    text += R"(], "counters": {)";
    for (int i = 0; i < 100000; ++i) text += fmt::format(R"({}"TcpExt.c{}": {})", i == 0 ? "" : ",", i, i);
    text += "}}";
    auto s = snapshot_from_json(text);
    REQUIRE(s);
    REQUIRE(s->time_wait.size() == 200000);
    CHECK(s->time_wait[199999].port == 199999 % 65536);
    CHECK(s->time_wait[199999].count == 199999);
    REQUIRE(s->counters.size() == 100000);
    CHECK(s->counters.at("TcpExt.c99999") == 99999);
  }
  SUBCASE("netwhy_snapshot last: the same snapshot") {
    Host h;
    h.listen("0.0.0.0", 22, {proc(11, 1, "sshd", "sshd")});
    h.s.sysctls["net.core.somaxconn"] = 4096;
    const std::string file = snapshot_to_json(h.s, false);
    const std::string version = R"({"netwhy_snapshot":1,)";
    REQUIRE(file.starts_with(version));
    const std::string moved = "{" + file.substr(version.size(), file.rfind('}') - version.size()) + R"(,"netwhy_snapshot":1})";
    auto a = snapshot_from_json(file);
    auto b = snapshot_from_json(moved);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a == *b);
    CHECK(b->listeners == h.s.listeners);
    CHECK(load_error(R"({"links": [{"ifindex": "x"}], "netwhy_snapshot": 2})").find("version 2") != std::string::npos);
  }
  SUBCASE("twin keys") {
    const auto links = [&](int i) { return fmt::format(R"("links": [{{"ifindex": {}, "flags": 0}}])", i); };
    for (const std::string& text :
         {fmt::format(R"({{"netwhy_snapshot": 1, {}, {}}})", links(3), links(4)),
          fmt::format(R"({{{}, "netwhy_snapshot": 1, {}}})", links(3), links(4)),
          fmt::format(R"({{{}, {}, "netwhy_snapshot": 1}})", links(3), links(4))}) {
      CAPTURE(text);
      auto s = snapshot_from_json(text);
      REQUIRE(s);
      REQUIRE(s->links.size() == 1);
      CHECK(s->links[0].ifindex == 4);
    }
    auto none = snapshot_from_json(fmt::format(R"({{"netwhy_snapshot": 1, {}, "links": null}})", links(3)));
    REQUIRE(none);
    CHECK(none->links.empty());
  }
}

// ---- the diagnosis against many addresses (issue 11) ----

namespace {

// A golden case's snapshot with `extra` more /32 addresses (100.64.0.1 on,
// where no golden case has any) on
// the interface of its first global IPv4 address off lo.
Snapshot grown(const std::string& golden_case, std::uint32_t extra) {
  auto s = snapshot_from_json(read_text(std::filesystem::path(source_dir()) / "tests/data/golden" /
                                        (golden_case + ".snapshot.json")));
  REQUIRE(s);
  const auto base = std::find_if(s->addresses.begin(), s->addresses.end(), [](const Address& a) {
    return a.family == Family::inet && a.ifindex != 1 && a.local.has_value();
  });
  REQUIRE(base != s->addresses.end());
  const Address model = *base;
  for (std::uint32_t i = 1; i <= extra; ++i) {
    Address a = model;
    const std::uint32_t v4 = (100U << 24) + (64U << 16) + i;
    const unsigned char bytes[4] = {static_cast<unsigned char>(v4 >> 24), static_cast<unsigned char>(v4 >> 16),
                                    static_cast<unsigned char>(v4 >> 8), static_cast<unsigned char>(v4)};
    a.local = a.address = IpAddr::from_bytes(Family::inet, bytes, 4);
    a.prefixlen = 32;
    a.broadcast.reset();
    a.label.reset();
    s->addresses.push_back(std::move(a));
  }
  return std::move(*s);
}

}  // namespace

// Each forwarded address once looked for its way by scanning every address
// and route: 100,000 addresses on docker-published took 209 s (the test's
// timeout is 60 s). No time is asserted: the answer must be the same as for
// the case as recorded, for every new address.
TEST_CASE("100,000 addresses: the same answer for each as for the address they copy (quadratic before: 209 s)") {
  for (const auto& [name, port] : {std::pair<std::string, std::uint16_t>{"docker-published", 8080},
                                   std::pair<std::string, std::uint16_t>{"port-forward", 9000}}) {
    CAPTURE(name);
    Query q;
    q.port = port;
    q.protocol = Protocol::tcp;
    const Diagnosis before = diagnose(grown(name, 0), q);
    const Snapshot big = grown(name, 100000);
    const Diagnosis after = diagnose(big, q);
    CHECK(after.verdict == before.verdict);
    CHECK(after.endpoints.size() == before.endpoints.size() + 100000);
    // The copied address's endpoint and every new one agree.
    const Address& model = *std::find_if(big.addresses.begin(), big.addresses.end(), [](const Address& a) {
      return a.family == Family::inet && a.ifindex != 1 && a.local.has_value();
    });
    const auto model_end = std::find_if(after.endpoints.begin(), after.endpoints.end(),
                                        [&](const Endpoint& e) { return e.address == *model.local; });
    REQUIRE(model_end != after.endpoints.end());
    std::size_t added = 0;
    std::size_t differ = 0;
    for (const Endpoint& e : after.endpoints) {
      const bool old = std::any_of(before.endpoints.begin(), before.endpoints.end(),
                                   [&](const Endpoint& b) { return b.address == e.address; });
      if (old) continue;
      ++added;
      if (e.local != model_end->local || e.remote != model_end->remote || e.interface != model_end->interface) {
        ++differ;
      }
    }
    CHECK(added == 100000);
    CHECK(differ == 0);
    CHECK(model_end->remote == true);  // the copied address is reachable from other hosts: so are the new ones
  }
}

// Every address once sent its own packets through every base chain: 4,000
// base chains of 10 rules against 10,000 addresses took 126 s. The last
// chain drops port 8000: every address, the new ones too, must say so.
TEST_CASE("4,000 base chains of 10 rules against 10,000 addresses: a drop in the last one is found for each") {
  Snapshot s = grown("reachable", 10000);
  std::string items = R"({"table": {"family": "inet", "name": "t", "handle": 1}})";
  int handle = 2;
  const auto drop_port = [](int port) {
    return fmt::format(R"([{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "tcp", "field": "dport"}}}},
        "right": {}}}}}, {{"drop": null}}])", port);
  };
  for (int b = 0; b < 4000; ++b) {
    items += fmt::format(R"(, {{"chain": {{"family": "inet", "table": "t", "name": "b{}", "handle": {}, "type": "filter",
        "hook": "input", "prio": {}, "policy": "accept"}}}})", b, handle++, b % 100);
    for (int r = 0; r < 10; ++r) {
      const int port = b == 3999 && r == 9 ? 8000 : 10000 + r;
      items += fmt::format(R"(, {{"rule": {{"family": "inet", "table": "t", "chain": "b{}", "handle": {},
          "expr": {}}}}})", b, handle++, drop_port(port));
    }
  }
  auto fw = parse_nft_ruleset(R"({"nftables": [)" + items + "]}");
  REQUIRE(fw);
  REQUIRE(fw->rules.size() == 40000);
  Query q;
  q.port = 8000;
  q.protocol = Protocol::tcp;
  const Diagnosis open = diagnose(s, q);
  REQUIRE(open.verdict == Verdict::reachable);
  s.firewall = std::move(*fw);
  const Diagnosis closed = diagnose(s, q);
  CHECK(closed.verdict == Verdict::unreachable);
  CHECK(std::any_of(closed.findings.begin(), closed.findings.end(),
                    [](const Finding& f) { return f.code == Code::firewall_drop; }));
  std::size_t remote_open = 0;
  std::size_t new_endpoints = 0;
  for (const Endpoint& e : closed.endpoints) {
    if (e.address.family == Family::inet && e.address.bytes[0] == 100 && e.address.bytes[1] == 64) {
      ++new_endpoints;
      if (e.remote != false) ++remote_open;
    }
  }
  CHECK(new_endpoints == 10000);
  CHECK(remote_open == 0);
}
