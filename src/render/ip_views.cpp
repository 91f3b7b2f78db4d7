// One walk over each value emits both forms: text as ip prints it, JSON as
// ip -j prints it. Field order, spelling and omission follow iproute2 6.1.
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/in_route.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include "netwhy/iproute_names.hpp"
#include "netwhy/render_ip.hpp"
#include "netwhy/text.hpp"

namespace netwhy {

std::vector<LinkAddrs> select_links(const std::vector<Link>& links, const std::vector<Address>& addrs,
                                    LinkView view, Family family, std::optional<int> only_ifindex) {
  std::unordered_map<int, std::vector<const Address*>> by_link;
  if (view == LinkView::addr) {
    for (const Address& a : addrs) {
      if (family == Family::unspec || a.family == family) by_link[a.ifindex].push_back(&a);
    }
  }
  std::vector<LinkAddrs> out;
  for (const Link& l : links) {
    if (only_ifindex && l.ifindex != *only_ifindex) continue;
    LinkAddrs la{&l, {}};
    if (auto it = by_link.find(l.ifindex); it != by_link.end()) la.addrs = std::move(it->second);
    // ip addr -4/-6 hides links without an address of that family.
    if (view == LinkView::addr && family != Family::unspec && la.addrs.empty()) continue;
    out.push_back(std::move(la));
  }
  return out;
}

namespace {

// Writes each field to JSON or to text, never both.
class Emit {
 public:
  Emit(JsonWriter* json, std::string* text, const Palette& palette)
      : json_(json), text_(text), palette_(palette) {}

  [[nodiscard]] bool json() const { return json_ != nullptr; }
  JsonWriter& writer() { return *json_; }

  void text(std::string_view s) {
    if (text_ != nullptr) *text_ += s;
  }

  // JSON: "key": value. Text: pre, then the value escaped (and painted), then post.
  void str(std::string_view key, std::string_view value, std::string_view pre = "",
           std::string_view post = " ", std::optional<Paint> paint = std::nullopt) {
    if (json_ != nullptr) {
      json_->field(key, value);
      return;
    }
    *text_ += pre;
    const std::string shown = escape_text(value);
    *text_ += paint ? palette_.paint(*paint, shown) : shown;
    *text_ += post;
  }

  template <class N>
  void num(std::string_view key, N value, std::string_view pre = "", std::string_view post = " ") {
    if (json_ != nullptr) {
      if constexpr (std::is_signed_v<N>) {
        json_->field(key, static_cast<std::int64_t>(value));
      } else {
        json_->field(key, static_cast<std::uint64_t>(value));
      }
      return;
    }
    *text_ += pre;
    fmt::format_to(std::back_inserter(*text_), "{}", value);
    *text_ += post;
  }

  [[nodiscard]] const Palette& palette() const { return palette_; }

 private:
  JsonWriter* json_;
  std::string* text_;
  const Palette& palette_;
};

Paint family_paint(Family f) { return f == Family::inet6 ? Paint::inet6 : Paint::inet; }

std::optional<Paint> operstate_paint(std::uint8_t state) {
  switch (state) {
    case IF_OPER_UP: return Paint::good;
    case IF_OPER_DOWN:
    case IF_OPER_LOWERLAYERDOWN:
    case IF_OPER_NOTPRESENT: return Paint::bad;
    default: return std::nullopt;
  }
}

std::vector<std::string> link_flag_names(unsigned flags, bool mdown) {
  std::vector<std::string> names;
  if ((flags & IFF_UP) != 0 && (flags & IFF_RUNNING) == 0) names.emplace_back("NO-CARRIER");
  flags &= ~static_cast<unsigned>(IFF_RUNNING);
  static constexpr std::pair<unsigned, const char*> known[] = {
      {IFF_LOOPBACK, "LOOPBACK"},   {IFF_BROADCAST, "BROADCAST"}, {IFF_POINTOPOINT, "POINTOPOINT"},
      {IFF_MULTICAST, "MULTICAST"}, {IFF_NOARP, "NOARP"},         {IFF_ALLMULTI, "ALLMULTI"},
      {IFF_PROMISC, "PROMISC"},     {IFF_MASTER, "MASTER"},       {IFF_SLAVE, "SLAVE"},
      {IFF_DEBUG, "DEBUG"},         {IFF_DYNAMIC, "DYNAMIC"},     {IFF_AUTOMEDIA, "AUTOMEDIA"},
      {IFF_PORTSEL, "PORTSEL"},     {IFF_NOTRAILERS, "NOTRAILERS"}, {IFF_UP, "UP"},
      {IFF_LOWER_UP, "LOWER_UP"},   {IFF_DORMANT, "DORMANT"},     {IFF_ECHO, "ECHO"}};
  for (const auto& [bit, name] : known) {
    if ((flags & bit) != 0) {
      flags &= ~bit;
      names.emplace_back(name);
    }
  }
  if (flags != 0) names.push_back(fmt::format("{:x}", flags));
  if (mdown) names.emplace_back("M-DOWN");
  return names;
}

std::optional<Paint> flag_paint(std::string_view f) {
  if (f == "NO-CARRIER" || f == "M-DOWN") return Paint::bad;
  if (f == "LOWER_UP") return Paint::good;
  return std::nullopt;
}

void emit_link_flags(Emit& e, const std::vector<std::string>& flags) {
  if (e.json()) {
    e.writer().key("flags");
    e.writer().begin_array();
    for (const auto& f : flags) e.writer().value(f);
    e.writer().end_array();
    return;
  }
  std::string joined = "<";
  for (std::size_t i = 0; i < flags.size(); ++i) {
    if (i != 0) joined += ',';
    const auto p = flag_paint(flags[i]);
    joined += p ? e.palette().paint(*p, flags[i]) : flags[i];
  }
  joined += "> ";
  e.text(joined);
}

// "link"/"link_index" and "ifname"; returns whether the lower device is down (M-DOWN).
bool emit_name_and_link(Emit& e, const Link& l, const LinkIndex& index, std::string_view text_fmt) {
  bool mdown = false;
  std::string shown = escape_text(l.name.value_or("<nil>"));
  if (l.link) {
    if (*l.link == 0) {
      if (e.json()) e.writer().null_field("link");
      shown += "@NONE";
    } else if (l.link_netnsid) {
      if (e.json()) e.writer().field("link_index", *l.link);
      shown += fmt::format("@if{}", *l.link);
    } else {
      const std::string lower = index.name(*l.link);
      if (e.json()) e.writer().field("link", lower);
      shown += "@" + escape_text(lower);
      const Link* peer = index.find(*l.link);
      mdown = peer == nullptr || (peer->flags & IFF_UP) == 0;
    }
  }
  if (e.json()) {
    if (l.name) {
      e.writer().field("ifname", *l.name);
    } else {
      e.writer().null_field("ifname");
    }
  } else if (text_fmt == "brief") {
    e.text(e.palette().paint(Paint::ifname, fmt::format("{:<16}", shown)));
    e.text(" ");
  } else {
    e.text(e.palette().paint(Paint::ifname, shown));
    e.text(": ");
  }
  return mdown;
}

std::string_view netns_name(const ListOptions& opt, int nsid) {
  for (const auto& [id, name] : opt.netns_names) {
    if (id == nsid) return name;
  }
  return {};
}

void emit_link(Emit& e, const Link& l, const LinkIndex& index, const ListOptions& opt) {
  e.num("ifindex", l.ifindex, "", ": ");
  const bool mdown = emit_name_and_link(e, l, index, "full");
  emit_link_flags(e, link_flag_names(l.flags, mdown));
  if (l.mtu) e.num("mtu", *l.mtu, "mtu ");
  if (l.qdisc) e.str("qdisc", *l.qdisc, "qdisc ");
  if (l.master) e.str("master", index.name(*l.master), "master ");
  if (l.operstate) {
    const std::string_view state = operstate_name(*l.operstate);
    if (state.empty()) {
      if (e.json()) {
        e.num("operstate_index", *l.operstate);
      } else {
        e.text(fmt::format("state {:#x} ", *l.operstate));
      }
    } else {
      e.str("operstate", state, "state ", " ", operstate_paint(*l.operstate));
    }
  }
  if (opt.view == LinkView::link && l.linkmode) {
    const std::string_view mode = linkmode_name(*l.linkmode);
    if (mode.empty()) {
      e.num("linkmode_index", *l.linkmode, "mode ");
    } else {
      e.str("linkmode", mode, "mode ");
    }
  }
  if (l.group) e.str("group", link_group_name(*l.group), "group ");
  if (l.txqlen && *l.txqlen != 0) e.num("txqlen", *l.txqlen, "qlen ", "");
  if (opt.view == LinkView::link || opt.family == Family::unspec) {
    e.str("link_type", link_type_name(l.type), "\n    link/", " ");
    if (l.address) e.str("address", hwaddr_string(*l.address, l.type), "", "", Paint::mac);
    if (l.broadcast) {
      if ((l.flags & IFF_POINTOPOINT) != 0) {
        if (e.json()) e.writer().field("link_pointtopoint", true);
        e.text(" peer ");
      } else {
        e.text(" brd ");
      }
      e.str("broadcast", hwaddr_string(*l.broadcast, l.type), "", "", Paint::mac);
    }
    if (l.perm_address && l.perm_address != l.address) {
      e.str("permaddr", hwaddr_string(*l.perm_address, l.type), " permaddr ", "", Paint::mac);
    }
  }
  if (l.link_netnsid) {
    const int id = *l.link_netnsid;
    if (e.json()) {
      e.writer().field("link_netnsid", id);
    } else if (id < 0) {
      e.text(" link-netnsid unknown");
    } else if (const auto name = netns_name(opt, id); !name.empty()) {
      e.text(fmt::format(" link-netns {}", escape_text(name)));
    } else {
      e.text(fmt::format(" link-netnsid {}", id));
    }
  }
  if (l.proto_down && *l.proto_down != 0) {
    if (e.json()) {
      e.writer().field("proto_down", true);
    } else {
      e.text(" protodown on ");
    }
  }
  if (opt.view == LinkView::link && l.ifalias) e.str("ifalias", *l.ifalias, "\n    alias ", "");
  if (l.altnames) {
    if (e.json()) {
      e.writer().key("altnames");
      e.writer().begin_array();
      for (const auto& n : *l.altnames) e.writer().value(n);
      e.writer().end_array();
    } else {
      for (const auto& n : *l.altnames) e.text("\n    altname " + escape_text(n));
    }
  }
  e.text("\n");
}

struct AddrFlag {
  std::uint32_t mask;
  const char* name;
};
constexpr AddrFlag addr_flags[] = {
    {IFA_F_SECONDARY, "secondary"},   {IFA_F_SECONDARY, "temporary"},
    {IFA_F_NODAD, "nodad"},           {IFA_F_OPTIMISTIC, "optimistic"},
    {IFA_F_DADFAILED, "dadfailed"},   {IFA_F_HOMEADDRESS, "home"},
    {IFA_F_DEPRECATED, "deprecated"}, {IFA_F_TENTATIVE, "tentative"},
    {IFA_F_PERMANENT, "permanent"},   {IFA_F_MANAGETEMPADDR, "mngtmpaddr"},
    {IFA_F_NOPREFIXROUTE, "noprefixroute"}, {IFA_F_MCAUTOJOIN, "autojoin"},
    {IFA_F_STABLE_PRIVACY, "stable-privacy"}};

void emit_bool_flag(Emit& e, const char* name) {
  if (e.json()) {
    e.writer().field(name, true);
  } else {
    e.text(name);
    e.text(" ");
  }
}

// local [peer address]/prefixlen [metric N]: the part brief mode shows too.
void emit_addr_core(Emit& e, const Address& a) {
  const std::optional<IpAddr> local = a.local ? a.local : a.address;
  const std::optional<IpAddr> peer = a.address ? a.address : a.local;
  if (local) {
    const Paint p = family_paint(a.family);
    e.str("local", local->to_string(), "", "", p);
    if (peer && *peer != *local) e.str("address", peer->to_string(), " peer ", "", p);
    e.num("prefixlen", a.prefixlen, "/", " ");
  }
  if (a.rt_priority) e.num("metric", *a.rt_priority, "metric ");
}

void emit_address(Emit& e, const Address& a) {
  e.str("family", to_string(a.family), "    ", " ");
  emit_addr_core(e, a);
  const Paint p = family_paint(a.family);
  if (a.broadcast) e.str("broadcast", a.broadcast->to_string(), "brd ", " ", p);
  if (a.anycast) e.str("anycast", a.anycast->to_string(), "any ", " ", p);
  e.str("scope", route_scope_name(a.scope), "scope ");
  std::uint32_t flags = a.flags;
  for (const AddrFlag& f : addr_flags) {
    if (f.mask == IFA_F_PERMANENT) {
      if ((flags & f.mask) == 0) emit_bool_flag(e, "dynamic");
    } else if ((flags & f.mask) != 0) {
      emit_bool_flag(e, (f.mask == IFA_F_SECONDARY && a.family == Family::inet6) ? "temporary" : f.name);
    }
    flags &= ~f.mask;
  }
  if (flags != 0) {
    if (e.json()) {
      e.writer().field("ifa_flags", fmt::format("{:02x}", flags));
    } else {
      e.text(fmt::format("flags {:02x} ", flags));
    }
  }
  if (a.label) e.str("label", *a.label, "", "");
  if (a.cacheinfo) {
    constexpr std::uint32_t forever = 0xFFFFFFFFU;
    const AddrCacheInfo& ci = *a.cacheinfo;
    e.text("\n       valid_lft ");
    if (ci.valid == forever) {
      if (e.json()) e.writer().field("valid_life_time", forever);
      e.text("forever");
    } else {
      e.num("valid_life_time", ci.valid, "", "sec");
    }
    e.text(" preferred_lft ");
    if (ci.preferred == forever) {
      if (e.json()) e.writer().field("preferred_life_time", forever);
      e.text("forever");
    } else if ((a.flags & IFA_F_DEPRECATED) != 0) {
      e.num("preferred_life_time", static_cast<std::int32_t>(ci.preferred), "", "sec");
    } else {
      e.num("preferred_life_time", ci.preferred, "", "sec");
    }
  }
  e.text("\n");
}

void emit_addr_info(Emit& e, const LinkAddrs& la, const ListOptions& opt) {
  if (e.json()) {
    e.writer().key("addr_info");
    e.writer().begin_array();
  }
  for (const Address* a : la.addrs) {
    if (e.json()) e.writer().begin_object();
    if (opt.brief) {
      emit_addr_core(e, *a);
    } else {
      emit_address(e, *a);
    }
    if (e.json()) e.writer().end_object();
  }
  if (e.json()) e.writer().end_array();
}

void emit_brief(Emit& e, const LinkAddrs& la, const LinkIndex& index, const ListOptions& opt) {
  const Link& l = *la.link;
  const bool mdown = emit_name_and_link(e, l, index, "brief");
  if (l.operstate) {
    const std::string_view state = operstate_name(*l.operstate);
    if (e.json()) {
      if (state.empty()) {
        e.writer().field("operstate_index", static_cast<unsigned>(*l.operstate));
      } else {
        e.writer().field("operstate", state);
      }
    } else {
      const std::string padded = fmt::format("{:<14}", state.empty() ? "?" : state);
      const auto p = operstate_paint(*l.operstate);
      e.text(p ? e.palette().paint(*p, padded) : padded);
      e.text(" ");
    }
  }
  if (opt.view == LinkView::link) {
    if (l.address) e.str("address", hwaddr_string(*l.address, l.type), "", " ", Paint::mac);
    emit_link_flags(e, link_flag_names(l.flags, mdown));
  } else {
    emit_addr_info(e, la, opt);
  }
  e.text("\n");
}

}  // namespace

void render_links_json(JsonWriter& out, const std::vector<LinkAddrs>& shown, const LinkIndex& index,
                       const ListOptions& opt) {
  Emit e(&out, nullptr, opt.palette);
  out.begin_array();
  for (const LinkAddrs& la : shown) {
    out.begin_object();
    if (opt.brief) {
      emit_brief(e, la, index, opt);
    } else {
      emit_link(e, *la.link, index, opt);
      if (opt.view == LinkView::addr) emit_addr_info(e, la, opt);
    }
    out.end_object();
  }
  out.end_array();
}

std::string render_links_text(const std::vector<LinkAddrs>& shown, const LinkIndex& index,
                              const ListOptions& opt) {
  std::string text;
  Emit e(nullptr, &text, opt.palette);
  for (const LinkAddrs& la : shown) {
    if (opt.brief) {
      emit_brief(e, la, index, opt);
    } else {
      emit_link(e, *la.link, index, opt);
      if (opt.view == LinkView::addr) emit_addr_info(e, la, opt);
    }
  }
  return text;
}

// ---- routes ----

namespace {

std::string prefix_string(const IpAddr& a, unsigned len) {
  if (len != a.bits()) return fmt::format("{}/{}", a.to_string(), len);
  return a.to_string();
}

void emit_rt_flags(Emit& e, std::uint32_t flags) {
  static constexpr std::pair<std::uint32_t, const char*> names[] = {
      {RTNH_F_DEAD, "dead"},          {RTNH_F_ONLINK, "onlink"},
      {RTNH_F_PERVASIVE, "pervasive"}, {RTNH_F_OFFLOAD, "offload"},
      {RTNH_F_TRAP, "trap"},          {RTM_F_NOTIFY, "notify"},
      {RTNH_F_LINKDOWN, "linkdown"},  {RTNH_F_UNRESOLVED, "unresolved"},
      {RTM_F_OFFLOAD, "rt_offload"},  {RTM_F_TRAP, "rt_trap"},
      {RTM_F_OFFLOAD_FAILED, "rt_offload_failed"}};
  if (e.json()) {
    e.writer().key("flags");
    e.writer().begin_array();
  }
  for (const auto& [bit, name] : names) {
    if ((flags & bit) == 0) continue;
    if (e.json()) {
      e.writer().value(name);
    } else {
      e.text(name);
      e.text(" ");
    }
  }
  if (e.json()) e.writer().end_array();
}

void emit_cache_flags(Emit& e, std::uint32_t flags) {
  flags &= ~0xFFFFU;
  static constexpr std::pair<std::uint32_t, const char*> names[] = {
      {RTCF_LOCAL, "local"},         {RTCF_REJECT, "reject"},        {RTCF_MULTICAST, "mc"},
      {RTCF_BROADCAST, "brd"},       {RTCF_DNAT, "dst-nat"},         {RTCF_SNAT, "src-nat"},
      {RTCF_MASQ, "masq"},           {RTCF_DIRECTDST, "dst-direct"}, {RTCF_DIRECTSRC, "src-direct"},
      {RTCF_REDIRECTED, "redirected"}, {RTCF_DOREDIRECT, "redirect"}, {RTCF_FAST, "fastroute"},
      {RTCF_NOTIFY, "notify"},       {RTCF_TPROXY, "proxy"}};
  std::vector<const char*> set;
  for (const auto& [bit, name] : names) {
    if ((flags & bit) != 0) {
      flags &= ~bit;
      set.push_back(name);
    }
  }
  if (e.json()) {
    e.writer().key("cache");
    e.writer().begin_array();
    for (const char* n : set) e.writer().value(n);
    e.writer().end_array();
    return;
  }
  e.text("\n    cache ");
  if (set.empty() && flags == 0) return;
  std::string t = "<";
  for (std::size_t i = 0; i < set.size(); ++i) {
    t += set[i];
    t += (i + 1 < set.size() || flags != 0) ? "," : "> ";
  }
  if (flags != 0) t += fmt::format("{:x}>", flags);
  e.text(t);
}

constexpr const char* metric_name(int id) {
  switch (id) {
    case RTAX_MTU: return "mtu";
    case RTAX_WINDOW: return "window";
    case RTAX_RTT: return "rtt";
    case RTAX_RTTVAR: return "rttvar";
    case RTAX_SSTHRESH: return "ssthresh";
    case RTAX_CWND: return "cwnd";
    case RTAX_ADVMSS: return "advmss";
    case RTAX_REORDERING: return "reordering";
    case RTAX_HOPLIMIT: return "hoplimit";
    case RTAX_INITCWND: return "initcwnd";
    case RTAX_FEATURES: return "features";
    case RTAX_RTO_MIN: return "rto_min";
    case RTAX_INITRWND: return "initrwnd";
    case RTAX_QUICKACK: return "quickack";
    case RTAX_CC_ALGO: return "congctl";
    case RTAX_FASTOPEN_NO_COOKIE: return "fastopen_no_cookie";
    default: return nullptr;
  }
}

void emit_metrics(Emit& e, const std::vector<RouteMetric>& metrics) {
  std::uint32_t lock = 0;
  for (const RouteMetric& m : metrics) {
    if (m.id == RTAX_LOCK) lock = m.value;
  }
  if (e.json()) {
    e.writer().key("metrics");
    e.writer().begin_array();
    e.writer().begin_object();
  }
  for (const RouteMetric& m : metrics) {
    if (m.id < 2) continue;
    if (m.id == RTAX_HOPLIMIT && static_cast<std::int32_t>(m.value) == -1) continue;
    const char* name = metric_name(m.id);
    const std::string key = name != nullptr ? name : fmt::format("metric_{}", m.id);
    if (!e.json()) {
      e.text(name != nullptr ? fmt::format("{} ", name) : fmt::format("metric {} ", m.id));
      if (m.id < 32 && (lock & (1U << m.id)) != 0) e.text("lock ");
    }
    std::uint32_t v = m.value;
    switch (m.id) {
      case RTAX_CC_ALGO: e.str("congestion", m.text, "", " "); break;
      case RTAX_FEATURES:
        if ((v & RTAX_FEATURE_ECN) != 0) {
          if (e.json()) {
            e.writer().null_field("ecn");
          } else {
            e.text("ecn ");
          }
          v &= ~static_cast<std::uint32_t>(RTAX_FEATURE_ECN);
        }
        if (v != 0) e.str("features", fmt::format("{:#x}", m.value), "", " ");
        break;
      case RTAX_RTT:
      case RTAX_RTTVAR:
      case RTAX_RTO_MIN:
        if (m.id == RTAX_RTT) v /= 8;
        if (m.id == RTAX_RTTVAR) v /= 4;
        if (e.json()) {
          e.writer().field(key, v);
        } else if (v >= 1000) {
          e.text(fmt::format("{}s ", v / 1e3));
        } else {
          e.text(fmt::format("{}ms ", v));
        }
        break;
      default: e.num(key, v, "", " "); break;
    }
  }
  if (e.json()) {
    e.writer().end_object();
    e.writer().end_array();
  }
}

void emit_route(Emit& e, const Route& r, const LinkIndex& index, const RouteOptions& opt) {
  const Paint p = family_paint(r.family);
  if (r.type != RTN_UNICAST) e.str("type", route_type_name(r.type), "", " ");
  std::string dst;
  if (r.dst) {
    dst = prefix_string(*r.dst, r.dst_len);
  } else if (r.dst_len != 0) {
    dst = fmt::format("0/{}", r.dst_len);
  } else {
    dst = "default";
  }
  e.str("dst", dst, "", " ", r.dst ? std::optional<Paint>(p) : std::nullopt);
  if (r.src) {
    e.str("from", prefix_string(*r.src, r.src_len), "from ", " ", p);
  } else if (r.src_len != 0) {
    e.str("src", fmt::format("0/{}", r.src_len), "from ");
  }
  if (r.nhid) e.num("nhid", *r.nhid, "nhid ");
  if (r.tos != 0) e.str("tos", fmt::format("{:#04x}", r.tos), "tos ");
  if (r.gateway) e.str("gateway", r.gateway->to_string(), "via ", " ", p);
  if (r.oif && !opt.hide_dev) e.str("dev", index.name(*r.oif), "dev ", " ", Paint::ifname);
  if (r.table != 0 && r.table != RT_TABLE_MAIN && opt.show_table) {
    e.str("table", route_table_name(r.table), "table ");
  }
  if ((r.flags & RTM_F_CLONED) == 0) {
    if (r.protocol != RTPROT_BOOT) e.str("protocol", route_protocol_name(r.protocol), "proto ");
    if (r.scope != RT_SCOPE_UNIVERSE) e.str("scope", route_scope_name(r.scope), "scope ");
  }
  if (r.prefsrc) e.str("prefsrc", r.prefsrc->to_string(), "src ", " ", p);
  if (r.priority) e.num("metric", *r.priority, "metric ");
  emit_rt_flags(e, r.flags);
  if (r.mark && *r.mark != 0) {
    if (e.json()) {
      e.writer().field("mark", *r.mark);
    } else {
      e.text(*r.mark >= 16 ? fmt::format("mark {:#x} ", *r.mark) : fmt::format("mark {} ", *r.mark));
    }
  }
  if (r.uid) e.num("uid", *r.uid, "uid ");
  if (r.family == Family::inet && (r.flags & RTM_F_CLONED) != 0) emit_cache_flags(e, r.flags);
  if (r.cacheinfo) {
    const RouteCacheInfo& ci = *r.cacheinfo;
    if (ci.expires != 0) e.num("expires", ci.expires, "expires ", "sec ");
    if (ci.error != 0) e.num("error", ci.error, "error ");
    if (ci.id != 0) e.str("ipid", fmt::format("{:#06x}", ci.id), "ipid ");
    if (ci.ts != 0 || ci.tsage != 0) {
      e.str("ts", fmt::format("{:#x}", ci.ts), "ts ", "");
      e.num("tsage", ci.tsage, "tsage ", "sec ");
    }
  }
  if (r.metrics) emit_metrics(e, *r.metrics);
  if (r.iif) e.str("iif", index.name(*r.iif), "iif ", " ", Paint::ifname);
  if (r.pref) {
    switch (*r.pref) {
      case 3: e.str("pref", "low", "pref ", ""); break;     // ICMPV6_ROUTER_PREF_LOW
      case 0: e.str("pref", "medium", "pref ", ""); break;  // ..._MEDIUM
      case 1: e.str("pref", "high", "pref ", ""); break;    // ..._HIGH
      default: e.num("pref", *r.pref, "", ""); break;
    }
  }
  if (r.nexthops) {
    if (e.json()) {
      e.writer().key("nexthops");
      e.writer().begin_array();
    }
    for (const Nexthop& nh : *r.nexthops) {
      if (e.json()) e.writer().begin_object();
      e.text("\n\tnexthop ");
      if (nh.gateway) e.str("gateway", nh.gateway->to_string(), "via ", " ", p);
      e.str("dev", index.name(nh.ifindex), "dev ", " ", Paint::ifname);
      e.num("weight", nh.hops + 1, "weight ");
      emit_rt_flags(e, nh.flags);
      if (e.json()) e.writer().end_object();
    }
    if (e.json()) e.writer().end_array();
  }
  e.text("\n");
}

}  // namespace

void render_route_json(JsonWriter& out, const Route& r, const LinkIndex& index, const RouteOptions& opt) {
  Emit e(&out, nullptr, opt.palette);
  out.begin_object();
  emit_route(e, r, index, opt);
  out.end_object();
}

std::string render_route_text(const Route& r, const LinkIndex& index, const RouteOptions& opt) {
  std::string text;
  Emit e(nullptr, &text, opt.palette);
  emit_route(e, r, index, opt);
  return text;
}

}  // namespace netwhy
