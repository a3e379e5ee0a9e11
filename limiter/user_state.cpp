#include "limiter/user_state.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <new>

#include "limiter/calendar.hpp"

namespace rl::limiter {

namespace {

// The allocation: a header, one descriptor per window, then each window's region in the
// policy's order. Every part is a multiple of 4 bytes, so every field is aligned.
//
//   exact:    head, size, capacity (1 byte each, 1 spare), then `capacity` admit times, each a
//             32-bit count of microseconds after the header's base
//   slotted:  current slot, total, then ring_slots counts of 1, 2 or 4 bytes (as the quota needs)
//   calendar: first day of the period, count

using tick = std::int64_t;  // microseconds of the steady clock
constexpr tick us_per_s = 1'000'000;
// A window spans slot_count slots and, unless it starts on a slot boundary, part of one more.
constexpr std::uint32_t ring_slots = slot_count + 1;

enum class form : std::uint8_t { calendar, exact, slots8, slots16, slots32 };

struct header {
    tick base;             // exact windows file admits as microseconds after this
    std::uint32_t latest;  // the latest time seen (rounded up), after base
    std::uint8_t windows;
    std::uint8_t unused[3];
};
static_assert(sizeof(header) == 16);

struct descriptor {
    window_kind kind;
    form shape;
    std::uint16_t seconds;  // sliding windows only
};
static_assert(sizeof(descriptor) == 4);

struct exact_head {
    std::uint8_t head, size, capacity, unused;
};

struct slots_head {
    std::uint32_t current;  // the newest slot, as slot number modulo 2^32
    std::uint32_t total;    // sum of the ring
};

struct calendar_count {
    std::int32_t start;  // unix day the period began
    std::uint32_t count;
};

// One moment as every window sees it.
struct instant {
    tick lo;   // now rounded down, and never before the latest time seen
    tick rec;  // now rounded up: where an admit is filed
    std::int64_t wall_ms;
    std::int64_t day;  // unix day of wall_ms
};

// `count` admits at `at` (or earlier): what windows hand each other when the state is rebuilt.
struct admit_run {
    tick at;
    std::uint64_t count;
};
using admit_runs = std::vector<admit_run>;

constexpr std::size_t round4(std::size_t n) noexcept {
    return (n + 3) & ~std::size_t{3};
}

tick ceil_div(tick a, tick b) noexcept {
    return -floor_div(-a, b);
}

tick window_us(const descriptor& d) noexcept {
    return tick{d.seconds} * us_per_s;
}

tick slot_width(tick w) noexcept {
    return ceil_div(w, slot_count);
}

instant make_instant(time_point now, wall_time wall, const tick* latest) noexcept {
    const std::int64_t ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    instant in{floor_div(ns, 1000), ceil_div(ns, 1000), calendar::unix_ms(wall), 0};
    in.day = floor_div(in.wall_ms, calendar::ms_per_day);
    if (latest != nullptr) {
        // Time never runs backwards inside a window. The latest time was rounded up, so the
        // window is measured from just before it.
        in.lo = std::max(in.lo, *latest - 1);
        in.rec = std::max(in.rec, *latest);
    }
    return in;
}

std::int64_t ms_to_ns(std::int64_t ms) noexcept {
    return ms * 1'000'000;
}

// ---- exact: every admit's time ----

class exact_window {
public:
    static std::size_t size(std::uint32_t capacity) noexcept {
        return sizeof(exact_head) + 4 * std::size_t{capacity};
    }
    static void init(std::byte* p, std::uint32_t capacity) noexcept {
        std::memset(p, 0, size(capacity));
        reinterpret_cast<exact_head*>(p)->capacity = static_cast<std::uint8_t>(capacity);
    }

    exact_window(std::byte* p, const descriptor& d, tick base) noexcept
        : h_(*reinterpret_cast<exact_head*>(p)),
          ring_(reinterpret_cast<std::uint32_t*>(p + sizeof(exact_head))),
          base_(base),
          w_(window_us(d)) {}

    std::uint64_t held() const noexcept { return h_.size; }
    std::uint32_t capacity() const noexcept { return h_.capacity; }

    void advance(const instant& in) noexcept {
        // An admit at exactly now - w has left the half-open window (now - w, now].
        while (h_.size > 0 && at(0) <= in.lo - w_) {
            h_.head = static_cast<std::uint8_t>((h_.head + 1) % h_.capacity);
            --h_.size;
        }
    }
    void clear(const instant&) noexcept { h_.head = h_.size = 0; }

    // Microseconds after `in` until the `index`th oldest admit has left.
    tick wait(std::uint64_t index, const instant& in) const noexcept {
        return at(static_cast<std::uint32_t>(index)) + w_ - in.lo;
    }

    void record(const instant& in) noexcept {
        slot(h_.size) = static_cast<std::uint32_t>(in.rec - base_);
        ++h_.size;
    }

    void remove(tick from) noexcept {
        std::uint32_t i = 0;
        while (i < h_.size && at(i) < from) ++i;
        if (i == h_.size) return;
        for (; i + 1 < h_.size; ++i) slot(i) = slot(i + 1);
        --h_.size;
    }

    void rebase(tick base) noexcept {
        for (std::uint32_t i = 0; i < h_.size; ++i)
            slot(i) = static_cast<std::uint32_t>(at(i) - base);
        base_ = base;
    }

    void export_to(admit_runs& runs) const {
        for (std::uint32_t i = 0; i < h_.size; ++i) runs.push_back({at(i), 1});
    }

    // Into an empty window: the newest `keep` of the runs still inside it.
    void import(const admit_runs& runs, std::uint64_t keep, const instant& in) {
        std::vector<tick> times;
        for (const admit_run& r : runs)
            if (r.at > in.lo - w_) times.insert(times.end(), std::min(r.count, keep), r.at);
        std::sort(times.begin(), times.end());
        const std::size_t n = std::min<std::size_t>({times.size(), keep, h_.capacity});
        h_.head = 0;
        h_.size = static_cast<std::uint8_t>(n);
        for (std::size_t i = 0; i < n; ++i)
            ring_[i] = static_cast<std::uint32_t>(times[times.size() - n + i] - base_);
    }

private:
    std::uint32_t& slot(std::uint32_t i) noexcept { return ring_[(h_.head + i) % h_.capacity]; }
    tick at(std::uint32_t i) const noexcept { return base_ + ring_[(h_.head + i) % h_.capacity]; }

    exact_head& h_;
    std::uint32_t* ring_;
    tick base_;
    tick w_;
};

// ---- slotted: admits counted per slot of w / slot_count ----

template <typename Count>
class slotted_window {
public:
    static std::size_t size() noexcept {
        return sizeof(slots_head) + round4(ring_slots * sizeof(Count));
    }
    static void init(std::byte* p, const descriptor& d, const instant& in) noexcept {
        std::memset(p, 0, size());
        reinterpret_cast<slots_head*>(p)->current =
            static_cast<std::uint32_t>(floor_div(in.rec, slot_width(window_us(d))));
    }

    // `latest`: the latest time the state has seen, which no slot is newer than.
    slotted_window(std::byte* p, const descriptor& d, tick latest) noexcept
        : h_(*reinterpret_cast<slots_head*>(p)),
          counts_(reinterpret_cast<Count*>(p + sizeof(slots_head))),
          w_(window_us(d)),
          g_(slot_width(w_)) {
        // Slot numbers are kept modulo 2^32; the state is reset long before they could wrap.
        const tick newest = floor_div(latest, g_);
        current_ =
            newest - static_cast<std::uint32_t>(static_cast<std::uint32_t>(newest) - h_.current);
    }

    std::uint64_t held() const noexcept { return h_.total; }

    void advance(const instant& in) noexcept {
        const tick now_slot = floor_div(in.rec, g_);
        if (now_slot - current_ >= ring_slots) {
            clear_all();
        } else {
            for (tick k = current_ + 1; k <= now_slot; ++k) clear(k);
        }
        current_ = now_slot;
        h_.current = static_cast<std::uint32_t>(now_slot);
        for (tick k = current_ - (ring_slots - 1); k < first_counted(in); ++k) clear(k);
    }
    void clear(const instant& in) noexcept {
        clear_all();
        current_ = floor_div(in.rec, g_);
        h_.current = static_cast<std::uint32_t>(current_);
    }

    tick wait(std::uint64_t index, const instant& in) const noexcept {
        std::uint64_t seen = 0;
        for (tick k = current_ - (ring_slots - 1); k <= current_; ++k) {
            seen += count(k);
            // Slot k leaves the window once its last microsecond, (k + 1) g - 1, has.
            if (seen > index) return (k + 1) * g_ - 1 + w_ - in.lo;
        }
        return 0;
    }

    void record(const instant&) noexcept {
        ++count(current_);
        ++h_.total;
    }

    void remove(tick from) noexcept {
        for (tick k = std::max(floor_div(from, g_), current_ - (ring_slots - 1)); k <= current_;
             ++k)
            if (count(k) > 0) {
                --count(k);
                --h_.total;
                return;
            }
    }

    // Each slot's admits at the slot's last moment (or the latest time seen, if sooner).
    void export_to(admit_runs& runs, tick latest) const {
        for (tick k = current_ - (ring_slots - 1); k <= current_; ++k)
            if (count(k) > 0) runs.push_back({std::min((k + 1) * g_ - 1, latest), count(k)});
    }

    void import(const admit_runs& runs, std::uint64_t keep, const instant& in) noexcept {
        std::array<std::uint64_t, ring_slots> sums{};
        std::uint64_t total = 0;
        const tick first = first_counted(in);
        for (const admit_run& r : runs) {
            const tick k = floor_div(r.at, g_);
            if (k < first || k > current_) continue;
            sums[position(k)] += r.count;
            total += r.count;
        }
        // Beyond `keep`, the oldest go: for this quota the window behaves the same.
        for (tick k = first; total > keep && k <= current_; ++k) {
            const std::uint64_t drop = std::min(sums[position(k)], total - keep);
            sums[position(k)] -= drop;
            total -= drop;
        }
        for (std::size_t i = 0; i < ring_slots; ++i) counts_[i] = static_cast<Count>(sums[i]);
        h_.total = static_cast<std::uint32_t>(total);
    }

private:
    // The oldest slot that still overlaps (now - w, now].
    tick first_counted(const instant& in) const noexcept { return floor_div(in.lo - w_ + 1, g_); }
    static std::size_t position(tick k) noexcept {
        return static_cast<std::size_t>(k - floor_div(k, ring_slots) * ring_slots);
    }
    Count& count(tick k) noexcept { return counts_[position(k)]; }
    Count count(tick k) const noexcept { return counts_[position(k)]; }
    void clear(tick k) noexcept {
        h_.total -= count(k);
        count(k) = 0;
    }
    void clear_all() noexcept {
        std::fill(counts_, counts_ + ring_slots, Count{0});
        h_.total = 0;
    }

    slots_head& h_;
    Count* counts_;
    tick w_;
    tick g_;
    tick current_;
};

// ---- calendar: a count per UTC period ----

class calendar_window {
public:
    static std::size_t size() noexcept { return sizeof(calendar_count); }
    static void init(std::byte* p, const descriptor& d, const instant& in) noexcept {
        *reinterpret_cast<calendar_count*>(p) = {calendar::period_start(d.kind, in.day), 0};
    }

    calendar_window(std::byte* p, const descriptor& d) noexcept
        : c_(*reinterpret_cast<calendar_count*>(p)), kind_(d.kind) {}

    std::uint64_t held() const noexcept { return c_.count; }
    std::int32_t start() const noexcept { return c_.start; }
    bool over(const instant& in) const noexcept {
        return calendar::period_start(kind_, in.day) > c_.start;
    }

    void advance(const instant& in) noexcept {
        // Only forwards: a wall clock that stepped back keeps counting in the latest period.
        if (over(in)) c_ = {calendar::period_start(kind_, in.day), 0};
    }

    std::int64_t wait_ns(const instant& in) const noexcept {
        return ms_to_ns(std::int64_t{calendar::period_end(kind_, c_.start)} * calendar::ms_per_day -
                        in.wall_ms);
    }

    void record() noexcept { ++c_.count; }

    void remove(std::int64_t day) noexcept {
        // An admit from an earlier period (or one the clock no longer tells apart) stays counted.
        if (calendar::period_start(kind_, day) == c_.start && c_.count > 0) --c_.count;
    }

    void set(std::int32_t start, std::uint64_t count) noexcept {
        c_ = {start, static_cast<std::uint32_t>(std::min<std::uint64_t>(
                         count, std::numeric_limits<std::uint32_t>::max()))};
    }

private:
    calendar_count& c_;
    window_kind kind_;
};

// ---- the allocation ----

header& head_of(std::byte* data) noexcept {
    return *reinterpret_cast<header*>(data);
}
descriptor* descriptors_of(std::byte* data) noexcept {
    return reinterpret_cast<descriptor*>(data + sizeof(header));
}

form slots_for(std::uint64_t count) noexcept {
    if (count <= std::numeric_limits<std::uint8_t>::max()) return form::slots8;
    if (count <= std::numeric_limits<std::uint16_t>::max()) return form::slots16;
    return form::slots32;
}

std::uint64_t slot_limit(form f) noexcept {
    switch (f) {
        case form::slots8: return std::numeric_limits<std::uint8_t>::max();
        case form::slots16: return std::numeric_limits<std::uint16_t>::max();
        default: return std::numeric_limits<std::uint32_t>::max();
    }
}

std::size_t region_size(form f, std::uint32_t capacity) noexcept {
    switch (f) {
        case form::calendar: return calendar_window::size();
        case form::exact: return exact_window::size(capacity);
        case form::slots8: return slotted_window<std::uint8_t>::size();
        case form::slots16: return slotted_window<std::uint16_t>::size();
        default: return slotted_window<std::uint32_t>::size();
    }
}

// Where each window's region begins.
std::array<std::byte*, max_limits> regions_of(std::byte* data) noexcept {
    std::array<std::byte*, max_limits> at{};
    const std::size_t n = head_of(data).windows;
    std::byte* p = data + sizeof(header) + n * sizeof(descriptor);
    for (std::size_t i = 0; i < n; ++i) {
        at[i] = p;
        const form f = descriptors_of(data)[i].shape;
        p += region_size(f, f == form::exact ? reinterpret_cast<exact_head*>(p)->capacity : 0);
    }
    return at;
}

// Runs `body` on window `i` as its own type (calendar_window, exact_window, slotted_window<T>).
template <typename Body>
decltype(auto) visit(std::byte* data, std::byte* region, std::size_t i, Body&& body) {
    header& h = head_of(data);
    const descriptor& d = descriptors_of(data)[i];
    switch (d.shape) {
        case form::calendar: {
            calendar_window w(region, d);
            return body(w);
        }
        case form::exact: {
            exact_window w(region, d, h.base);
            return body(w);
        }
        case form::slots8: {
            slotted_window<std::uint8_t> w(region, d, h.base + h.latest);
            return body(w);
        }
        case form::slots16: {
            slotted_window<std::uint16_t> w(region, d, h.base + h.latest);
            return body(w);
        }
        default: {
            slotted_window<std::uint32_t> w(region, d, h.base + h.latest);
            return body(w);
        }
    }
}

template <typename W>
constexpr bool is_calendar = std::is_same_v<W, calendar_window>;
template <typename W>
constexpr bool is_exact = std::is_same_v<W, exact_window>;

tick longest_window(const std::byte* data) noexcept {
    tick longest = 0;
    const auto* d = reinterpret_cast<const descriptor*>(data + sizeof(header));
    for (std::size_t i = 0; i < reinterpret_cast<const header*>(data)->windows; ++i)
        if (d[i].kind == window_kind::sliding) longest = std::max(longest, window_us(d[i]));
    return longest;
}

// Brings every window to `now`; the returned instant is what they now agree on.
instant advance(std::byte* data, time_point now, wall_time wall) noexcept {
    header& h = head_of(data);
    const tick latest = h.base + h.latest;
    const instant in = make_instant(now, wall, &latest);
    const tick longest = longest_window(data);
    // Idle for the longest window: every sliding window is empty, whatever it holds.
    const bool idle = in.lo - latest >= longest;
    const auto regions = regions_of(data);
    for (std::size_t i = 0; i < h.windows; ++i)
        visit(data, regions[i], i, [&](auto& w) {
            using W = std::decay_t<decltype(w)>;
            if constexpr (is_calendar<W>) {
                w.advance(in);
            } else {
                if (idle)
                    w.clear(in);
                else
                    w.advance(in);
            }
        });
    // Exact windows file admits as 32-bit offsets: move the base up before now outgrows them.
    // What is older than the longest window has left every window, so the new base fits all.
    if (in.rec - h.base > std::numeric_limits<std::uint32_t>::max()) {
        const tick base = in.lo - longest - 1;
        for (std::size_t i = 0; i < h.windows; ++i)
            visit(data, regions[i], i, [&](auto& w) {
                if constexpr (is_exact<std::decay_t<decltype(w)>>) w.rebase(base);
            });
        h.base = base;
    }
    h.latest = static_cast<std::uint32_t>(in.rec - h.base);
    return in;
}

// Whether window `d` with `held` admits can serve `l` as it is.
bool fits(const descriptor& d, std::uint32_t capacity, std::uint64_t held, const limit& l) {
    if (d.kind != l.kind || (l.kind == window_kind::sliding && d.seconds != l.seconds))
        return false;
    switch (d.shape) {
        case form::calendar: return true;
        // A ring kept larger than the quota only while it holds more (after a lowered quota).
        case form::exact: return capacity >= l.quota && (capacity == l.quota || held > l.quota);
        default:
            return slot_limit(d.shape) >= l.quota &&
                   (l.quota > exact_quota_max || held > exact_quota_max);
    }
}

// The seed's admits as runs at the steady times they could last have happened.
void seed_runs(const seed& s, const instant& in, admit_runs& runs) {
    for (const second_count& c : s.admits) {
        if (c.count == 0) continue;
        const std::int64_t latest_ms = std::min(in.wall_ms, (c.unix_second + 1) * 1000);
        runs.push_back({in.rec - (in.wall_ms - latest_ms) * 1000, c.count});
    }
}

}  // namespace

user_state& user_state::operator=(user_state&& other) noexcept {
    if (this != &other) {
        ::operator delete(data_);
        data_ = other.data_;
        other.data_ = nullptr;
    }
    return *this;
}

user_state::~user_state() {
    ::operator delete(data_);
}

std::size_t user_state::bytes() const noexcept {
    if (data_ == nullptr) return 0;
    const auto regions = regions_of(data_);
    const std::size_t last = head_of(data_).windows - 1u;
    const form f = descriptors_of(data_)[last].shape;
    const std::byte* end =
        regions[last] + region_size(f, f == form::exact
                                           ? reinterpret_cast<exact_head*>(regions[last])->capacity
                                           : 0);
    return static_cast<std::size_t>(end - data_);
}

void user_state::reshape_adding(const policy& p, const seed& s, std::uint32_t add_to,
                                time_point now, wall_time wall) {
    const std::size_t n = std::min(p.limits.size(), max_limits);
    if (n == 0) {
        *this = user_state{};
        return;
    }
    std::byte* old = data_;
    const instant in = old != nullptr ? advance(old, now, wall) : make_instant(now, wall, nullptr);
    const auto old_regions =
        old != nullptr ? regions_of(old) : std::array<std::byte*, max_limits>{};
    const std::size_t old_n = old != nullptr ? head_of(old).windows : 0;

    // Lay the new state out: each window sized for the larger of its quota and what it holds.
    struct planned {
        int from = -1;  // the old window it continues, if any
        std::uint64_t held = 0;
        descriptor d{};
        std::uint32_t capacity = 0;
    };
    std::array<planned, max_limits> plan{};
    std::size_t bytes = sizeof(header) + n * sizeof(descriptor);
    tick longest = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const limit& l = p.limits[i];
        planned& to = plan[i];
        to.d = {l.kind, form::calendar, static_cast<std::uint16_t>(l.seconds)};
        for (std::size_t j = 0; j < old_n; ++j) {
            const descriptor& od = descriptors_of(old)[j];
            if (od.kind == l.kind && (l.kind != window_kind::sliding || od.seconds == l.seconds)) {
                to.from = static_cast<int>(j);
                to.held = visit(old, old_regions[j], j, [](auto& w) { return w.held(); });
            }
        }
        if (l.kind == window_kind::sliding) {
            const std::uint64_t need = std::max<std::uint64_t>(l.quota, to.held);
            to.d.shape = need <= exact_quota_max ? form::exact : slots_for(need);
            to.capacity =
                static_cast<std::uint32_t>(std::min<std::uint64_t>(need, exact_quota_max));
            longest = std::max(longest, window_us(to.d));
        } else {
            to.d.seconds = 0;
        }
        bytes += region_size(to.d.shape, to.capacity);
    }

    auto* fresh = static_cast<std::byte*>(::operator new(bytes));
    std::memset(fresh, 0, sizeof(header));
    header& h = head_of(fresh);
    h.base = in.lo - longest - 1;
    h.latest = static_cast<std::uint32_t>(in.rec - h.base);
    h.windows = static_cast<std::uint8_t>(n);
    std::byte* region = fresh + sizeof(header) + n * sizeof(descriptor);
    for (std::size_t i = 0; i < n; ++i) {
        descriptors_of(fresh)[i] = plan[i].d;
        switch (plan[i].d.shape) {
            case form::calendar: calendar_window::init(region, plan[i].d, in); break;
            case form::exact: exact_window::init(region, plan[i].capacity); break;
            case form::slots8: slotted_window<std::uint8_t>::init(region, plan[i].d, in); break;
            case form::slots16: slotted_window<std::uint16_t>::init(region, plan[i].d, in); break;
            default: slotted_window<std::uint32_t>::init(region, plan[i].d, in); break;
        }
        region += region_size(plan[i].d.shape, plan[i].capacity);
    }

    const auto regions = regions_of(fresh);
    admit_runs runs;
    for (std::size_t i = 0; i < n; ++i) {
        const planned& to = plan[i];
        const bool seeded = to.from < 0 || (add_to >> i & 1) != 0;
        runs.clear();
        if (to.from >= 0 && to.d.kind == window_kind::sliding)
            visit(old, old_regions[static_cast<std::size_t>(to.from)],
                  static_cast<std::size_t>(to.from), [&](auto& w) {
                      using W = std::decay_t<decltype(w)>;
                      if constexpr (is_exact<W>) w.export_to(runs);
                      if constexpr (!is_exact<W> && !is_calendar<W>) w.export_to(runs, in.rec);
                  });
        if (seeded && to.d.kind == window_kind::sliding) seed_runs(s, in, runs);
        const std::uint64_t keep = std::max<std::uint64_t>(p.limits[i].quota, to.held);
        visit(fresh, regions[i], i, [&](auto& w) {
            using W = std::decay_t<decltype(w)>;
            if constexpr (is_calendar<W>) {
                const std::uint64_t given = to.d.kind == window_kind::day ? s.day : s.month;
                if (to.from >= 0) {
                    calendar_window before(old_regions[static_cast<std::size_t>(to.from)], to.d);
                    w.set(before.start(), before.held());
                }
                // The seed counts the period the wall clock is in now.
                if (seeded && w.start() == calendar::period_start(to.d.kind, in.day))
                    w.set(w.start(), to.from >= 0 ? std::max(w.held(), given) : given);
            } else if (!runs.empty()) {
                w.import(runs, keep, in);
            }
        });
    }
    ::operator delete(old);
    data_ = fresh;
}

policy_decision user_state::decide(const policy& p, time_point now, wall_time wall) {
    policy_decision d;
    const std::size_t n = std::min(p.limits.size(), max_limits);
    d.count = static_cast<std::uint8_t>(n);
    if (n == 0) return d;

    bool fit = false;
    if (data_ != nullptr) {
        advance(data_, now, wall);
        fit = head_of(data_).windows == n;
        const auto regions = regions_of(data_);
        for (std::size_t i = 0; fit && i < n; ++i)
            fit = visit(data_, regions[i], i, [&](auto& w) {
                std::uint32_t capacity = 0;
                if constexpr (is_exact<std::decay_t<decltype(w)>>) capacity = w.capacity();
                return fits(descriptors_of(data_)[i], capacity, w.held(), p.limits[i]);
            });
    }
    if (!fit) reshape(p, seed{}, false, now, wall);

    header& h = head_of(data_);
    const tick latest = h.base + h.latest;
    const instant in = make_instant(now, wall, &latest);
    const auto regions = regions_of(data_);
    std::array<std::uint64_t, max_limits> held{};
    for (std::size_t i = 0; i < n; ++i) {
        held[i] = visit(data_, regions[i], i, [](auto& w) { return w.held(); });
        d.admitted = d.admitted && held[i] < p.limits[i].quota;
    }
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t quota = p.limits[i].quota;
        limit_reading& r = d.limits[i];
        r.violated = !d.admitted && held[i] >= quota;
        visit(data_, regions[i], i, [&](auto& w) {
            using W = std::decay_t<decltype(w)>;
            if (d.admitted) {
                if constexpr (is_calendar<W>)
                    w.record();
                else
                    w.record(in);
                ++held[i];
            }
            if constexpr (is_calendar<W>) {
                r.reset_after = std::chrono::nanoseconds(w.wait_ns(in));
            } else if (held[i] > 0) {
                // Room for one more once all but quota - 1 of what it holds have left.
                const std::uint64_t leaving = held[i] >= quota ? held[i] - quota : 0;
                r.reset_after = std::chrono::microseconds(w.wait(leaving, in));
            }
        });
        r.remaining = held[i] < quota ? static_cast<std::uint32_t>(quota - held[i]) : 0;
        if (r.violated) d.retry_after = std::max(d.retry_after, r.reset_after);
        const limit_reading& best = d.limits[d.closest];
        if (r.remaining < best.remaining ||
            (r.remaining == best.remaining && r.reset_after > best.reset_after))
            d.closest = static_cast<std::uint8_t>(i);
    }
    return d;
}

void user_state::refund(time_point at, wall_time wall_at) noexcept {
    if (data_ == nullptr) return;
    const instant in = make_instant(at, wall_at, nullptr);
    const auto regions = regions_of(data_);
    for (std::size_t i = 0; i < head_of(data_).windows; ++i)
        visit(data_, regions[i], i, [&](auto& w) {
            if constexpr (is_calendar<std::decay_t<decltype(w)>>)
                w.remove(in.day);
            else
                w.remove(in.rec);  // the admit was filed at `at` rounded up, or later
        });
}

bool user_state::drop_idle(time_point now, wall_time wall) {
    if (data_ == nullptr) return false;
    header& h = head_of(data_);
    const tick latest = h.base + h.latest;
    const instant in = make_instant(now, wall, &latest);
    if (in.lo - latest < longest_window(data_)) return true;

    // Sliding windows are all empty: only calendar counts of a period not yet over remain.
    const auto regions = regions_of(data_);
    std::array<std::size_t, max_limits> kept{};
    std::size_t n = 0;
    for (std::size_t i = 0; i < h.windows; ++i) {
        const descriptor& d = descriptors_of(data_)[i];
        if (d.shape != form::calendar) continue;
        calendar_window w(regions[i], d);
        if (w.held() > 0 && !w.over(in)) kept[n++] = i;
    }
    if (n == 0) {
        *this = user_state{};
        return false;
    }
    if (n == h.windows) return true;

    const std::size_t bytes = sizeof(header) + n * (sizeof(descriptor) + calendar_window::size());
    auto* fresh = static_cast<std::byte*>(::operator new(bytes));
    std::memcpy(fresh, data_, sizeof(header));
    head_of(fresh).windows = static_cast<std::uint8_t>(n);
    std::byte* region = fresh + sizeof(header) + n * sizeof(descriptor);
    for (std::size_t i = 0; i < n; ++i, region += calendar_window::size()) {
        descriptors_of(fresh)[i] = descriptors_of(data_)[kept[i]];
        std::memcpy(region, regions[kept[i]], calendar_window::size());
    }
    ::operator delete(data_);
    data_ = fresh;
    return true;
}

}  // namespace rl::limiter
