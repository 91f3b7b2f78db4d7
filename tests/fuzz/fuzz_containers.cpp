// The container parsers, the first input byte picking one: /proc/PID/cgroup,
// a parent's cmdline (containerd-shim, conmon), conmon's containers dir,
// docker-proxy's and dockerd's cmdlines, the docker data root from
// mountinfo (the container id after a NUL byte), and the engines' state
// files (docker's config.v2.json and hostconfig.json, podman's
// containers.json).
#include "fuzz.hpp"
#include "netwhy/containers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace netwhy;
  if (size == 0) return 0;
  const std::string_view text = fuzz::text_of(data + 1, size - 1);
  switch (data[0] % 9U) {
    case 0:
      (void)parse_cgroup(text);
      break;
    case 1:
      (void)parse_parent_cmdline(text);
      break;
    case 2:
      (void)parse_conmon_containers_dir(text);
      break;
    case 3:
      if (const auto f = parse_docker_proxy_cmdline(text)) {
        (void)f->host_ip.to_string();
        (void)f->container_ip.to_string();
      }
      break;
    case 4:
      (void)parse_dockerd_data_root(text);
      break;
    case 5: {
      const auto [mountinfo, id] = fuzz::split_at_nul(text);
      (void)parse_docker_data_root(mountinfo, id);
      break;
    }
    case 6:
      (void)parse_docker_config(text);
      break;
    case 7:
      (void)parse_docker_hostconfig(text);
      break;
    default:
      (void)parse_podman_containers(text);
      break;
  }
  return 0;
}
