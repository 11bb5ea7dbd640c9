#pragma once
// Key files (card-data keys, channel HMAC keys, TLS private keys) must be private to the
// user Turnout runs as: a file that group or others may read is refused at start-up.
#include <string>

namespace turnout {

// Throws ConfigError naming the setting, the file, its mode and the command that fixes it
// when `path` cannot be read or is readable or writable by group or others.
void check_secret_file(const std::string& path, const std::string& setting);

}  // namespace turnout
