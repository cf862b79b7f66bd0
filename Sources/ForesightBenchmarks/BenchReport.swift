import Foundation
import Histogram

/// Collects benchmark figures, prints them as they come and writes them all to a JSON file.
///
/// Each area of Foresight contributes one `Benchmark` (see `main.swift`); a benchmark records
/// named figures with a unit. Timings live here, never in pass/fail tests.
final class BenchReport {
    /// One measured figure.
    struct Figure: Codable {
        var group: String
        var name: String
        var value: Double
        var unit: String
    }

    private(set) var figures: [Figure] = []
    private var group = ""

    /// Starts a named group of figures (printed as a heading).
    func begin(_ group: String) {
        self.group = group
        print("\n== \(group)")
    }

    /// Records one figure and prints it.
    func record(_ name: String, _ value: Double, _ unit: String) {
        figures.append(Figure(group: group, name: name, value: value, unit: unit))
        let shown = abs(value) >= 100 ? String(format: "%.1f", value) : String(format: "%.4g", value)
        print("  \(name.padding(toLength: 48, withPad: " ", startingAt: 0)) \(shown) \(unit)")
    }

    /// Records p50/p99/max of a latency histogram in microseconds (values recorded in nanoseconds).
    func recordLatency(_ name: String, _ histogram: Histogram<UInt64>) {
        record("\(name) p50", Double(histogram.valueAtPercentile(50)) / 1_000, "us")
        record("\(name) p99", Double(histogram.valueAtPercentile(99)) / 1_000, "us")
        record("\(name) max", Double(histogram.max) / 1_000, "us")
    }

    /// Writes every figure as JSON.
    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(figures)
        try data.write(to: URL(fileURLWithPath: path))
        print("\nwrote \(figures.count) figures to \(path)")
    }
}

/// Times `body` `iterations` times (after `warmup` untimed runs) into a nanosecond histogram.
func measure(iterations: Int, warmup: Int = 3, _ body: () throws -> Void) rethrows -> Histogram<UInt64> {
    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    for _ in 0..<warmup { try body() }
    for _ in 0..<iterations {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        histogram.record(DispatchTime.now().uptimeNanoseconds - start)
    }
    return histogram
}

/// A small deterministic generator for benchmark inputs (xorshift64).
struct BenchRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
}

/// CPU seconds used by the whole process so far (all threads).
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
