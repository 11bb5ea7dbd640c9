#include "config/secret_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "config/config.hpp"

namespace turnout {

void check_secret_file(const std::string& path, const std::string& setting) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw ConfigError(setting + ": " + path + ": " + std::strerror(errno) +
                          " (set " + setting + " to the key file's path)");
    if (!S_ISREG(st.st_mode)) throw ConfigError(setting + ": " + path + " is not a regular file");
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw ConfigError(setting + ": " + path + " may be read by group or others (mode " + mode +
                          "); a key file must be private to the user turnout runs as: chmod 600 " + path);
    }
}

}  // namespace turnout
