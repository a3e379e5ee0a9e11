#pragma once
// An open-addressing hash map for the request path: slots in one array (no node per entry, one
// or two cache misses per lookup), linear probing, and backward-shift deletion so erasing leaves
// no tombstones behind. Keys are small trivially copyable values whose value-initialised form
// (a zero digest, user id 0) marks an empty slot and is never stored. Not thread-safe; callers
// lock.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace rl::common {

template <typename Key, typename Value, typename Hash>
class flat_map {
public:
    static constexpr Key Empty{};
    struct slot {
        Key key{};
        Value value{};
    };

    flat_map() = default;

    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return slots_.size(); }

    // Room for `n` entries without growing.
    void reserve(std::size_t n) {
        if (n * 4 > slots_.size() * 3) rehash(n * 4 / 3 + 1);
    }

    Value* find(const Key& key) noexcept {
        if (size_ == 0) return nullptr;
        for (std::size_t i = home(key);; i = next(i)) {
            if (slots_[i].key == key) return &slots_[i].value;
            if (slots_[i].key == Empty) return nullptr;
        }
    }
    const Value* find(const Key& key) const noexcept {
        return const_cast<flat_map*>(this)->find(key);
    }

    // The value for `key`, default-constructed if it was not there.
    Value& operator[](const Key& key) {
        if (Value* found = find(key)) return *found;
        if ((size_ + 1) * 8 > slots_.size() * 7)
            rehash(std::max<std::size_t>(16, slots_.size() * 2));
        std::size_t i = home(key);
        while (!(slots_[i].key == Empty)) i = next(i);
        slots_[i].key = key;
        ++size_;
        return slots_[i].value;
    }

    bool erase(const Key& key) noexcept {
        if (size_ == 0) return false;
        std::size_t i = home(key);
        while (!(slots_[i].key == key)) {
            if (slots_[i].key == Empty) return false;
            i = next(i);
        }
        erase_slot(i);
        return true;
    }

    // Erases every entry for which `drop(key, value)` is true, in one pass.
    template <typename Predicate>
    void erase_if(Predicate drop) {
        // A backward shift can move an entry from past the end of the array to its start, where
        // the scan already was: scanning from an empty slot avoids visiting anything twice.
        const std::size_t n = slots_.size();
        std::size_t start = 0;
        while (start < n && !(slots_[start].key == Empty)) ++start;
        if (start == n) return;  // never: the load factor keeps empty slots
        for (std::size_t step = 1; step <= n;) {
            const std::size_t i = (start + step) % n;
            if (!(slots_[i].key == Empty) && drop(slots_[i].key, slots_[i].value)) {
                erase_slot(i);  // slot i now holds the next entry (or is empty): look again
                continue;
            }
            ++step;
        }
    }

    template <typename Visit>
    void for_each(Visit visit) const {
        for (const slot& s : slots_)
            if (!(s.key == Empty)) visit(s.key, s.value);
    }

private:
    // Maps a 64-bit hash onto [0, capacity) without a division (Lemire's multiply-shift), so the
    // capacity need not be a power of two and a million entries take 1.33 M slots, not 2 M.
    std::size_t home(const Key& key) const noexcept {
        __extension__ using wide = unsigned __int128;
        const wide h = static_cast<std::uint64_t>(Hash{}(key));
        return static_cast<std::size_t>((h * slots_.size()) >> 64);
    }
    std::size_t next(std::size_t i) const noexcept { return i + 1 == slots_.size() ? 0 : i + 1; }

    void erase_slot(std::size_t hole) noexcept {
        // Pull later entries of the probe run back into the hole when their home allows it.
        for (std::size_t i = next(hole);; i = next(i)) {
            if (slots_[i].key == Empty) break;
            const std::size_t h = home(slots_[i].key);
            // Movable when its home is not in the cyclic range (hole, i].
            const bool home_after_hole = hole < i ? (h > hole && h <= i) : (h > hole || h <= i);
            if (home_after_hole) continue;
            slots_[hole] = std::move(slots_[i]);
            hole = i;
        }
        slots_[hole] = slot{};
        --size_;
    }

    void rehash(std::size_t capacity) {
        std::vector<slot> old(capacity);
        old.swap(slots_);
        for (slot& s : old) {
            if (s.key == Empty) continue;
            std::size_t i = home(s.key);
            while (!(slots_[i].key == Empty)) i = next(i);
            slots_[i] = std::move(s);
        }
    }

    std::vector<slot> slots_;
    std::size_t size_ = 0;
};

}  // namespace rl::common
