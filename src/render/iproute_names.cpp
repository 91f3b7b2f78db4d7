#include "netwhy/iproute_names.hpp"

#include "netwhy/fd.hpp"
#include "netwhy/file.hpp"
#include "netwhy/text.hpp"

#include <dirent.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>

#include <charconv>
#include <map>

#include <fmt/format.h>

namespace netwhy {

std::vector<std::pair<std::uint32_t, std::string>> parse_id_names(std::string_view text) {
  std::vector<std::pair<std::uint32_t, std::string>> out;
  for (std::string_view line : split_lines(text)) {
    const std::size_t hash = line.find('#');
    if (hash != std::string_view::npos) line = line.substr(0, hash);
    const auto skip_space = [&](std::size_t i) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      return i;
    };
    std::size_t i = skip_space(0);
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    std::string_view num = line.substr(i, j - i);
    int base = 10;
    if (num.size() > 2 && num[0] == '0' && (num[1] == 'x' || num[1] == 'X')) {
      num.remove_prefix(2);
      base = 16;
    }
    std::uint32_t id = 0;
    const auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), id, base);
    if (num.empty() || ec != std::errc{} || end != num.data() + num.size()) continue;
    i = skip_space(j);
    j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j == i) continue;
    out.emplace_back(id, std::string(line.substr(i, j - i)));
  }
  return out;
}

namespace {

constexpr const char* config_dir = "/etc/iproute2";

// A configuration file of names; missing is as good as empty.
std::string read_names_file(const std::string& path) {
  return read_file(path, 1U << 20, OverLimit::truncate).value_or(std::string());
}

// One table: the built-in names, then the file's, loaded the first time an id
// is missing (as ip does). Later entries of a file do not override built-ins.
class NameTable {
 public:
  NameTable(const char* file, std::map<std::uint32_t, std::string> builtin)
      : file_(file), names_(std::move(builtin)) {}

  std::string lookup(std::uint32_t id) {
    auto it = names_.find(id);
    if (it == names_.end() && !loaded_) {
      load();
      it = names_.find(id);
    }
    return it != names_.end() ? it->second : std::to_string(id);
  }

  std::optional<std::uint32_t> find(std::string_view name) {
    if (!loaded_) load();
    for (const auto& [id, n] : names_) {
      if (n == name) return id;
    }
    return std::nullopt;
  }

 private:
  void add(const std::string& text) {
    for (auto& [id, name] : parse_id_names(text)) names_.emplace(id, std::move(name));
  }
  void load() {
    loaded_ = true;
    const std::string base = fmt::format("{}/{}", config_dir, file_);
    add(read_names_file(base));
    const std::string dir = base + ".d";
    if (const UniqueDir d{opendir(dir.c_str())}) {
      while (const dirent* e = readdir(d.get())) {
        const std::string_view n = e->d_name;
        if (n.size() > 5 && n.substr(n.size() - 5) == ".conf") add(read_names_file(dir + "/" + std::string(n)));
      }
    }
  }
  const char* file_;
  std::map<std::uint32_t, std::string> names_;
  bool loaded_ = false;
};

}  // namespace

std::string route_protocol_name(unsigned id) {
  static NameTable table("rt_protos",
                         {{RTPROT_UNSPEC, "unspec"}, {RTPROT_REDIRECT, "redirect"},
                          {RTPROT_KERNEL, "kernel"}, {RTPROT_BOOT, "boot"},
                          {RTPROT_STATIC, "static"}, {RTPROT_GATED, "gated"},
                          {RTPROT_RA, "ra"}, {RTPROT_MRT, "mrt"}, {RTPROT_ZEBRA, "zebra"},
                          {RTPROT_BIRD, "bird"}, {RTPROT_DNROUTED, "dnrouted"},
                          {RTPROT_XORP, "xorp"}, {RTPROT_NTK, "ntk"}, {RTPROT_DHCP, "dhcp"},
                          {RTPROT_KEEPALIVED, "keepalived"}, {RTPROT_BABEL, "babel"},
                          {RTPROT_BGP, "bgp"}, {RTPROT_ISIS, "isis"}, {RTPROT_OSPF, "ospf"},
                          {RTPROT_RIP, "rip"}, {RTPROT_EIGRP, "eigrp"}});
  return table.lookup(id);
}

std::string route_scope_name(unsigned id) {
  static NameTable table("rt_scopes", {{RT_SCOPE_UNIVERSE, "global"},
                                       {RT_SCOPE_NOWHERE, "nowhere"},
                                       {RT_SCOPE_HOST, "host"},
                                       {RT_SCOPE_LINK, "link"},
                                       {RT_SCOPE_SITE, "site"}});
  return table.lookup(id);
}

std::string route_type_name(unsigned id) {
  switch (id) {
    case RTN_UNSPEC: return "none";
    case RTN_UNICAST: return "unicast";
    case RTN_LOCAL: return "local";
    case RTN_BROADCAST: return "broadcast";
    case RTN_ANYCAST: return "anycast";
    case RTN_MULTICAST: return "multicast";
    case RTN_BLACKHOLE: return "blackhole";
    case RTN_UNREACHABLE: return "unreachable";
    case RTN_PROHIBIT: return "prohibit";
    case RTN_THROW: return "throw";
    case RTN_NAT: return "nat";
    case RTN_XRESOLVE: return "xresolve";
    default: return std::to_string(id);
  }
}

namespace {
NameTable& route_tables() {
  static NameTable table("rt_tables", {{RT_TABLE_DEFAULT, "default"},
                                       {RT_TABLE_MAIN, "main"},
                                       {RT_TABLE_LOCAL, "local"}});
  return table;
}
}  // namespace

std::string route_table_name(std::uint32_t id) { return route_tables().lookup(id); }

std::optional<std::uint32_t> route_table_id(std::string_view name) {
  std::uint32_t id = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (!name.empty() && ec == std::errc{} && end == name.data() + name.size()) return id;
  return route_tables().find(name);
}

std::string link_group_name(std::uint32_t id) {
  static NameTable table("group", {{0, "default"}});
  return table.lookup(id);
}

std::string link_type_name(unsigned arphrd) {
  static const std::map<unsigned, const char*> types = {
      {ARPHRD_NETROM, "netrom"},   {ARPHRD_ETHER, "ether"},      {ARPHRD_EETHER, "eether"},
      {ARPHRD_AX25, "ax25"},       {ARPHRD_PRONET, "pronet"},    {ARPHRD_CHAOS, "chaos"},
      {ARPHRD_IEEE802, "ieee802"}, {ARPHRD_ARCNET, "arcnet"},    {ARPHRD_APPLETLK, "atalk"},
      {ARPHRD_DLCI, "dlci"},       {ARPHRD_ATM, "atm"},          {ARPHRD_METRICOM, "metricom"},
      {ARPHRD_IEEE1394, "ieee1394"}, {ARPHRD_INFINIBAND, "infiniband"},
      {ARPHRD_SLIP, "slip"},       {ARPHRD_CSLIP, "cslip"},      {ARPHRD_SLIP6, "slip6"},
      {ARPHRD_CSLIP6, "cslip6"},   {ARPHRD_RSRVD, "rsrvd"},      {ARPHRD_ADAPT, "adapt"},
      {ARPHRD_ROSE, "rose"},       {ARPHRD_X25, "x25"},          {ARPHRD_HWX25, "hwx25"},
      {ARPHRD_CAN, "can"},         {ARPHRD_PPP, "ppp"},          {ARPHRD_HDLC, "hdlc"},
      {ARPHRD_LAPB, "lapb"},       {ARPHRD_DDCMP, "ddcmp"},      {ARPHRD_RAWHDLC, "rawhdlc"},
      {ARPHRD_TUNNEL, "ipip"},     {ARPHRD_TUNNEL6, "tunnel6"},  {ARPHRD_FRAD, "frad"},
      {ARPHRD_SKIP, "skip"},       {ARPHRD_LOOPBACK, "loopback"}, {ARPHRD_LOCALTLK, "ltalk"},
      {ARPHRD_FDDI, "fddi"},       {ARPHRD_BIF, "bif"},          {ARPHRD_SIT, "sit"},
      {ARPHRD_IPDDP, "ip/ddp"},    {ARPHRD_IPGRE, "gre"},        {ARPHRD_PIMREG, "pimreg"},
      {ARPHRD_HIPPI, "hippi"},     {ARPHRD_ASH, "ash"},          {ARPHRD_ECONET, "econet"},
      {ARPHRD_IRDA, "irda"},       {ARPHRD_FCPP, "fcpp"},        {ARPHRD_FCAL, "fcal"},
      {ARPHRD_FCPL, "fcpl"},       {ARPHRD_FCFABRIC, "fcfb0"},   {ARPHRD_IEEE802_TR, "tr"},
      {ARPHRD_IEEE80211, "ieee802.11"}, {ARPHRD_IEEE80211_PRISM, "ieee802.11/prism"},
      {ARPHRD_IEEE80211_RADIOTAP, "ieee802.11/radiotap"},
      {ARPHRD_IEEE802154, "ieee802.15.4"}, {ARPHRD_IEEE802154_MONITOR, "ieee802.15.4/monitor"},
      {ARPHRD_PHONET, "phonet"},   {ARPHRD_PHONET_PIPE, "phonet_pipe"}, {ARPHRD_CAIF, "caif"},
      {ARPHRD_IP6GRE, "gre6"},     {ARPHRD_NETLINK, "netlink"},  {ARPHRD_6LOWPAN, "6lowpan"},
      {ARPHRD_NONE, "none"},       {ARPHRD_VOID, "void"}};
  const auto it = types.find(arphrd);
  return it != types.end() ? it->second : fmt::format("[{}]", arphrd);
}

std::string_view operstate_name(std::uint8_t state) {
  static constexpr const char* names[] = {"UNKNOWN", "NOTPRESENT",     "DOWN", "LOWERLAYERDOWN",
                                          "TESTING", "DORMANT", "UP"};
  return state < std::size(names) ? names[state] : std::string_view{};
}

std::string_view linkmode_name(std::uint8_t mode) {
  static constexpr const char* names[] = {"DEFAULT", "DORMANT"};
  return mode < std::size(names) ? names[mode] : std::string_view{};
}

std::string hwaddr_string(const HwAddr& addr, std::uint16_t arphrd) {
  if (addr.size() == 4 && (arphrd == ARPHRD_TUNNEL || arphrd == ARPHRD_SIT || arphrd == ARPHRD_IPGRE)) {
    return IpAddr::from_bytes(Family::inet, addr.data(), addr.size())->to_string();
  }
  if (addr.size() == 16 && (arphrd == ARPHRD_TUNNEL6 || arphrd == ARPHRD_IP6GRE)) {
    return IpAddr::from_bytes(Family::inet6, addr.data(), addr.size())->to_string();
  }
  std::string out;
  out.reserve(addr.size() * 3);
  for (std::size_t i = 0; i < addr.size(); ++i) {
    if (i != 0) out += ':';
    fmt::format_to(std::back_inserter(out), "{:02x}", addr[i]);
  }
  return out;
}

}  // namespace netwhy
