// Reading this namespace's ruleset through libnftables (the library behind
// nft), and noticing iptables-legacy tables, which nftables cannot show.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "netwhy/fd.hpp"
#include "netwhy/file.hpp"
#include "netwhy/firewall.hpp"
#include "netwhy/iptables.hpp"
#include "netwhy/text.hpp"

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
  ~Ctx() {
    if (ctx != nullptr) nft_ctx_free(ctx);
  }
};

// One `list ruleset`, as JSON or as text with handles; nullopt when refused.
std::optional<std::string> list_ruleset(bool json, std::string& error) {
  const QuietStderr quiet;
  Ctx c;
  if (c.ctx == nullptr) return std::nullopt;
  unsigned flags = NFT_CTX_OUTPUT_HANDLE;
  if (json) flags |= NFT_CTX_OUTPUT_JSON;
  nft_ctx_output_set_flags(c.ctx, flags);
  nft_ctx_buffer_output(c.ctx);
  nft_ctx_buffer_error(c.ctx);
  if (nft_run_cmd_from_buffer(c.ctx, "list ruleset") != 0) {
    const char* e = nft_ctx_get_error_buffer(c.ctx);
    error = e != nullptr ? e : "list ruleset failed";
    return std::nullopt;
  }
  const char* out = nft_ctx_get_output_buffer(c.ctx);
  return std::string(out != nullptr ? out : "");
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
  auto json = list_ruleset(true, error);
  if (!json) {
    fw.unreadable = error.find("Operation not permitted") != std::string::npos || geteuid() != 0
                        ? "reading the firewall needs root (CAP_NET_ADMIN)"
                        : "nft list ruleset failed: " + escape_text(error.substr(0, error.find('\n')));
    return fw;
  }
  const std::string_view doc = json->empty() ? R"({"nftables": []})" : std::string_view(*json);
  // The text listing names rules and ingress chains' devices; without
  // either, the JSON is enough. Either way the JSON is parsed once.
  std::optional<std::string> text;
  if (doc.find("{\"rule\"") != std::string_view::npos || doc.find("\"ingress\"") != std::string_view::npos) {
    std::string text_error;
    text = list_ruleset(false, text_error);
  }
  auto parsed = parse_nft_ruleset(doc, text.value_or(""));
  if (!parsed) {
    fw.unreadable = parsed.error().message();
    return fw;
  }
  parsed->legacy_tables = fw.legacy_tables;
  parsed->raw_json = std::move(*json);
  parsed->raw_text = std::move(text).value_or("");
  read_iptables_into(*parsed);  // iptables-nft's xt expressions and legacy tables, as iptables reads them
  return std::move(*parsed);
#else
  fw.unreadable = "netwhy was built without libnftables";
  return fw;
#endif
}

}  // namespace netwhy
