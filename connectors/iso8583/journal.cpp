#include "iso8583/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>

#include <spdlog/spdlog.h>

namespace turnout::iso8583 {
namespace {

namespace fs = std::filesystem;

bool plain_token(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
    return true;
}

bool write_all(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        off += static_cast<size_t>(n);
    }
    return true;
}

void sync_dir(const std::string& dir) {
    const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (d >= 0) {
        ::fsync(d);
        ::close(d);
    }
}

// Reads a journal file into `entries` (latest line per payment wins; a removal erases).
// A torn last line (no newline: the process died while appending) is ignored: its request
// was not sent, since a request leaves only after its line is synced.
void read_journal(const std::string& path, std::unordered_map<std::string, JournalEntry>& entries) {
    std::ifstream in(path, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t start = 0;
    while (true) {
        const size_t nl = content.find('\n', start);
        if (nl == std::string::npos) break;
        const std::string line = content.substr(start, nl - start);
        start = nl + 1;
        JournalEntry e;
        std::string removed;
        if (!parse_journal_line(line, &e, &removed)) {
            if (!line.empty()) spdlog::warn("journal {}: unreadable line ignored: {}", path, line.substr(0, 80));
            continue;
        }
        if (!removed.empty())
            entries.erase(removed);
        else
            entries[e.payment_id] = e;
    }
}

}  // namespace

std::string format_journal_entry(const JournalEntry& e) {
    return "S " + e.payment_id + " " + e.mti + " " + e.stan + " " + e.transmission + " " + e.terminal + " " +
           (e.acquirer.empty() ? "-" : e.acquirer) + " " + std::to_string(e.at_ms) + "\n";
}

bool parse_journal_line(const std::string& line, JournalEntry* entry, std::string* removed_id) {
    std::istringstream ss(line);
    std::string kind;
    ss >> kind;
    if (kind == "D") {
        std::string id, extra;
        if (!(ss >> id) || (ss >> extra)) return false;
        *removed_id = id;
        return true;
    }
    if (kind != "S") return false;
    JournalEntry e;
    std::string at, extra;
    if (!(ss >> e.payment_id >> e.mti >> e.stan >> e.transmission >> e.terminal >> e.acquirer >> at) || (ss >> extra))
        return false;
    if (e.acquirer == "-") e.acquirer.clear();
    if (e.mti.size() != 4 || e.stan.size() != 6 || e.transmission.size() != 10) return false;
    char* end = nullptr;
    e.at_ms = std::strtoll(at.c_str(), &end, 10);
    if (!end || *end != 0) return false;
    *entry = std::move(e);
    removed_id->clear();
    return true;
}

std::unique_ptr<Journal> Journal::open(const std::string& dir, const std::string& channel, int64_t now_ms,
                                       int64_t keep_ms, std::string* error) {
    std::unique_ptr<Journal> j(new Journal());
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        *error = "cannot create " + dir + ": " + ec.message();
        return nullptr;
    }
    j->dir_ = dir;
    // Existing journals of this channel, by number.
    std::map<int, std::string> numbers;
    const std::regex name("^" + std::regex_replace(channel, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                          R"(\.([0-9]{1,4})\.(journal|lock)$)");
    for (const auto& de : fs::directory_iterator(dir, ec)) {
        std::smatch m;
        const std::string f = de.path().filename().string();
        if (std::regex_match(f, m, name)) numbers[std::stoi(m[1].str())] = m[1].str();
    }
    auto lock_path = [&](int n) { return dir + "/" + channel + "." + std::to_string(n) + ".lock"; };
    auto journal_path = [&](int n) { return dir + "/" + channel + "." + std::to_string(n) + ".journal"; };
    std::vector<std::string> adopted;
    std::unordered_map<std::string, JournalEntry> entries;
    int own = -1;
    for (const auto& [n, _] : numbers) {
        const int fd = ::open(lock_path(n).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) continue;
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {  // a live process owns it
            ::close(fd);
            continue;
        }
        if (own < 0) {
            own = n;
            j->lock_fd_ = fd;
        } else {
            adopted.push_back(journal_path(n));
            // Keep the lock until the adopted entries are in our own file.
            j->adopted_locks_.push_back(fd);
        }
        read_journal(journal_path(n), entries);
    }
    if (own < 0) {
        for (own = 0; numbers.count(own); ++own) {
        }
        const int fd = ::open(lock_path(own).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            if (fd >= 0) ::close(fd);
            *error = "cannot lock " + lock_path(own) + ": " + std::strerror(errno);
            return nullptr;
        }
        j->lock_fd_ = fd;
    }
    j->path_ = journal_path(own);
    size_t expired = 0;
    for (auto& [id, e] : entries) {
        if (keep_ms > 0 && now_ms - e.at_ms > keep_ms) {
            ++expired;
            continue;
        }
        j->live_[id] = format_journal_entry(e);
        j->recovered_[id] = e;
    }
    if (expired) spdlog::warn("journal {}: {} entries older than {} ms dropped", j->path_, expired, keep_ms);
    if (!j->rewrite(error)) return nullptr;
    for (const auto& p : adopted) fs::remove(p, ec);
    for (int fd : j->adopted_locks_) ::close(fd);
    j->adopted_locks_.clear();
    if (!j->recovered_.empty())
        spdlog::warn("journal {}: {} requests may have reached the host without a recorded outcome; each is reversed "
                     "when its payment comes back",
                     j->path_, j->recovered_.size());
    return j;
}

Journal::~Journal() {
    if (fd_ >= 0) ::close(fd_);
    for (int fd : adopted_locks_) ::close(fd);
    if (lock_fd_ >= 0) ::close(lock_fd_);
}

bool Journal::rewrite(std::string* error) {
    const std::string tmp = path_ + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        *error = "cannot write " + tmp + ": " + std::strerror(errno);
        return false;
    }
    std::string all;
    for (const auto& [id, line] : live_) all += line;
    if (!write_all(fd, all) || ::fdatasync(fd) != 0 || ::rename(tmp.c_str(), path_.c_str()) != 0) {
        *error = "cannot write " + path_ + ": " + std::strerror(errno);
        ::close(fd);
        return false;
    }
    ::close(fd);
    sync_dir(dir_);
    const int nfd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (nfd < 0) {
        *error = "cannot open " + path_ + ": " + std::strerror(errno);
        return false;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = nfd;
    lines_since_rewrite_ = 0;
    return true;
}

bool Journal::record(const std::vector<JournalEntry>& entries, std::string* error) {
    std::lock_guard lk(mu_);
    std::string lines;
    std::vector<std::pair<std::string, std::string>> added;
    for (const auto& e : entries) {
        if (!plain_token(e.payment_id) || !plain_token(e.terminal)) {
            *error = "payment_id or terminal not storable: " + e.payment_id;
            return false;
        }
        added.emplace_back(e.payment_id, format_journal_entry(e));
        lines += added.back().second;
    }
    if (fd_ < 0 || !write_all(fd_, lines) || ::fdatasync(fd_) != 0) {
        *error = "cannot append to " + path_ + ": " + std::strerror(errno);
        return false;
    }
    for (auto& [id, line] : added) live_[id] = std::move(line);
    lines_since_rewrite_ += entries.size();
    return true;
}

void Journal::forget(const std::vector<std::string>& payment_ids) {
    std::lock_guard lk(mu_);
    std::string lines;
    for (const auto& id : payment_ids)
        if (live_.erase(id)) lines += "D " + id + "\n";
    recovered_erase(payment_ids);
    if (lines.empty()) return;
    lines_since_rewrite_ += payment_ids.size();
    if (lines_since_rewrite_ > 100000 && live_.size() < 10000) {
        std::string error;
        if (rewrite(&error)) return;
        spdlog::warn("journal {}: {}", path_, error);
    }
    if (fd_ < 0 || !write_all(fd_, lines)) spdlog::warn("journal {}: cannot append removals: {}", path_, std::strerror(errno));
}

void Journal::recovered_erase(const std::vector<std::string>& payment_ids) {
    for (const auto& id : payment_ids) recovered_.erase(id);
}

size_t Journal::live() const {
    std::lock_guard lk(mu_);
    return live_.size();
}

}  // namespace turnout::iso8583
