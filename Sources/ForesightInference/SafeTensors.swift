import Foundation

/// Why a safetensors file could not be read; each message names the file or tensor and what to do.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or mapped.
    case unreadable(path: String, reason: String)
    /// The file ends before the header or the data it declares.
    case truncated(path: String, needed: Int, available: Int)
    /// The declared header length is implausible.
    case headerTooLarge(path: String, length: UInt64)
    /// The header is not the expected JSON object.
    case badHeader(path: String, reason: String)
    /// A tensor uses a dtype the engine does not load.
    case unsupportedDType(tensor: String, dtype: String)
    /// A tensor's byte range is inconsistent with its shape or the file.
    case badOffsets(tensor: String, reason: String)

    /// A human-readable explanation with a remedy.
    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "cannot read safetensors file \(path): \(reason); check the path and permissions"
        case let .truncated(path, needed, available):
            return "safetensors file \(path) is truncated: needs \(needed) bytes but has \(available); re-export the model"
        case let .headerTooLarge(path, length):
            return "safetensors file \(path) declares a \(length)-byte header (limit 100 MB); the file is corrupt or not safetensors"
        case let .badHeader(path, reason):
            return "safetensors header of \(path) is invalid: \(reason); re-export with Tools/training/export.py"
        case let .unsupportedDType(tensor, dtype):
            return "tensor '\(tensor)' has dtype \(dtype) but only F32 is supported; export float32 weights"
        case let .badOffsets(tensor, reason):
            return "tensor '\(tensor)' has invalid data offsets: \(reason); re-export the model"
        }
    }
}

/// A parsed safetensors file: named float32 tensors.
///
/// Format: an 8-byte little-endian header length `N`, `N` bytes of JSON mapping each tensor name to
/// `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the data section) plus an
/// optional `"__metadata__"` string map, then the raw little-endian data. The file is memory-mapped
/// and each tensor copied once into aligned storage.
public struct SafeTensors: Sendable {
    /// Tensors by name.
    public let tensors: [String: Tensor]
    /// The optional `__metadata__` string map.
    public let metadata: [String: String]

    /// Largest accepted header (bytes).
    public static let maxHeaderBytes: UInt64 = 100 << 20

    /// Reads and validates a safetensors file.
    public init(contentsOf url: URL) throws(SafeTensorsError) {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw .unreadable(path: url.path, reason: error.localizedDescription)
        }
        try self.init(data: data, path: url.path)
    }

    /// Parses safetensors bytes; `path` only labels errors.
    public init(data: Data, path: String = "<memory>") throws(SafeTensorsError) {
        guard data.count >= 8 else { throw .truncated(path: path, needed: 8, available: data.count) }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard headerLength <= Self.maxHeaderBytes else { throw .headerTooLarge(path: path, length: headerLength) }
        let dataStart = 8 + Int(headerLength)
        guard data.count >= dataStart else { throw .truncated(path: path, needed: dataStart, available: data.count) }
        let headerBytes = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + dataStart))
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: headerBytes)
        } catch {
            throw .badHeader(path: path, reason: "not JSON (\(error.localizedDescription))")
        }
        guard let header = object as? [String: Any] else { throw .badHeader(path: path, reason: "not a JSON object") }
        let available = data.count - dataStart
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: String] else {
                    throw .badHeader(path: path, reason: "__metadata__ must map strings to strings")
                }
                metadata = map
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any], let offsetsAny = info["data_offsets"] as? [Any] else {
                throw .badHeader(path: path, reason: "entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard dtype == "F32" else { throw .unsupportedDType(tensor: name, dtype: dtype) }
            let shape = shapeAny.compactMap { ($0 as? NSNumber)?.intValue }
            let offsets = offsetsAny.compactMap { ($0 as? NSNumber)?.intValue }
            guard shape.count == shapeAny.count, shape.allSatisfy({ $0 >= 0 }) else {
                throw .badHeader(path: path, reason: "entry '\(name)' has a malformed shape")
            }
            guard offsets.count == 2, offsets[0] >= 0, offsets[1] >= offsets[0] else {
                throw .badOffsets(tensor: name, reason: "expected [begin, end] with 0 ≤ begin ≤ end")
            }
            guard offsets[1] <= available else {
                throw .truncated(path: path, needed: dataStart + offsets[1], available: data.count)
            }
            let bytes = offsets[1] - offsets[0]
            var elements = 1
            for extent in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: extent)
                guard !overflow, product <= bytes / 4 else {
                    throw .badOffsets(tensor: name, reason: "shape \(shape) needs more than the \(bytes) bytes given")
                }
                elements = product
            }
            guard bytes == elements * 4 else {
                throw .badOffsets(tensor: name, reason: "\(bytes) bytes for shape \(shape) (needs \(elements * 4))")
            }
            var values = [Float](repeating: 0, count: elements)
            values.withUnsafeMutableBytes { dst in
                data.withUnsafeBytes { src in
                    let from = UnsafeRawBufferPointer(rebasing: src[(dataStart + offsets[0])..<(dataStart + offsets[1])])
                    dst.copyMemory(from: from)
                }
            }
            #if _endian(big)
            for i in values.indices { values[i] = Float(bitPattern: UInt32(littleEndian: values[i].bitPattern)) }
            #endif
            tensors[name] = Tensor(shape: shape, values: values)
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Serialises named tensors as safetensors bytes (names sorted, F32, header padded to 8 bytes).
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) -> Data {
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            guard let t = tensors[name] else { continue }
            let bytes = t.count * 4
            entries.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = Data()
        var length = UInt64(header.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for name in names {
            guard let t = tensors[name] else { continue }
            t.storage.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        return out
    }

    private static func jsonString(_ s: String) -> String {
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
