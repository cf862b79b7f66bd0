/// Everything that can go wrong while writing, reading or recovering an MCAP bag.
///
/// Each case says what is wrong and, through `description`, what to do about it.
public enum BagError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened, created, read or written (`errno` text included).
    case io(path: String, operation: String, reason: String)
    /// The file does not start (or end) with the MCAP magic bytes.
    case badMagic(path: String, atEnd: Bool)
    /// A record or field ends past the end of the data that holds it.
    case truncated(what: String, offset: UInt64)
    /// A length field is larger than the data that holds it or than a configured limit.
    case absurdLength(what: String, length: UInt64, limit: UInt64, offset: UInt64)
    /// A CRC32 stored in the file does not match the bytes it covers.
    case crcMismatch(what: String, expected: UInt32, actual: UInt32, offset: UInt64)
    /// A chunk uses a compression this build does not know.
    case unsupportedCompression(String)
    /// Compressing or decompressing a chunk failed.
    case compression(algorithm: String, reason: String)
    /// A record is structurally invalid (bad opcode, zero schema ID, unknown channel, …).
    case malformed(what: String, offset: UInt64)
    /// The caller used the API wrongly (e.g. wrote to a finished writer, unknown channel ID).
    case usage(String)
    /// The file has no footer and no summary: it was cut off; `bag recover` can rebuild it.
    case notFinished(path: String)

    /// A message that says what is wrong and what to do.
    public var description: String {
        switch self {
        case let .io(path, operation, reason):
            return "cannot \(operation) \(path): \(reason); check the path, permissions and free disk space"
        case let .badMagic(path, atEnd):
            return atEnd
                ? "\(path) does not end with the MCAP magic: the file was cut off; rebuild it with `foresight bag recover`"
                : "\(path) is not an MCAP file (bad magic at offset 0); pass an .mcap file written by Foresight or an MCAP tool"
        case let .truncated(what, offset):
            return "\(what) at byte \(offset) is cut off; the file is truncated or corrupt — try `foresight bag recover`"
        case let .absurdLength(what, length, limit, offset):
            return "\(what) at byte \(offset) claims \(length) bytes (limit \(limit)); the file is corrupt or the limit is too small"
        case let .crcMismatch(what, expected, actual, offset):
            return "CRC32 mismatch in \(what) at byte \(offset) (stored \(hex(expected)), computed \(hex(actual))); the data is corrupt"
        case let .unsupportedCompression(name):
            return "unsupported chunk compression \"\(name)\"; Foresight reads zstd, lz4 and uncompressed chunks"
        case let .compression(algorithm, reason):
            return "\(algorithm) failed: \(reason); the chunk is corrupt"
        case let .malformed(what, offset):
            return "malformed MCAP: \(what) at byte \(offset)"
        case let .usage(text):
            return text
        case let .notFinished(path):
            return "\(path) has no summary or footer (recording was interrupted); rebuild it with `foresight bag recover \(path) -o FIXED.mcap`"
        }
    }
}

private func hex(_ value: UInt32) -> String {
    "0x" + String(value, radix: 16, uppercase: false)
}
