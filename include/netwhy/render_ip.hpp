// The views of `ip link`, `ip addr` and `ip route`: text laid out as ip lays
// it out, JSON in exactly ip -j's shape, both from the same model values.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "netwhy/color.hpp"
#include "netwhy/json_writer.hpp"
#include "netwhy/model.hpp"

namespace netwhy {

enum class LinkView { link, addr };

struct LinkAddrs {
  const Link* link = nullptr;
  std::vector<const Address*> addrs;
};

// The links a view shows, each with its addresses, by ip's rules: with a
// family, only links that have an address of it; without, every link.
[[nodiscard]] std::vector<LinkAddrs> select_links(const std::vector<Link>& links,
                                                  const std::vector<Address>& addrs, LinkView view,
                                                  Family family, std::optional<int> only_ifindex);

struct ListOptions {
  LinkView view = LinkView::link;
  Family family = Family::unspec;  // addr view: -4 / -6
  bool brief = false;
  Palette palette;
  std::vector<std::pair<int, std::string>> netns_names;  // nsid -> name, for text
};

void render_links_json(JsonWriter& out, const std::vector<LinkAddrs>& shown, const LinkIndex& index,
                       const ListOptions& opt);
[[nodiscard]] std::string render_links_text(const std::vector<LinkAddrs>& shown,
                                            const LinkIndex& index, const ListOptions& opt);

struct RouteOptions {
  bool show_table = false;  // true for `table all` and `route get`
  bool hide_dev = false;    // listing one device's routes: ip leaves "dev" out
  Palette palette;
};

void render_route_json(JsonWriter& out, const Route& r, const LinkIndex& index,
                       const RouteOptions& opt);
[[nodiscard]] std::string render_route_text(const Route& r, const LinkIndex& index,
                                            const RouteOptions& opt);

}  // namespace netwhy
