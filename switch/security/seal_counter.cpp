#include "security/seal_counter.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include "metrics/metrics.hpp"

namespace turnout {
namespace fs = std::filesystem;
namespace {

std::map<std::string, int64_t> read_counts(const fs::path& p) {
    std::map<std::string, int64_t> out;
    std::ifstream in(p);
    std::string line;
    while (std::getline(in, line)) {
        const auto sp = line.find(' ');
        if (sp == std::string::npos || sp == 0) continue;
        int64_t n = 0;
        const auto* b = line.data() + sp + 1;
        const auto* e = line.data() + line.size();
        auto [end, ec] = std::from_chars(b, e, n);
        if (ec != std::errc() || end != e || n < 0) continue;
        out[line.substr(0, sp)] = n;
    }
    return out;
}

prometheus::Family<prometheus::Gauge>& seals_family() {
    static auto& f = declare_gauge("turnout_key_seals",
                                   "Values sealed under each PAN key by this process over all its runs, as reserved on "
                                   "disk (alert: the sum over processes against turnout_key_seal_limit)");
    return f;
}

prometheus::Gauge& limit_gauge() {
    static auto& g =
        declare_gauge("turnout_key_seal_limit", "Seals one AES-GCM key may make with random nonces (security.seal_limit)")
            .Add({});
    return g;
}

}  // namespace

SealCounter::SealCounter(std::string dir, std::string name, int64_t limit, int64_t warn_percent)
    : dir_(std::move(dir)), limit_(limit), warn_at_(limit / 100 * warn_percent + (limit % 100) * warn_percent / 100) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw std::runtime_error("security.seal_count_dir " + dir_ + ": " + ec.message());
    path_ = (fs::path(dir_) / (name + ".seals")).string();
    for (const auto& [id, n] : read_counts(path_)) keys_[id] = Entry{n, n};
    limit_gauge().Set(static_cast<double>(limit_));
    for (const auto& [id, e] : keys_) seals_family().Add({{"key_id", id}}).Set(static_cast<double>(e.reserved));
}

void SealCounter::count(const std::string& key_id) {
    std::lock_guard lock(mu_);
    auto& e = keys_[key_id];
    if (++e.used > e.reserved) {
        e.reserved = e.used + kBlock - 1;
        persist_locked();
        seals_family().Add({{"key_id", key_id}}).Set(static_cast<double>(e.reserved));
    }
    if (!e.warned && e.used >= warn_at_) {
        e.warned = true;
        spdlog::warn("PAN key {} has sealed {} values in this process, {}% of the AES-GCM limit {}: rotate it "
                     "(turnout keys rotate)",
                     key_id, e.used, e.used * 100 / limit_, limit_);
    }
    if (!e.limit_logged && e.used >= limit_) {
        e.limit_logged = true;
        spdlog::error("PAN key {} has reached the AES-GCM seal limit {}: rotate it now (turnout keys rotate)", key_id,
                      limit_);
    }
}

int64_t SealCounter::used(const std::string& key_id) const {
    std::lock_guard lock(mu_);
    auto it = keys_.find(key_id);
    return it == keys_.end() ? 0 : it->second.used;
}

int64_t SealCounter::reserved(const std::string& key_id) const {
    std::lock_guard lock(mu_);
    auto it = keys_.find(key_id);
    return it == keys_.end() ? 0 : it->second.reserved;
}

void SealCounter::persist_locked() {
    std::ostringstream body;
    for (const auto& [id, e] : keys_) body << id << ' ' << e.reserved << '\n';
    const auto text = body.str();
    const auto tmp = path_ + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    ok = ok && ::rename(tmp.c_str(), path_.c_str()) == 0;
    // Sealing under a count that is not on disk could hide a key's use from the limit.
    if (!ok) throw std::runtime_error("cannot record seal counts in " + path_);
}

std::map<std::string, int64_t> SealCounter::totals(const std::string& dir) {
    std::map<std::string, int64_t> sum;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (entry.path().extension() != ".seals") continue;
        for (const auto& [id, n] : read_counts(entry.path())) sum[id] += n;
    }
    return sum;
}

}  // namespace turnout
