#include "storage/usage_merge_operator.hpp"

#include "storage/codec.hpp"

namespace rl::storage {

namespace {
usage_count decode_or_zero(std::string_view bytes) noexcept {
    return codec::decode_usage_value(bytes).value_or(usage_count{});
}
}  // namespace

bool usage_merge_operator::Merge(const rocksdb::Slice&, const rocksdb::Slice* existing_value,
                                 const rocksdb::Slice& value, std::string* new_value,
                                 rocksdb::Logger*) const {
    try {
        usage_count sum = decode_or_zero(value.ToStringView());
        if (existing_value) sum += decode_or_zero(existing_value->ToStringView());
        *new_value = codec::encode_usage_value(sum);
        return true;
    } catch (...) {  // only allocation can throw here
        return false;
    }
}

}  // namespace rl::storage
