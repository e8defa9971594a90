import CBLAS
import Foundation
import Synchronization

/// The threads that run clipcv's own parallel kernels (bf16 row blocks, attention heads, elementwise kernels, the
/// parts of skinny LoRA products): in every region, part 0 runs on the caller and part i on helper thread i, each
/// parked on a condition variable in between.
///
/// Dispatch's `concurrentPerform`, used before, decides by itself how many threads join; next to OpenBLAS's
/// threads, which spin after every product, it often ran both parts on the caller: bf16 products then ran at half
/// speed (210 instead of 410 GFLOP/s) in about one product of three. A team member always takes its part.
public final class WorkerTeam: @unchecked Sendable {
    /// The process's team (threads are started on first use, one per part beyond the first).
    public static let shared = WorkerTeam()

    private var mutex = pthread_mutex_t()
    private var workPosted = pthread_cond_t(), workFinished = pthread_cond_t()
    // Guarded by `mutex`.
    private var generation = 0
    private var job: ((Int) -> Void)?
    private var parts = 0
    private var unfinished = 0
    private var helpers = 0
    /// CPU for helper i (index i − 1), when the team is bound; helpers started later bind themselves.
    private var helperCPUs: [Int32] = []
    /// Set while a region runs: a nested or concurrent region runs inline on its caller instead of waiting.
    private let busy = Atomic<Bool>(false)

    private init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&workPosted, nil)
        pthread_cond_init(&workFinished, nil)
    }

    /// Runs `body(part)` for every part in `0..<parts`, part 0 on the calling thread, and returns when all are done.
    public func run(parts: Int, _ body: (Int) -> Void) {
        guard parts > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for part in 0..<parts { body(part) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { escapable in
            pthread_mutex_lock(&mutex)
            while helpers < parts - 1 { startHelper(index: helpers + 1) }
            job = escapable
            self.parts = parts
            unfinished = parts - 1
            generation += 1
            pthread_cond_broadcast(&workPosted)
            pthread_mutex_unlock(&mutex)

            escapable(0)

            pthread_mutex_lock(&mutex)
            while unfinished > 0 { pthread_cond_wait(&workFinished, &mutex) }
            job = nil
            pthread_mutex_unlock(&mutex)
        }
    }

    /// Called with `mutex` held.
    private func startHelper(index: Int) {
        helpers += 1
        let thread = Thread { [unowned self] in self.helperLoop(index: index) }
        thread.name = "clipcv-worker-\(index)"
        thread.start()
    }

    /// Binds helper i to `cpus[i − 1]` (those running now at their next region, later ones when they start).
    func bindHelpers(to cpus: [Int32]) {
        pthread_mutex_lock(&mutex)
        helperCPUs = cpus
        pthread_mutex_unlock(&mutex)
    }

    private func helperLoop(index: Int) {
        pthread_mutex_lock(&mutex)
        var boundCPU: Int32? = nil
        var seen = generation - 1  // the region that started this helper is already posted
        while true {
            while generation == seen { pthread_cond_wait(&workPosted, &mutex) }
            seen = generation
            let wanted = index - 1 < helperCPUs.count ? helperCPUs[index - 1] : nil
            if let wanted, wanted != boundCPU, clipcv_bind_current_thread(wanted) == 0 { boundCPU = wanted }
            guard index < parts, let job else { continue }
            pthread_mutex_unlock(&mutex)
            job(index)
            pthread_mutex_lock(&mutex)
            unfinished -= 1
            if unfinished == 0 { pthread_cond_signal(&workFinished) }
        }
    }
}

extension WorkerTeam {
    /// Elementwise kernels split their work when each thread gets at least this many floats; below it, waking a
    /// helper (tens of microseconds) costs more than it saves.
    public static let elementGrain = 1 << 15

    /// `body(range)` over `0..<count` cut into contiguous ranges, one per thread (at most `BLASThreads.count`, none
    /// shorter than `grain`), with every cut at a multiple of `alignment` — the SIMD lane count, so each element
    /// takes the same vector or scalar path whatever the split and results do not depend on the thread count.
    public func split(_ count: Int, grain: Int, alignment: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = (count + alignment - 1) / alignment
        let parts = Swift.max(1, Swift.min(BLASThreads.count, count / Swift.max(grain, 1), chunks))
        run(parts: parts) { part in
            body(Swift.min(count, chunks * part / parts * alignment)..<Swift.min(count, chunks * (part + 1) / parts * alignment))
        }
    }

    /// `body(rows)` over `0..<rows` rows of `width` floats each, cut like `split` with the element grain in floats
    /// (each row is computed the same whichever thread takes it).
    public func splitRows(_ rows: Int, width: Int, _ body: (Range<Int>) -> Void) {
        split(rows, grain: Swift.max(1, WorkerTeam.elementGrain / Swift.max(width, 1)), body)
    }
}
