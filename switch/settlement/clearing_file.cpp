#include "settlement/clearing_file.hpp"
#include "security/constant_time.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "model/time.hpp"

namespace turnout {
namespace fs = std::filesystem;
namespace {

std::string hex(const unsigned char* p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < n; ++i) out += {digits[p[i] >> 4], digits[p[i] & 15]};
    return out;
}


// Right-aligned zero-padded digits of |v|.
std::string digits(int64_t v, size_t width) {
    const uint64_t a = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    std::string d = std::to_string(a);
    if (d.size() > width) throw std::overflow_error("amount does not fit the fixed-width field");
    return std::string(width - d.size(), '0') + d;
}

std::string compact_ms(int64_t ms) {  // YYYYMMDDHHMMSSmmm + Z, 18 bytes
    const auto t = format_rfc3339(ms);  // 2026-11-26T06:33:25.123Z
    std::string out;
    for (char c : t)
        if (c >= '0' && c <= '9') out += c;
    return out + 'Z';
}

std::string record_line(std::string body) {
    body.resize(kFixedWidthRecord, ' ');
    return body + '\n';
}

std::string read_whole(const fs::path& p, bool& ok) {
    std::ifstream in(p, std::ios::binary);
    ok = static_cast<bool>(in);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_atomic(const fs::path& dir, const std::string& name, const std::string& body, bool replace = false) {
    const fs::path final_path = dir / name;
    const fs::path tmp = dir / ("." + name + ".tmp");
    // Closing again after a crash (the file was renamed, the transaction never committed)
    // rebuilds the same batch: the file already there is the one to keep.
    if (!replace && fs::exists(final_path)) {
        bool ok = false;
        if (read_whole(final_path, ok) == body) return;
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
}

void sync_dir(const fs::path& dir) {
    if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

}  // namespace

std::string clearing_file_stem(std::string_view batch_id) {
    static const char hexdigits[] = "0123456789ABCDEF";
    std::string out;
    for (size_t i = 0; i < batch_id.size(); ++i) {
        const auto c = static_cast<unsigned char>(batch_id[i]);
        const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                           c == '-' || (c == '.' && i > 0);
        if (plain) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hexdigits[c >> 4];
            out += hexdigits[c & 15];
        }
    }
    if (out.empty()) return "%";
    // File names stay well under the 255-byte limit of common file systems.
    if (out.size() > 200) out = out.substr(0, 160) + "~" + sha256_hex(batch_id).substr(0, 32);
    return out;
}

std::string render_clearing_csv(const Batch& b) {
    const auto& s = b.summary;
    const auto cell = csv_text_cell;
    std::string out = "HEADER,turnout-clearing-csv,1," + cell(s.batch_id) + ',' + cell(s.channel) + ',' +
                      cell(s.currency) + ',' + format_rfc3339(s.window_start_ms) + ',' + format_rfc3339(s.window_end_ms) + '\n';
    out += "batch_id,payment_id,type,channel,merchant_id,currency,amount_minor,fee_minor,channel_ref,event_time\n";
    int64_t fees = 0;
    for (const auto& r : b.records) {
        out += cell(s.batch_id) + ',' + cell(r.payment_id) + ',' + std::string(to_string(r.type)) + ',' +
               cell(r.channel) + ',' + cell(r.merchant_id) + ',' + cell(r.currency) + ',' + std::to_string(r.amount) +
               ',' + std::to_string(r.fee) + ',' + cell(r.channel_ref) + ',' + format_rfc3339(r.event_time_ms) + '\n';
        if (!checked_add(fees, r.fee, fees)) throw std::overflow_error("fee total overflows int64");
    }
    out += "TRAILER," + std::to_string(s.record_count) + ',' + std::to_string(s.debit_total) + ',' +
           std::to_string(s.credit_total) + ',' + std::to_string(s.net) + ',' + std::to_string(fees) + '\n';
    return out;
}

std::string render_clearing_fixed_width(const Batch& b) {
    const auto& s = b.summary;
    const auto text = fixed_width_text;
    std::string out = record_line("H" + text(s.batch_id, 64) + text(s.channel, 64) + text(s.currency, 3) +
                                  text(format_compact_utc(s.window_start_ms), 16) +
                                  text(format_compact_utc(s.window_end_ms), 16) + "01");
    int64_t fees = 0;
    for (const auto& r : b.records) {
        out += record_line("D" + text(r.payment_id, 64) + text(to_string(r.type), 8) + text(r.merchant_id, 64) +
                           (r.amount < 0 ? "-" : "+") + digits(r.amount, 18) + digits(r.fee, 18) +
                           text(r.channel_ref, 64) + compact_ms(r.event_time_ms));
        if (!checked_add(fees, r.fee, fees)) throw std::overflow_error("fee total overflows int64");
    }
    out += record_line("T" + digits(s.record_count, 18) + digits(s.debit_total, 18) + digits(s.credit_total, 18) +
                       (s.net < 0 ? "-" : "+") + digits(s.net, 18) + digits(fees, 18));
    return out;
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    return hex(md, len);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), md, &len);
    return hex(md, len);
}

ClearingSigner hmac_signer(std::string key) {
    return [key = std::move(key)](std::string_view data) { return hmac_sha256_hex(key, data); };
}

ClearingFiles describe_clearing_files(Batch& b) {
    ClearingFiles f{render_clearing_csv(b), render_clearing_fixed_width(b)};
    auto& s = b.summary;
    // The names never come from record contents unchecked: a '/' or a leading '.' in a
    // batch id is percent-encoded, so every file lands in `dir` under a name of its own.
    const std::string stem = clearing_file_stem(s.batch_id);
    s.file = stem + ".csv";
    s.sha256 = sha256_hex(f.csv);
    s.fixed_width_file = stem + ".txt";
    s.fixed_width_sha256 = sha256_hex(f.fixed_width);
    return f;
}

void write_clearing_files(const std::string& dir, Batch& b, const ClearingSigner& sign) {
    fs::create_directories(dir);
    if (!sign) throw std::runtime_error("no settlement HMAC key to sign clearing files with");
    const auto files = describe_clearing_files(b);
    const std::string& csv = files.csv;
    const std::string& fixed = files.fixed_width;
    auto& s = b.summary;
    const fs::path d(dir);
    write_atomic(d, s.file, csv);
    write_atomic(d, s.fixed_width_file, fixed);
    // sha256sum -c reads these; the signatures are written last: a `.sig` means the set is whole.
    write_atomic(d, s.file + ".sha256", s.sha256 + "  " + s.file + "\n");
    write_atomic(d, s.fixed_width_file + ".sha256", s.fixed_width_sha256 + "  " + s.fixed_width_file + "\n");
    write_atomic(d, s.file + ".sig", sign(csv) + "  " + s.file + "\n");
    write_atomic(d, s.fixed_width_file + ".sig", sign(fixed) + "  " + s.fixed_width_file + "\n");
    sync_dir(d);
}

void write_file_atomically(const std::string& path, const std::string& body) {
    const fs::path p(path);
    const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    fs::create_directories(dir);
    write_atomic(dir, p.filename().string(), body, /*replace=*/true);  // rename replaces a previous report
    sync_dir(dir);
}

bool verify_clearing_file(const std::string& path, const ClearingSigner& sign, std::string& why) {
    bool ok = false;
    const std::string body = read_whole(path, ok);
    if (!ok) return why = "cannot read " + path, false;
    const std::string name = fs::path(path).filename().string();
    const std::string digest = read_whole(path + ".sha256", ok);
    if (!ok) return why = "no " + name + ".sha256", false;
    if (digest != sha256_hex(body) + "  " + name + "\n") return why = name + ": SHA-256 does not match", false;
    const std::string sig = read_whole(path + ".sig", ok);
    if (!ok) return why = "no " + name + ".sig", false;
    if (!equal_constant_time(sig, sign(body) + "  " + name + "\n"))
        return why = name + ": HMAC signature does not verify", false;
    return true;
}

std::optional<ClearingFile> parse_clearing_csv(std::string_view text, std::string& why) {
    ClearingFile f;
    auto& s = f.summary;
    size_t pos = 0, line_no = 0;
    bool trailer = false;
    int64_t fees = 0, debit = 0, credit = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) return why = "last line not terminated", std::nullopt;
        const auto fields = split_csv_line(text.substr(pos, nl - pos));
        pos = nl + 1;
        ++line_no;
        const std::string at = "line " + std::to_string(line_no) + ": ";
        if (trailer) return why = at + "data after the trailer", std::nullopt;
        if (line_no == 1) {
            if (fields.size() != 8 || fields[0] != "HEADER" || fields[1] != "turnout-clearing-csv" || fields[2] != "1")
                return why = at + "expected HEADER,turnout-clearing-csv,1,…", std::nullopt;
            s.batch_id = csv_cell_text(fields[3]);
            s.channel = csv_cell_text(fields[4]);
            s.currency = csv_cell_text(fields[5]);
            auto ws = parse_rfc3339(fields[6]), we = parse_rfc3339(fields[7]);
            if (!ws || !we) return why = at + "bad window times", std::nullopt;
            s.window_start_ms = *ws;
            s.window_end_ms = *we;
            continue;
        }
        if (line_no == 2) continue;  // column names
        if (fields[0] == "TRAILER") {
            if (fields.size() != 6) return why = at + "expected TRAILER with 5 totals", std::nullopt;
            try {
                s.record_count = std::stoll(fields[1]);
                s.debit_total = std::stoll(fields[2]);
                s.credit_total = std::stoll(fields[3]);
                s.net = std::stoll(fields[4]);
                s.fee_total = std::stoll(fields[5]);
            } catch (const std::exception&) {
                return why = at + "trailer totals are not integers", std::nullopt;
            }
            trailer = true;
            continue;
        }
        if (fields.size() != 10) return why = at + "expected 10 fields", std::nullopt;
        ClearingRecord r;
        auto type = parse_payment_type(fields[2]);
        auto t = parse_rfc3339(fields[9]);
        if (!type || !t) return why = at + "bad type or event time", std::nullopt;
        try {
            r = {csv_cell_text(fields[1]), *type, csv_cell_text(fields[3]), csv_cell_text(fields[4]),
                 csv_cell_text(fields[5]), std::stoll(fields[6]), csv_cell_text(fields[8]), *t, std::stoll(fields[7])};
        } catch (const std::exception&) {
            return why = at + "amount or fee is not an integer", std::nullopt;
        }
        if (!checked_add(r.amount > 0 ? debit : credit, r.amount > 0 ? r.amount : -r.amount, r.amount > 0 ? debit : credit) ||
            !checked_add(fees, r.fee, fees))
            return why = at + "totals overflow", std::nullopt;
        f.records.push_back(std::move(r));
    }
    if (line_no < 2 || !trailer) return why = "no trailer", std::nullopt;
    if (s.record_count != static_cast<int64_t>(f.records.size()) || s.debit_total != debit || s.credit_total != credit ||
        s.net != debit - credit || s.fee_total != fees)
        return why = "trailer totals disagree with the records", std::nullopt;
    return f;
}

std::vector<RestoredFile> read_clearing_files(const std::string& dir, const ClearingSigner& sign,
                                              int64_t modified_since_ms) {
    std::vector<std::string> paths;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file() || e.path().extension() != ".csv") continue;
        if (modified_since_ms > 0) {
            const auto at = std::chrono::file_clock::to_sys(e.last_write_time());
            if (std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count() < modified_since_ms)
                continue;
        }
        paths.push_back(e.path().string());
    }
    std::sort(paths.begin(), paths.end());
    std::vector<RestoredFile> files;
    for (const auto& path : paths) {
        RestoredFile f{path, std::nullopt, {}};
        std::string why;
        const std::string txt = path.substr(0, path.size() - 4) + ".txt";
        bool ok = false;
        if (!fs::exists(path + ".sig")) {
            f.unfinished = true;
            f.problem = "unfinished: no .sig (the site stopped while writing it)";
        } else if (!verify_clearing_file(path, sign, why) || (fs::exists(txt) && !verify_clearing_file(txt, sign, why))) {
            f.problem = why;
        } else if (const auto text = read_whole(path, ok); !ok) {
            f.problem = "cannot read the file";
        } else if (!(f.file = parse_clearing_csv(text, why))) {
            f.problem = why;
        }
        files.push_back(std::move(f));
    }
    return files;
}

}  // namespace turnout
