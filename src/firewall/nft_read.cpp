// Reading this namespace's ruleset through libnftables (the library behind
// nft), and noticing iptables-legacy tables, which nftables cannot show.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "netwhy/fd.hpp"
#include "netwhy/file.hpp"
#include "netwhy/firewall.hpp"
#include "netwhy/iptables.hpp"
#include "netwhy/text.hpp"
#include "../netlink/nl_session.hpp"

#ifdef NETWHY_HAVE_NFTABLES
#include <nftables/libnftables.h>
#endif

namespace netwhy {

bool firewall_support_built() {
#ifdef NETWHY_HAVE_NFTABLES
  return true;
#else
  return false;
#endif
}

namespace {

std::vector<std::string> legacy_tables() {
  std::vector<std::string> out;
  for (const char* file : {"/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"}) {
    const std::string names = read_file(file, 1U << 20, OverLimit::truncate).value_or(std::string());
    const std::string_view prefix = std::string_view(file).find("ip6") != std::string_view::npos ? "ip6 " : "ip ";
    for (const std::string_view line : split_lines(names)) {
      for (const std::string_view name : split_fields(line)) out.push_back(std::string(prefix) + std::string(name));
    }
  }
  return out;
}

#ifdef NETWHY_HAVE_NFTABLES
// CAP_NET_ADMIN in the effective set: without it the kernel refuses every
// nftables request (and libnftables says so on stderr by itself).
bool can_admin_net() {
  const std::string status = read_file("/proc/self/status", 1U << 20, OverLimit::truncate).value_or(std::string());
  for (const std::string_view line : split_lines(status)) {
    const auto f = split_fields(line);
    if (f.size() != 2 || f[0] != "CapEff:") continue;
    std::uint64_t caps = 0;
    const auto [end, ec] = std::from_chars(f[1].data(), f[1].data() + f[1].size(), caps, 16);
    if (ec != std::errc{} || end != f[1].data() + f[1].size()) return false;
    constexpr unsigned cap_net_admin = 12;
    return (caps >> cap_net_admin) & 1U;
  }
  return false;
}

// libnftables prints some errors to stderr itself; netwhy reports them once,
// in its own words.
class QuietStderr {
 public:
  QuietStderr() : saved_(::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0)) {
    const UniqueFd null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    if (null.valid()) ::dup2(null.get(), STDERR_FILENO);
  }
  ~QuietStderr() {
    if (saved_.valid()) ::dup2(saved_.get(), STDERR_FILENO);
  }
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  UniqueFd saved_;
};

struct Ctx {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  explicit Ctx(bool json) {
    if (ctx == nullptr) return;
    nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_HANDLE | (json ? static_cast<unsigned>(NFT_CTX_OUTPUT_JSON) : 0U));
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
  }
  ~Ctx() {
    if (ctx != nullptr) nft_ctx_free(ctx);
  }
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;

  // One command's output; nullopt (and the error) when refused.
  std::optional<std::string> run(const std::string& cmd, std::string& error) {
    if (ctx == nullptr) {
      error = "libnftables could not start";
      return std::nullopt;
    }
    if (nft_run_cmd_from_buffer(ctx, cmd.c_str()) != 0) {
      const char* e = nft_ctx_get_error_buffer(ctx);
      error = e != nullptr && *e != '\0' ? e : cmd + " failed";
      return std::nullopt;
    }
    const char* out = nft_ctx_get_output_buffer(ctx);
    return std::string(out != nullptr ? out : "");
  }
};

// nftables' family numbers (NFPROTO_*) in nft's words.
std::string_view nft_family(unsigned family) {
  switch (family) {
    case NFPROTO_INET: return "inet";
    case NFPROTO_IPV4: return "ip";
    case NFPROTO_ARP: return "arp";
    case NFPROTO_NETDEV: return "netdev";
    case NFPROTO_BRIDGE: return "bridge";
    case NFPROTO_IPV6: return "ip6";
    default: return {};
  }
}

// The tables that process packets, as "list table FAMILY NAME" commands,
// straight from the kernel (a GETTABLE dump: `nft list tables` would read
// every rule to print the names). Dormant tables are left out: they see no
// packet. nullopt when the dump fails or a name can't be typed back as an
// nft word: then the ruleset is listed whole.
std::optional<std::vector<std::string>> table_commands() {
  auto sock = nl::open_socket(NETLINK_NETFILTER, "nftables");
  if (!sock) return std::nullopt;
  nl::Msg req(nlmsg_alloc_simple((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE, NLM_F_REQUEST | NLM_F_DUMP));
  nfgenmsg head{};
  head.nfgen_family = AF_UNSPEC;
  head.version = NFNETLINK_V0;
  if (!req || nlmsg_append(req.get(), &head, sizeof head, NLMSG_ALIGNTO) < 0) return std::nullopt;
  const auto word = [](std::string_view w) {
    return !w.empty() && std::all_of(w.begin(), w.end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
             ch == '-' || ch == '.' || ch == '/';
    });
  };
  std::vector<std::string> out;
  bool readable = true;
  const nl::Outcome o = nl::exchange(sock->get(), req.get(), [&](const nlmsghdr* h) {
    if (h->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE)) return;
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nfgenmsg))) {
      readable = false;
      return;
    }
    const auto* g = static_cast<const nfgenmsg*>(NLMSG_DATA(h));
    nlattr* tb[NFTA_TABLE_MAX + 1] = {};
    if (nlmsg_parse(const_cast<nlmsghdr*>(h), sizeof(nfgenmsg), tb, NFTA_TABLE_MAX, nullptr) < 0 ||
        tb[NFTA_TABLE_NAME] == nullptr) {
      readable = false;
      return;
    }
    const auto* raw = static_cast<const char*>(nla_data(tb[NFTA_TABLE_NAME]));
    const std::string_view name(raw, strnlen(raw, static_cast<std::size_t>(nla_len(tb[NFTA_TABLE_NAME]))));
    const std::string_view family = nft_family(g->nfgen_family);
    if (family.empty() || !word(name)) {
      readable = false;
      return;
    }
    if (tb[NFTA_TABLE_FLAGS] != nullptr && (ntohl(nla_get_u32(tb[NFTA_TABLE_FLAGS])) & NFT_TABLE_F_DORMANT) != 0) {
      return;
    }
    out.push_back(fmt::format("list table {} {}", family, name));
  });
  if (o.failed() || o.interrupted || !readable) return std::nullopt;
  return out;
}

// libnftables 1.0 dumps every rule of a family once per table of that family
// when asked for the whole ruleset; asked table by table, the kernel sends
// each table's rules only. JSON documents are joined into one.
std::optional<std::string> list_tables(Ctx& c, const std::vector<std::string>& commands, bool json,
                                       std::string& error) {
  std::string joined = json ? "{\"nftables\": [" : "";
  bool first = true;
  for (const std::string& cmd : commands) {
    auto out = c.run(cmd, error);
    if (!out) return std::nullopt;
    if (!json) {
      joined += *out;
      continue;
    }
    // {"nftables": [ITEMS]} -> ITEMS
    constexpr std::string_view head = "{\"nftables\": [";
    std::string_view body = *out;
    while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) body.remove_suffix(1);
    if (body.substr(0, head.size()) != head || body.size() < head.size() + 2 || body.substr(body.size() - 2) != "]}") {
      error = "libnftables wrote JSON of an unexpected shape";
      return std::nullopt;
    }
    body = body.substr(head.size(), body.size() - head.size() - 2);
    if (body.empty()) continue;
    if (!first) joined += ", ";
    joined += body;
    first = false;
  }
  if (json) joined += "]}";
  return joined;
}

// The ruleset, table by table (or whole when a table's name can't be typed
// back), as text or as JSON; nullopt (and the error) when refused.
// The ruleset's generation: the kernel bumps it with every change.
std::optional<std::uint32_t> ruleset_generation() {
  auto sock = nl::open_socket(NETLINK_NETFILTER, "nftables");
  if (!sock) return std::nullopt;
  nl::Msg req(nlmsg_alloc_simple((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, NLM_F_REQUEST));
  nfgenmsg head{};
  head.nfgen_family = AF_UNSPEC;
  head.version = NFNETLINK_V0;
  if (!req || nlmsg_append(req.get(), &head, sizeof head, NLMSG_ALIGNTO) < 0) return std::nullopt;
  std::optional<std::uint32_t> gen;
  const nl::Outcome o = nl::exchange(sock->get(), req.get(), [&](const nlmsghdr* h) {
    if (h->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) return;
    nlattr* tb[NFTA_GEN_MAX + 1] = {};
    if (nlmsg_parse(const_cast<nlmsghdr*>(h), sizeof(nfgenmsg), tb, NFTA_GEN_MAX, nullptr) < 0 ||
        tb[NFTA_GEN_ID] == nullptr || nla_len(tb[NFTA_GEN_ID]) < 4) {
      return;
    }
    gen = ntohl(nla_get_u32(tb[NFTA_GEN_ID]));
  });
  if (o.failed()) return std::nullopt;
  return gen;
}

// Table by table is several requests: a change in between (a firewalld
// reload, say) could leave a table out or mix two rulesets. The generation
// before and after tells; on a change it is read again, and after three
// tries listed whole, as nft does it.
std::optional<std::string> list_ruleset(bool json, std::string& error) {
  const QuietStderr quiet;
  Ctx c(json);
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto before = ruleset_generation();
    const auto commands = table_commands();
    if (!before || !commands) break;
    auto out = list_tables(c, *commands, json, error);
    if (out && ruleset_generation() == before) return out;
  }
  return c.run("list ruleset", error);
}
#endif

}  // namespace

Firewall read_firewall() {
  Firewall fw;
  fw.legacy_tables = legacy_tables();
#ifdef NETWHY_HAVE_NFTABLES
  if (!can_admin_net()) {
    fw.unreadable = "reading the firewall needs root (CAP_NET_ADMIN)";
    return fw;
  }
  std::string error;
  auto text = list_ruleset(false, error);
  if (!text) {
    fw.unreadable = error.find("Operation not permitted") != std::string::npos || geteuid() != 0
                        ? "reading the firewall needs root (CAP_NET_ADMIN)"
                        : "nft list ruleset failed: " + escape_text(error.substr(0, error.find('\n')));
    return fw;
  }
  // The text listing has everything the evaluation reads, and costs
  // libnftables less than half of its JSON. Text this netwhy can't read
  // (another nft's syntax): the JSON then, for the meaning.
  auto parsed = parse_nft_text(*text);
  std::string json;
  if (!parsed) {
    std::string json_error;
    if (auto j = list_ruleset(true, json_error)) {
      json = std::move(*j);
      parsed = parse_nft_ruleset(json.empty() ? R"({"nftables": []})" : std::string_view(json), *text);
    }
  }
  if (!parsed) {
    fw.unreadable = parsed.error().message();
    return fw;
  }
  parsed->legacy_tables = fw.legacy_tables;
  parsed->raw_json = std::move(json);  // only when the text could not be read
  parsed->raw_text = std::move(*text);
  read_iptables_into(*parsed);  // iptables-nft's xt expressions and legacy tables, as iptables reads them
  return std::move(*parsed);
#else
  fw.unreadable = "netwhy was built without libnftables";
  return fw;
#endif
}

}  // namespace netwhy
