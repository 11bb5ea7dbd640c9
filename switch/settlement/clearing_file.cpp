#include "settlement/clearing_file.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
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
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f.write(body.data(), static_cast<std::streamsize>(body.size()));
        f.flush();
        if (!f) throw std::runtime_error("cannot write " + tmp.string());
    }
    fs::rename(tmp, final_path);
    b.summary.file = final_path.filename().string();
    b.summary.sha256 = sha256_hex(body);
}

}  // namespace turnout
