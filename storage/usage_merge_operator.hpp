#pragma once
// Adds usage counts (admitted, limited, shadow_limited) so usage is counted with blind writes,
// no read-modify-write. Old 16-byte operands count as shadow_limited 0; the sum is always
// written in the current 24-byte layout.
// Internal to storage/: only storage/*.cpp and the storage tests include it.

#include <rocksdb/merge_operator.h>

namespace rl::storage {

class usage_merge_operator final : public rocksdb::AssociativeMergeOperator {
public:
    // Never throws and never fails: a malformed operand counts as zero, so one bad value cannot
    // stop compaction or lose the other counts.
    bool Merge(const rocksdb::Slice& key, const rocksdb::Slice* existing_value,
               const rocksdb::Slice& value, std::string* new_value,
               rocksdb::Logger* logger) const override;
    const char* Name() const override { return "rl.usage_count_add.v1"; }
};

}  // namespace rl::storage
