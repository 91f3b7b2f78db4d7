#include "netwhy/model.hpp"

#include <fmt/format.h>

namespace netwhy {

LinkIndex::LinkIndex(const std::vector<Link>& links) {
  by_index_.reserve(links.size());
  for (const Link& l : links) by_index_.emplace(l.ifindex, &l);
}

const Link* LinkIndex::find(int ifindex) const {
  const auto it = by_index_.find(ifindex);
  return it == by_index_.end() ? nullptr : it->second;
}

std::string LinkIndex::name(int ifindex) const {
  if (ifindex == 0) return "*";
  const Link* l = find(ifindex);
  if (l != nullptr && l->name) return *l->name;
  return fmt::format("if{}", ifindex);
}

}  // namespace netwhy
