#pragma once
// Clearing files: each closed batch is written twice, as CSV and in a fixed-width layout
// (docs/settlement.md), each with a `.sha256` digest file and a `.sig` HMAC-SHA256 signature
// file next to it. Every file is written under a temporary name, flushed and renamed, so a
// reader never sees a half-written file; the `.sig` files come last.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codec/csv.hpp"
#include "settlement/batch_book.hpp"

namespace turnout {

// Signs a clearing file's bytes: hex HMAC-SHA256 under the clearing-file signing key,
// wherever that key lives (CardVault::settlement_sign: key file or PKCS#11 token).
using ClearingSigner = std::function<std::string(std::string_view data)>;

// Text fields go through the CSV and fixed-width helpers of codec/csv.hpp.
// The file name stem of a batch id: [A-Za-z0-9_-] and '.' (not first) kept, every other byte
// as %XX, so a name never holds a '/' or starts with '.', and different ids give different
// names; cut with a digest beyond 200 bytes.
std::string clearing_file_stem(std::string_view batch_id);

// CSV layout (RFC 4180 quoting where a field needs it, text cells as csv_text_cell writes them):
//   HEADER,turnout-clearing-csv,1,<batch_id>,<channel>,<currency>,<window_start>,<window_end>
//   batch_id,payment_id,type,channel,merchant_id,currency,amount_minor,fee_minor,channel_ref,event_time
//   one row per clearing record (amount signed: refunds negative)
//   TRAILER,<record count>,<debit total>,<credit total>,<net>,<fee total>
std::string render_clearing_csv(const Batch& b);
// Fixed-width layout: 256-byte ASCII records + LF; H header, D detail, T trailer.
inline constexpr size_t kFixedWidthRecord = 256;
std::string render_clearing_fixed_width(const Batch& b);

// Writes `<stem>.csv`, `<stem>.txt` (stem = clearing_file_stem(batch_id)) and their `.sha256` and `.sig` files into `dir`
// atomically; fills summary.file/sha256 and fixed_width_file/fixed_width_sha256. A file
// already there with the same bytes is kept (closing again after a crash); other bytes are
// refused with std::runtime_error. `sign` signs the files.
void write_clearing_files(const std::string& dir, Batch& b, const ClearingSigner& sign);
// The two files' contents, and the summary's file names and digests set as
// write_clearing_files sets them (nothing written).
struct ClearingFiles {
    std::string csv, fixed_width;
};
ClearingFiles describe_clearing_files(Batch& b);

std::string sha256_hex(std::string_view data);
// Any file (reports too): temporary name in the same folder, fsync, rename.
void write_file_atomically(const std::string& path, const std::string& body);
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// The signer over a raw key held in memory (tests, tools).
ClearingSigner hmac_signer(std::string key);

// Checks `<path>.sha256` and `<path>.sig` against the file's bytes (the signature compared
// in constant time); on failure says why.
bool verify_clearing_file(const std::string& path, const ClearingSigner& sign, std::string& why);

// A clearing CSV read back: its header, records and trailer (checked against the records).
struct ClearingFile {
    BatchSummary summary;  // batch id, channel, currency, window, totals from the trailer
    std::vector<ClearingRecord> records;
};
// nullopt with `why` set when the file is malformed or its trailer disagrees with its rows.
std::optional<ClearingFile> parse_clearing_csv(std::string_view text, std::string& why);

// A clearing CSV found in a folder: read back, or why not.
struct RestoredFile {
    std::string path;
    std::optional<ClearingFile> file;  // nullopt: unreadable, or its digest or signature fails
    std::string problem;               // why, when file is nullopt
    // Its `.sig` (written last) is missing: the site stopped while writing the batch's files,
    // whose close never committed. Never delivered; not a damaged backup.
    bool unfinished = false;
};
// Every clearing CSV under `dir` (its subfolders too) last modified at or after
// `modified_since_ms`, in path order: its digest and signature checked (and its fixed-width
// twin's, when there is one), then parsed.
std::vector<RestoredFile> read_clearing_files(const std::string& dir, const ClearingSigner& sign,
                                              int64_t modified_since_ms = 0);

}  // namespace turnout
