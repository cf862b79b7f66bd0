import Foundation

/// A typed tensor for a safetensors file: dtype, shape and little-endian bytes.
public struct TypedTensor: Sendable {
    /// Element types `foresight dataset` writes (safetensors dtype names).
    public enum DType: String, Sendable {
        /// IEEE half precision.
        case f16 = "F16"
        /// IEEE single precision.
        case f32 = "F32"
        /// 64-bit signed integer.
        case i64 = "I64"
        /// 32-bit signed integer.
        case i32 = "I32"
        /// Unsigned byte.
        case u8 = "U8"

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .f16: return 2
            case .f32, .i32: return 4
            case .i64: return 8
            case .u8: return 1
            }
        }
    }

    /// Element type.
    public var dtype: DType
    /// Shape (row-major).
    public var shape: [Int]
    /// Little-endian element bytes, `shape.product × dtype.size` of them.
    public var bytes: [UInt8]

    /// Creates a tensor; the byte count must match the shape.
    public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
        precondition(shape.reduce(1, *) * dtype.size == bytes.count, "tensor bytes do not match its shape")
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Little-endian bytes of any fixed-width values (the host is little-endian on every supported platform).
    static func bytes<T: BitwiseCopyable>(of values: [T]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }
    }
}

/// Writes `.safetensors` files: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets}}` (+ `__metadata__`) padded with spaces to 8 bytes, then
/// the data. Tensors are laid out largest element first, so every tensor starts aligned to its
/// element size.
public enum SafeTensorsFile {
    /// Writes `tensors` to `url` (overwriting it).
    public static func write(_ tensors: [String: TypedTensor], metadata: [String: String] = [:], to url: URL) throws {
        let names = tensors.keys.sorted { a, b in
            let sa = tensors[a]?.dtype.size ?? 0, sb = tensors[b]?.dtype.size ?? 0
            return sa != sb ? sa > sb : a < b
        }
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\(json($0.key)):\(json($0.value))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for name in names {
            guard let t = tensors[name] else { continue }
            entries.append("\(json(name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],"
                + "\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var length = UInt64(header.count).littleEndian
        try handle.write(contentsOf: withUnsafeBytes(of: &length) { Data($0) })
        try handle.write(contentsOf: Data(header))
        for name in names {
            guard let t = tensors[name] else { continue }
            try handle.write(contentsOf: Data(t.bytes))
        }
    }

    private static func json(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
