#pragma once
// The build's version (`<project version>+<git describe>`), written at build time.
#include <string>
#include <string_view>

namespace turnout {

std::string_view build_version();

// Names this process in every JSON log line and in turnout_build_info{version,role,instance}.
void set_process_identity(const std::string& role, const std::string& instance);

}  // namespace turnout
