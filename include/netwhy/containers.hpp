// Who is the container: the engine, id, name and compose labels of the
// container a process runs in, read from /proc and from the engines' own state
// files, never through an engine's API or command line tool.
//
// Pure parsers take text (recorded from real engines in tests/data/containers);
// identify() reads. Every string is raw, as the engine or whoever named the
// container wrote it: escaping is the renderer's job.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netwhy/error.hpp"
#include "netwhy/inet.hpp"
#include "netwhy/listener.hpp"

namespace netwhy {

enum class Engine { unknown, docker, podman, containerd, kubernetes };
[[nodiscard]] std::string_view to_string(Engine e);  // "docker", ...

struct ContainerId {
  Engine engine = Engine::unknown;
  std::string id;               // full id: 64 hex for docker, podman and CRI; any name under plain containerd
  std::string name;             // "web" (docker's leading '/' removed)
  std::string compose_project;  // label com.docker.compose.project
  std::string compose_service;  // label com.docker.compose.service
  std::string image;            // "nwtest:1", when a state file says it
  std::string pod_uid;          // kubernetes: the pod's UID from the cgroup path (dashes, as the API shows it)
  std::string containerd_namespace;  // the shim's -namespace: "moby", "k8s.io", ...
  std::vector<std::string> sources;  // what told us, in order: "cgroup", "containerd-shim cmdline", "config.v2.json"
  bool operator==(const ContainerId&) const = default;
};

// A published port as a state file states it.
struct PortBinding {
  std::string proto;                // "tcp", "udp", "sctp"
  std::uint16_t container_port = 0;
  std::optional<IpAddr> host_ip;    // absent: every address (docker's "" HostIp)
  std::uint16_t host_port = 0;      // 0: chosen by the engine when it starts
  bool operator==(const PortBinding&) const = default;
};

// The container's address on one of its networks.
struct ContainerAddress {
  std::string network;  // "bridge", "shop_default"
  IpAddr addr;
  bool operator==(const ContainerAddress&) const = default;
};

// Docker's view of a container's network, from its state files.
struct ContainerNetworking {
  std::optional<pid_t> pid;   // State.Pid, when running
  bool running = false;
  std::string network_mode;   // hostconfig.json NetworkMode: "default", "bridge", "host", "container:ID", ...
  std::vector<PortBinding> published;  // config.v2.json NetworkSettings.Ports: as bound now
  std::vector<PortBinding> requested;  // hostconfig.json PortBindings: as asked with -p
  std::vector<ContainerAddress> addresses;
  bool operator==(const ContainerNetworking&) const = default;
};

// A userland proxy that holds a host port for a container (docker-proxy).
struct Forwarder {
  Engine engine = Engine::docker;
  std::string proto;  // "tcp", "udp", "sctp"
  IpAddr host_ip;
  std::uint16_t host_port = 0;
  IpAddr container_ip;
  std::uint16_t container_port = 0;
  bool operator==(const Forwarder&) const = default;
};

// ---- pure parsers: bounded input, nullopt (or a partial value) on anything unexpected ----

// /proc/PID/cgroup, cgroup v1 (hybrid) or v2. The path most lines agree on is
// classified (a lone controller elsewhere does not count): docker cgroupfs
// "/docker/ID" and systemd "docker-ID.scope"; podman "libpod-ID" (and
// "libpod-conmon-ID" for its monitor); kubepods ".../pod<uid>/ID",
// "cri-containerd-ID.scope", "crio-ID.scope"; plain containerd "/NS/ID".
[[nodiscard]] std::optional<ContainerId> parse_cgroup(std::string_view text);

// A process's /proc/PID/cmdline (NUL-separated) when it is a container's
// parent: containerd-shim(-runc-v2) "-namespace NS -id ID" (moby: docker,
// k8s.io: kubernetes, where the id is the pod sandbox's), or conmon
// "-c ID -n NAME" (podman).
[[nodiscard]] std::optional<ContainerId> parse_parent_cmdline(std::string_view raw);

// Where podman's containers.json is: "ROOT/overlay-containers" from conmon's
// "-b ROOT/overlay-containers/ID/userdata" (the directory is named after the
// storage driver).
[[nodiscard]] std::optional<std::string> parse_conmon_containers_dir(std::string_view raw);

// docker-proxy "-proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip
// 172.17.0.2 -container-port 80".
[[nodiscard]] std::optional<Forwarder> parse_docker_proxy_cmdline(std::string_view raw);

// dockerd's data root from its cmdline ("--data-root DIR", "-g DIR"), or
// nullopt when it names none (then /var/lib/docker).
[[nodiscard]] std::optional<std::string> parse_dockerd_data_root(std::string_view raw);

// The data root a docker container's files are bind-mounted from: the
// mountinfo line "ROOT/containers/ID/hosts /etc/hosts" gives ROOT. The path
// is relative to its filesystem: ROOT is exact only when the data root is on
// the filesystem of /.
[[nodiscard]] std::optional<std::string> parse_docker_data_root(std::string_view mountinfo, std::string_view id);

struct DockerConfig {
  ContainerId container;  // engine, id, name, compose labels, image; sources {"config.v2.json"}
  ContainerNetworking net;  // pid, running, published ports, addresses
};
// <data-root>/containers/ID/config.v2.json
[[nodiscard]] std::optional<DockerConfig> parse_docker_config(std::string_view json_text);

struct DockerHostConfig {
  std::string network_mode;
  std::vector<PortBinding> port_bindings;
};
// <data-root>/containers/ID/hostconfig.json
[[nodiscard]] std::optional<DockerHostConfig> parse_docker_hostconfig(std::string_view json_text);

struct PodmanContainer {
  std::string id;
  std::vector<std::string> names;
  std::string image;  // metadata's image-name: "localhost/nwtest:1"
  bool operator==(const PodmanContainer&) const = default;
};
// ROOT/overlay-containers/containers.json
[[nodiscard]] std::optional<std::vector<PodmanContainer>> parse_podman_containers(std::string_view json_text);

// ---- gathering ----

struct Identity {
  std::optional<ContainerId> container;
  std::optional<ContainerNetworking> networking;  // docker, when its state files were readable
  std::optional<Forwarder> forwarder;             // the process is docker-proxy
  bool monitor = false;  // the process is the container's conmon or shim: outside it, holding its ports
  pid_t engine_pid = 0;  // the container's shim or conmon (0: not seen): the engine's side, in its namespace
  // rootless podman's rootlessport: the container's network namespace (its
  // main thread's), where the connections it takes are passed on.
  std::optional<std::uint64_t> netns_inode;
  std::vector<std::string> notes;  // what could not be read and what that hides
};

struct IdentifyOptions {
  std::string proc_root = "/proc";
  std::string host_root;  // prefixed to engine paths (data roots), for a fixture tree
};

// The container process pid runs in (or, for conmon and docker-proxy, serves),
// from /proc/PID/cgroup, the cmdlines of pid and its ancestors (at most 16),
// /proc/PID/mountinfo and the engine's state files when readable (root).
// For a network namespace, pass a process in it (other_network_namespaces()).
[[nodiscard]] Identity identify(pid_t pid, const IdentifyOptions& opt = {});

// What tag_containers() learnt, kept across calls so that each container is
// read once: every identity met, by container id (docker-proxy's too).
struct ContainerTags {
  std::vector<Identity> seen;
  std::vector<std::string> notes;  // unique
};

// Tags the processes of these listeners with the container they run in, or
// hold a published port for (docker-proxy, conmon). Reads only for the
// processes whose cgroup names a container, and for docker-proxy and conmon.
void tag_containers(std::vector<Listener>& listeners, ContainerTags& tags, const IdentifyOptions& opt = {});

// The processes in proc_root (at most limit), ascending.
[[nodiscard]] std::vector<pid_t> process_ids(const std::string& proc_root = "/proc", std::size_t limit = 1U << 16);

// The docker data roots in use: each running dockerd's --data-root, then
// /var/lib/docker.
struct DockerRoot {
  std::string path;
  pid_t dockerd = 0;  // the daemon using it; 0 for the default when none runs
};
[[nodiscard]] std::vector<DockerRoot> docker_data_roots(const IdentifyOptions& opt = {});
// Every container in those roots (running or not), from config.v2.json and
// hostconfig.json; at most 4096 per root. Unreadable roots add a note.
struct DockerContainer {
  DockerConfig config;
  pid_t dockerd = 0;  // the daemon whose root holds it (0: none running)
};
[[nodiscard]] std::vector<DockerContainer> read_docker_containers(std::vector<std::string>& notes,
                                                                  const IdentifyOptions& opt = {});

// ---- finding a container by name ----

// The pid of the init of the running container named name_or_id (its name,
// or 12 to 64 hex digits of its id; a name is looked for first), for -n
// docker:NAME and podman:NAME. docker: config.v2.json under every running
// dockerd's --data-root and /var/lib/docker, checked against /proc (state
// files outlive their daemon). podman: the conmon whose -n or -c names it, and
// conmon's child; containers.json tells a stopped container from none.
// Errors: input ("no running docker container named \"web\"", "container
// \"web\" (docker) is not running", "2 running docker containers match ..."),
// system with EACCES when a state file only root can read was needed.
[[nodiscard]] Expected<pid_t> find_container(Engine engine, std::string_view name_or_id,
                                             const IdentifyOptions& opt = {});

}  // namespace netwhy
