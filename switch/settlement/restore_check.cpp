#include "settlement/restore_check.hpp"

#include <map>
#include <tuple>

namespace turnout {
namespace {

auto totals(const BatchSummary& s) { return std::make_tuple(s.record_count, s.debit_total, s.credit_total, s.net); }

std::string describe(const BatchSummary& s) {
    return std::to_string(s.record_count) + " records, net " + std::to_string(s.net) + " " + s.currency;
}

}  // namespace

RestoreCheck check_restore(const std::vector<RestoredFile>& files, const std::vector<BatchSummary>& batches) {
    RestoreCheck out;
    std::map<std::string, const RestoredFile*> by_batch;
    for (const auto& f : files) {
        ++out.files;
        if (!f.file) {
            ++(f.unfinished ? out.unfinished : out.bad);
            out.problems.push_back(f.path + ": " + f.problem);
            continue;
        }
        const auto& s = f.file->summary;
        auto [it, fresh] = by_batch.emplace(s.batch_id, &f);
        if (!fresh && totals(it->second->file->summary) != totals(s)) {
            ++out.differing;
            out.problems.push_back("batch " + s.batch_id + ": " + it->second->path + " (" +
                                   describe(it->second->file->summary) + ") and " + f.path + " (" + describe(s) +
                                   ") differ");
        }
    }
    std::map<std::string, const BatchSummary*> seen;
    for (const auto& b : batches) {
        auto [it, fresh] = seen.emplace(b.batch_id, &b);
        if (!fresh) {
            if (totals(*it->second) != totals(b)) {
                ++out.differing;
                out.problems.push_back("batch " + b.batch_id + ": announced twice with different totals (" +
                                       describe(*it->second) + ", " + describe(b) + ")");
            }
            continue;
        }
        ++out.batches;
        const auto f = by_batch.find(b.batch_id);
        if (f == by_batch.end()) {
            ++out.missing;
            out.problems.push_back("batch " + b.batch_id + " (" + describe(b) + "): no intact clearing file");
        } else if (totals(f->second->file->summary) != totals(b)) {
            ++out.differing;
            out.problems.push_back("batch " + b.batch_id + ": " + f->second->path + " (" +
                                   describe(f->second->file->summary) + ") differs from its summary (" + describe(b) +
                                   ")");
        }
    }
    return out;
}

}  // namespace turnout
