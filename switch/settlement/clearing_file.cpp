#include "settlement/clearing_file.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "model/time.hpp"

namespace turnout {

std::string render_clearing_csv(const Batch& b) {
    std::string out = "batch_id,payment_id,type,channel,merchant_id,currency,amount_minor,channel_ref,event_time\n";
    for (const auto& r : b.records) {
        out += b.summary.batch_id;
        out += ',' + r.payment_id + ',' + std::string(to_string(r.type)) + ',' + r.channel + ',' + r.merchant_id + ',' +
               r.currency + ',' + std::to_string(r.amount) + ',' + r.channel_ref + ',' + format_rfc3339(r.event_time_ms) +
               '\n';
    }
    const auto& s = b.summary;
    out += "TRAILER," + std::to_string(s.record_count) + ',' + std::to_string(s.debit_total) + ',' +
           std::to_string(s.credit_total) + ',' + std::to_string(s.net) + '\n';
    return out;
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) out += {hex[md[i] >> 4], hex[md[i] & 15]};
    return out;
}

void write_clearing_file(const std::string& dir, Batch& b) {
    namespace fs = std::filesystem;
    fs::create_directories(dir);
    const std::string body = render_clearing_csv(b);
    const fs::path final_path = fs::path(dir) / (b.summary.batch_id + ".csv");
    const fs::path tmp = fs::path(dir) / ("." + b.summary.batch_id + ".csv.tmp");
    b.summary.file = final_path.filename().string();
    b.summary.sha256 = sha256_hex(body);
    // Closing again after a crash (the file was renamed, the transaction never committed)
    // rebuilds the same batch: the file already there is the one to keep.
    if (fs::exists(final_path)) {
        std::ifstream in(final_path, std::ios::binary);
        std::string existing((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (existing == body) return;
        throw std::runtime_error("clearing file " + final_path.string() + " exists with other contents");
    }
    // Written, flushed to disk, then renamed: a reader sees the whole file or none.
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot create " + tmp.string());
    size_t done = 0;
    while (done < body.size()) {
        const ssize_t n = ::write(fd, body.data() + done, body.size() - done);
        if (n <= 0) {
            ::close(fd);
            throw std::runtime_error("cannot write " + tmp.string());
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) throw std::runtime_error("cannot flush " + tmp.string());
    fs::rename(tmp, final_path);
    if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

}  // namespace turnout
