#pragma once
// Clearing files: one CSV per batch, written under a temporary name and renamed into place,
// so a reader never sees a half-written file.
#include <string>

#include "settlement/batch_book.hpp"

namespace turnout {

// CSV layout: a header row, one row per clearing record, and a trailer row
// `TRAILER,<record count>,<debit total>,<credit total>,<net>`.
std::string render_clearing_csv(const Batch& b);

// Writes `<dir>/<batch_id>.csv` atomically; fills summary.file and summary.sha256.
void write_clearing_file(const std::string& dir, Batch& b);

std::string sha256_hex(std::string_view data);

}  // namespace turnout
