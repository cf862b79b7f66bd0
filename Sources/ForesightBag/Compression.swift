import CLZ4
import CZstd

/// Chunk compression of a bag.
public enum BagCompression: String, Sendable, CaseIterable {
    /// Uncompressed chunks (MCAP compression field `""`).
    case none
    /// Zstandard frames (MCAP `zstd`).
    case zstd
    /// LZ4 frames (MCAP `lz4`).
    case lz4

    /// The value of the MCAP `compression` field.
    public var mcapName: String { self == .none ? "" : rawValue }

    /// The compression for an MCAP `compression` field value, or nil if unknown.
    public init?(mcapName: String) {
        switch mcapName {
        case "": self = .none
        case "zstd": self = .zstd
        case "lz4": self = .lz4
        default: return nil
        }
    }
}

/// Compresses chunk records; owns a reusable zstd context and output buffer (one thread at a time).
final class ChunkCompressor {
    let compression: BagCompression
    let level: Int32
    private var zstdContext: OpaquePointer?
    /// Scratch output, grown as needed and reused.
    private(set) var output: [UInt8] = []

    init(_ compression: BagCompression, level: Int32) {
        self.compression = compression
        self.level = level
        if compression == .zstd { zstdContext = ZSTD_createCCtx() }
    }

    deinit {
        if let zstdContext { ZSTD_freeCCtx(zstdContext) }
    }

    /// Compresses `input`; calls `body` with the compressed bytes (valid only during the call).
    func compress<R>(_ input: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws(BagError) -> R)
        throws(BagError) -> R {
        switch compression {
        case .none:
            return try body(input)
        case .zstd:
            guard let ctx = zstdContext else { throw .compression(algorithm: "zstd", reason: "cannot create a context (out of memory)") }
            let bound = ZSTD_compressBound(input.count)
            if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
            let level = self.level
            let written = output.withUnsafeMutableBytes { out in
                ZSTD_compressCCtx(ctx, out.baseAddress, out.count, input.baseAddress, input.count, level)
            }
            if ZSTD_isError(written) != 0 {
                throw .compression(algorithm: "zstd", reason: String(cString: ZSTD_getErrorName(written)))
            }
            return try withBytes(output, count: written, body)
        case .lz4:
            var prefs = LZ4F_preferences_t()
            prefs.frameInfo.contentSize = UInt64(input.count)
            prefs.compressionLevel = level
            let bound = LZ4F_compressFrameBound(input.count, &prefs)
            if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
            let written = output.withUnsafeMutableBytes { out in
                LZ4F_compressFrame(out.baseAddress, out.count, input.baseAddress, input.count, &prefs)
            }
            if LZ4F_isError(written) != 0 {
                throw .compression(algorithm: "lz4", reason: String(cString: LZ4F_getErrorName(written)))
            }
            return try withBytes(output, count: written, body)
        }
    }
}

/// Decompresses chunk records into exactly `uncompressedSize` bytes (already checked against limits).
func decompressChunk(_ input: UnsafeRawBufferPointer, compression name: String, uncompressedSize: Int, offset: UInt64)
    throws(BagError) -> [UInt8] {
    guard let compression = BagCompression(mcapName: name) else { throw .unsupportedCompression(name) }
    switch compression {
    case .none:
        guard input.count == uncompressedSize else {
            throw .malformed(what: "uncompressed chunk holds \(input.count) bytes but declares \(uncompressedSize)", offset: offset)
        }
        return Array(input)
    case .zstd:
        // Written straight into uninitialized storage: zeroing megabytes first only to overwrite
        // them cost a memset and its page faults per chunk. Only what zstd wrote counts as initialized.
        var got = 0
        let out = [UInt8](unsafeUninitializedCapacity: uncompressedSize) { o, initialized in
            got = ZSTD_decompress(o.baseAddress, o.count, input.baseAddress, input.count)
            initialized = ZSTD_isError(got) != 0 ? 0 : min(got, o.count)
        }
        if ZSTD_isError(got) != 0 {
            throw .compression(algorithm: "zstd", reason: "\(String(cString: ZSTD_getErrorName(got))) (chunk at byte \(offset))")
        }
        guard got == uncompressedSize else {
            throw .malformed(what: "zstd chunk decompressed to \(got) bytes but declares \(uncompressedSize)", offset: offset)
        }
        return out
    case .lz4:
        var ctx: OpaquePointer?
        let created = LZ4F_createDecompressionContext(&ctx, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(created) == 0, let dctx = ctx else {
            throw .compression(algorithm: "lz4", reason: "cannot create a decompression context")
        }
        defer { LZ4F_freeDecompressionContext(dctx) }
        var out = [UInt8](repeating: 0, count: uncompressedSize)
        var produced = 0
        var consumed = 0
        var failure: String?
        out.withUnsafeMutableBytes { o in
            while consumed < input.count {
                var dstSize = o.count - produced
                var srcSize = input.count - consumed
                let hint = LZ4F_decompress(dctx, o.baseAddress.map { $0 + produced }, &dstSize,
                                           input.baseAddress.map { $0 + consumed }, &srcSize, nil)
                if LZ4F_isError(hint) != 0 {
                    failure = String(cString: LZ4F_getErrorName(hint))
                    return
                }
                produced += dstSize
                consumed += srcSize
                if hint == 0 { break }
                if dstSize == 0 && srcSize == 0 {
                    failure = "output larger than the declared uncompressed size"
                    return
                }
            }
        }
        if let failure { throw .compression(algorithm: "lz4", reason: "\(failure) (chunk at byte \(offset))") }
        guard produced == uncompressedSize else {
            throw .malformed(what: "lz4 chunk decompressed to \(produced) bytes but declares \(uncompressedSize)", offset: offset)
        }
        return out
    }
}
