// The nftables JSON parser (`nft -j list ruleset`, with the text listing
// after a NUL byte when the input has one), then the evaluator on fixed
// packets: errors are values, never a crash, and every evaluation ends.
#include "fuzz.hpp"
#include "netwhy/firewall.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [json_text, listing] = fuzz::split_at_nul(fuzz::text_of(data, size));
  const auto fw = netwhy::parse_nft_ruleset(json_text, listing);
  if (!fw) {
    (void)fw.error().message();
    return 0;
  }
  fuzz::evaluate_fixed_packets(*fw);
  return 0;
}
