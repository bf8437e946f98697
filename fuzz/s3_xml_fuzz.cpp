// The S3 XML answers (storage/s3_store.h): error bodies and ListObjectsV2 pages, from
// whatever server an s3:// location points at. Properties: no crash; a listed key is
// always one this store could have written (validate_key), so a hostile listing cannot
// make a reader (synthfarm fetch, the finalizer) reach outside the dataset's prefix.
#include "fuzz/fuzz_check.h"
#include "storage/object_store.h"
#include "storage/s3_store.h"

using synthfarm::fuzz::as_text;
using synthfarm::fuzz::check;
namespace storage = synthfarm::storage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view xml = as_text(data, size);
  (void)storage::parse_s3_error(xml);
  for (std::string_view root : {"", "run/"}) {
    auto page = storage::parse_s3_list_page(xml, root);
    if (!page) continue;
    for (const auto& object : page->objects) {
      check(storage::validate_key(object.key).has_value(), "listed keys are valid store keys");
    }
  }
  return 0;
}
