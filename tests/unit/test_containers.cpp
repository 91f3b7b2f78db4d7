// Who is the container: parsers on texts recorded from docker 20.10, podman
// 4.3 and containerd 1.6 (tests/data/containers, see its README), the cgroup
// layouts this machine can't run (systemd, kubepods) from their documented
// spelling, garbage of every kind, and identify() on a fixture /proc tree
// built from the recordings. The source tree comes from NETWHY_SOURCE_DIR.
#include <doctest/doctest.h>

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "netwhy/containers.hpp"
#include "source_tree.hpp"

using namespace netwhy;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

const std::string docker_web = "da418ace7fb6267ad4f536f7d5dcdc7e45fb725a5b20b6e4d392ca69745ed8c1";
const std::string docker_shopweb = "0ebae91049192467922ef72c10eca42fe54419093eb8a4e68896a5d20ff0ee03";
const std::string podman_web = "cd56c95f2b778a59f78dd55d5900ab6b6d50e19d0c7914c7916308708f0d80da";
const std::string podman_shopweb = "6500242f3cd687dd0a418ff00d950b56141343e569b627b8816e92ea656861ad";

std::filesystem::path data_path(const std::string& name) {
  return std::filesystem::path(unittest::source_dir()) / "tests/data/containers" / name;
}

std::string recorded(const std::string& name) { return unittest::read_text(data_path(name)); }

IpAddr ip(std::string_view text) { return *IpAddr::parse(text); }

}  // namespace

// ---- cgroup ----

TEST_CASE("containers cgroup: docker's cgroupfs driver on hybrid v1 (recorded)") {
  const auto c = parse_cgroup(recorded("docker/web.cgroup"));
  REQUIRE(c);
  CHECK(c->engine == Engine::docker);
  CHECK(c->id == docker_web);
  CHECK(c->sources == std::vector<std::string>{"cgroup"});
}

TEST_CASE("containers cgroup: podman's container and its conmon (recorded, cgroupfs manager)") {
  const auto c = parse_cgroup(recorded("podman/web.cgroup"));
  REQUIRE(c);
  CHECK(c->engine == Engine::podman);
  CHECK(c->id == podman_web);
  // conmon sits in /libpod_parent/conmon under cgroupfs: no id there
  CHECK_FALSE(parse_cgroup(recorded("podman/web.conmon.cgroup")).has_value());
}

TEST_CASE("containers cgroup: plain containerd /NS/ID (recorded, ctr run in namespace nwlab)") {
  const auto c = parse_cgroup(recorded("containerd/ctrweb.cgroup"));
  REQUIRE(c);
  CHECK(c->engine == Engine::containerd);
  CHECK(c->containerd_namespace == "nwlab");
  CHECK(c->id == "ctrweb");
}

TEST_CASE("containers cgroup: systemd scopes, v2 and kubepods (documented spellings)") {
  const std::string id = docker_web;
  SUBCASE("docker, systemd driver, v2") {
    const auto c = parse_cgroup("0::/system.slice/docker-" + id + ".scope\n");
    REQUIRE(c);
    CHECK(c->engine == Engine::docker);
    CHECK(c->id == id);
  }
  SUBCASE("podman, systemd manager, v2, and a process in a sub-cgroup of the scope") {
    const auto c = parse_cgroup("0::/machine.slice/libpod-" + id + ".scope/container\n");
    REQUIRE(c);
    CHECK(c->engine == Engine::podman);
    CHECK(c->id == id);
  }
  SUBCASE("podman's conmon, systemd manager") {
    const auto c = parse_cgroup("0::/machine.slice/libpod-conmon-" + id + ".scope\n");
    REQUIRE(c);
    CHECK(c->engine == Engine::podman);
    CHECK(c->sources == std::vector<std::string>{"cgroup (conmon)"});
  }
  SUBCASE("kubepods, cgroupfs, v1") {
    const auto c = parse_cgroup("12:pids:/kubepods/burstable/pod2f0c1d5e-8a7b-4c3d-9e1f-0a1b2c3d4e5f/" + id +
                                "\n11:memory:/kubepods/burstable/pod2f0c1d5e-8a7b-4c3d-9e1f-0a1b2c3d4e5f/" + id +
                                "\n0::/\n");
    REQUIRE(c);
    CHECK(c->engine == Engine::kubernetes);
    CHECK(c->id == id);
    CHECK(c->pod_uid == "2f0c1d5e-8a7b-4c3d-9e1f-0a1b2c3d4e5f");
  }
  SUBCASE("kubepods, systemd, cri-containerd; the pod UID's '_' back to '-'") {
    const auto c = parse_cgroup(
        "0::/kubepods.slice/kubepods-besteffort.slice/"
        "kubepods-besteffort-pod2f0c1d5e_8a7b_4c3d_9e1f_0a1b2c3d4e5f.slice/cri-containerd-" + id + ".scope\n");
    REQUIRE(c);
    CHECK(c->engine == Engine::kubernetes);
    CHECK(c->id == id);
    CHECK(c->pod_uid == "2f0c1d5e-8a7b-4c3d-9e1f-0a1b2c3d4e5f");
  }
  SUBCASE("kubepods, guaranteed QoS, cri-o") {
    const auto c = parse_cgroup("0::/kubepods.slice/kubepods-pod11112222_3333_4444_5555_666677778888.slice/crio-" +
                                id + ".scope\n");
    REQUIRE(c);
    CHECK(c->engine == Engine::kubernetes);
    CHECK(c->pod_uid == "11112222-3333-4444-5555-666677778888");
  }
  SUBCASE("docker in docker: the innermost container") {
    const std::string inner(64, 'b');
    const auto c = parse_cgroup("0::/docker/" + id + "/docker/" + inner + "\n");
    REQUIRE(c);
    CHECK(c->id == inner);
  }
}

TEST_CASE("containers cgroup: the host's own processes are no container") {
  // This machine's own shell: one controller elsewhere, every other line at "/".
  CHECK_FALSE(parse_cgroup("9:name=systemd:/\n8:pids:/\n4:memory:/process_api/a3d734c72c4b8ccb944787059c77e762\n"
                           "3:cpuset:/\n1:cpu:/\n0::/\n")
                  .has_value());
  CHECK_FALSE(parse_cgroup("0::/system.slice/ssh.service\n").has_value());
  CHECK_FALSE(parse_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n").has_value());
  CHECK_FALSE(parse_cgroup("0::/init.scope\n").has_value());
  CHECK_FALSE(parse_cgroup("0::/system.slice/docker.service\n").has_value());
}

TEST_CASE("containers cgroup: garbage gives nothing, never a crash") {
  const std::string id = docker_web;
  CHECK_FALSE(parse_cgroup("").has_value());
  CHECK_FALSE(parse_cgroup("no colons at all\n").has_value());
  CHECK_FALSE(parse_cgroup("0:relative/path\n").has_value());
  CHECK_FALSE(parse_cgroup("0::/docker/" + id.substr(0, 63) + "\n").has_value());        // short id
  CHECK_FALSE(parse_cgroup("0::/docker/" + id.substr(0, 63) + "G\n").has_value());       // not hex
  CHECK_FALSE(parse_cgroup("0::/system.slice/docker-.scope\n").has_value());
  CHECK_FALSE(parse_cgroup("0::/a..b/c\n").has_value());                                 // no containerd name
  CHECK_FALSE(parse_cgroup(std::string(2U << 20, '/')).has_value());                     // over the bound
  CHECK_FALSE(parse_cgroup("0::/docker/\0\xff\n"sv).has_value());
  std::string deep = "0::";
  for (int i = 0; i < 10000; ++i) deep += "/x";
  CHECK_FALSE(parse_cgroup(deep).has_value());
}

// ---- cmdlines ----

TEST_CASE("containers cmdline: containerd-shim-runc-v2 (recorded)") {
  SUBCASE("docker's shim: namespace moby") {
    const auto c = parse_parent_cmdline(recorded("docker/web.shim.cmdline"));
    REQUIRE(c);
    CHECK(c->engine == Engine::docker);
    CHECK(c->containerd_namespace == "moby");
    CHECK(c->id == docker_web);
    CHECK(c->sources == std::vector<std::string>{"containerd-shim cmdline"});
  }
  SUBCASE("ctr's: any other namespace is plain containerd") {
    const auto c = parse_parent_cmdline(recorded("containerd/ctrweb.shim.cmdline"));
    REQUIRE(c);
    CHECK(c->engine == Engine::containerd);
    CHECK(c->containerd_namespace == "nwlab");
    CHECK(c->id == "ctrweb");
  }
  SUBCASE("k8s.io: the shim belongs to the pod sandbox, so no container id from it") {
    const auto c = parse_parent_cmdline("/usr/bin/containerd-shim-runc-v2\0-namespace\0k8s.io\0-id\0abc123\0"
                                        "-address\0/run/containerd/containerd.sock\0"sv);
    REQUIRE(c);
    CHECK(c->engine == Engine::kubernetes);
    CHECK(c->id.empty());
  }
  SUBCASE("the v1 shim: the id is the workdir's last component; -flag=value spelling") {
    const auto c = parse_parent_cmdline("containerd-shim\0-namespace=moby\0-workdir\0"
                                        "/var/lib/containerd/io.containerd.runtime.v1.linux/moby/abc\0"sv);
    REQUIRE(c);
    CHECK(c->id == "abc");
  }
}

TEST_CASE("containers cmdline: conmon (recorded from podman)") {
  const std::string raw = recorded("podman/web.conmon.cmdline");
  const auto c = parse_parent_cmdline(raw);
  REQUIRE(c);
  CHECK(c->engine == Engine::podman);
  CHECK(c->id == podman_web);
  CHECK(c->name == "web");
  CHECK(c->sources == std::vector<std::string>{"conmon cmdline"});
  CHECK(parse_conmon_containers_dir(raw) == "/tmp/ctlab/podman/root/overlay-containers");
}

TEST_CASE("containers cmdline: docker-proxy is a forwarder (recorded)") {
  const auto v4 = parse_docker_proxy_cmdline(recorded("docker/docker-proxy-8080-v4.cmdline"));
  REQUIRE(v4);
  CHECK(*v4 == Forwarder{Engine::docker, "tcp", ip("0.0.0.0"), 8080, ip("172.17.0.2"), 80});
  const auto v6 = parse_docker_proxy_cmdline(recorded("docker/docker-proxy-8080-v6.cmdline"));
  REQUIRE(v6);
  CHECK(v6->host_ip == ip("::"));
  const auto local = parse_docker_proxy_cmdline(recorded("docker/docker-proxy-8081-v4.cmdline"));
  REQUIRE(local);
  CHECK(local->host_ip == ip("127.0.0.1"));
  CHECK(local->container_ip == ip("172.17.0.3"));
  CHECK_FALSE(parse_parent_cmdline(recorded("docker/docker-proxy-8081-v4.cmdline")).has_value());
}

TEST_CASE("containers cmdline: dockerd's data root") {
  CHECK(parse_dockerd_data_root("dockerd\0--data-root\0/tmp/ctlab/docker/data\0--exec-root\0/x\0"sv) ==
        "/tmp/ctlab/docker/data");
  CHECK(parse_dockerd_data_root("/usr/sbin/dockerd\0--data-root=/srv/docker\0"sv) == "/srv/docker");
  CHECK_FALSE(parse_dockerd_data_root("/usr/sbin/dockerd\0-H\0fd://\0"sv).has_value());
  CHECK_FALSE(parse_dockerd_data_root("containerd\0--data-root\0/x\0"sv).has_value());
}

TEST_CASE("containers cmdline: garbage gives nothing, never a crash") {
  for (const std::string_view raw :
       {""sv, "\0\0\0"sv, "conmon"sv, "conmon\0-c"sv, "conmon\0-c\0not-hex\0"sv, "containerd-shim-runc-v2\0-id\0x\0"sv,
        "containerd-shim-runc-v2\0-namespace\0..\0-id\0x\0"sv, "docker-proxy\0-host-port\0"sv,
        "bash\0-c\0abc\0"sv}) {
    CHECK_FALSE(parse_parent_cmdline(raw).has_value());
    CHECK_FALSE(parse_docker_proxy_cmdline(raw).has_value());
    CHECK_FALSE(parse_conmon_containers_dir(raw).has_value());
  }
  CHECK_FALSE(parse_docker_proxy_cmdline("docker-proxy\0-proto\0tcp\0-host-ip\0999.0.0.1\0-host-port\0"
                                         "8080\0-container-ip\0172.17.0.2\0-container-port\0"
                                         "80\0"sv)
                  .has_value());
  CHECK_FALSE(parse_docker_proxy_cmdline("docker-proxy\0-proto\0tcp\0-host-ip\0::\0-host-port\0"
                                         "70000\0-container-ip\0172.17.0.2\0-container-port\0"
                                         "80\0"sv)
                  .has_value());
}

// ---- mountinfo ----

TEST_CASE("containers mountinfo: docker's data root from the /etc/hosts bind (recorded)") {
  CHECK(parse_docker_data_root(recorded("docker/web.mountinfo"), docker_web) == "/tmp/ctlab/docker/data");
  CHECK_FALSE(parse_docker_data_root(recorded("docker/web.mountinfo"), docker_shopweb).has_value());
  CHECK_FALSE(parse_docker_data_root(recorded("podman/web.mountinfo"), podman_web).has_value());
  SUBCASE("a data root with a space is written \\040") {
    const std::string line = "98 79 254:0 /srv/my\\040docker/containers/" + docker_web +
                             "/hosts /etc/hosts rw,relatime - ext4 /dev/vda rw\n";
    CHECK(parse_docker_data_root(line, docker_web) == "/srv/my docker");
  }
  CHECK_FALSE(parse_docker_data_root("garbage\n\n1 2\n", docker_web).has_value());
  CHECK_FALSE(parse_docker_data_root(recorded("docker/web.mountinfo"), "not-an-id").has_value());
}

// ---- state files ----

TEST_CASE("containers docker config.v2.json and hostconfig.json (recorded)") {
  SUBCASE("-p 8080:80: both families published, one address") {
    const auto cfg = parse_docker_config(recorded("docker/web.config.v2.json"));
    REQUIRE(cfg);
    CHECK(cfg->container.engine == Engine::docker);
    CHECK(cfg->container.id == docker_web);
    CHECK(cfg->container.name == "web");
    CHECK(cfg->container.image == "nwtest:1");
    CHECK(cfg->container.compose_project.empty());
    CHECK(cfg->net.running);
    CHECK(cfg->net.pid == 22092);
    CHECK(cfg->net.published == std::vector<PortBinding>{{"tcp", 80, ip("0.0.0.0"), 8080}, {"tcp", 80, ip("::"), 8080}});
    CHECK(cfg->net.addresses == std::vector<ContainerAddress>{{"bridge", ip("172.17.0.2")}});
    const auto host = parse_docker_hostconfig(recorded("docker/web.hostconfig.json"));
    REQUIRE(host);
    CHECK(host->network_mode == "default");
    CHECK(host->port_bindings == std::vector<PortBinding>{{"tcp", 80, std::nullopt, 8080}});
  }
  SUBCASE("-p 127.0.0.1:8081:80") {
    const auto cfg = parse_docker_config(recorded("docker/webl.config.v2.json"));
    REQUIRE(cfg);
    CHECK(cfg->net.published == std::vector<PortBinding>{{"tcp", 80, ip("127.0.0.1"), 8081}});
    const auto host = parse_docker_hostconfig(recorded("docker/webl.hostconfig.json"));
    REQUIRE(host);
    CHECK(host->port_bindings == std::vector<PortBinding>{{"tcp", 80, ip("127.0.0.1"), 8081}});
  }
  SUBCASE("compose labels") {
    const auto cfg = parse_docker_config(recorded("docker/shopweb.config.v2.json"));
    REQUIRE(cfg);
    CHECK(cfg->container.name == "shopweb");
    CHECK(cfg->container.compose_project == "shop");
    CHECK(cfg->container.compose_service == "web");
  }
  SUBCASE("--network host: no address, no ports") {
    const auto cfg = parse_docker_config(recorded("docker/hostnet.config.v2.json"));
    REQUIRE(cfg);
    CHECK(cfg->net.addresses.empty());
    CHECK(cfg->net.published.empty());
    const auto host = parse_docker_hostconfig(recorded("docker/hostnet.hostconfig.json"));
    REQUIRE(host);
    CHECK(host->network_mode == "host");
    CHECK(host->port_bindings.empty());
  }
}

TEST_CASE("containers docker state files: odd and hostile values") {
  const std::string id = docker_web;
  SUBCASE("a stopped container has no pid") {
    const auto cfg = parse_docker_config(R"({"ID":")" + id + R"(","State":{"Running":false,"Pid":0}})");
    REQUIRE(cfg);
    CHECK_FALSE(cfg->net.running);
    CHECK_FALSE(cfg->net.pid.has_value());
  }
  SUBCASE("wrong types and bad ports are skipped, the rest kept; names stay raw") {
    const auto cfg = parse_docker_config(
        R"({"ID":")" + id + R"(","Name":"/\u001b[2Jx","State":{"Running":"yes","Pid":"7"},)"
        R"("Config":{"Labels":{"com.docker.compose.project":5}},)"
        R"("NetworkSettings":{"Ports":{"80/tcp":[{"HostIp":"bad","HostPort":"1"},{"HostIp":"","HostPort":"99999"},)"
        R"({"HostIp":"","HostPort":"81"}],"x/tcp":[],"53/udp":null,"90":[{}]},)"
        R"("Networks":{"n":{"IPAddress":"10.0.0.300"},"m":[],"v6":{"GlobalIPv6Address":"fd00::2"}}}})");
    REQUIRE(cfg);
    CHECK(cfg->container.name == "\x1b[2Jx");
    CHECK(cfg->container.compose_project.empty());
    CHECK_FALSE(cfg->net.running);
    CHECK(cfg->net.published == std::vector<PortBinding>{{"tcp", 80, std::nullopt, 81}, {"tcp", 90, std::nullopt, 0}});
    CHECK(cfg->net.addresses == std::vector<ContainerAddress>{{"v6", ip("fd00::2")}});
  }
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  for (const std::string_view text : {""sv, "null"sv, "[]"sv, "{"sv, R"({"ID":"abc"})"sv, R"({"ID":5})"sv, "\xff\xfe"sv,
                                      std::string_view(deep)}) {
    CHECK_FALSE(parse_docker_config(text).has_value());
  }
  CHECK_FALSE(parse_docker_hostconfig("[1,2]").has_value());
  CHECK_FALSE(parse_docker_hostconfig(std::string(200, '{')).has_value());
}

TEST_CASE("containers podman containers.json (recorded)") {
  const auto all = parse_podman_containers(recorded("podman/containers.json"));
  REQUIRE(all);
  REQUIRE(all->size() == 4);
  const PodmanContainer& web = all->front();
  CHECK(web.id == podman_web);
  CHECK(web.names == std::vector<std::string>{"web"});
  CHECK(web.image == "localhost/nwtest:1");
  CHECK_FALSE(parse_podman_containers("{}").has_value());
  CHECK_FALSE(parse_podman_containers("[").has_value());
  const auto odd = parse_podman_containers(R"([1, {"id":"short"}, {"id":")" + podman_web +
                                           R"(","names":[3,"a"],"metadata":"{not json"}])");
  REQUIRE(odd);
  CHECK(*odd == std::vector<PodmanContainer>{{podman_web, {"a"}, ""}});
}

// ---- identify() on a fixture tree ----

namespace {

// A /proc and a host filesystem in a temporary directory, removed afterwards.
class FixtureTree {
 public:
  FixtureTree() {
    char tmpl[] = "/tmp/netwhy-containers-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    root_ = tmpl;
  }
  ~FixtureTree() { std::filesystem::remove_all(root_); }
  FixtureTree(const FixtureTree&) = delete;
  FixtureTree& operator=(const FixtureTree&) = delete;

  void write(const std::string& path, std::string_view text) const {
    const std::filesystem::path p = root_ / path.substr(1);
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  void process(int pid, int ppid, std::string_view cmdline, std::string_view cgroup) const {
    const std::string dir = "/proc/" + std::to_string(pid);
    write(dir + "/cmdline", cmdline);
    write(dir + "/cgroup", cgroup);
    write(dir + "/stat", std::to_string(pid) + " (x) S " + std::to_string(ppid) + " 1 1 0 -1\n");
  }
  [[nodiscard]] IdentifyOptions options() const { return {(root_ / "proc").string(), (root_ / "host").string()}; }

 private:
  std::filesystem::path root_;
};

const std::string host_cgroup = "9:name=systemd:/\n0::/\n";

}  // namespace

TEST_CASE("containers identify: a docker container, its shim and its state files") {
  FixtureTree t;
  t.process(22092, 22072, "httpd\0-f\0-p\0" "80\0"sv, recorded("docker/shopweb.cgroup"));
  t.process(22072, 1, recorded("docker/shopweb.shim.cmdline"), host_cgroup);
  t.write("/proc/22092/mountinfo", recorded("docker/shopweb.mountinfo"));
  const std::string dir = "/host/tmp/ctlab/docker/data/containers/" + docker_shopweb;
  SUBCASE("readable: name, labels, ports") {
    t.write(dir + "/config.v2.json", recorded("docker/shopweb.config.v2.json"));
    t.write(dir + "/hostconfig.json", recorded("docker/shopweb.hostconfig.json"));
    const Identity id = identify(22092, t.options());
    REQUIRE(id.container);
    CHECK(id.container->engine == Engine::docker);
    CHECK(id.container->id == docker_shopweb);
    CHECK(id.container->name == "shopweb");
    CHECK(id.container->compose_project == "shop");
    CHECK(id.container->compose_service == "web");
    CHECK(id.container->containerd_namespace == "moby");
    CHECK(id.container->sources ==
          std::vector<std::string>{"cgroup", "containerd-shim cmdline", "config.v2.json", "hostconfig.json"});
    REQUIRE(id.networking);
    CHECK(id.networking->network_mode == "default");
    CHECK(id.networking->addresses == std::vector<ContainerAddress>{{"bridge", ip("172.17.0.4")}});
    CHECK(id.notes.empty());
  }
  SUBCASE("no state files: the id, and a note") {
    const Identity id = identify(22092, t.options());
    REQUIRE(id.container);
    CHECK(id.container->id == docker_shopweb);
    CHECK(id.container->name.empty());
    CHECK_FALSE(id.networking.has_value());
    REQUIRE(id.notes.size() == 1);
    CHECK(id.notes.front().find("no config.v2.json") != std::string::npos);
  }
}

TEST_CASE("containers identify: docker-proxy finds its container by address") {
  FixtureTree t;
  t.process(22051, 21877, recorded("docker/docker-proxy-8080-v4.cmdline"), host_cgroup);
  t.process(21877, 1, "dockerd\0--data-root\0/tmp/ctlab/docker/data\0"sv, host_cgroup);
  for (const std::string& name : {"web"s, "webl"s}) {
    const auto cfg = parse_docker_config(recorded("docker/" + name + ".config.v2.json"));
    REQUIRE(cfg);
    t.write("/host/tmp/ctlab/docker/data/containers/" + cfg->container.id + "/config.v2.json",
            recorded("docker/" + name + ".config.v2.json"));
  }
  const Identity id = identify(22051, t.options());
  REQUIRE(id.forwarder);
  CHECK(id.forwarder->host_port == 8080);
  REQUIRE(id.container);
  CHECK(id.container->name == "web");
  CHECK(id.container->sources.front() == "docker-proxy cmdline");
}

TEST_CASE("containers identify: podman through conmon and containers.json") {
  FixtureTree t;
  t.process(24459, 24448, "httpd\0"sv, recorded("podman/web.cgroup"));
  t.process(24448, 1, recorded("podman/web.conmon.cmdline"), recorded("podman/web.conmon.cgroup"));
  t.write("/host/tmp/ctlab/podman/root/overlay-containers/containers.json", recorded("podman/containers.json"));
  for (const int pid : {24459, 24448}) {  // the container's process, and conmon holding the published port
    const Identity id = identify(pid, t.options());
    REQUIRE(id.container);
    CHECK(id.container->engine == Engine::podman);
    CHECK(id.container->id == podman_web);
    CHECK(id.container->name == "web");
    CHECK(id.container->image == "localhost/nwtest:1");
    CHECK(id.notes.empty());
  }
}

TEST_CASE("containers identify: a host process, a vanished one, and a parent loop") {
  FixtureTree t;
  t.process(300, 1, "sshd\0"sv, host_cgroup);
  const Identity host = identify(300, t.options());
  CHECK_FALSE(host.container.has_value());
  CHECK(host.notes.empty());
  const Identity gone = identify(4242, t.options());
  CHECK_FALSE(gone.container.has_value());
  CHECK(gone.notes.size() == 1);
  t.process(500, 501, "a\0"sv, host_cgroup);
  t.process(501, 500, "b\0"sv, host_cgroup);
  CHECK_FALSE(identify(500, t.options()).container.has_value());  // ends after max_ancestors
}

// ---- find_container() on a fixture tree ----

namespace {

const std::string docker_webl = "b41989f646952647c9985a65be1cfa5672807770947a9be8182ef0fe972cd58d";

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Docker's lab: dockerd with --data-root /tmp/ctlab/docker/data, the four
// recorded containers in it, their inits in /proc.
void docker_lab(const FixtureTree& t) {
  t.process(21877, 1, "dockerd\0--data-root\0/tmp/ctlab/docker/data\0--exec-root\0/tmp/ctlab/docker/exec\0"sv,
            host_cgroup);
  for (const std::string& name : {"web"s, "webl"s, "shopweb"s, "hostnet"s}) {
    const std::string text = recorded("docker/" + name + ".config.v2.json");
    const auto cfg = parse_docker_config(text);
    REQUIRE(cfg);
    t.write("/host/tmp/ctlab/docker/data/containers/" + cfg->container.id + "/config.v2.json", text);
    t.process(*cfg->net.pid, 22000, "httpd\0"sv, recorded("docker/" + name + ".cgroup"));
  }
}

// Podman's lab: web and shopweb running under their conmons; containers.json
// also knows webl and hostnet.
void podman_lab(const FixtureTree& t) {
  t.process(24448, 1, recorded("podman/web.conmon.cmdline"), recorded("podman/web.conmon.cgroup"));
  t.process(24459, 24448, "httpd\0"sv, recorded("podman/web.cgroup"));
  t.process(24600, 1, recorded("podman/shopweb.conmon.cmdline"), recorded("podman/shopweb.conmon.cgroup"));
  t.process(24611, 24600, "httpd\0"sv, recorded("podman/shopweb.cgroup"));
  t.write("/host/tmp/ctlab/podman/root/overlay-containers/containers.json", recorded("podman/containers.json"));
}

std::string error_of(const Expected<pid_t>& r) { return r ? "pid " + std::to_string(*r) : r.error().message(); }

// What fn returns as an unprivileged user (nobody, when run as root): the
// tree is opened for it, but the state files are root's alone.
template <class Fn>
std::string unprivileged(const Fn& fn) {
  if (::geteuid() != 0) return fn();
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    std::string text = "cannot become nobody";
    if (::setgroups(0, nullptr) == 0 && ::setgid(65534) == 0 && ::setuid(65534) == 0) text = fn();
    [[maybe_unused]] const auto n = ::write(fds[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n = 0; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  return out;
}

// Every directory readable by all, PATH by no one but root (as docker's 0710
// data root and 0600 config.v2.json are to other users) until the end of the scope.
class ClosedToUsers {
 public:
  ClosedToUsers(const std::filesystem::path& root, std::filesystem::path path) : path_(std::move(path)) {
    ::chmod(root.c_str(), 0755);
    for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
      ::chmod(e.path().c_str(), e.is_directory() ? 0755 : 0644);
    }
    ::chmod(path_.c_str(), 0);
  }
  ~ClosedToUsers() { ::chmod(path_.c_str(), 0755); }
  ClosedToUsers(const ClosedToUsers&) = delete;
  ClosedToUsers& operator=(const ClosedToUsers&) = delete;

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST_CASE("containers find docker: by name, and by id or a prefix of 12 hex digits or more") {
  FixtureTree t;
  docker_lab(t);
  CHECK(error_of(find_container(Engine::docker, "web", t.options())) == "pid 22092");
  CHECK(error_of(find_container(Engine::docker, "shopweb", t.options())) == "pid 22253");
  CHECK(error_of(find_container(Engine::docker, docker_web, t.options())) == "pid 22092");
  CHECK(error_of(find_container(Engine::docker, docker_web.substr(0, 12), t.options())) == "pid 22092");
  CHECK(error_of(find_container(Engine::docker, docker_shopweb.substr(0, 20), t.options())) == "pid 22253");
  SUBCASE("fewer than 12 digits are a name, and no container's") {
    CHECK(error_of(find_container(Engine::docker, docker_web.substr(0, 11), t.options())) ==
          "no running docker container named \"da418ace7fb\"");
  }
  SUBCASE("a name wins over an id that starts with the same digits") {
    const std::string text = replaced(recorded("docker/webl.config.v2.json"), "/webl", "/" + docker_web.substr(0, 12));
    t.write("/host/tmp/ctlab/docker/data/containers/" + docker_webl + "/config.v2.json", text);
    CHECK(error_of(find_container(Engine::docker, docker_web.substr(0, 12), t.options())) == "pid 22170");
  }
  SUBCASE("dockerd's data root with a trailing slash is the same root") {
    t.process(21900, 1, "dockerd\0--data-root=/tmp/ctlab/docker/data/\0"sv, host_cgroup);
    CHECK(error_of(find_container(Engine::docker, "web", t.options())) == "pid 22092");
  }
}

TEST_CASE("containers find docker: stopped, absent, and state files that outlived their container") {
  FixtureTree t;
  docker_lab(t);
  const std::string dir = "/host/tmp/ctlab/docker/data/containers/";
  SUBCASE("stopped") {
    t.write(dir + docker_web + "/config.v2.json",
            replaced(recorded("docker/web.config.v2.json"), R"("Running":true)", R"("Running":false)"));
    const auto r = find_container(Engine::docker, "web", t.options());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::input);
    CHECK(r.error().message() == "container \"web\" (docker) is not running");
  }
  SUBCASE("no such container; an id that is no container's") {
    CHECK(error_of(find_container(Engine::docker, "nosuch", t.options())) ==
          "no running docker container named \"nosuch\"");
    CHECK(error_of(find_container(Engine::docker, "0123456789ab", t.options())) ==
          "no running docker container named \"0123456789ab\" or with that id");
  }
  SUBCASE("no dockerd and no data root at all") {
    FixtureTree empty;
    empty.process(300, 1, "sshd\0"sv, host_cgroup);
    CHECK(error_of(find_container(Engine::docker, "web", empty.options())) ==
          "no running docker container named \"web\"");
  }
  SUBCASE("the pid it names is gone (a reboot, a killed daemon)") {
    std::filesystem::remove_all(t.options().proc_root + "/22092");
    CHECK(error_of(find_container(Engine::docker, "web", t.options())) == "container \"web\" (docker) is not running");
  }
  SUBCASE("the pid it names is now another container's") {
    t.write("/proc/22092/cgroup", recorded("docker/shopweb.cgroup"));
    CHECK(error_of(find_container(Engine::docker, "web", t.options())) == "container \"web\" (docker) is not running");
  }
  SUBCASE("a hostile name is escaped in the message") {
    CHECK(error_of(find_container(Engine::docker, "\x1b[2Jx", t.options())) ==
          "no running docker container named \"\\x1b[2Jx\"");
  }
}

TEST_CASE("containers find docker: the same name under two daemons' data roots") {
  FixtureTree t;
  docker_lab(t);
  // A second daemon on the default root, with its own "web" (another id, another pid).
  const std::string other_id = "ee" + docker_web.substr(2);
  t.write("/host/var/lib/docker/containers/" + other_id + "/config.v2.json",
          replaced(replaced(recorded("docker/web.config.v2.json"), docker_web, other_id), "22092", "23092"));
  t.process(23092, 22000, "httpd\0"sv, replaced(recorded("docker/web.cgroup"), docker_web, other_id));
  SUBCASE("both running: ambiguous, and each is named") {
    const auto r = find_container(Engine::docker, "web", t.options());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::input);
    CHECK(r.error().message() ==
          "2 running docker containers match \"web\" (da418ace7fb6 in /tmp/ctlab/docker/data, "
          "ee418ace7fb6 in /var/lib/docker): name one by its id");
    CHECK(error_of(find_container(Engine::docker, other_id.substr(0, 12), t.options())) == "pid 23092");
  }
  SUBCASE("one stopped: the running one, the only namespace there is") {
    std::filesystem::remove_all(t.options().proc_root + "/23092");
    CHECK(error_of(find_container(Engine::docker, "web", t.options())) == "pid 22092");
  }
  SUBCASE("an id prefix two ids share") {
    const std::string twin = docker_web.substr(0, 20) + std::string(44, '0');
    t.write("/host/var/lib/docker/containers/" + twin + "/config.v2.json",
            replaced(replaced(recorded("docker/web.config.v2.json"), docker_web, twin), "/web", "/twin"));
    t.process(22092, 22000, "httpd\0"sv, "0::/\n");  // a cgroup that names no container: not evidence against
    const auto r = find_container(Engine::docker, docker_web.substr(0, 12), t.options());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message() ==
          "2 running docker containers match \"da418ace7fb6\" (da418ace7fb6 in /tmp/ctlab/docker/data, "
          "da418ace7fb6 in /var/lib/docker): give more of the id");
    CHECK(error_of(find_container(Engine::docker, docker_web, t.options())) == "pid 22092");
  }
}

TEST_CASE("containers find docker: state files only root can read") {
  FixtureTree t;
  docker_lab(t);
  const std::filesystem::path root = std::filesystem::path(t.options().proc_root).parent_path();
  const auto lookup = [&] { return error_of(find_container(Engine::docker, "web", t.options())); };
  SUBCASE("the containers directory") {
    const ClosedToUsers closed(root, root / "host/tmp/ctlab/docker/data/containers");
    CHECK(unprivileged(lookup) ==
          "docker container \"web\": reading /tmp/ctlab/docker/data/containers needs root: Permission denied");
  }
  SUBCASE("config.v2.json") {
    const ClosedToUsers closed(root,
                               root / ("host/tmp/ctlab/docker/data/containers/" + docker_web + "/config.v2.json"));
    CHECK(unprivileged(lookup) == "docker container \"web\": reading /tmp/ctlab/docker/data/containers/" +
                                      docker_web + "/config.v2.json needs root: Permission denied");
  }
}

TEST_CASE("containers find podman: conmon's -n or -c, and conmon's child") {
  FixtureTree t;
  podman_lab(t);
  CHECK(error_of(find_container(Engine::podman, "web", t.options())) == "pid 24459");
  CHECK(error_of(find_container(Engine::podman, "shopweb", t.options())) == "pid 24611");
  CHECK(error_of(find_container(Engine::podman, podman_web.substr(0, 12), t.options())) == "pid 24459");
  CHECK(error_of(find_container(Engine::podman, podman_shopweb, t.options())) == "pid 24611");
  SUBCASE("conmon's other children (the runtime, an exec session's conmon) are not the container") {
    t.process(24450, 24448, "/usr/bin/runc\0start\0"sv, recorded("podman/web.conmon.cgroup"));
    t.process(24700, 1, replaced(recorded("podman/web.conmon.cmdline"), "--api-version", "--exec"),
              recorded("podman/web.conmon.cgroup"));
    t.process(24701, 24700, "sh\0"sv, recorded("podman/web.cgroup"));
    CHECK(error_of(find_container(Engine::podman, "web", t.options())) == "pid 24459");
  }
  SUBCASE("docker does not see podman's containers") {
    CHECK(error_of(find_container(Engine::docker, "web", t.options())) ==
          "no running docker container named \"web\"");
  }
  SUBCASE("two podmans (two storage roots) each with a web") {
    const std::string other_id = "ee" + podman_web.substr(2);
    t.process(25000, 1, replaced(recorded("podman/web.conmon.cmdline"), podman_web, other_id),
              recorded("podman/web.conmon.cgroup"));
    t.process(25001, 25000, "httpd\0"sv, replaced(recorded("podman/web.cgroup"), podman_web, other_id));
    CHECK(error_of(find_container(Engine::podman, "web", t.options())) ==
          "2 running podman containers match \"web\" (cd56c95f2b77 conmon 24448, ee56c95f2b77 conmon 25000): "
          "name one by its id");
  }
}

TEST_CASE("containers find podman: stopped (containers.json knows it), absent, unreadable") {
  FixtureTree t;
  podman_lab(t);
  SUBCASE("webl has no conmon, but containers.json (found through web's conmon) has it") {
    CHECK(error_of(find_container(Engine::podman, "webl", t.options())) ==
          "container \"webl\" (podman) is not running");
    CHECK(error_of(find_container(Engine::podman, "bf60846bcafc", t.options())) ==
          "container \"bf60846bcafc\" (podman) is not running");
  }
  SUBCASE("a conmon whose container has exited") {
    std::filesystem::remove_all(t.options().proc_root + "/24459");
    CHECK(error_of(find_container(Engine::podman, "web", t.options())) == "container \"web\" (podman) is not running");
  }
  SUBCASE("no conmon at all: the default storage's containers.json") {
    FixtureTree idle;
    idle.process(300, 1, "sshd\0"sv, host_cgroup);
    idle.write("/host/var/lib/containers/storage/overlay-containers/containers.json",
               recorded("podman/containers.json"));
    CHECK(error_of(find_container(Engine::podman, "hostnet", idle.options())) ==
          "container \"hostnet\" (podman) is not running");
    CHECK(error_of(find_container(Engine::podman, "nosuch", idle.options())) ==
          "no running podman container named \"nosuch\"");
  }
  SUBCASE("absent") {
    const auto r = find_container(Engine::podman, "nosuch", t.options());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::input);
    CHECK(r.error().message() == "no running podman container named \"nosuch\"");
  }
  SUBCASE("containers.json only root can read: running ones are still found") {
    const std::filesystem::path root = std::filesystem::path(t.options().proc_root).parent_path();
    const ClosedToUsers closed(root, root / "host/tmp/ctlab/podman/root/overlay-containers/containers.json");
    CHECK(unprivileged([&] {
            return error_of(find_container(Engine::podman, "webl", t.options())) + "|" +
                   error_of(find_container(Engine::podman, "web", t.options()));
          }) == "no running podman container named \"webl\" (whether it exists: reading "
                "/tmp/ctlab/podman/root/overlay-containers/containers.json needs root)|pid 24459");
  }
}

TEST_CASE("containers find: engines whose containers have no name to look up") {
  FixtureTree t;
  for (const Engine e : {Engine::unknown, Engine::containerd, Engine::kubernetes}) {
    const auto r = find_container(e, "web", t.options());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::input);
  }
}

// ---- tag_containers() on a fixture tree ----

namespace {

// One process holding a listening socket at address:port.
Listener held(std::string_view address, std::uint16_t port, pid_t pid, std::string comm,
              Protocol protocol = Protocol::tcp) {
  Listener l;
  l.socket.protocol = protocol;
  l.socket.local = ip(address);
  l.socket.family = l.socket.local.family;
  l.socket.port = port;
  l.socket.state = protocol == Protocol::tcp ? tcp_listen : tcp_close;
  Process p;
  p.pid = pid;
  p.comm = std::move(comm);
  l.processes = {p};
  return l;
}

ProcessContainer tag(std::string engine, std::string id, std::string name, bool holder) {
  ProcessContainer c;
  c.engine = std::move(engine);
  c.id = std::move(id);
  c.name = std::move(name);
  c.holder = holder;
  return c;
}

void docker_state(const FixtureTree& t, const std::string& root, const std::string& name) {
  const auto cfg = parse_docker_config(recorded("docker/" + name + ".config.v2.json"));
  REQUIRE(cfg);
  const std::string dir = "/host" + root + "/containers/" + cfg->container.id;
  t.write(dir + "/config.v2.json", recorded("docker/" + name + ".config.v2.json"));
  t.write(dir + "/hostconfig.json", recorded("docker/" + name + ".hostconfig.json"));
}

}  // namespace

TEST_CASE("containers tag: docker-proxy holds its container's port; the container is found in dockerd's data root") {
  FixtureTree t;
  t.process(21877, 1, "dockerd\0--data-root\0/tmp/ctlab/docker/data\0"sv, host_cgroup);
  t.process(22051, 21877, recorded("docker/docker-proxy-8080-v4.cmdline"), host_cgroup);
  for (const std::string& name : {"web"s, "webl"s, "shopweb"s}) docker_state(t, "/tmp/ctlab/docker/data", name);
  // The same process in two listeners (a v4 and a v6 socket): read once.
  std::vector<Listener> ls = {held("0.0.0.0", 8080, 22051, "docker-proxy"), held("::", 8080, 22051, "docker-proxy")};
  ContainerTags tags;
  tag_containers(ls, tags, t.options());
  for (const Listener& l : ls) {
    REQUIRE(l.processes[0].container);
    CHECK(*l.processes[0].container == tag("docker", docker_web, "web", true));
  }
  REQUIRE(tags.seen.size() == 1);
  const Identity& seen = tags.seen.front();
  REQUIRE(seen.forwarder);
  CHECK(seen.forwarder->container_ip == ip("172.17.0.2"));
  REQUIRE(seen.networking);
  CHECK(seen.networking->requested.size() == 1);  // hostconfig.json read too
  CHECK(seen.container->sources.front() == "docker-proxy cmdline");
  CHECK(tags.notes.empty());
  SUBCASE("no data root holds it: the tag is left off, and nothing is guessed") {
    FixtureTree bare;
    bare.process(22051, 21877, recorded("docker/docker-proxy-8080-v4.cmdline"), host_cgroup);
    std::vector<Listener> one = {held("0.0.0.0", 8080, 22051, "docker-proxy")};
    ContainerTags none;
    tag_containers(one, none, bare.options());
    CHECK_FALSE(one[0].processes[0].container.has_value());
    CHECK(none.seen.empty());
  }
}

TEST_CASE("containers tag: a process whose cgroup is a docker container runs in it (not a holder)") {
  FixtureTree t;
  t.process(22092, 22072, "httpd\0-f\0-p\0" "80\0"sv, recorded("docker/web.cgroup"));
  t.process(22072, 1, recorded("docker/web.shim.cmdline"), host_cgroup);
  t.write("/proc/22092/mountinfo", recorded("docker/web.mountinfo"));
  docker_state(t, "/tmp/ctlab/docker/data", "web");
  std::vector<Listener> ls = {held("::", 80, 22092, "httpd")};
  ContainerTags tags;
  tag_containers(ls, tags, t.options());
  REQUIRE(ls[0].processes[0].container);
  CHECK(*ls[0].processes[0].container == tag("docker", docker_web, "web", false));
  REQUIRE(tags.seen.size() == 1);
  CHECK_FALSE(tags.seen[0].monitor);
  CHECK(tags.seen[0].engine_pid == 22072);  // its shim
  REQUIRE(tags.seen[0].networking);
  CHECK(tags.seen[0].networking->addresses == std::vector<ContainerAddress>{{"bridge", ip("172.17.0.2")}});
  CHECK(tags.notes.empty());
}

TEST_CASE("containers tag: a host process gets no tag, and nothing of an engine's is read for it") {
  FixtureTree t;
  t.process(300, 1, "/usr/sbin/sshd\0-D\0"sv, host_cgroup);
  // A process whose cgroup can't be read: not looked into (identify() would note the failure).
  t.write("/proc/301/cmdline", "nginx\0"sv);
  t.write("/proc/301/stat", "301 (nginx) S 1 1 1 0 -1\n");
  // Docker's default data root can't be listed: reading it would leave a note.
  t.write("/host/var/lib/docker/containers", "not a directory");
  std::vector<Listener> ls = {held("0.0.0.0", 22, 300, "sshd"), held("0.0.0.0", 80, 301, "nginx")};
  ContainerTags tags;
  tag_containers(ls, tags, t.options());
  CHECK_FALSE(ls[0].processes[0].container.has_value());
  CHECK_FALSE(ls[1].processes[0].container.has_value());
  CHECK(tags.seen.empty());
  CHECK(tags.notes.empty());
  SUBCASE("the trap works: dockerd holding a port reads the data root, and says it could not") {
    t.process(21877, 1, "/usr/bin/dockerd\0-H\0fd://\0"sv, host_cgroup);
    t.write("/proc/21877/comm", "dockerd\n");
    std::vector<Listener> d = {held("0.0.0.0", 8080, 21877, "dockerd")};
    tag_containers(d, tags, t.options());
    CHECK_FALSE(d[0].processes[0].container.has_value());
    REQUIRE(tags.notes.size() == 1);
    CHECK(tags.notes[0].find("/var/lib/docker/containers") != std::string::npos);
  }
}

TEST_CASE("containers tag: dockerd holding a published port itself (--userland-proxy=false) holds it for the container") {
  FixtureTree t;
  docker_lab(t);  // dockerd 21877 --data-root /tmp/ctlab/docker/data, and its four containers
  t.write("/proc/21877/comm", "dockerd\n");
  SUBCASE("the data roots come from dockerd's cmdline") {
    const auto roots = docker_data_roots(t.options());
    REQUIRE(roots.size() == 2);
    CHECK(roots[0].path == "/tmp/ctlab/docker/data");
    CHECK(roots[0].dockerd == 21877);
    CHECK(roots[1].path == "/var/lib/docker");
    CHECK(roots[1].dockerd == 0);
    std::vector<std::string> notes;
    const auto all = read_docker_containers(notes, t.options());
    CHECK(all.size() == 4);
    CHECK(std::all_of(all.begin(), all.end(), [](const DockerContainer& d) { return d.dockerd == 21877; }));
    CHECK(notes.empty());
  }
  std::vector<Listener> ls = {held("0.0.0.0", 8080, 21877, "dockerd"),   // web: -p 8080:80
                              held("::", 8080, 21877, "dockerd"),        // web, IPv6
                              held("127.0.0.1", 8081, 21877, "dockerd"), // webl: -p 127.0.0.1:8081:80
                              held("0.0.0.0", 8081, 21877, "dockerd"),   // webl is not published there
                              held("0.0.0.0", 9999, 21877, "dockerd"),   // nobody's
                              held("0.0.0.0", 8080, 21877, "dockerd", Protocol::udp)};  // web publishes TCP only
  ContainerTags tags;
  tag_containers(ls, tags, t.options());
  REQUIRE(ls[0].processes[0].container);
  CHECK(*ls[0].processes[0].container == tag("docker", docker_web, "web", true));
  REQUIRE(ls[1].processes[0].container);
  CHECK(*ls[1].processes[0].container == tag("docker", docker_web, "web", true));
  REQUIRE(ls[2].processes[0].container);
  CHECK(*ls[2].processes[0].container == tag("docker", docker_webl, "webl", true));
  CHECK_FALSE(ls[3].processes[0].container.has_value());
  CHECK_FALSE(ls[4].processes[0].container.has_value());
  CHECK_FALSE(ls[5].processes[0].container.has_value());
  REQUIRE(tags.seen.size() == 2);  // each container once
  for (const Identity& id : tags.seen) {
    CHECK(id.monitor);
    CHECK(id.engine_pid == 21877);
    CHECK(id.networking.has_value());
  }
  SUBCASE("another dockerd (another data root) does not hold this one's ports") {
    t.process(21900, 1, "dockerd\0"sv, host_cgroup);
    t.write("/proc/21900/comm", "dockerd\n");
    std::vector<Listener> other = {held("0.0.0.0", 8080, 21900, "dockerd")};
    ContainerTags fresh;
    tag_containers(other, fresh, t.options());
    CHECK_FALSE(other[0].processes[0].container.has_value());
  }
}
