#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads decimal numbers from a NUL-terminated byte buffer (ASCII `.ply` rows, power and GPS
/// text files) without allocating per number.
///
/// Short numbers (≤ 15 significant digits, small exponent) are converted exactly with one
/// multiplication or division by an exact power of ten (Clinger's fast path, correctly rounded);
/// anything else goes to `strtod`, which rounds correctly too. `nan`, `inf` are accepted in
/// either case (as `strtod` spells them).
struct NumberScanner {
    private let base: UnsafePointer<UInt8>
    private let count: Int
    /// Current position (index into the buffer).
    var position: Int

    private static let powers: [Double] = (0...22).map { p in
        var v = 1.0
        for _ in 0..<p { v *= 10 }
        return v
    }

    /// Scans `buffer`, whose last byte must be 0 (see `FileBytes.read(_:limit:terminator:)`).
    init(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int = 0) {
        precondition(buffer.count >= 1 && buffer[buffer.count - 1] == 0, "NumberScanner needs a NUL-terminated buffer")
        base = buffer.baseAddress!  // count ≥ 1, so non-nil
        count = buffer.count - 1
        position = start
    }

    /// True at the end of the data.
    var atEnd: Bool { position >= count }

    /// Skips spaces, tabs, carriage returns and (with `newlines`) line feeds; commas and
    /// brackets count as separators too when `separators` is set.
    @inline(__always)
    mutating func skipBlanks(newlines: Bool, separators: Bool = false) {
        while position < count {
            let c = base[position]
            if c == 0x20 || c == 0x09 || c == 0x0d || (newlines && c == 0x0a)
                || (separators && (c == 0x2c || c == 0x5b || c == 0x5d || c == 0x3b)) {
                position += 1
            } else {
                return
            }
        }
    }

    /// The byte at the current position (0 at the end).
    var current: UInt8 { position < count ? base[position] : 0 }

    /// Skips to just past the next line feed (or to the end).
    mutating func skipLine() {
        while position < count, base[position] != 0x0a { position += 1 }
        if position < count { position += 1 }
    }

    /// Parses one number at the current position, or returns nil (position unchanged) when
    /// there is none.
    @inline(__always)
    mutating func number() -> Double? {
        var p = position
        var negative = false
        if p < count, base[p] == 0x2d || base[p] == 0x2b { negative = base[p] == 0x2d; p += 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        var sawDigit = false
        while p < count, base[p] &- 0x30 < 10 {
            sawDigit = true
            if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(base[p] &- 0x30); if mantissa != 0 { digits += 1 } } else { exponent += 1 }
            p += 1
        }
        if p < count, base[p] == 0x2e {
            p += 1
            while p < count, base[p] &- 0x30 < 10 {
                sawDigit = true
                if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(base[p] &- 0x30); exponent -= 1; if mantissa != 0 { digits += 1 } }
                p += 1
            }
        }
        var slow = !sawDigit || digits > 15
        if !slow, p < count, base[p] | 0x20 == 0x65 {  // e / E
            var q = p + 1
            var expNegative = false
            if q < count, base[q] == 0x2d || base[q] == 0x2b { expNegative = base[q] == 0x2d; q += 1 }
            var e = 0
            var expDigits = 0
            while q < count, base[q] &- 0x30 < 10 {
                if e < 10_000 { e = e * 10 + Int(base[q] &- 0x30) }
                expDigits += 1
                q += 1
            }
            if expDigits == 0 { slow = true } else {
                exponent += expNegative ? -e : e
                p = q
            }
        }
        if !slow, let next = p < count ? base[p] : nil, Self.isNumberByte(next) { slow = true }  // e.g. "1.5x", "0x1p3"
        if !slow, exponent >= -22, exponent <= 22 {
            var value = Double(mantissa)  // exact: ≤ 15 digits < 2^53
            if exponent < 0 { value /= Self.powers[-exponent] } else if exponent > 0 { value *= Self.powers[exponent] }
            position = p
            return negative ? -value : value
        }
        // Slow path: strtod on the buffer itself (NUL-terminated, so it stops in bounds).
        var end: UnsafeMutablePointer<CChar>? = nil
        let start = UnsafeRawPointer(base + position).assumingMemoryBound(to: CChar.self)
        let value = strtod(start, &end)
        guard let end else { return nil }
        let consumed = UnsafeRawPointer(end) - UnsafeRawPointer(start)
        guard consumed > 0, position + consumed <= count else { return nil }
        position += consumed
        return value
    }

    @inline(__always)
    private static func isNumberByte(_ c: UInt8) -> Bool {
        (c &- 0x30 < 10) || c == 0x2e || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7a)
    }
}

/// Parses every number of a small text file (whitespace, comma, semicolon or bracket separated).
enum NumberList {
    /// The numbers in `bytes` (which must end with a 0 byte), or a description of the first problem.
    static func parse(_ bytes: [UInt8], maxCount: Int) -> Result<[Double], NumberListError> {
        bytes.withUnsafeBufferPointer { buffer in
            var scanner = NumberScanner(buffer)
            var values: [Double] = []
            while true {
                scanner.skipBlanks(newlines: true, separators: true)
                if scanner.atEnd { break }
                guard let v = scanner.number() else {
                    return .failure(NumberListError(text: "unexpected text at byte \(scanner.position) (expected a number)"))
                }
                values.append(v)
                if values.count > maxCount { return .failure(NumberListError(text: "more than \(maxCount) numbers")) }
            }
            return .success(values)
        }
    }
}

/// Why a number list did not parse.
struct NumberListError: Error, CustomStringConvertible {
    var text: String
    var description: String { text }
}
