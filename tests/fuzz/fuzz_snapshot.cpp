// The snapshot loader: any bytes load or fail with an error, never a crash;
// and what loads, written back, loads again to an equal Snapshot.
#include <cstdio>

#include "fuzz.hpp"
#include "netwhy/snapshot.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto loaded = netwhy::snapshot_from_json(fuzz::text_of(data, size));
  if (!loaded) {
    (void)loaded.error().message();
    return 0;
  }
  const std::string written = netwhy::snapshot_to_json(*loaded, size % 2 == 0);
  const auto again = netwhy::snapshot_from_json(written);
  if (!again) {
    std::fprintf(stderr, "written back, the snapshot does not load: %s\n%s\n", again.error().message().c_str(),
                 written.c_str());
  }
  fuzz::check(again.has_value(), "a loaded snapshot, written back, loads");
  if (!(*again == *loaded)) {
    std::fprintf(stderr, "written once:\n%s\nwritten again:\n%s\n", written.c_str(),
                 netwhy::snapshot_to_json(*again, true).c_str());
  }
  fuzz::check(*again == *loaded, "a loaded snapshot, written back, loads to an equal Snapshot");
  return 0;
}
