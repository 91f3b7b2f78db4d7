// iptables-save output, decoded as IPv4 rules from iptables-nft and as IPv6
// rules from iptables-legacy, merged into a firewall and evaluated on fixed
// packets.
#include "fuzz.hpp"
#include "netwhy/iptables.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using netwhy::Family;
  using netwhy::IptBackend;
  const std::string_view text = fuzz::text_of(data, size);
  netwhy::Firewall fw;
  for (const auto& [family, backend] : {std::pair{Family::inet, IptBackend::nft},
                                        std::pair{Family::inet6, IptBackend::legacy}}) {
    const auto r = netwhy::parse_iptables_save(text, family, backend);
    if (!r) {
      (void)r.error().message();
      continue;
    }
    netwhy::merge_iptables(fw, *r);
  }
  for (const netwhy::FwRule& rule : fw.rules) (void)netwhy::iptables_table_ref(rule.family, rule.table);
  fuzz::evaluate_fixed_packets(fw);
  return 0;
}
