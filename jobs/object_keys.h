// Where a sample's objects live under a job's storage prefix (docs/architecture.md,
// "Storage layout"): the one place that spells the keys, shared by the sample pipeline that
// writes them and the coordinator that serves them. Plain string formatting: linking it
// pulls in nothing of the renderer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace synthfarm::jobs {

// "samples/00000042.exr" for (42, "exr"): a still image's object.
std::string sample_key(uint64_t index, std::string_view extension);
// "samples/00000042.f003.exr" for (42, 3, "exr"): an object of a clip's frame.
std::string frame_key(uint64_t index, int frame, std::string_view extension);
// output.format webdataset: "shards/000042.tar", the tar holding shard 42's files.
std::string tar_key(uint64_t shard);
// A sample file's name inside its shard's tar: its key without "samples/"
// ("samples/00000042.f003.exr" -> "00000042.f003.exr"); and back.
std::string tar_member_name(std::string_view key);
std::string tar_member_key(std::string_view name);
// "fits/00000042.json" for ("fits", 42, "json"): an object of a reconstruction job's unit.
std::string unit_key(std::string_view folder, uint64_t index, std::string_view extension);

}  // namespace synthfarm::jobs
