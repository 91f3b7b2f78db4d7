// The nftables text listing parser (`nft -a list ruleset`), then the
// evaluator on fixed packets.
#include "fuzz.hpp"
#include "netwhy/firewall.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::text_of(data, size);
  (void)netwhy::strip_counter_values(text);
  const auto fw = netwhy::parse_nft_text(text);
  if (!fw) {
    (void)fw.error().message();
    return 0;
  }
  fuzz::evaluate_fixed_packets(*fw);
  return 0;
}
