// Reading this namespace's ruleset through libnftables (the library behind
// nft), and noticing iptables-legacy tables, which nftables cannot show.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

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

// The tables, as "list table FAMILY NAME" commands; nullopt when a name
// can't be written as an nft word (then the ruleset is listed whole).
std::optional<std::vector<std::string>> table_commands(const std::string& tables_json) {
  const auto doc = nlohmann::json::parse(tables_json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("nftables") || !doc["nftables"].is_array()) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : doc["nftables"]) {
    if (!item.is_object() || !item.contains("table")) continue;
    const auto& t = item["table"];
    if (!t.is_object() || !t.contains("family") || !t.contains("name") || !t["family"].is_string() ||
        !t["name"].is_string()) {
      return std::nullopt;
    }
    const std::string family = t["family"].get<std::string>();
    const std::string name = t["name"].get<std::string>();
    const auto word = [](const std::string& w) {
      return !w.empty() && std::all_of(w.begin(), w.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
               ch == '-' || ch == '.' || ch == '/';
      });
    };
    if (!word(family) || !word(name)) return std::nullopt;
    out.push_back(fmt::format("list table {} {}", family, name));
  }
  return out;
}

// libnftables 1.0 dumps every rule of a family once per table of that family
// when asked for the whole ruleset; asked table by table, the kernel sends
// each table's rules only. The JSON documents are joined into one.
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

struct Listing {
  std::optional<std::string> json, text;
  std::string error;
};

// The ruleset as JSON (for the rules' meaning) and as text (for their
// wording and ingress chains' devices). The text is listed on a second
// thread with a context of its own: only that one prints iptables-nft's xt
// expressions through libxtables.
Listing list_ruleset() {
  const QuietStderr quiet;
  Listing out;
  Ctx json_ctx(true);
  Ctx text_ctx(false);
  const auto tables = json_ctx.run("list tables", out.error);
  if (!tables) return out;
  const auto commands = table_commands(*tables);
  const std::vector<std::string> whole{"list ruleset"};
  const std::vector<std::string>& cmds = commands ? *commands : whole;
  std::string text_error;
  // A table named like one of nft's keywords can't be listed by name: then
  // the whole ruleset, as nft lists it.
  const auto listed = [&](Ctx& c, bool json, std::string& error) {
    auto r = list_tables(c, cmds, json, error);
    if (!r && commands) r = c.run("list ruleset", error);
    return r;
  };
  std::thread text_thread([&]() noexcept {
    try {
      out.text = listed(text_ctx, false, text_error);
    } catch (...) {
      out.text.reset();
    }
  });
  try {
    out.json = listed(json_ctx, true, out.error);
  } catch (...) {
    text_thread.join();
    throw;
  }
  text_thread.join();
  return out;
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
  Listing listing = list_ruleset();
  const std::string& error = listing.error;
  auto& json = listing.json;
  if (!json) {
    fw.unreadable = error.find("Operation not permitted") != std::string::npos || geteuid() != 0
                        ? "reading the firewall needs root (CAP_NET_ADMIN)"
                        : "nft list ruleset failed: " + escape_text(error.substr(0, error.find('\n')));
    return fw;
  }
  const std::string_view doc = json->empty() ? R"({"nftables": []})" : std::string_view(*json);
  std::optional<std::string>& text = listing.text;
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
