#include "simulator/ledger.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace turnout {
namespace {
const char* kind_name(ChannelOutcome::Kind k) {
    return k == ChannelOutcome::Kind::approved ? "approved" : k == ChannelOutcome::Kind::declined ? "declined" : "soft";
}
std::string field(const std::string& s) { return s.empty() ? "-" : s; }
std::string unfield(const std::string& s) { return s == "-" ? "" : s; }
}  // namespace

ChannelLedger::ChannelLedger(std::string path) : path_(std::move(path)) {
    if (auto dir = std::filesystem::path(path_).parent_path(); !dir.empty()) std::filesystem::create_directories(dir);
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot open channel ledger " + path_);
}

ChannelLedger::~ChannelLedger() {
    if (fd_ >= 0) ::close(fd_);
}

void ChannelLedger::catch_up() {
    char buf[65536];
    for (;;) {
        const ssize_t n = ::pread(fd_, buf, sizeof buf, read_pos_);
        if (n <= 0) break;
        read_pos_ += n;
        partial_.append(buf, static_cast<size_t>(n));
    }
    size_t start = 0;
    for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::istringstream line(partial_.substr(start, nl - start));
        std::string id, kind, code, ref, approval;
        if (!(line >> id >> kind >> code >> ref >> approval)) continue;
        ChannelOutcome o;
        o.kind = kind == "approved" ? ChannelOutcome::Kind::approved : ChannelOutcome::Kind::declined;
        o.code = unfield(code);
        o.message = "answered from the channel's ledger";
        o.channel_ref = unfield(ref);
        o.approval_code = unfield(approval);
        known_[id] = std::move(o);
    }
    partial_.erase(0, start);
}

std::vector<ChannelOutcome> ChannelLedger::execute(std::span<const RoutedPayment> batch,
                                                   const std::function<ChannelOutcome(const RoutedPayment&)>& decide,
                                                   size_t& replayed) {
    if (::flock(fd_, LOCK_EX) != 0) throw std::runtime_error("cannot lock channel ledger " + path_);
    std::vector<ChannelOutcome> out;
    std::string append;
    try {
        catch_up();
        out.reserve(batch.size());
        for (const auto& p : batch) {
            auto it = known_.find(p.request.payment_id);
            if (it != known_.end()) {
                out.push_back(it->second);
                ++replayed;
                continue;
            }
            auto o = decide(p);
            if (o.kind != ChannelOutcome::Kind::soft_failure) {
                append += p.request.payment_id + ' ' + kind_name(o.kind) + ' ' + field(o.code) + ' ' +
                          field(o.channel_ref) + ' ' + field(o.approval_code) + ' ' + std::string(to_string(p.request.type)) + ' ' +
                          std::to_string(p.request.amount.value) + ' ' + field(p.request.amount.currency) + '\n';
                known_[p.request.payment_id] = o;
            }
            out.push_back(std::move(o));
        }
        size_t done = 0;
        while (done < append.size()) {
            const ssize_t n = ::write(fd_, append.data() + done, append.size() - done);
            if (n <= 0) throw std::runtime_error("cannot append to channel ledger " + path_);
            done += static_cast<size_t>(n);
        }
        read_pos_ += static_cast<long>(append.size());  // our own lines are known already
    } catch (...) {
        ::flock(fd_, LOCK_UN);
        throw;
    }
    ::flock(fd_, LOCK_UN);
    return out;
}

std::vector<ChannelReportLine> channel_report_from_ledger(const std::string& path, size_t& without_amount) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read channel ledger " + path);
    std::vector<ChannelReportLine> out;
    without_amount = 0;
    for (std::string text; std::getline(in, text);) {
        std::istringstream line(text);
        std::string id, kind, code, ref, approval, type_name, currency;
        int64_t amount = 0;
        if (!(line >> id >> kind >> code >> ref >> approval)) continue;
        if (kind != "approved") continue;
        if (!(line >> type_name >> amount >> currency)) {
            ++without_amount;  // a line from before amounts were recorded
            continue;
        }
        auto type = parse_payment_type(type_name);
        if (!type) continue;
        int64_t sign = 0;
        if (*type == PaymentType::sale || *type == PaymentType::capture) sign = 1;
        if (*type == PaymentType::refund) sign = -1;
        if (sign == 0) continue;  // authorizations and voids move no money
        out.push_back({id, *type, sign * amount, unfield(currency), unfield(ref)});
    }
    return out;
}

}  // namespace turnout
