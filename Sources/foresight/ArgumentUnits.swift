import ArgumentParser
import Foundation

/// A span of time on the command line: plain seconds (`90`, `1.5`) or with units — `h`, `m`, `s`,
/// `ms`, `us`, `ns`, combinable (`1m30s`, `2h`, `500ms`, `1h2m3.5s`). A leading minus parses
/// (so `--duration -5` reaches the command's check and is rejected with the real reason).
/// Every command option that takes a duration uses this one parser.
struct DurationArgument: ExpressibleByArgument, Sendable, Equatable, CustomStringConvertible {
    /// The span in seconds (may be negative; commands check their own range).
    var seconds: Double

    /// A span of `seconds`.
    init(seconds: Double) {
        self.seconds = seconds
    }

    init?(argument: String) {
        guard let seconds = DurationArgument.parse(argument) else { return nil }
        self.seconds = seconds
    }

    /// Nanoseconds (rounded toward zero).
    var nanoseconds: Int64 { Int64(seconds * 1e9) }

    var description: String { seconds == seconds.rounded() ? "\(Int64(seconds)) s" : "\(seconds) s" }

    static var defaultCompletionKind: CompletionKind { .default }

    /// Seconds in `text`, or nil if it is not a duration.
    static func parse(_ text: String) -> Double? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var sign = 1.0
        if rest.first == "-" { sign = -1; rest = rest.dropFirst() } else if rest.first == "+" { rest = rest.dropFirst() }
        guard !rest.isEmpty else { return nil }
        if let plain = Double(rest), plain.isFinite { return sign * plain }
        let units: [(String, Double)] = [("ms", 1e-3), ("us", 1e-6), ("µs", 1e-6), ("ns", 1e-9), ("h", 3600), ("m", 60), ("s", 1)]
        var total = 0.0
        var lastScale = Double.infinity
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            // Units must come largest first, each once (`1m30s`, not `30s1m`).
            guard scale < lastScale else { return nil }
            lastScale = scale
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        return sign * total
    }
}

/// A size in bytes on the command line: plain bytes (`4000000000`) or with a unit — `k`/`K`,
/// `M`, `G`, `T` (powers of 1000, optionally followed by `B`) or `KiB`, `MiB`, `GiB`, `TiB`
/// (powers of 1024; `Ki`, `Mi`, … also accepted). Fractions are allowed (`1.5G`). A leading minus
/// parses so the command can reject it with the real reason. Every size option uses this parser.
struct ByteSizeArgument: ExpressibleByArgument, Sendable, Equatable, CustomStringConvertible {
    /// The size in bytes (may be negative; commands check their own range).
    var bytes: Int64

    /// A size of `bytes`.
    init(bytes: Int64) {
        self.bytes = bytes
    }

    init?(argument: String) {
        guard let bytes = ByteSizeArgument.parse(argument) else { return nil }
        self.bytes = bytes
    }

    var description: String { "\(bytes) B" }

    /// Bytes in `text`, or nil if it is not a size.
    static func parse(_ text: String) -> Int64? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var sign: Double = 1
        if rest.first == "-" { sign = -1; rest = rest.dropFirst() }
        let number = rest.prefix { $0.isNumber || $0 == "." }
        guard !number.isEmpty, let value = Double(number) else { return nil }
        var unit = String(rest.dropFirst(number.count)).trimmingCharacters(in: .whitespaces)
        if unit.count > 1, unit.hasSuffix("B") || unit.hasSuffix("b") { unit.removeLast() }
        let scales: [String: Double] = [
            "": 1, "B": 1, "b": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "Ki": 1024, "KI": 1024, "ki": 1024, "Mi": 1_048_576, "Gi": 1_073_741_824, "Ti": 1_099_511_627_776,
        ]
        guard let scale = scales[unit] else { return nil }
        let bytes = sign * value * scale
        guard bytes.isFinite, abs(bytes) < 9.2e18 else { return nil }
        return Int64(bytes.rounded())
    }
}

/// A random seed: any 64-bit integer; a negative one is taken as its two's-complement bit pattern
/// (so `--seed -3` is a valid, distinct seed).
struct SeedArgument: ExpressibleByArgument, Sendable, Equatable {
    /// The seed.
    var value: UInt64

    init?(argument: String) {
        if let unsigned = UInt64(argument) {
            value = unsigned
        } else if let signed = Int64(argument) {
            value = UInt64(bitPattern: signed)
        } else {
            return nil
        }
    }
}

/// `--log-level`: the swift-log levels, so a typo is rejected with the allowed list.
enum LogLevelArgument: String, ExpressibleByArgument, CaseIterable, Sendable {
    case trace, debug, info, notice, warning, error, critical
}
