import Foundation

/// Reads a CSV file row by row with a fixed read buffer (memory does not grow with the file).
/// Fields may be quoted with `"` (a doubled `""` inside is one quote); a quoted field may not
/// span lines. The first row is the header.
final class CSVRowReader {
    let path: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    private var eof = false
    /// 1-based line number of the last row returned (the header is line 1).
    private(set) var line = 0
    /// Longest accepted line.
    static let maxLineBytes = 1 << 20

    init(path: String) throws(InteropError) {
        self.path = path
        guard FileBytes.exists(path) else { throw .missingFile(path: path) }
        do {
            handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
    }

    deinit { try? handle.close() }

    /// The next row's fields, or nil at the end of the file. Blank lines are skipped.
    func next() throws(InteropError) -> [String]? {
        while true {
            guard let raw = try nextLine() else { return nil }
            line += 1
            var text = raw
            if line == 1, text.hasPrefix("\u{FEFF}") { text.removeFirst() }  // byte-order mark
            if text.hasSuffix("\r") { text.removeLast() }
            if text.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            return try split(text)
        }
    }

    private func nextLine() throws(InteropError) -> String? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let text = String(decoding: buffer[start..<newline], as: UTF8.self)
                start = newline + 1
                return text
            }
            if eof {
                guard start < buffer.count else { return nil }
                let text = String(decoding: buffer[start...], as: UTF8.self)
                start = buffer.count
                return text
            }
            guard buffer.count - start <= Self.maxLineBytes else {
                throw .csv(path: path, reason: "line \(line + 1) is longer than \(Self.maxLineBytes) bytes")
            }
            buffer.removeFirst(start)
            start = 0
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 16) ?? Data()
            } catch {
                throw .unreadable(path: path, reason: "\(error)")
            }
            if chunk.isEmpty { eof = true } else { buffer.append(contentsOf: chunk) }
        }
    }

    private func split(_ text: String) throws(InteropError) -> [String] {
        var fields: [String] = []
        var field = ""
        var quoted = false
        var iterator = text.makeIterator()
        var wasQuote = false
        while let c = iterator.next() {
            if quoted {
                if c == "\"" {
                    quoted = false
                    wasQuote = true
                } else {
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"":
                if wasQuote { field.append("\"") }  // "" inside a quoted field
                quoted = true
            case ",":
                fields.append(field)
                field = ""
            default:
                field.append(c)
            }
            wasQuote = false
        }
        guard !quoted else { throw .csv(path: path, reason: "line \(line): unterminated quoted field") }
        fields.append(field)
        return fields
    }
}

/// DeepSense `time_stamp` values and calendar dates.
public enum DeepSenseTime {
    /// Nanoseconds since midnight from a DeepSense time of day such as `['10-12-35.178930']`
    /// (hours-minutes-seconds.fraction; brackets, quotes and spaces around it are ignored; `:`
    /// separators are accepted too), or nil if it is not one.
    public static func timeOfDay(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: CharacterSet(charactersIn: "[]'\" \t"))
        let parts = trimmed.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "-" || $0 == ":" })
        guard parts.count == 3, let h = Int64(parts[0]), let m = Int64(parts[1]), (0..<24).contains(h), (0..<60).contains(m) else { return nil }
        let secondParts = parts[2].split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(secondParts.count), secondParts[0].count <= 2, let s = Int64(secondParts[0]), (0..<61).contains(s) else { return nil }
        var nanos: Int64 = 0
        if secondParts.count == 2 {
            let fraction = secondParts[1]
            guard (1...9).contains(fraction.count), fraction.allSatisfy({ $0.isASCII && $0.isNumber }), let f = Int64(fraction) else { return nil }
            var scale: Int64 = 1
            for _ in 0..<(9 - fraction.count) { scale *= 10 }
            nanos = f * scale
        }
        guard h >= 0, m >= 0, s >= 0 else { return nil }
        return ((h * 60 + m) * 60 + s) * 1_000_000_000 + nanos
    }

    /// Days since 1970-01-01 of a `YYYY-MM-DD` date, or nil if it is not a valid date.
    public static func days(_ text: String) -> Int64? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]),
              (1...12).contains(m), d >= 1 else { return nil }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let lengths: [Int64] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard d <= lengths[Int(m - 1)] else { return nil }
        // Howard Hinnant's days_from_civil.
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
