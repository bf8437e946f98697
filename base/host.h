// The name of the machine this process runs on (gethostname), for ids that must differ
// between processes of a farm: worker ids, a coordinator's lock owner.
#pragma once

#include <string>

namespace synthfarm {

std::string host_name();

}  // namespace synthfarm
