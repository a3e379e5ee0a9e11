// Every decoder of what the data directory holds, on arbitrary bytes: it never crashes, and what
// it accepts encodes back to exactly the same bytes (the formats have one encoding per value;
// an older usage value layout encodes back in the current one).

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "storage/codec.hpp"

using namespace rl::storage;

namespace {

void require(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    // The first byte splits the input into a record key and a value, as RocksDB hands them over.
    const std::size_t split = size == 0 ? 0 : std::min<std::size_t>(data[0], size - 1) + 1;
    const std::string_view name = bytes.substr(0, split);
    const std::string_view value = bytes.substr(split);

    if (const auto user = codec::decode_user(name, value)) {
        require(user->name == name);
        require(user->plan.empty() != user->limits.empty());
        if (value[0] == 1) {  // format 1 (schema 1): read as plan "default" or limits "1s:N"
            const std::uint32_t limit =
                user->plan == "default"
                    ? 0
                    : static_cast<std::uint32_t>(std::stoul(user->limits.substr(3)));
            require(codec::encode_user_format1(limit, user->disabled, user->created_at) == value);
        } else {
            require(codec::encode_user(*user) == value);
        }
    }
    if (const auto plan = codec::decode_plan(name, value)) {
        require(plan->name == name);
        require(codec::encode_plan(*plan) == value);
    }
    if (const auto key = codec::decode_key(name, value)) {
        require(std::string_view(reinterpret_cast<const char*>(key->hash.data()),
                                 key->hash.size()) == name);
        require(codec::encode_key(*key) == value);
    }
    if (const auto id = codec::decode_key_id(bytes)) require(codec::encode_key_id(*id) == bytes);
    if (const auto bucket = codec::decode_usage_key(bytes))
        require(codec::encode_usage_key(bucket->start, bucket->key_id) == bytes);
    if (const auto count = codec::decode_usage_value(bytes)) {
        // A value from before shadow mode (16 bytes) is written again with shadow_limited 0.
        std::string expected(bytes);
        if (bytes.size() == codec::usage_value_size_v1)
            expected.resize(codec::usage_value_size, '\0');
        require(codec::encode_usage_value(*count) == expected);
    }
    return 0;
}
