#include <doctest/doctest.h>

#include <cerrno>

#include <fmt/format.h>

#include "snapshot_builder.hpp"

using namespace snaptest;

namespace {
const std::vector<Process> gunicorn = {proc(256, 1, "gunicorn", "/usr/bin/python3 /usr/bin/gunicorn -w 3 app:app"),
                                       proc(257, 256, "gunicorn", "/usr/bin/python3 /usr/bin/gunicorn -w 3 app:app"),
                                       proc(258, 256, "gunicorn", "/usr/bin/python3 /usr/bin/gunicorn -w 3 app:app"),
                                       proc(259, 256, "gunicorn", "/usr/bin/python3 /usr/bin/gunicorn -w 3 app:app")};
}

TEST_CASE("verdict reachable: a wildcard listener takes every address, from here and from other hosts") {
  Host h;
  h.listen("0.0.0.0", 8080, {proc(9, 1, "python3", "python3 -m http.server 8080")});
  const auto d = diagnose(h.s, query(8080));
  CHECK(d.verdict == Verdict::reachable);
  CHECK(endpoint(d, "10.0.2.15").local);
  CHECK(endpoint(d, "10.0.2.15").remote == true);
  CHECK(endpoint(d, "127.0.0.1").remote == false);  // loopback: never from other hosts
  CHECK(endpoint(d, "::1").local == false);          // an IPv4 socket
  CHECK(d.findings.empty());
  CHECK(d.headline == "python3 (pid 9) listens on 0.0.0.0:8080: other machines can connect (10.0.2.15 on eth0)");
}

TEST_CASE("bound-to-loopback: gunicorn's default bind, with workers, and the gunicorn fix") {
  Host h;
  h.listen("127.0.0.1", 8000, gunicorn);
  const auto d = diagnose(h.s, query(8000));
  CHECK(d.verdict == Verdict::local_only);
  CHECK(d.headline == "gunicorn (pid 256, 3 workers) listens on 127.0.0.1:8000 only: other machines can't connect");
  const auto f = finding(d, "bound-to-loopback");
  REQUIRE(f != std::nullopt);
  CHECK(f->severity == Severity::error);
  CHECK(f->pid == 256);
  REQUIRE(f->fix);
  CHECK(f->fix->rfind("gunicorn -w 3 -b 0.0.0.0:8000 app:app", 0) == 0);
  CHECK(endpoint(d, "127.0.0.1").local);
  CHECK_FALSE(endpoint(d, "10.0.2.15").local);
  CHECK(endpoint(d, "10.0.2.15").remote == false);
}

TEST_CASE("not-listening, with port-mismatch naming the nearest listeners") {
  Host h;
  h.listen("0.0.0.0", 8080, {proc(9, 1, "java", "java -jar app.jar")});
  h.listen("127.0.0.1", 8001, {proc(10, 1, "node", "node server.js")});
  h.listen("0.0.0.0", 22, {proc(11, 1, "sshd", "sshd")});
  const auto d = diagnose(h.s, query(8000));
  CHECK(d.verdict == Verdict::not_listening);
  CHECK(finding(d, "not-listening") != std::nullopt);
  const auto m = finding(d, "port-mismatch");
  REQUIRE(m != std::nullopt);
  CHECK(m->message.find("node (pid 10) on 127.0.0.1:8001") != std::string::npos);
  CHECK(m->message.find("java (pid 9) on 0.0.0.0:8080") != std::string::npos);
  CHECK(m->message.find("sshd") == std::string::npos);  // far away, not a typical program for 8000
  CHECK(m->port == 8001);
}

TEST_CASE("port-mismatch names a program that usually serves the port even far away") {
  Host h;
  h.listen("0.0.0.0", 5433, {proc(70, 1, "postgres", "postgres -D /var/lib/postgresql")});
  const auto d = diagnose(h.s, query(5432));
  const auto m = finding(d, "port-mismatch");
  REQUIRE(m != std::nullopt);
  CHECK(m->message.find("postgres (pid 70) on 0.0.0.0:5433") != std::string::npos);
  Host far;
  far.listen("0.0.0.0", 9999, {proc(71, 1, "redis-server", "redis-server")});
  CHECK(finding(diagnose(far.s, query(5432)), "port-mismatch") == std::nullopt);
}

TEST_CASE("time-wait-only: the server stopped recently") {
  Host h;
  h.s.time_wait.push_back({Protocol::tcp, 8000, 3});
  const auto d = diagnose(h.s, query(8000));
  const auto f = finding(d, "time-wait-only");
  REQUIRE(f != std::nullopt);
  CHECK(f->message.find("3 connections") != std::string::npos);
  CHECK(finding(diagnose(h.s, query(8001)), "time-wait-only") == std::nullopt);
}

TEST_CASE("privileged-port follows net.ipv4.ip_unprivileged_port_start") {
  Host h;
  CHECK(finding(diagnose(h.s, query(80)), "privileged-port") != std::nullopt);
  CHECK(finding(diagnose(h.s, query(8080)), "privileged-port") == std::nullopt);
  h.s.sysctls["net.ipv4.ip_unprivileged_port_start"] = 0;
  CHECK(finding(diagnose(h.s, query(80)), "privileged-port") == std::nullopt);
}

TEST_CASE("other-netns: the server is in a container's namespace") {
  Host h;
  ForeignListener f;
  f.netns = "web";
  Listener l;
  l.socket.local = *IpAddr::parse("0.0.0.0");
  l.socket.port = 8000;
  l.socket.state = tcp_listen;
  l.processes = {proc(4242, 4200, "python3", "python3 app.py")};
  f.listener = l;
  h.s.other_netns.push_back(f);
  const auto d = diagnose(h.s, query(8000));
  CHECK(d.verdict == Verdict::not_listening);
  const auto o = finding(d, "other-netns");
  REQUIRE(o != std::nullopt);
  CHECK(o->netns == "web");
  CHECK(o->pid == 4242);
  CHECK(o->message.find("python3 (pid 4242)") != std::string::npos);
  CHECK(d.headline.find("another network namespace (web)") != std::string::npos);
}

TEST_CASE("bound-to-other-address: one address of several") {
  Host h;
  h.link(3, "eth1", up_flags).addr(3, "192.168.1.10", 24);
  h.listen("10.0.2.15", 9090, {proc(5, 1, "java", "java -Dcatalina.home=/opt/tomcat org.apache.catalina.startup.Bootstrap start")});
  const auto d = diagnose(h.s, query(9090));
  CHECK(d.verdict == Verdict::reachable);
  const auto f = finding(d, "bound-to-other-address");
  REQUIRE(f != std::nullopt);
  CHECK(f->severity == Severity::warning);  // clients of 192.168.1.10 fail; those of 10.0.2.15 connect
  CHECK(f->message.find("192.168.1.10 (eth1)") != std::string::npos);
  CHECK(f->fix->find("Connector port=\"9090\"") != std::string::npos);
  CHECK(endpoint(d, "192.168.1.10").remote == false);
  CHECK(endpoint(d, "10.0.2.15").remote == true);
  // Asked for the other address: an error.
  const auto asked = diagnose(h.s, query(9090, "192.168.1.10", {"192.168.1.10"}));
  CHECK(asked.verdict == Verdict::unreachable);
  CHECK(finding(asked, "bound-to-other-address")->severity == Severity::error);
}

TEST_CASE("address-not-local: bound to an address no interface has") {
  Host h;
  h.listen("10.9.9.9", 7000, {proc(5, 1, "nginx", "nginx: master process")});
  const auto d = diagnose(h.s, query(7000));
  CHECK(d.verdict == Verdict::unreachable);
  const auto f = finding(d, "address-not-local");
  REQUIRE(f != std::nullopt);
  CHECK(f->address == "10.9.9.9");
}

TEST_CASE("family-mismatch: localhost resolves to ::1 first and only 127.0.0.1 listens") {
  Host h;
  h.listen("127.0.0.1", 5000, {proc(77, 1, "python3", "python3 app.py")});
  const auto d = diagnose(h.s, query(5000, "localhost", {"::1", "127.0.0.1"}));
  CHECK(d.verdict == Verdict::reachable);
  const auto f = finding(d, "family-mismatch");
  REQUIRE(f != std::nullopt);
  CHECK(f->severity == Severity::warning);
  CHECK(f->address == "::1");
  CHECK(endpoint(d, "::1").from_host);
  CHECK_FALSE(endpoint(d, "::1").local);
  // Only ::1: nothing takes it.
  const auto only6 = diagnose(h.s, query(5000, "ip6-localhost", {"::1"}));
  CHECK(only6.verdict == Verdict::unreachable);
  CHECK(finding(only6, "family-mismatch")->severity == Severity::error);
}

TEST_CASE("v6only: an IPv6 wildcard with IPV6_V6ONLY refuses IPv4") {
  Host h;
  Listener& l = h.listen("::", 9090, {proc(8, 1, "python3", "python3 v6.py")});
  l.socket.v6only = true;
  const auto d = diagnose(h.s, query(9090));
  CHECK(finding(d, "v6only") != std::nullopt);
  CHECK_FALSE(endpoint(d, "127.0.0.1").local);
  CHECK_FALSE(endpoint(d, "10.0.2.15").local);
  CHECK(endpoint(d, "::1").local);
  l.socket.v6only = false;  // dual-stack takes IPv4 too
  const auto dual = diagnose(h.s, query(9090));
  CHECK(finding(dual, "v6only") == std::nullopt);
  CHECK(endpoint(dual, "10.0.2.15").remote == true);
  l.socket.v6only.reset();  // unknown (/proc): follows net.ipv6.bindv6only
  h.s.sysctls["net.ipv6.bindv6only"] = 1;
  CHECK(finding(diagnose(h.s, query(9090)), "v6only") != std::nullopt);
}

TEST_CASE("interface-down and no-carrier under a listening address") {
  Host h;
  h.listen("0.0.0.0", 8080, {proc(9, 1, "python3", "python3 -m http.server")});
  h.link_named("eth0").flags = IFF_BROADCAST;  // administratively down
  auto d = diagnose(h.s, query(8080));
  CHECK(d.verdict == Verdict::local_only);
  const auto down = finding(d, "interface-down");
  REQUIRE(down != std::nullopt);
  CHECK(down->interface == "eth0");
  CHECK(down->fix == "ip link set eth0 up");
  CHECK(endpoint(d, "10.0.2.15").local);  // this host still reaches its own address
  CHECK(endpoint(d, "10.0.2.15").remote == false);
  h.link_named("eth0").flags = IFF_UP | IFF_BROADCAST;  // up, no carrier
  h.link_named("eth0").kind = "bridge";
  d = diagnose(h.s, query(8080));
  const auto nc = finding(d, "no-carrier");
  REQUIRE(nc != std::nullopt);
  CHECK(nc->fix->find("master eth0") != std::string::npos);
  CHECK(endpoint(d, "10.0.2.15").remote == false);
}

TEST_CASE("accept-queue-full: queued at the backlog, or the kernel's overflow counters") {
  Host h;
  Listener& l = h.listen("0.0.0.0", 8000, gunicorn);
  l.socket.queued = 129;
  l.socket.backlog = 128;
  const auto full = diagnose(h.s, query(8000));
  const auto f = finding(full, "accept-queue-full");
  REQUIRE(f != std::nullopt);
  CHECK(f->severity == Severity::error);  // new connections time out: that is the answer
  CHECK(full.verdict == Verdict::unreachable);
  CHECK_FALSE(endpoint(full, "10.0.2.15").local);
  CHECK(endpoint(full, "10.0.2.15").remote == false);
  CHECK(full.headline.find("stopped accepting") != std::string::npos);
  l.socket.queued = 128;  // at the backlog: one more still fits
  CHECK(finding(diagnose(h.s, query(8000)), "accept-queue-full") == std::nullopt);
  l.socket.queued = 3;
  CHECK(finding(diagnose(h.s, query(8000)), "accept-queue-full") == std::nullopt);
  h.s.counters["TcpExt.ListenOverflows"] = 12;
  const auto c = finding(diagnose(h.s, query(8000)), "accept-queue-full");
  REQUIRE(c != std::nullopt);
  CHECK(c->severity == Severity::info);
  CHECK(c->message.find("since it was created") != std::string::npos);
  h.s.counters["TcpExt.ListenOverflows"] = 0;  // a namespace where nothing overflowed
  h.s.counters["TcpExt.ListenDrops"] = 5;
  CHECK(finding(diagnose(h.s, query(8000)), "accept-queue-full") == std::nullopt);
}

TEST_CASE("process-unknown says why: not root, or hidepid") {
  Host h;
  h.listen("0.0.0.0", 8000, {});
  h.s.gaps.root = false;
  h.s.gaps.unreadable_processes = 12;
  const auto f = finding(diagnose(h.s, query(8000)), "process-unknown");
  REQUIRE(f != std::nullopt);
  CHECK(f->message.find("not root") != std::string::npos);
  h.s.gaps.hidepid = true;
  CHECK(finding(diagnose(h.s, query(8000)), "process-unknown")->message.find("hidepid") != std::string::npos);
}

TEST_CASE("a remote HOST: the route, then the probe decides") {
  Host h;
  RouteLookup r;
  r.address = *IpAddr::parse("10.0.2.2");
  Route rt;
  rt.oif = 2;
  r.route = rt;
  h.s.route_lookups.push_back(r);
  Probe p;
  p.address = r.address;
  p.port = 80;
  p.result = ProbeResult::ok;
  h.s.probes.push_back(p);
  auto q = query(80, "10.0.2.2", {"10.0.2.2"});
  q.probed = true;
  auto d = diagnose(h.s, q);
  CHECK(d.verdict == Verdict::reachable);
  CHECK(finding(d, "connection-ok") != std::nullopt);
  CHECK(finding(d, "not-listening") == std::nullopt);  // here: nothing on 80, which does not matter for HOST
  CHECK_FALSE(endpoint(d, "10.0.2.2").interface.has_value());
  CHECK_FALSE(endpoint(d, "10.0.2.2").remote.has_value());
  h.s.probes[0].result = ProbeResult::refused;
  d = diagnose(h.s, q);
  CHECK(d.verdict == Verdict::unreachable);
  CHECK(finding(d, "connection-refused") != std::nullopt);
  h.s.probes[0].result = ProbeResult::timeout;
  CHECK(finding(diagnose(h.s, q), "connection-timeout") != std::nullopt);
}

TEST_CASE("no-route: the kernel has no route to HOST") {
  Host h;
  RouteLookup r;
  r.address = *IpAddr::parse("192.0.2.50");
  r.error = 113;  // EHOSTUNREACH
  h.s.route_lookups.push_back(r);
  auto d = diagnose(h.s, query(443, "192.0.2.50", {"192.0.2.50"}));
  CHECK(d.verdict == Verdict::unreachable);
  const auto f = finding(d, "no-route");
  REQUIRE(f != std::nullopt);
  CHECK(f->address == "192.0.2.50");
}

TEST_CASE("without a probe, a remote HOST is unknown, never reachable nor unreachable") {
  Host h;
  RouteLookup r;
  r.address = *IpAddr::parse("10.0.2.2");
  r.route = Route{};
  h.s.route_lookups.push_back(r);
  const auto d = diagnose(h.s, query(80, "10.0.2.2", {"10.0.2.2"}));
  CHECK(d.verdict == Verdict::unknown);
  CHECK(exit_status(d.verdict) == 3);
  CHECK(finding(d, "not-probed") != std::nullopt);
  CHECK(finding(d, "not-listening") == std::nullopt);  // this host's port is beside the point
  CHECK(finding(d, "privileged-port") == std::nullopt);
}

TEST_CASE("a socket bound to a device takes only packets arriving on it") {
  Host h;
  h.link(3, "eth1", up_flags).addr(3, "192.168.1.10", 24);
  Listener& l = h.listen("0.0.0.0", 7070, {proc(5, 1, "python3", "python3 srv.py")});
  l.socket.bound_ifindex = 2;
  l.interface = "eth0";
  const auto d = diagnose(h.s, query(7070));
  CHECK(endpoint(d, "10.0.2.15").remote == true);
  CHECK(endpoint(d, "192.168.1.10").remote == false);
  CHECK(endpoint(d, "10.0.2.15").local);  // a local connect to the device's own address is taken
  CHECK_FALSE(endpoint(d, "192.168.1.10").local);
  CHECK_FALSE(endpoint(d, "127.0.0.1").local);
  const auto f = finding(d, "bound-to-device");
  REQUIRE(f != std::nullopt);
  CHECK(f->interface == "eth0");
  CHECK(f->message.find("192.168.1.10 (eth1)") != std::string::npos);
  CHECK(f->severity == Severity::warning);  // eth0's clients connect
}

TEST_CASE("findings are ordered errors first") {
  Host h;
  h.listen("127.0.0.1", 8000, {});
  h.s.gaps.root = false;
  const auto d = diagnose(h.s, query(8000));
  for (std::size_t i = 1; i < d.findings.size(); ++i) CHECK(d.findings[i - 1].severity <= d.findings[i].severity);
}

TEST_CASE("fixes name the program") {
  const auto fix = [](std::vector<Process> procs, const char* ip = "127.0.0.1") {
    Listener l;
    l.socket.local = *IpAddr::parse(ip);
    l.processes = std::move(procs);
    return fix_to_listen_everywhere(l, 8000);
  };
  CHECK(fix({proc(1, 0, "gunicorn", "gunicorn myproj.wsgi:application")}).rfind("gunicorn -b 0.0.0.0:8000 myproj.wsgi:application", 0) == 0);
  CHECK(fix({proc(1, 0, "uvicorn", "/usr/bin/python3 /usr/bin/uvicorn main:app --reload")}).rfind("uvicorn main:app --host 0.0.0.0 --port 8000", 0) == 0);
  CHECK(fix({proc(1, 0, "flask", "/usr/bin/python3 /usr/bin/flask run")}).rfind("flask run --host 0.0.0.0", 0) == 0);
  Process flask = proc(1, 0, "python3", "python3 app.py");
  flask.framework = "flask";
  CHECK(fix({flask}).rfind("app.run(host=\"0.0.0.0\", port=8000) in app.py", 0) == 0);
  CHECK(fix({proc(1, 0, "python3", "python3 -m http.server 8000 --bind 127.0.0.1")}).rfind("python3 -m http.server 8000 --bind 0.0.0.0", 0) == 0);
  CHECK(fix({proc(1, 0, "python3", "python3 manage.py runserver")}).rfind("python manage.py runserver 0.0.0.0:8000", 0) == 0);
  CHECK(fix({proc(1, 0, "node", "node server.js")}).rfind("server.listen(8000, \"0.0.0.0\")", 0) == 0);
  CHECK(fix({proc(1, 0, "nginx", "nginx: master process /usr/sbin/nginx")}).rfind("listen 8000;", 0) == 0);
  CHECK(fix({proc(1, 0, "java", "java org.apache.catalina.startup.Bootstrap start")}).find("<Connector port=\"8000\">") != std::string::npos);
  CHECK(fix({proc(1, 0, "myserver", "./myserver")}).rfind("make myserver listen on 0.0.0.0", 0) == 0);
  CHECK(fix({}).rfind("make the server listen on 0.0.0.0", 0) == 0);
  // A Python program that is not identified gets no framework's words.
  CHECK(fix({proc(1, 0, "python3", "python3 server.py")}).find("app.run") == std::string::npos);
  CHECK(fix({proc(1, 0, "python3", "python3 server.py")}).find("server.py") != std::string::npos);
  CHECK(fix({proc(1, 0, "java", "java -jar app.jar")}).find("server.address=0.0.0.0") != std::string::npos);
  CHECK(fix({proc(1, 0, "java", "java -jar /opt/jetty/start.jar")}).find("jetty.http.host") != std::string::npos);
  // Every fix for a development server says what binding everywhere means.
  CHECK(fix({proc(1, 0, "flask", "flask run")}).find("exposes") != std::string::npos);
}

TEST_CASE("a UDP server never gets a TCP framework's fix") {
  Listener l;
  l.socket.protocol = Protocol::udp;
  l.socket.local = *IpAddr::parse("127.0.0.1");
  Process flask = proc(1, 0, "python3", "python3 app.py");
  flask.framework = "flask";
  l.processes = {flask};
  const std::string fix = fix_to_listen_everywhere(l, 5353);
  CHECK(fix.find("app.run") == std::string::npos);
  CHECK(fix.rfind("make python3 listen on 0.0.0.0", 0) == 0);
}

TEST_CASE("UDP to a remote HOST: no probe, and netwhy says why") {
  Host h;
  RouteLookup r;
  r.address = *IpAddr::parse("10.0.2.2");
  r.route = Route{};
  h.s.route_lookups.push_back(r);
  auto q = query(53, "10.0.2.2", {"10.0.2.2"});
  q.protocol = Protocol::udp;
  const auto d = diagnose(h.s, q);
  const auto f = finding(d, "not-probed");
  REQUIRE(f != std::nullopt);
  CHECK(f->message.find("UDP has no handshake") != std::string::npos);
  CHECK(d.verdict == Verdict::unknown);
  CHECK(d.headline.find("UDP has no handshake") != std::string::npos);
}

TEST_CASE("a snapshot without route lookups: the longest matching route of its tables decides") {
  Host h;
  Route net;
  net.family = Family::inet;
  net.type = RTN_UNICAST;
  net.dst = IpAddr::parse("10.0.2.0");
  net.dst_len = 24;
  net.oif = 2;
  h.s.routes.push_back(net);
  CHECK(finding(diagnose(h.s, query(80, "10.0.2.7", {"10.0.2.7"})), "no-route") == std::nullopt);
  const auto far = diagnose(h.s, query(80, "192.0.2.1", {"192.0.2.1"}));
  CHECK(finding(far, "no-route") != std::nullopt);
  Route hole = net;
  hole.type = RTN_BLACKHOLE;
  hole.dst = IpAddr::parse("10.0.2.128");
  hole.dst_len = 25;
  h.s.routes.push_back(hole);
  CHECK(finding(diagnose(h.s, query(80, "10.0.2.200", {"10.0.2.200"})), "no-route") != std::nullopt);
}

namespace {

// An nftables input chain (policy accept) with one rule for the port.
void filter_port(Host& h, std::uint16_t port, FwVerdict verdict) {
  FwChain chain;
  chain.family = "inet";
  chain.table = "t";
  chain.name = "in";
  chain.type = "filter";
  chain.hook = "input";
  h.s.firewall.chains.push_back(chain);
  FwRule rule;
  rule.family = "inet";
  rule.table = "t";
  rule.chain = "in";
  rule.handle = 2;
  rule.text = fmt::format("tcp dport {} drop", port);
  FwMatch m;
  m.key = FwKey::dport;
  m.proto = "tcp";
  FwValue v;
  v.number = port;
  m.values.push_back(v);
  rule.matches.push_back(m);
  rule.verdict = verdict;
  h.s.firewall.rules.push_back(rule);
}

// A container namespace NS at IP (with a default route), where nginx listens
// on 0.0.0.0:80 when `listens`.
void container(Host& h, const char* ns, const char* ip, bool listens) {
  ForeignAddress fa;
  fa.netns = ns;
  fa.address = *IpAddr::parse(ip);
  fa.interface = "eth0";
  fa.routes = {{*IpAddr::parse("0.0.0.0"), 0}};
  h.s.other_netns_addresses.push_back(fa);
  if (!listens) return;
  ForeignListener fl;
  fl.netns = ns;
  fl.listener.socket.local = *IpAddr::parse("0.0.0.0");
  fl.listener.socket.port = 80;
  fl.listener.socket.state = tcp_listen;
  fl.listener.processes = {proc(5151, 5150, "nginx", "nginx: master process")};
  h.s.other_netns.push_back(fl);
}

// table ip nat, chain prerouting (type nat, priority dstnat), empty.
void nat_prerouting(Host& h) {
  FwChain pre;
  pre.family = "ip";
  pre.table = "nat";
  pre.name = "prerouting";
  pre.type = "nat";
  pre.hook = "prerouting";
  pre.priority = -100;
  h.s.firewall.chains = {pre};
  h.s.firewall.rules.clear();
}

// A match of KEY (with PROTO's payload) against one name or number.
FwMatch text_match(FwKey key, const char* proto, const char* text) {
  FwMatch m;
  m.key = key;
  m.proto = proto;
  FwValue v;
  v.kind = FwValue::Kind::text;
  v.text = text;
  m.values.push_back(v);
  return m;
}

FwMatch number_match(FwKey key, const char* proto, std::uint64_t n) {
  FwMatch m;
  m.key = key;
  m.proto = proto;
  FwValue v;
  v.number = n;
  m.values.push_back(v);
  return m;
}

// A DNAT of `port` to TO:80 in that chain, for packets arriving on IIF (any when null).
void dnat_rule(Host& h, std::uint64_t handle, std::uint16_t port, const char* iif, const char* to) {
  FwRule r;
  r.family = "ip";
  r.table = "nat";
  r.chain = "prerouting";
  r.handle = handle;
  if (iif != nullptr) r.matches.push_back(text_match(FwKey::iifname, "", iif));
  r.matches.push_back(number_match(FwKey::dport, "tcp", port));
  r.verdict = FwVerdict::dnat;
  r.nat_addr = *IpAddr::parse(to);
  r.nat_port = 80;
  r.text = iif != nullptr ? fmt::format("iifname {} tcp dport {} dnat to {}:80", iif, port, to)
                          : fmt::format("tcp dport {} dnat to {}:80", port, to);
  h.s.firewall.rules.push_back(r);
}

Probe probe(const char* ip, std::uint16_t port, ProbeResult result, int error = 0) {
  Probe p;
  p.address = *IpAddr::parse(ip);
  p.port = port;
  p.result = result;
  p.error = error;
  p.millis = 3;
  return p;
}

bool has_error(const Diagnosis& d) {
  return std::any_of(d.findings.begin(), d.findings.end(), [](const Finding& f) { return f.severity == Severity::error; });
}

}  // namespace

TEST_CASE("--host with this host's own address answers for clients on other hosts") {
  Host h;
  h.listen("0.0.0.0", 8080, {proc(9, 1, "python3", "python3 -m http.server 8080")});
  filter_port(h, 8080, FwVerdict::drop);  // for packets arriving on eth0
  h.s.firewall.rules[0].matches.push_back(text_match(FwKey::iifname, "", "eth0"));
  const auto d = diagnose(h.s, query(8080, "10.0.2.15", {"10.0.2.15"}));
  CHECK(endpoint(d, "10.0.2.15").local);           // from here it works...
  CHECK(endpoint(d, "10.0.2.15").remote == false);  // ...but not for the clients the question is about
  CHECK(d.verdict == Verdict::unreachable);
  CHECK(exit_status(d.verdict) == 1);
  CHECK(finding(d, "firewall-drop")->severity == Severity::error);
  CHECK(d.headline.find("drops") != std::string::npos);
  // A loopback HOST is this host's own client: the rule for other hosts is beside the point.
  const auto lo = diagnose(h.s, query(8080, "127.0.0.1", {"127.0.0.1"}));
  CHECK(lo.verdict == Verdict::reachable);
  CHECK_FALSE(has_error(lo));
  // The same address with its interface down and nowhere else to come in: no client gets there.
  Host down;
  down.listen("0.0.0.0", 8080, {proc(9, 1, "python3", "python3 -m http.server 8080")});
  down.link_named("eth0").flags = IFF_BROADCAST;
  const auto dd = diagnose(down.s, query(8080, "10.0.2.15", {"10.0.2.15"}));
  CHECK(dd.verdict == Verdict::unreachable);
  CHECK(finding(dd, "interface-down")->severity == Severity::error);
  CAPTURE(dd.headline);
  CHECK(dd.headline.find("eth0 is down") == 0);
}

TEST_CASE("the weak host model: an address on a down interface is reached through the others") {
  Host h;
  h.link(3, "eth1", IFF_BROADCAST).addr(3, "10.71.0.1", 24);  // down
  h.listen("0.0.0.0", 8080, {proc(9, 1, "python3", "python3 -m http.server 8080")});
  const auto d = diagnose(h.s, query(8080));
  CHECK(endpoint(d, "10.71.0.1").remote == true);
  CHECK(d.verdict == Verdict::reachable);
  const auto f = finding(d, "interface-down");
  REQUIRE(f != std::nullopt);
  CHECK(f->severity == Severity::warning);
  CHECK(f->message.find("clients on its network (10.71.0.0/24) can't reach 10.71.0.1") != std::string::npos);
  CHECK(f->message.find("another interface") != std::string::npos);
  CHECK_FALSE(has_error(d));
}

TEST_CASE("a client's question about another machine leads with the probe") {
  Host h;  // nothing listens here on 8080, and 80 is privileged: beside the point
  RouteLookup r;
  r.address = *IpAddr::parse("10.70.0.1");
  r.route = Route{};
  h.s.route_lookups.push_back(r);
  h.s.probes.push_back(probe("10.70.0.1", 80, ProbeResult::ok));
  auto q = query(80, "10.70.0.1", {"10.70.0.1"});
  q.probed = true;
  const auto ok = diagnose(h.s, q);
  CHECK(ok.verdict == Verdict::reachable);
  CHECK(ok.headline.rfind("10.70.0.1:80 accepts connections from here", 0) == 0);
  CHECK_FALSE(has_error(ok));
  CHECK(finding(ok, "not-listening") == std::nullopt);
  CHECK(finding(ok, "privileged-port") == std::nullopt);
  const struct {
    ProbeResult result;
    int error;
    const char* code;
  } failures[] = {{ProbeResult::refused, ECONNREFUSED, "connection-refused"},
                  {ProbeResult::timeout, 0, "connection-timeout"},
                  {ProbeResult::unreachable, EHOSTUNREACH, "host-unreachable"},
                  {ProbeResult::unreachable, ENETUNREACH, "no-route"},
                  {ProbeResult::error, EPERM, "connection-blocked"},
                  {ProbeResult::error, EACCES, "connection-blocked"},
                  {ProbeResult::error, ECONNRESET, "connection-failed"}};
  for (const auto& fail : failures) {
    CAPTURE(fail.code);
    h.s.probes[0] = probe("10.70.0.1", 80, fail.result, fail.error);
    const auto d = diagnose(h.s, q);
    CHECK(d.verdict == Verdict::unreachable);
    const auto f = finding(d, fail.code);
    REQUIRE(f != std::nullopt);
    CHECK(f->severity == Severity::error);
    CHECK(d.headline == f->message.substr(0, f->message.size() - 1));  // the probe's result leads
    CHECK(finding(d, "connection-refused").has_value() == (std::string_view(fail.code) == "connection-refused"));
  }
}

TEST_CASE("both families: IPv6 connects while IPv4 has no route; the working connect is the answer") {
  Host h;
  RouteLookup v4;
  v4.address = *IpAddr::parse("192.0.2.7");
  v4.error = ENETUNREACH;
  RouteLookup v6;
  v6.address = *IpAddr::parse("2001:db8::7");
  v6.route = Route{};
  h.s.route_lookups = {v4, v6};
  h.s.probes.push_back(probe("2001:db8::7", 443, ProbeResult::ok));
  auto q = query(443, "web", {"192.0.2.7", "2001:db8::7"});
  q.probed = true;
  const auto d = diagnose(h.s, q);
  CHECK(d.verdict == Verdict::reachable);
  CHECK(finding(d, "no-route")->severity == Severity::warning);
  CHECK_FALSE(has_error(d));
  CHECK(d.headline.find("via 2001:db8::7") != std::string::npos);
}

TEST_CASE("unknown: the firewall can't be read (not root), and nothing is shown reachable") {
  Host h;
  h.listen("0.0.0.0", 8080, {});
  h.s.gaps.root = false;
  h.s.firewall.read = false;
  h.s.firewall.unreadable = "reading the ruleset needs root (CAP_NET_ADMIN)";
  const auto d = diagnose(h.s, query(8080));
  CHECK(d.verdict == Verdict::unknown);
  CHECK(exit_status(d.verdict) == 3);
  CHECK(endpoint(d, "10.0.2.15").remote == std::nullopt);
  CHECK(endpoint(d, "10.0.2.15").local);
  CHECK(d.headline.find("unknown") != std::string::npos);
  CHECK(d.headline.find("root") != std::string::npos);
  CHECK_FALSE(has_error(d));
  // Bound to loopback, the firewall does not matter: other hosts can't connect either way.
  Host lo;
  lo.listen("127.0.0.1", 8080, {});
  lo.s.firewall.read = false;
  CHECK(diagnose(lo.s, query(8080)).verdict == Verdict::local_only);
}

TEST_CASE("Java's IPv4-mapped bind is its IPv4 address") {
  Host h;
  Listener& l = h.listen("::ffff:127.0.0.1", 9090,
                         {proc(5, 1, "java", "java -Dcatalina.base=/srv/t org.apache.catalina.startup.Bootstrap start")});
  l.socket.v6only = false;
  const auto d = diagnose(h.s, query(9090));
  CHECK(d.verdict == Verdict::local_only);
  CHECK(finding(d, "address-not-local") == std::nullopt);
  const auto f = finding(d, "bound-to-loopback");
  REQUIRE(f != std::nullopt);
  CHECK(f->address == "127.0.0.1");
  CHECK(f->fix->find("Connector") != std::string::npos);
  CHECK(endpoint(d, "127.0.0.1").local);
}

TEST_CASE("SO_REUSEPORT: the headline names every process sharing the port") {
  Host h;
  h.listen("0.0.0.0", 8095, {proc(41, 1, "python3", "python3 a.py")});
  h.listen("0.0.0.0", 8095, {proc(42, 1, "python3", "python3 b.py")});
  const auto d = diagnose(h.s, query(8095));
  CHECK(d.verdict == Verdict::reachable);
  CHECK(d.headline.find("pid 41") != std::string::npos);
  CHECK(d.headline.find("pid 42") != std::string::npos);
}

TEST_CASE("other-protocol: a TCP question where only UDP listens, and the reverse") {
  Host h;
  h.listen("0.0.0.0", 5353, {proc(7, 1, "avahi", "avahi-daemon")}, Protocol::udp);
  const auto d = diagnose(h.s, query(5353));
  CHECK(d.verdict == Verdict::not_listening);
  const auto f = finding(d, "other-protocol");
  REQUIRE(f != std::nullopt);
  CHECK(f->message.find("UDP port 5353") != std::string::npos);
  CHECK(d.headline.find("UDP") != std::string::npos);
  Host t;
  t.listen("0.0.0.0", 8080, {proc(8, 1, "nginx", "nginx")});
  auto q = query(8080);
  q.protocol = Protocol::udp;
  CHECK(finding(diagnose(t.s, q), "other-protocol")->message.find("TCP port 8080") != std::string::npos);
}

TEST_CASE("invariants: the exit status follows the verdict, and reachable never stands beside an error") {
  for (const Verdict v : {Verdict::reachable, Verdict::local_only, Verdict::not_listening, Verdict::unreachable,
                          Verdict::unknown}) {
    CHECK(exit_status(v) == (v == Verdict::reachable ? 0 : v == Verdict::unknown ? 3 : 1));
  }
  Host h;
  h.link(3, "eth1", up_flags).addr(3, "192.168.1.10", 24);
  h.listen("10.0.2.15", 9090, {proc(5, 1, "java", "java -jar app.jar")});
  filter_port(h, 9090, FwVerdict::drop);
  h.s.firewall.rules[0].matches.push_back(text_match(FwKey::iifname, "", "eth1"));
  for (const auto& q : {query(9090), query(9090, "10.0.2.15", {"10.0.2.15"}), query(9090, "192.168.1.10", {"192.168.1.10"}),
                        query(9090, "localhost", {"::1", "127.0.0.1"})}) {
    const auto d = diagnose(h.s, q);
    CAPTURE(d.headline);
    CHECK_FALSE((d.verdict == Verdict::reachable && has_error(d)));
    CHECK_FALSE(d.headline.empty());
  }
}

TEST_CASE("the kernel's choice: a listener bound to the address wins over a device-bound wildcard") {
  Host h;
  Listener& any = h.listen("0.0.0.0", 8080, {proc(9, 1, "nginx", "nginx: worker")});
  any.socket.bound_ifindex = 2;
  any.interface = "eth0";
  Listener& specific = h.listen("10.0.2.15", 8080, {proc(10, 1, "python3", "python3 app.py")});
  specific.socket.queued = 129;  // full: the kernel drops SYNs for 10.0.2.15 there
  specific.socket.backlog = 128;
  const auto d = diagnose(h.s, query(8080, "10.0.2.15", {"10.0.2.15"}));
  CHECK(d.verdict == Verdict::unreachable);
  CHECK(d.headline.find("python3 (pid 10) has stopped accepting") == 0);
}

TEST_CASE("an IPv6 address still in DAD (or on a down interface) takes nothing; no weak host for IPv6") {
  Host h;
  h.addr(2, "2001:db8::15", 64);
  h.link(3, "eth1", IFF_BROADCAST).addr(3, "2001:db8:1::1", 64);  // down
  h.listen("::", 8080, {proc(9, 1, "python3", "python3 app.py")});
  auto d = diagnose(h.s, query(8080, "2001:db8:1::1", {"2001:db8:1::1"}));
  CHECK(endpoint(d, "2001:db8:1::1").remote == false);
  CHECK(d.verdict == Verdict::unreachable);
  h.link_named("eth1").flags = up_flags;
  h.s.addresses.back().flags = 0x40;  // IFA_F_TENTATIVE
  d = diagnose(h.s, query(8080, "2001:db8:1::1", {"2001:db8:1::1"}));
  CHECK(endpoint(d, "2001:db8:1::1").remote == false);
  CHECK_FALSE(endpoint(d, "2001:db8:1::1").local);
}

TEST_CASE("a service address on lo (a VIP) is reached by other hosts through their interfaces") {
  Host h;
  h.addr(1, "192.0.2.10", 32);
  h.listen("192.0.2.10", 80, {proc(9, 1, "nginx", "nginx: master process")});
  const auto asked = diagnose(h.s, query(80, "192.0.2.10", {"192.0.2.10"}));
  CHECK(endpoint(asked, "192.0.2.10").remote == true);
  CHECK(asked.headline.rfind("Other machines can connect to 192.0.2.10:80", 0) == 0);
  CHECK(diagnose(h.s, query(80)).verdict == Verdict::reachable);
}

TEST_CASE("bound to lo with SO_BINDTODEVICE: the fix removes the device binding") {
  Host h;
  Listener& l = h.listen("0.0.0.0", 8080, {proc(9, 1, "python3", "python3 app.py")});
  l.socket.bound_ifindex = 1;
  l.interface = "lo";
  const auto f = finding(diagnose(h.s, query(8080)), "bound-to-loopback");
  REQUIRE(f != std::nullopt);
  CHECK(f->fix->find("without binding its socket to lo") != std::string::npos);
}

TEST_CASE("interface down with the firewall unread: not an error, since other ways in are unknown") {
  Host h;
  h.s.firewall.read = false;
  h.link(3, "eth1", IFF_BROADCAST).addr(3, "10.1.0.1", 24);
  h.listen("0.0.0.0", 8080, {proc(9, 1, "python3", "python3 app.py")});
  const auto d = diagnose(h.s, query(8080, "10.1.0.1", {"10.1.0.1"}));
  CHECK(d.verdict == Verdict::unknown);
  CHECK(finding(d, "interface-down")->severity == Severity::warning);
  CHECK_FALSE(has_error(d));
}

TEST_CASE("family-mismatch with a wildcard listener names an address that connects") {
  Host h;
  h.listen("0.0.0.0", 8080, {proc(9, 1, "python3", "python3 app.py")});
  const auto f = finding(diagnose(h.s, query(8080, "::1", {"::1"})), "family-mismatch");
  REQUIRE(f != std::nullopt);
  CHECK(f->fix->rfind("connect to 127.0.0.1", 0) == 0);
}

TEST_CASE("reachable through a forward: the headline quotes the forward that is taken, not one that fails") {
  Host h;
  h.link(3, "eth1", up_flags).addr(3, "192.168.1.10", 24);
  h.s.sysctls["net.ipv4.ip_forward"] = 1;
  container(h, "web", "10.0.3.2", true);
  container(h, "db", "10.0.4.2", false);
  nat_prerouting(h);
  dnat_rule(h, 2, 9000, "eth0", "10.0.3.2");
  dnat_rule(h, 3, 9000, "eth1", "10.0.4.2");
  const auto d = diagnose(h.s, query(9000));
  CHECK(d.verdict == Verdict::reachable);
  CHECK(d.headline.find("10.0.3.2:80") != std::string::npos);
  CHECK(d.headline.find("nothing listens") == std::string::npos);
  CHECK_FALSE(has_error(d));
}

TEST_CASE("a link-local IPv6 address whose fate is unknown does not make the answer unknown") {
  Host h;
  h.addr(2, "fe80::1", 64);
  h.listen("::", 8080, {proc(9, 1, "python3", "python3 app.py")});
  filter_port(h, 8080, FwVerdict::reject);  // IPv4 and global addresses: refused
  FwMatch v4 = text_match(FwKey::nfproto, "", "ipv4");
  h.s.firewall.rules[0].matches.push_back(v4);
  FwRule rpfilter = h.s.firewall.rules[0];  // IPv6: a rule netwhy can't evaluate
  rpfilter.handle = 3;
  rpfilter.matches = {text_match(FwKey::nfproto, "", "ipv6"),
                      FwMatch{}};
  rpfilter.verdict = FwVerdict::drop;
  h.s.firewall.rules.push_back(rpfilter);
  const auto d = diagnose(h.s, query(8080));
  CHECK(endpoint(d, "fe80::1").remote == std::nullopt);
  CHECK(endpoint(d, "10.0.2.15").remote == false);
  CHECK(d.verdict == Verdict::local_only);
}

TEST_CASE("a DNAT in an ip table forwards IPv4 only: IPv6 clients are refused, and netwhy says why") {
  Host h;
  h.addr(2, "fd00::15", 64);
  h.s.sysctls["net.ipv4.ip_forward"] = 1;
  container(h, "web", "10.0.3.2", true);
  nat_prerouting(h);
  dnat_rule(h, 2, 8080, nullptr, "10.0.3.2");
  const auto d = diagnose(h.s, query(8080));
  CHECK(d.verdict == Verdict::reachable);
  CHECK(endpoint(d, "fd00::15").remote == false);
  const auto it = std::find_if(d.findings.begin(), d.findings.end(), [](const Finding& f) {
    return f.code == Code::port_forward && f.message.find("not forwarded") != std::string::npos;
  });
  REQUIRE(it != d.findings.end());
  CHECK(it->severity == Severity::warning);
  CHECK(it->message.find("[fd00::15]:8080") != std::string::npos);
  CHECK(it->address == "fd00::15");  // the refused address, as evidence
  const auto asked = diagnose(h.s, query(8080, "fd00::15", {"fd00::15"}));
  CHECK(asked.verdict == Verdict::unreachable);
  CHECK(asked.headline.find("not forwarded") != std::string::npos);
}

namespace {

// The host of a container on a macvlan of its eth0 (bridge mode), asked
// about the container's address: the connect from here got no answer.
struct MacvlanHost {
  Host h;
  Query q = query(8000, "10.0.2.50", {"10.0.2.50"});

  explicit MacvlanHost(ProbeResult result = ProbeResult::timeout, int error = 0) {
    RouteLookup r;
    r.address = *IpAddr::parse("10.0.2.50");
    Route rt;
    rt.oif = 2;
    rt.prefsrc = IpAddr::parse("10.0.2.15");
    r.route = rt;
    h.s.route_lookups.push_back(r);
    h.s.probes.push_back(probe("10.0.2.50", 8000, result, error));
    h.s.probes[0].millis = 2002;
    ForeignAddress child;
    child.netns = "ctr";
    child.address = *IpAddr::parse("10.0.2.50");
    child.interface = "mv0";
    child.kind = "macvlan";
    child.parent = 2;
    child.macvlan_mode = 4;
    h.s.other_netns_addresses.push_back(child);
    ForeignListener server;
    server.netns = "ctr";
    server.listener.socket.protocol = Protocol::tcp;
    server.listener.socket.family = Family::inet;
    server.listener.socket.local = *IpAddr::parse("0.0.0.0");
    server.listener.socket.port = 8000;
    server.listener.socket.state = tcp_listen;
    server.listener.processes = {proc(4242, 1, "python3", "python3 -m http.server 8000")};
    h.s.other_netns.push_back(server);
    q.probed = true;
  }
  ForeignAddress& child() { return h.s.other_netns_addresses.front(); }
};

}  // namespace

TEST_CASE("macvlan-host: this host can't reach a container on a macvlan of its own eth0; it is not a firewall") {
  MacvlanHost m;
  const auto d = diagnose(m.h.s, m.q);
  CHECK(d.verdict == Verdict::unreachable);  // the probe decides: no connect from here
  const auto f = finding(d, "macvlan-host");
  REQUIRE(f != std::nullopt);
  CHECK(f->severity == Severity::error);
  CHECK(f->message ==
        "10.0.2.50 is on mv0, a macvlan of this host's eth0, in network namespace ctr, where python3 (pid 4242) "
        "listens on 0.0.0.0:8000: this host can't reach its own macvlans through eth0 (nor they this host), while "
        "other machines on eth0's network can; it is not a firewall.");
  CHECK(f->fix == "ip link add mv-host link eth0 type macvlan mode bridge && ip addr add 10.0.2.15/32 dev mv-host && "
                  "sysctl -w net.ipv4.conf.mv-host.arp_filter=1 && ip link set mv-host up && ip route add "
                  "10.0.2.50/32 dev mv-host");
  CHECK(f->interface == "mv0");
  CHECK(f->netns == "ctr");
  CHECK(f->address == "10.0.2.50");
  CHECK(f->pid == 4242);
  // The macvlan leads the answer; the probe's finding says what happened, without guessing at firewalls.
  CHECK(d.headline == f->message.substr(0, f->message.size() - 1));
  CHECK(d.findings.front().code == Code::macvlan_host);
  const auto t = finding(d, "connection-timeout");
  REQUIRE(t != std::nullopt);
  CHECK(t->severity == Severity::error);
  CHECK(t->message.find("firewall") == std::string::npos);
  CHECK(t->message.find("see macvlan-host") != std::string::npos);
  CHECK_FALSE(t->fix.has_value());

  SUBCASE("host unreachable (no ARP reply) is the same story") {
    MacvlanHost u(ProbeResult::unreachable, EHOSTUNREACH);
    const auto du = diagnose(u.h.s, u.q);
    CHECK(finding(du, "macvlan-host") != std::nullopt);
    CHECK(finding(du, "host-unreachable") != std::nullopt);
    CHECK(du.headline.rfind("10.0.2.50 is on mv0, a macvlan of this host's eth0", 0) == 0);
  }
  SUBCASE("the server there unseen: the namespace is still named") {
    m.h.s.other_netns.clear();
    const auto f2 = finding(diagnose(m.h.s, m.q), "macvlan-host");
    REQUIRE(f2 != std::nullopt);
    CHECK(f2->message.rfind("10.0.2.50 is on mv0, a macvlan of this host's eth0, in network namespace ctr: ", 0) == 0);
    CHECK_FALSE(f2->pid.has_value());
  }
}

TEST_CASE("macvlan-host only when the macvlan explains the silence") {
  const auto has = [](const MacvlanHost& m) { return finding(diagnose(m.h.s, m.q), "macvlan-host").has_value(); };
  CHECK(has(MacvlanHost()));
  SUBCASE("the connect worked (a macvlan of the host's own routes it): no finding, reachable") {
    MacvlanHost m(ProbeResult::ok);
    const auto d = diagnose(m.h.s, m.q);
    CHECK(d.verdict == Verdict::reachable);
    CHECK_FALSE(has(m));
  }
  SUBCASE("refused: something answered") { CHECK_FALSE(has(MacvlanHost(ProbeResult::refused, ECONNREFUSED))); }
  SUBCASE("blocked by this host's own firewall") { CHECK_FALSE(has(MacvlanHost(ProbeResult::error, EPERM))); }
  SUBCASE("through a router, the packets come back on the wire to the macvlan") {
    MacvlanHost m;
    m.h.s.route_lookups[0].route->gateway = IpAddr::parse("10.0.2.1");
    CHECK_FALSE(has(m));
  }
  SUBCASE("the route leaves through another interface") {
    MacvlanHost m;
    m.h.link(3, "eth1", up_flags);
    m.h.s.route_lookups[0].route->oif = 3;
    CHECK_FALSE(has(m));
  }
  SUBCASE("a parent in another namespace (not this host's interface)") {
    MacvlanHost m;
    m.child().parent.reset();
    CHECK_FALSE(has(m));
  }
  SUBCASE("a veth, not a macvlan") {
    MacvlanHost m;
    m.child().kind = "veth";
    CHECK_FALSE(has(m));
  }
  SUBCASE("another address") {
    MacvlanHost m;
    m.child().address = *IpAddr::parse("10.0.2.51");
    CHECK_FALSE(has(m));
  }
  SUBCASE("the parent is down: interface-down says it") {
    MacvlanHost m;
    m.h.link_named("eth0").flags = IFF_BROADCAST;
    const auto d = diagnose(m.h.s, m.q);
    CHECK_FALSE(finding(d, "macvlan-host").has_value());
    CHECK(finding(d, "interface-down").has_value());
  }
  SUBCASE("no probe: nothing to explain") {
    MacvlanHost m;
    m.h.s.probes.clear();
    m.q.probed = false;
    const auto d = diagnose(m.h.s, m.q);
    CHECK(d.verdict == Verdict::unknown);
    CHECK_FALSE(finding(d, "macvlan-host").has_value());
  }
}

TEST_CASE("macvlan-host's fix follows the mode, the family and what the host has already") {
  const auto fix = [](const MacvlanHost& m) { return *finding(diagnose(m.h.s, m.q), "macvlan-host")->fix; };
  SUBCASE("private in a named namespace: bridge mode first") {
    MacvlanHost m;
    m.child().macvlan_mode = 1;
    const auto f = finding(diagnose(m.h.s, m.q), "macvlan-host");
    CHECK(f->message.find("(mode private: it reaches no other macvlan either)") != std::string::npos);
    CHECK(f->fix->rfind("ip -n ctr link set mv0 type macvlan mode bridge && ip link add mv-host link eth0 type "
                        "macvlan mode bridge && ",
                        0) == 0);
  }
  SUBCASE("vepa in a process's namespace: nsenter") {
    MacvlanHost m;
    m.child().macvlan_mode = 2;
    m.child().netns = "pid:4242";
    CHECK(fix(m).rfind("nsenter -t 4242 -n ip link set mv0 type macvlan mode bridge && ip link add mv-host ", 0) == 0);
  }
  SUBCASE("passthru: no sibling can be added") {
    MacvlanHost m;
    m.child().macvlan_mode = 8;
    CHECK(fix(m).rfind("a passthru macvlan takes eth0 whole: recreate mv0 in mode bridge", 0) == 0);
  }
  SUBCASE("the host has a bridge-mode macvlan on eth0 with an address already: only the route") {
    MacvlanHost m;
    m.h.link(5, "mv-host", up_flags);
    m.h.link_named("mv-host").kind = "macvlan";
    m.h.link_named("mv-host").link = 2;
    m.h.link_named("mv-host").macvlan_mode = 4;
    m.h.addr(5, "10.0.2.15", 32);
    CHECK(fix(m) == "ip route add 10.0.2.50/32 dev mv-host");
    SUBCASE("a name taken by something else: another name") {
      m.h.link_named("mv-host").kind = "veth";
      CHECK(fix(m).rfind("ip link add mv-host1 link eth0 type macvlan mode bridge && ", 0) == 0);
    }
  }
  SUBCASE("IPv6: an unused address of its own (the host's own would be answered for on the network)") {
    MacvlanHost m;
    m.h.addr(2, "fd00::15", 64);
    m.child().address = *IpAddr::parse("fd00::50");
    m.h.s.route_lookups[0].address = m.child().address;
    m.h.s.route_lookups[0].route->prefsrc = IpAddr::parse("fd00::15");
    m.h.s.probes[0].address = m.child().address;
    m.q = query(8000, "fd00::50", {"fd00::50"});
    m.q.probed = true;
    CHECK(fix(m) == "ip link add mv-host link eth0 type macvlan mode bridge && ip addr add FREE-ADDRESS/128 dev "
                    "mv-host && ip link set mv-host up && ip route add fd00::50/128 dev mv-host (FREE-ADDRESS: an "
                    "unused address of eth0's network)");
  }
  SUBCASE("ipvlan: an ipvlan of the host's own, in the child's mode") {
    MacvlanHost m;
    m.child().kind = "ipvlan";
    m.child().macvlan_mode.reset();
    m.child().ipvlan_mode = 1;
    const auto f = finding(diagnose(m.h.s, m.q), "macvlan-host");
    REQUIRE(f != std::nullopt);
    CHECK(f->message.find("a ipvlan") == std::string::npos);
    CHECK(f->message.find("an ipvlan of this host's eth0") != std::string::npos);
    CHECK(*f->fix == "ip link add ipvl-host link eth0 type ipvlan mode l3 && ip addr add FREE-ADDRESS/32 dev "
                     "ipvl-host && ip link set ipvl-host up && ip route add 10.0.2.50/32 dev ipvl-host "
                     "(FREE-ADDRESS: an unused address of eth0's network)");
  }
  SUBCASE("names from the system are quoted in the command, escaped on the terminal") {
    MacvlanHost m;
    m.h.link_named("eth0").name = "eth0;reboot";
    m.h.s.route_lookups[0].route->oif = 2;
    const auto d = diagnose(m.h.s, m.q);
    const auto f = finding(d, "macvlan-host");
    REQUIRE(f != std::nullopt);
    CHECK(f->fix->find("link 'eth0;reboot' type macvlan") != std::string::npos);
  }
}

TEST_CASE("a fix names tables and chains as one shell word each, whatever bytes they hold") {
  Host h;
  h.listen("0.0.0.0", 8080, {proc(9, 1, "python3", "python3 -m http.server 8080")});
  filter_port(h, 8080, FwVerdict::drop);
  for (FwChain& c : h.s.firewall.chains) c.table = "a;reboot;b";
  for (FwRule& r : h.s.firewall.rules) r.table = "a;reboot;b";
  const auto d = diagnose(h.s, query(8080, std::nullopt, {}));
  const std::optional<Finding> f = finding(d, "firewall-drop");
  REQUIRE(f);
  REQUIRE(f->fix);
  CHECK(f->fix->find("nft insert rule inet 'a;reboot;b' in position 2 ") == 0);
}

// ---- containers: published ports, followed to the server inside ----

namespace {

// Ids and pids as a real dockerd and podman gave them (tests/data/golden/docker-*).
const std::string web_id = "e2f6936f2fc6d8c703e20debd25fd7b0a10bd827f23c301d39ecede5c947913e";
const std::string webl_id = "3a0450658a36c5aff00eed998db1cabf035d6007ec4f35c537c76b47747b4109";
const std::string unpub_id = "757a1d9e7bc65d559f1633e6c0be3193760dbccc3b1f5a42d58be1f96a9190ef";
const std::string gone_id = "5c1d1b0a8e7f6d5c4b3a29180706f5e4d3c2b1a09f8e7d6c5b4a392817060504";
const std::string hostnet_id = "9f8e7d6c5b4a39281706f5e4d3c2b1a0e2f6936f2fc6d8c703e20debd25fd7b0";
const std::string podweb_id = "cd56c95f2b778a59f78dd55d5900ab6b6d50e19d0c7914c7916308708f0d80da";

// docker-proxy holding host_ip:host_port for container c (its tag: holder).
Process docker_proxy(pid_t pid, const char* host_ip, std::uint16_t host_port, const char* container_ip,
                     std::uint16_t container_port, const std::string& id, const std::string& name) {
  Process p = proc(pid, 31557, "docker-proxy",
                   fmt::format("/usr/sbin/docker-proxy -proto tcp -host-ip {} -host-port {} -container-ip {} "
                               "-container-port {}",
                               host_ip, host_port, container_ip, container_port));
  p.user = "root";
  p.uid = 0;
  return tagged(p, container_tag("docker", id, name, true));
}

// The container's own server (busybox httpd), inside it.
Process httpd(pid_t pid, const std::string& engine, const std::string& id, const std::string& name,
              std::string cmdline = "httpd -f -p 80 -h /www") {
  Process p = proc(pid, pid - 20, "httpd", std::move(cmdline));
  p.user = "root";
  p.uid = 0;
  return tagged(p, container_tag(engine, id, name, false));
}

// A docker host: docker0 (172.17.0.1/16) beside eth0.
Host docker_host() {
  Host h;
  h.link(3, "docker0", up_flags | IFF_BROADCAST | IFF_MULTICAST);
  h.link_named("docker0").kind = "bridge";
  h.addr(3, "172.17.0.1", 16);
  h.s.sysctls["net.ipv4.ip_forward"] = 1;
  return h;
}

// docker run -d --name web -p 8080:80: docker-proxy on 0.0.0.0:8080 passes
// connections to 172.17.0.2:80, in namespace pid:31750. inside: where the
// server listens there (nullptr: nothing listens).
Host proxied_web(const char* inside) {
  Host h = docker_host();
  h.listen("0.0.0.0", 8080, {docker_proxy(31700, "0.0.0.0", 8080, "172.17.0.2", 80, web_id, "web")});
  h.addr_in("pid:31750", "172.17.0.2", "172.17.0.0", 16);
  if (inside != nullptr) {
    h.listen_in("pid:31750", inside, 80,
                {httpd(31750, "docker", web_id, "web",
                       std::string_view(inside) == "::" ? "httpd -f -p 80 -h /www"
                                                        : fmt::format("httpd -f -p {}:80 -h /www", inside))});
  }
  ContainerState web = container_state(Engine::docker, web_id, "web", true, "pid:31750", 31750);
  web.networking.published = {binding(8080, 80, "0.0.0.0"), binding(8080, 80, "::")};
  web.networking.requested = {binding(8080, 80)};
  ContainerAddress a;
  a.network = "bridge";
  a.addr = *IpAddr::parse("172.17.0.2");
  web.networking.addresses = {a};
  h.s.containers.push_back(web);
  return h;
}

bool is_container_code(Code c) {
  return c == Code::container_loopback || c == Code::published_loopback || c == Code::not_published ||
         c == Code::container_exited;
}

// What every answer keeps (tests/integration/nwtest.py check_answer): the
// exit status follows the verdict; reachable never stands beside an error;
// a "no" has an error that says why; a headline; errors first. And every
// container finding names its container and says what to do.
void check_answer(const Diagnosis& d) {
  const std::string verdict(to_string(d.verdict));
  CAPTURE(d.headline);
  CAPTURE(verdict);
  CHECK(exit_status(d.verdict) == (d.verdict == Verdict::reachable ? 0 : d.verdict == Verdict::unknown ? 3 : 1));
  CHECK_FALSE((d.verdict == Verdict::reachable && has_error(d)));
  if (d.verdict == Verdict::local_only || d.verdict == Verdict::not_listening || d.verdict == Verdict::unreachable) {
    CHECK(has_error(d));
  }
  CHECK_FALSE(d.headline.empty());
  for (std::size_t i = 1; i < d.findings.size(); ++i) CHECK(d.findings[i - 1].severity <= d.findings[i].severity);
  for (const Finding& f : d.findings) {
    CAPTURE(f.message);
    if (is_container_code(f.code)) {
      REQUIRE(f.container.has_value());
      CHECK_FALSE(f.container->name.empty());
      CHECK_FALSE(f.container->id.empty());
      CHECK(f.fix.has_value());
      CHECK(f.port == d.query.port);
    }
  }
}

std::string without_period(const std::string& s) { return s.substr(0, s.size() - 1); }

// The container a finding is about, as the JSON contract shows it: engine,
// id and name (findings carry no `holder`).
bool about_container(const Finding& f, const char* engine, const std::string& id, const char* name) {
  return f.container && f.container->engine == engine && f.container->id == id && f.container->name == name;
}

}  // namespace

TEST_CASE("docker-proxy passes connections to the container's server: reachable, and the container is named") {
  const Host h = proxied_web("::");
  const auto d = diagnose(h.s, query(8080));
  check_answer(d);
  CHECK(d.verdict == Verdict::reachable);
  CHECK(d.headline ==
        "docker-proxy (pid 31700) for container web (docker) listens on 0.0.0.0:8080: other machines can connect "
        "(10.0.2.15 on eth0)");
  CHECK(endpoint(d, "10.0.2.15").remote == true);
  CHECK(endpoint(d, "127.0.0.1").local);
  const auto f = finding(d, "port-forward");
  REQUIRE(f != std::nullopt);
  CHECK(f->severity == Severity::info);
  CHECK(f->message == "TCP port 8080 is published to container web (docker) at 172.17.0.2:80, where httpd (pid 31750) "
                      "listens on [::]:80.");
  CHECK(about_container(*f, "docker", web_id, "web"));
  CHECK(f->netns == "pid:31750");
  CHECK(finding(d, "container-loopback") == std::nullopt);
  CHECK_FALSE(has_error(d));
  SUBCASE("without the engine's records, the server's own tag names the container") {
    Host bare = h;
    bare.s.containers.clear();
    const auto b = finding(diagnose(bare.s, query(8080)), "port-forward");
    REQUIRE(b != std::nullopt);
    REQUIRE(b->container);
    CHECK(b->container->name == "web");
  }
}

TEST_CASE("container-loopback: docker-proxy reaches the container, whose server listens on 127.0.0.1 inside") {
  const Host h = proxied_web("127.0.0.1");
  const auto d = diagnose(h.s, query(8080));
  check_answer(d);
  CHECK(d.verdict == Verdict::unreachable);
  CHECK(endpoint(d, "10.0.2.15").remote == false);
  CHECK_FALSE(endpoint(d, "127.0.0.1").local);  // from this host too: docker-proxy connects to 172.17.0.2
  const auto f = finding(d, "container-loopback");
  REQUIRE(f != std::nullopt);
  CHECK(f->severity == Severity::error);
  CHECK(f->message == "TCP port 8080 is published to container web (docker) at 172.17.0.2:80, but httpd (pid 31750) "
                      "listens on 127.0.0.1:80 only inside it: connections through the published port are refused.");
  REQUIRE(f->fix);
  // Its command line binds 127.0.0.1:80: the same command with 0.0.0.0.
  CHECK(f->fix->rfind("in container web (docker): run it as httpd -f -p 0.0.0.0:80 -h /www", 0) == 0);
  CHECK(f->fix->find("docker rm -f web") != std::string::npos);
  CHECK(f->fix->find("exposes") == std::string::npos);  // inside, 0.0.0.0 is the container's own addresses
  CHECK(about_container(*f, "docker", web_id, "web"));
  CHECK(f->netns == "pid:31750");
  CHECK(f->pid == 31750);
  CHECK(f->address == "127.0.0.1");
  CHECK(f->port == 8080);
  CHECK(d.headline == without_period(f->message));
  CHECK(finding(d, "bound-to-loopback") == std::nullopt);  // docker-proxy's own bind is fine
}

TEST_CASE("docker-proxy passes connections to a container where nothing listens on the port") {
  const Host h = proxied_web(nullptr);
  const auto d = diagnose(h.s, query(8080));
  check_answer(d);
  CHECK(d.verdict == Verdict::unreachable);
  const auto f = finding(d, "port-forward");
  REQUIRE(f != std::nullopt);
  CHECK(f->severity == Severity::error);
  CHECK(f->message == "Connections to TCP port 8080 are passed on by docker-proxy (pid 31700) to 172.17.0.2:80 in "
                      "container web (docker), where nothing listens on port 80.");
  CHECK(f->fix == "start the server in container web (docker) on port 80 (docker logs web tells why it is not "
                  "listening)");
  REQUIRE(f->container);
  CHECK(f->container->name == "web");
  CHECK(f->netns == "pid:31750");
  CHECK(d.headline == without_period(f->message));
  SUBCASE("no record of the container either: the namespace is named instead") {
    Host bare = h;
    bare.s.containers.clear();
    const auto b = finding(diagnose(bare.s, query(8080)), "port-forward");
    REQUIRE(b != std::nullopt);
    CHECK_FALSE(b->container.has_value());
    CHECK(b->message.find("in network namespace pid:31750, where nothing listens") != std::string::npos);
  }
}

namespace {

// docker run -d --name webl -p 127.0.0.1:8081:80, its server on [::]:80 inside.
Host loopback_published() {
  Host h = docker_host();
  h.listen("127.0.0.1", 8081, {docker_proxy(31800, "127.0.0.1", 8081, "172.17.0.3", 80, webl_id, "webl")});
  h.addr_in("pid:31828", "172.17.0.3", "172.17.0.0", 16);
  h.listen_in("pid:31828", "::", 80, {httpd(31828, "docker", webl_id, "webl")});
  ContainerState webl = container_state(Engine::docker, webl_id, "webl", true, "pid:31828", 31828);
  webl.networking.published = {binding(8081, 80, "127.0.0.1")};
  webl.networking.requested = {binding(8081, 80, "127.0.0.1")};
  h.s.containers.push_back(webl);
  return h;
}

}  // namespace

TEST_CASE("published-loopback: docker-proxy on 127.0.0.1 only, and the fix publishes on every address") {
  Host h = loopback_published();
  const auto d = diagnose(h.s, query(8081));
  check_answer(d);
  CHECK(d.verdict == Verdict::local_only);
  CHECK(endpoint(d, "127.0.0.1").local);
  CHECK(endpoint(d, "10.0.2.15").remote == false);
  const auto f = finding(d, "published-loopback");
  REQUIRE(f != std::nullopt);
  CHECK(f->severity == Severity::error);
  CHECK(f->message == "Container webl (docker) publishes TCP port 8081 on 127.0.0.1 only (-p 127.0.0.1:8081:80): "
                      "other machines can't connect, only this host can.");
  REQUIRE(f->fix);
  CHECK(f->fix->find("-p 8081:80") != std::string::npos);
  CHECK(f->fix->find("instead of -p 127.0.0.1:8081:80") != std::string::npos);
  CHECK(f->fix->find("docker rm -f webl") != std::string::npos);
  CHECK(about_container(*f, "docker", webl_id, "webl"));
  CHECK(f->address == "127.0.0.1");
  CHECK(f->pid == 31800);
  CHECK(d.headline == without_period(f->message));
  CHECK(finding(d, "bound-to-loopback") == std::nullopt);  // it is the -p, not docker-proxy's choice

  SUBCASE("made by compose: the fix is the compose file's ports line") {
    h.s.containers[0].id.compose_project = "shop";
    h.s.containers[0].id.compose_service = "web";
    const auto c = finding(diagnose(h.s, query(8081)), "published-loopback");
    REQUIRE(c != std::nullopt);
    REQUIRE(c->fix);
    CHECK(*c->fix == "in the compose file of project shop, service web: ports: [\"8081:80\"] (instead of "
                     "\"127.0.0.1:8081:80\"), then docker compose up -d");
    CHECK(c->fix->find("docker rm") == std::string::npos);
    check_answer(diagnose(h.s, query(8081)));
  }
}

namespace {

// A container whose server listens on 8083 inside (namespace pid:31979),
// with no port published.
Host unpublished() {
  Host h = docker_host();
  h.addr_in("pid:31979", "172.17.0.5", "172.17.0.0", 16);
  h.listen_in("pid:31979", "0.0.0.0", 8083, {httpd(31979, "docker", unpub_id, "unpub", "httpd -f -p 8083 -h /www")});
  ContainerAddress a;
  a.network = "bridge";
  a.addr = *IpAddr::parse("172.17.0.5");
  ContainerState cs = container_state(Engine::docker, unpub_id, "unpub", true, "pid:31979", 31979);
  cs.networking.addresses = {a};
  h.s.containers.push_back(cs);
  return h;
}

}  // namespace

TEST_CASE("not-published: a container's server on the port, and no -p for it") {
  Host h = unpublished();
  const auto d = diagnose(h.s, query(8083));
  check_answer(d);
  CHECK(d.verdict == Verdict::not_listening);
  const auto f = finding(d, "not-published");
  REQUIRE(f != std::nullopt);
  CHECK(f->severity == Severity::error);
  CHECK(f->message == "httpd (pid 31979) listens on 0.0.0.0:8083 in container unpub (docker), but the container does "
                      "not publish port 8083: nothing takes it on this host.");
  REQUIRE(f->fix);
  CHECK(f->fix->find("-p 8083:8083") != std::string::npos);
  CHECK(f->fix->find("docker rm -f unpub") != std::string::npos);
  CHECK(about_container(*f, "docker", unpub_id, "unpub"));
  CHECK(f->netns == "pid:31979");
  CHECK(f->pid == 31979);
  CHECK(d.headline == without_period(f->message));
  CHECK(finding(d, "other-netns") == std::nullopt);  // the same server: one finding

  SUBCASE("its engine runs in another namespace (it publishes there): other-netns, no -p") {
    h.s.containers[0].engine_here = false;
    const auto o = diagnose(h.s, query(8083));
    check_answer(o);
    CHECK(o.verdict == Verdict::not_listening);
    CHECK(finding(o, "not-published") == std::nullopt);
    const auto on = finding(o, "other-netns");
    REQUIRE(on != std::nullopt);
    CHECK(on->netns == "pid:31979");
    CHECK(on->pid == 31979);
  }
  SUBCASE("published on another host port (-p 9000:8083): not a missing -p") {
    h.s.containers[0].networking.published = {binding(9000, 8083, "0.0.0.0")};
    h.s.containers[0].networking.requested = {binding(9000, 8083)};
    const auto o = diagnose(h.s, query(8083));
    check_answer(o);
    CHECK(o.verdict == Verdict::not_listening);
    CHECK(finding(o, "not-published") == std::nullopt);
    CHECK(finding(o, "other-netns") != std::nullopt);
  }
  SUBCASE("no record of the container: other-netns") {
    h.s.containers.clear();
    const auto o = diagnose(h.s, query(8083));
    CHECK(finding(o, "not-published") == std::nullopt);
    CHECK(finding(o, "other-netns") != std::nullopt);
  }
}

namespace {

// docker run -d --name gone -p 8084:80, exited.
Host exited(Engine engine) {
  Host h = docker_host();
  ContainerState cs = container_state(engine, gone_id, "gone", false);
  cs.networking.requested = {binding(8084, 80)};
  h.s.containers.push_back(cs);
  return h;
}

}  // namespace

TEST_CASE("container-exited: the container that publishes the port is not running") {
  Host h = exited(Engine::docker);
  const auto d = diagnose(h.s, query(8084));
  check_answer(d);
  CHECK(d.verdict == Verdict::not_listening);
  const auto f = finding(d, "container-exited");
  REQUIRE(f != std::nullopt);
  CHECK(f->severity == Severity::error);
  CHECK(f->message == "Container gone (docker) publishes TCP port 8084 (-p 8084:80), but it is not running: the port "
                      "went with it.");
  REQUIRE(f->fix);
  CHECK(f->fix->rfind("docker start gone", 0) == 0);
  CHECK(f->fix->find("docker logs gone") != std::string::npos);
  CHECK(about_container(*f, "docker", gone_id, "gone"));
  CHECK(f->port == 8084);
  CHECK(d.headline == without_period(f->message));
  CHECK(finding(diagnose(h.s, query(8085)), "container-exited") == std::nullopt);  // another port

  SUBCASE("podman: podman start") {
    const Host p = exited(Engine::podman);
    const auto pd = diagnose(p.s, query(8084));
    check_answer(pd);
    const auto pf = finding(pd, "container-exited");
    REQUIRE(pf != std::nullopt);
    CHECK(pf->fix->rfind("podman start gone", 0) == 0);
    CHECK(pf->fix->find("docker") == std::string::npos);
    CHECK(pf->container->engine == "podman");
  }
  SUBCASE("only in the engine's records as bound (published), on one address") {
    h.s.containers[0].networking.requested.clear();
    h.s.containers[0].networking.published = {binding(8084, 80, "127.0.0.1")};
    const auto b = finding(diagnose(h.s, query(8084)), "container-exited");
    REQUIRE(b != std::nullopt);
    CHECK(b->message.find("(-p 127.0.0.1:8084:80)") != std::string::npos);
  }
  SUBCASE("running: nothing exited") {
    h.s.containers[0].networking.running = true;
    h.s.containers[0].networking.pid = 32000;
    const auto r = diagnose(h.s, query(8084));
    check_answer(r);
    CHECK(finding(r, "container-exited") == std::nullopt);
  }
  SUBCASE("its engine is another namespace's: the port was never this one's") {
    h.s.containers[0].engine_here = false;
    const auto r = diagnose(h.s, query(8084));
    check_answer(r);
    CHECK(r.verdict == Verdict::not_listening);
    CHECK(finding(r, "container-exited") == std::nullopt);
  }
  SUBCASE("a UDP binding does not answer a TCP question") {
    h.s.containers[0].networking.requested = {binding(8084, 80, nullptr, "udp")};
    CHECK(finding(diagnose(h.s, query(8084)), "container-exited") == std::nullopt);
  }
}

namespace {

// podman run -d --name web -p 8080:80: conmon holds 0.0.0.0:8080, the
// container (10.88.0.2, namespace pid:24459) serves on 80.
Host podman_web() {
  Host h;
  h.link(4, "podman0", up_flags | IFF_BROADCAST);
  h.link_named("podman0").kind = "bridge";
  h.addr(4, "10.88.0.1", 16);
  h.s.sysctls["net.ipv4.ip_forward"] = 1;
  Process conmon = proc(24448, 1, "conmon",
                        fmt::format("/usr/bin/conmon --api-version 1 -c {0} -u {0} -r /usr/bin/crun -b "
                                    "/var/lib/containers/storage/overlay-containers/{0}/userdata -n web",
                                    podweb_id));
  h.listen("0.0.0.0", 8080, {tagged(conmon, container_tag("podman", podweb_id, "web", true))});
  h.addr_in("pid:24459", "10.88.0.2", "10.88.0.0", 16);
  h.listen_in("pid:24459", "0.0.0.0", 80, {httpd(24459, "podman", podweb_id, "web")});
  ContainerState cs = container_state(Engine::podman, podweb_id, "web", true, "pid:24459", 24459);
  cs.id.sources = {"cgroup", "containers.json"};
  h.s.containers.push_back(cs);
  return h;
}

}  // namespace

TEST_CASE("conmon only holds a published port: a connection that reaches it (no DNAT rule) is never answered") {
  Host h = podman_web();
  const auto d = diagnose(h.s, query(8080));
  check_answer(d);
  CHECK(d.verdict != Verdict::reachable);
  CHECK(d.verdict == Verdict::unreachable);
  CHECK(endpoint(d, "10.0.2.15").remote == false);
  CHECK_FALSE(endpoint(d, "127.0.0.1").local);
  const auto it = std::find_if(d.findings.begin(), d.findings.end(), [](const Finding& f) {
    return f.code == Code::port_forward && f.message.find("10.0.2.15:8080") != std::string::npos;
  });
  REQUIRE(it != d.findings.end());
  CHECK(it->severity == Severity::error);
  CHECK(it->message == "Connections to 10.0.2.15:8080 that no DNAT rule sends on reach conmon (pid 24448) at "
                       "0.0.0.0:8080, which only holds the port for container web (podman): nothing answers them.");
  REQUIRE(it->fix);
  CHECK(it->fix->find("podman port web") != std::string::npos);
  CHECK(about_container(*it, "podman", podweb_id, "web"));

  SUBCASE("netavark's DNAT rules send connections to the container: reachable") {
    const auto unanswered_here = [](const Diagnosis& r) {
      return std::find_if(r.findings.begin(), r.findings.end(), [](const Finding& f) {
        return f.message.find("10.0.2.15:8080 that no DNAT rule sends on") != std::string::npos;
      });
    };
    nat_prerouting(h);
    dnat_rule(h, 2, 8080, nullptr, "10.88.0.2");
    auto r = diagnose(h.s, query(8080));
    check_answer(r);
    CHECK(r.verdict == Verdict::reachable);
    CHECK(endpoint(r, "10.0.2.15").remote == true);
    const auto pf = std::find_if(r.findings.begin(), r.findings.end(), [](const Finding& f) {
      return f.code == Code::port_forward && f.message.find("published to container web (podman) at 10.88.0.2:80") !=
                                                 std::string::npos;
    });
    REQUIRE(pf != r.findings.end());
    CHECK(about_container(*pf, "podman", podweb_id, "web"));
    CHECK(pf->netns == "pid:24459");
    // Prerouting only: this host's own connects still reach conmon, which
    // other machines' clients do not.
    CHECK_FALSE(endpoint(r, "10.0.2.15").local);
    REQUIRE(unanswered_here(r) != r.findings.end());
    CHECK(unanswered_here(r)->severity == Severity::warning);
    // The output hook's DNAT too (netavark adds both): from here as well.
    FwChain out = h.s.firewall.chains[0];
    out.name = "output";
    out.hook = "output";
    h.s.firewall.chains.push_back(out);
    FwRule local = h.s.firewall.rules[0];
    local.chain = "output";
    local.handle = 3;
    h.s.firewall.rules.push_back(local);
    r = diagnose(h.s, query(8080));
    check_answer(r);
    CHECK(r.verdict == Verdict::reachable);
    CHECK(endpoint(r, "10.0.2.15").local);
    CHECK(endpoint(r, "127.0.0.1").local);
    CHECK(unanswered_here(r) == r.findings.end());
  }
}

TEST_CASE("a server in a --network host container listens here: the headline says which container") {
  Host h;
  Process srv = proc(22300, 22280, "httpd", "httpd -f -p 8085 -h /www");
  h.listen("0.0.0.0", 8085, {tagged(srv, container_tag("docker", hostnet_id, "hostnet", false))});
  const auto d = diagnose(h.s, query(8085));
  check_answer(d);
  CHECK(d.verdict == Verdict::reachable);
  CHECK(d.headline ==
        "httpd (pid 22300) in container hostnet (docker) listens on 0.0.0.0:8085: other machines can connect "
        "(10.0.2.15 on eth0)");
  CHECK(d.findings.empty());  // no holder: nothing is passed on
  SUBCASE("bound to loopback: bound-to-loopback, not published-loopback (nothing is published)") {
    h.s.listeners[0].socket.local = *IpAddr::parse("127.0.0.1");
    const auto l = diagnose(h.s, query(8085));
    check_answer(l);
    CHECK(l.verdict == Verdict::local_only);
    CHECK(l.headline.find("httpd (pid 22300) in container hostnet (docker) listens on 127.0.0.1:8085 only") == 0);
    CHECK(finding(l, "bound-to-loopback") != std::nullopt);
    CHECK(finding(l, "published-loopback") == std::nullopt);
  }
}

TEST_CASE("invariants over the container cases, asked every way: the port, HOST here, HOST on loopback") {
  struct Case {
    const char* name;
    Host host;
    std::uint16_t port;
  };
  Host compose = loopback_published();
  compose.s.containers[0].id.compose_project = "shop";
  compose.s.containers[0].id.compose_service = "web";
  Host remote_engine = unpublished();
  remote_engine.s.containers[0].engine_here = false;
  Host dnat = podman_web();
  nat_prerouting(dnat);
  dnat_rule(dnat, 2, 8080, nullptr, "10.88.0.2");
  const std::vector<Case> cases = {{"proxied", proxied_web("::"), 8080},
                                   {"container-loopback", proxied_web("127.0.0.1"), 8080},
                                   {"nothing inside", proxied_web(nullptr), 8080},
                                   {"published-loopback", loopback_published(), 8081},
                                   {"compose", compose, 8081},
                                   {"not-published", unpublished(), 8083},
                                   {"engine elsewhere", remote_engine, 8083},
                                   {"exited", exited(Engine::docker), 8084},
                                   {"exited podman", exited(Engine::podman), 8084},
                                   {"conmon", podman_web(), 8080},
                                   {"conmon with DNAT", dnat, 8080}};
  for (const Case& c : cases) {
    CAPTURE(c.name);
    for (const Query& q : {query(c.port), query(c.port, "10.0.2.15", {"10.0.2.15"}),
                           query(c.port, "127.0.0.1", {"127.0.0.1"}), query(c.port, "localhost", {"::1", "127.0.0.1"})}) {
      const std::string asked = q.host.value_or("(no HOST)");
      CAPTURE(asked);
      check_answer(diagnose(c.host.s, q));
    }
  }
}

TEST_CASE("published-loopback without a listener here: only a nat output rule takes 127.0.0.1:8081 to the container") {
  // dockerd --userland-proxy=false (or netavark): no process holds the port;
  // the engine's records say -p 127.0.0.1:8081:80.
  Host h = docker_host();
  h.addr_in("pid:31828", "172.17.0.3", "172.17.0.0", 16);
  h.listen_in("pid:31828", "::", 80, {httpd(31828, "docker", webl_id, "webl")});
  ContainerState webl = container_state(Engine::docker, webl_id, "webl", true, "pid:31828", 31828);
  webl.networking.published = {binding(8081, 80, "127.0.0.1")};
  webl.networking.requested = {binding(8081, 80, "127.0.0.1")};
  h.s.containers.push_back(webl);
  nat_prerouting(h);
  FwChain out = h.s.firewall.chains[0];
  out.name = "output";
  out.hook = "output";
  h.s.firewall.chains.push_back(out);
  FwRule r;
  r.family = "ip";
  r.table = "nat";
  r.chain = "output";
  r.handle = 4;
  FwMatch to;
  to.key = FwKey::daddr;
  to.proto = "ip";
  FwValue lo;
  lo.kind = FwValue::Kind::address;
  lo.addr = *IpAddr::parse("127.0.0.1");
  to.values.push_back(lo);
  r.matches = {to, number_match(FwKey::dport, "tcp", 8081)};
  r.verdict = FwVerdict::dnat;
  r.nat_addr = *IpAddr::parse("172.17.0.3");
  r.nat_port = 80;
  r.text = "ip daddr 127.0.0.1 tcp dport 8081 dnat to 172.17.0.3:80";
  h.s.firewall.rules.push_back(r);
  const auto d = diagnose(h.s, query(8081));
  check_answer(d);
  CHECK(d.verdict == Verdict::local_only);
  CHECK(endpoint(d, "127.0.0.1").local);
  CHECK(endpoint(d, "10.0.2.15").remote == false);
  const auto f = finding(d, "published-loopback");
  REQUIRE(f != std::nullopt);
  CHECK(f->severity == Severity::error);
  CHECK(f->message.find("(-p 127.0.0.1:8081:80)") != std::string::npos);
  CHECK(f->fix->find("-p 8081:80") != std::string::npos);
  CHECK(about_container(*f, "docker", webl_id, "webl"));
  CHECK_FALSE(f->pid.has_value());  // no process holds it
  CHECK(d.headline == without_period(f->message));
  SUBCASE("bound on every address as well: not loopback only") {
    h.s.containers[0].networking.requested.push_back(binding(8081, 80));
    CHECK(finding(diagnose(h.s, query(8081)), "published-loopback") == std::nullopt);
  }
}

// The container publishes UDP 8083 (-p 9000:8083/udp); its TCP server on
// 8083 is not published at all: a binding counts for its own protocol only.
TEST_CASE("not-published: a UDP binding of the same container port does not publish the TCP server") {
  Host h = unpublished();
  h.s.containers[0].networking.published = {binding(9000, 8083, "0.0.0.0", "udp")};
  h.s.containers[0].networking.requested = {binding(9000, 8083, nullptr, "udp")};
  const auto d = diagnose(h.s, query(8083));
  check_answer(d);
  CHECK(d.verdict == Verdict::not_listening);
  const auto f = finding(d, "not-published");
  REQUIRE(f != std::nullopt);
  CHECK(f->fix->find("-p 8083:8083") != std::string::npos);
}

// Podman's records of a container's ports are never read (identify() reads
// only names from containers.json; gather.cpp add_containers() leaves the
// bindings empty for it), so "no binding" means "not known" for podman. Yet
// explain_not_listening() (listener.cpp) says the container does not publish
// the port, and tells to recreate it with -p 80:80, while conmon holds 8080
// for that very container in the same snapshot (here with no DNAT rule that
// netwhy sees; published_elsewhere() looks only at the records and at DNAT
// rules).
TEST_CASE("not-published is not claimed for a podman container whose bindings are not known, while conmon holds a "
          "port for it") {
  Host h = podman_web();  // conmon holds 0.0.0.0:8080 for web; web's httpd listens on 0.0.0.0:80 inside
  REQUIRE(h.s.containers[0].networking.published.empty());  // as gathered for podman
  const auto d = diagnose(h.s, query(80));
  check_answer(d);
  CHECK(d.verdict == Verdict::not_listening);
  CHECK(finding(d, "not-published") == std::nullopt);
  CHECK(finding(d, "other-netns") != std::nullopt);
}
