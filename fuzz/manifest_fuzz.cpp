// The manifests (jobs/manifest.h), read back from storage, where whoever can write to a
// job's storage writes their bytes: shard manifests (the commit markers workers write and
// the coordinator's finalizer reads) and a dataset's manifest.json (what `synthfarm fetch`
// downloads by). The same input is read as both. Properties: no crash (nlohmann's
// exceptions become errors); a shard manifest that parses survives writing and parsing
// again unchanged; a dataset manifest's every entry is either read or reported.
#include "fuzz/fuzz_check.h"
#include "jobs/manifest.h"

using synthfarm::fuzz::as_text;
using synthfarm::fuzz::check;
namespace jobs = synthfarm::jobs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes = as_text(data, size);
  if (auto shard = jobs::parse_shard_manifest(bytes)) {
    auto again = jobs::parse_shard_manifest(jobs::shard_manifest_to_json(*shard));
    check(again.has_value(), "a written shard manifest parses");
    check(*again == *shard, "a shard manifest survives writing and parsing");
  }
  (void)jobs::parse_dataset_manifest(bytes);
  return 0;
}
