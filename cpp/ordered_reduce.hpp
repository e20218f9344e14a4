// ordered_reduce.hpp -- a deterministic parallel reduction over chunks (a reorder buffer).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

namespace irsl {

// Reduce chunks 0 .. n_chunks-1 on up to n_threads OpenMP threads, with the result of
//
//     Slot s = make_slot();
//     for (int64_t c = 0; c < n_chunks; ++c) { compute(s, c); flush(s, c); }
//
// bitwise, for any thread count. The callbacks:
//
//   Slot make_slot()              a private buffer, in the state that flush leaves a slot in
//                                 (typically zeros); Slot must be movable.
//   void compute(Slot&, int64_t c)  the work of chunk c into the slot: runs concurrently with other
//                                 chunks, without the lock; it may write shared memory only where
//                                 no other chunk writes (e.g. per-observation outputs).
//   void flush(Slot&, int64_t c)  fold the slot into the shared outputs and reset it to the state
//                                 of make_slot (e.g. add the touched rows and zero them); called
//                                 under the lock, one chunk at a time, strictly in chunk order.
//
// So the result of chunk c may depend only on c and on a slot in its reset state, never on which
// slot or thread it gets. Threads claim chunks dynamically, in increasing order; each finished
// chunk waits in its slot until the chunks before it are flushed, and whichever thread completes
// the chunk that is due flushes it and every finished chunk after it. No thread waits for another's
// chunk before starting its next one, so a thread descheduled on a busy machine (or a slow chunk)
// does not hold the others in lock step, as `omp for ordered` does. At most 2 n_threads + 2 slots
// are created (one per thread unless threads run ahead of a late chunk; one for one thread); when
// all are in use a thread waits for a flush, which the oldest unflushed chunk (it always has a
// slot) guarantees.
// No callback may throw (an exception cannot leave an OpenMP region).
template <class MakeSlot, class Compute, class Flush>
void ordered_chunk_reduce(int64_t n_chunks, int n_threads, MakeSlot&& make_slot, Compute&& compute,
                          Flush&& flush) {
    using Slot = std::decay_t<decltype(make_slot())>;
    if (n_chunks <= 0) return;
    const int64_t max_slots = n_threads <= 1 ? 1 : 2 * static_cast<int64_t>(n_threads) + 2;
    std::vector<std::unique_ptr<Slot>> slots;
    std::vector<int64_t> free_slots;
    std::vector<int64_t> ready(static_cast<size_t>(n_chunks), -1);  // chunk -> its slot when done
    int64_t next_chunk = 0, next_flush = 0;
    std::mutex mtx;
    std::condition_variable slot_freed;

#pragma omp parallel num_threads(n_threads)
    {
        for (;;) {
            int64_t s = -1, c = -1;
            Slot* sl = nullptr;
            {
                std::unique_lock<std::mutex> lock(mtx);
                // a slot first, then a chunk: the oldest unflushed chunk always has its slot, so
                // the flushes progress and a wait for a free slot ends
                while (free_slots.empty() && static_cast<int64_t>(slots.size()) >= max_slots &&
                       next_chunk < n_chunks)
                    slot_freed.wait(lock);
                if (next_chunk >= n_chunks) break;
                c = next_chunk++;
                if (!free_slots.empty()) {
                    s = free_slots.back();
                    free_slots.pop_back();
                    sl = slots[s].get();
                } else {
                    slots.push_back(nullptr);  // reserved; allocated outside the lock
                    s = static_cast<int64_t>(slots.size()) - 1;
                }
            }
            std::unique_ptr<Slot> fresh;
            if (sl == nullptr) {
                fresh = std::make_unique<Slot>(make_slot());
                sl = fresh.get();
            }
            compute(*sl, c);
            std::unique_lock<std::mutex> lock(mtx);
            if (fresh) slots[s] = std::move(fresh);
            ready[c] = s;
            bool freed = false;
            while (next_flush < n_chunks && ready[next_flush] >= 0) {
                const int64_t fs = ready[next_flush];
                flush(*slots[fs], next_flush);
                free_slots.push_back(fs);
                ++next_flush;
                freed = true;
            }
            if (freed) slot_freed.notify_all();
        }
    }
}

}  // namespace irsl
