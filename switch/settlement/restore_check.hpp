#pragma once
// The restore check of clearing-file backups (docs/disaster-recovery.md, "Backups"): every
// file intact (digest and signature), and every batch the site's settlement.batches names
// present with the totals it announced. Pure: the caller reads the files (read_clearing_files)
// and the topic.
#include <optional>
#include <string>
#include <vector>

#include "model/settlement.hpp"
#include "settlement/clearing_file.hpp"

namespace turnout {

struct RestoreCheck {
    size_t files = 0;      // clearing CSVs looked at
    size_t bad = 0;        // of them, unreadable or failing digest or signature
    size_t unfinished = 0;  // of them, without their .sig: never completed, never delivered
    size_t batches = 0;    // batch summaries checked against the files
    size_t missing = 0;    // batches without an intact file
    size_t differing = 0;  // batches whose files disagree with each other or with the summary
    std::vector<std::string> problems;  // one line each
    bool ok() const { return bad == 0 && missing == 0 && differing == 0; }
};

// A batch id met in two files (the primary's and DR's) must have the same totals in both;
// each summary of `batches` (one per batch id; repeats with equal totals are one) must have an
// intact file with its record count, debit, credit and net.
RestoreCheck check_restore(const std::vector<RestoredFile>& files, const std::vector<BatchSummary>& batches);

}  // namespace turnout
