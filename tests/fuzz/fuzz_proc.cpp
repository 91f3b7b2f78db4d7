// The /proc parsers, the first input byte picking one: /proc/net/{tcp,tcp6,
// udp,udp6}, /proc/PID/stat, /proc/PID/cmdline, the fd and ns link targets
// ("socket:[N]", "net:[N]"), /proc/net/netstat and /proc/self/mountinfo
// (hidepid). Pure functions of text: anything parses or is skipped.
#include "fuzz.hpp"
#include "netwhy/procmap.hpp"
#include "netwhy/snapshot.hpp"
#include "netwhy/sockets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace netwhy;
  if (size == 0) return 0;
  const std::string_view text = fuzz::text_of(data + 1, size - 1);
  switch (data[0] % 9U) {
    case 0:
    case 1:
    case 2:
    case 3: {
      const Protocol protocol = data[0] % 4U < 2 ? Protocol::tcp : Protocol::udp;
      const Family family = data[0] % 2U == 0 ? Family::inet : Family::inet6;
      const ProcNetParse got = parse_proc_net(text, protocol, family);
      for (const Socket& s : got.sockets) {
        fuzz::check(s.protocol == protocol, "a /proc/net socket has the file's protocol");
        (void)s.local.to_string();
        (void)s.remote.to_string();
      }
      break;
    }
    case 4:
      (void)parse_stat(text);
      break;
    case 5:
      fuzz::check(parse_cmdline(text).size() <= text.size(), "a cmdline joined is no longer than its bytes");
      break;
    case 6:
      (void)parse_socket_link(text);
      (void)parse_netns_link(text);
      break;
    case 7:
      (void)parse_netstat(text);
      break;
    default:
      (void)parse_hidepid(text);
      break;
  }
  return 0;
}
