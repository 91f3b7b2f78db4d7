// Builds rtnetlink messages byte by byte, as the kernel lays them out, so the
// decoders are tested on bytes rather than on libnl's own encoder.
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace nltest {

class Msg {
 public:
  template <class Header>
  Msg(std::uint16_t type, const Header& h) {
    buf_.resize(NLMSG_HDRLEN);
    append(&h, sizeof h);
    nlmsghdr nh{};
    nh.nlmsg_type = type;
    std::memcpy(buf_.data(), &nh, sizeof nh);
  }
  Msg& attr(std::uint16_t type, const void* data, std::size_t len) {
    rtattr a{};
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    a.rta_type = type;
    append(&a, sizeof a);
    append(data, len);
    return *this;
  }
  Msg& u32(std::uint16_t type, std::uint32_t v) { return attr(type, &v, 4); }
  Msg& u8(std::uint16_t type, std::uint8_t v) { return attr(type, &v, 1); }
  Msg& str(std::uint16_t type, const std::string& s) { return attr(type, s.c_str(), s.size() + 1); }
  Msg& bytes(std::uint16_t type, std::vector<std::uint8_t> b) { return attr(type, b.data(), b.size()); }
  // A nested attribute whose payload is another Msg's attributes.
  Msg& nest(std::uint16_t type, const std::vector<std::uint8_t>& payload) {
    return attr(type, payload.data(), payload.size());
  }
  const nlmsghdr* hdr() {
    auto* h = reinterpret_cast<nlmsghdr*>(buf_.data());
    h->nlmsg_len = static_cast<std::uint32_t>(buf_.size());
    return h;
  }
  // A copy cut short, as a broken or hostile sender might send it.
  std::vector<std::uint8_t> truncated(std::size_t len) {
    hdr();
    std::vector<std::uint8_t> out(buf_.begin(), buf_.begin() + static_cast<long>(len));
    reinterpret_cast<nlmsghdr*>(out.data())->nlmsg_len = static_cast<std::uint32_t>(len);
    return out;
  }

 private:
  void append(const void* p, std::size_t len) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + len);
    buf_.resize((buf_.size() + 3) & ~std::size_t{3});
  }
  std::vector<std::uint8_t> buf_;
};

// Attributes alone (for nested payloads).
inline std::vector<std::uint8_t> attrs(std::initializer_list<std::pair<std::uint16_t, std::string>> items) {
  std::vector<std::uint8_t> out;
  for (const auto& [type, s] : items) {
    rtattr a{};
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(s.size() + 1));
    a.rta_type = type;
    const auto* p = reinterpret_cast<const std::uint8_t*>(&a);
    out.insert(out.end(), p, p + sizeof a);
    out.insert(out.end(), s.begin(), s.end());
    out.push_back(0);
    out.resize((out.size() + 3) & ~std::size_t{3});
  }
  return out;
}

}  // namespace nltest
