/// A NumPy `.npy` array: dtype, shape and the element bytes in C (row-major) order.
///
/// The parser is strict: the magic, a version 1.0/2.0/3.0 header of at most 64 KiB holding a
/// Python dict literal with exactly the keys `descr`, `fortran_order` and `shape`, a known
/// little-endian (or byte-order-free) dtype, dimensions whose product (overflow-checked, bounded by
/// `maxElements`) times the item size equals the bytes that follow — nothing more, nothing less.
/// Fortran-ordered arrays are reordered to C order.
public struct NPYArray: Sendable, Equatable {
    /// The dtype string as written, e.g. `<c8`.
    public var descr: String
    /// Bytes per element.
    public var itemSize: Int
    /// Dimensions.
    public var shape: [Int]
    /// The elements in C order, little-endian.
    public var data: [UInt8]

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Item sizes of the dtypes we read (little-endian `<` or byte-order-free `|`).
    static let itemSizes: [String: Int] = [
        "<c8": 8, "<c16": 16, "<f4": 4, "<f8": 8, "<f2": 2, "<i2": 2, "<i4": 4, "<i8": 8,
        "<u2": 2, "<u4": 4, "<u8": 8, "|u1": 1, "|i1": 1, "|b1": 1,
    ]

    /// The largest header accepted.
    public static let maxHeaderBytes = 65_536

    /// Parses the bytes of a `.npy` file; `path` only names the file in errors.
    public static func parse(_ bytes: [UInt8], path: String, maxElements: Int = 1 << 26) throws(InteropError) -> NPYArray {
        let result: Result<NPYHeader, InteropError> = bytes.withUnsafeBufferPointer { buffer in
            do throws(InteropError) { return .success(try header(buffer, path: path, maxElements: maxElements)) } catch { return .failure(error) }
        }
        let h = try result.get()
        var data = Array(bytes[h.dataStart...])
        if h.fortranOrder && h.shape.count > 1 && !data.isEmpty {
            data = reorderFortranToC(data, shape: h.shape, itemSize: h.itemSize)
        }
        return NPYArray(descr: h.descr, itemSize: h.itemSize, shape: h.shape, data: data)
    }

    /// Validates a whole `.npy` file in `bytes` (header and data size) without copying its data:
    /// the elements are `bytes[dataStart...]`, in Fortran order if `fortranOrder`.
    static func header(_ bytes: UnsafeBufferPointer<UInt8>, path: String, maxElements: Int = 1 << 26) throws(InteropError) -> NPYHeader {
        func fail(_ reason: String) -> InteropError { .npy(path: path, reason: reason) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard bytes.count >= 10, bytes.starts(with: magic) else {
            if bytes.count >= 6, bytes[0] == 0x4D, bytes[1] == 0x41, bytes[2] == 0x54, bytes[3] == 0x4C {  // "MATL"
                throw .unsupported(path: path, reason: "this is a MATLAB file, not .npy")
            }
            throw fail("missing the \\x93NUMPY magic")
        }
        let major = bytes[6], minor = bytes[7]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("cut off inside the header length") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("format version \(major).\(minor) is not 1.0, 2.0 or 3.0")
        }
        guard minor == 0 else { throw fail("format version \(major).\(minor) is not 1.0, 2.0 or 3.0") }
        guard headerLength <= maxHeaderBytes else { throw fail("header of \(headerLength) bytes (at most \(maxHeaderBytes))") }
        guard bytes.count >= headerStart + headerLength else { throw fail("cut off inside the header") }
        let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
        guard headerBytes.last == 0x0A else { throw fail("the header does not end with a newline") }
        guard let header = String(validating: headerBytes, as: UTF8.self) else { throw fail("the header is not UTF-8 text") }
        var parser = HeaderDict(text: header, path: path)
        var dict = try parser.parse()

        guard let descr = dict.removeValue(forKey: "descr") else { throw fail("the header has no 'descr'") }
        guard let fortran = dict.removeValue(forKey: "fortran_order") else { throw fail("the header has no 'fortran_order'") }
        guard let shapeValue = dict.removeValue(forKey: "shape") else { throw fail("the header has no 'shape'") }
        guard dict.isEmpty else { throw fail("unexpected header keys \(dict.keys.sorted())") }
        guard case .string(let dtype) = descr else { throw fail("'descr' must be a dtype string (structured dtypes are not supported)") }
        guard case .bool(let fortranOrder) = fortran else { throw fail("'fortran_order' must be True or False") }
        guard case .tuple(let shape) = shapeValue else { throw fail("'shape' must be a tuple of integers") }
        guard let itemSize = itemSizes[dtype] else {
            if dtype.hasPrefix(">") { throw fail("dtype \(dtype) is big-endian; save it little-endian (array.astype('<' + dtype[1:]))") }
            throw fail("dtype \(dtype) is not supported")
        }
        var elements = 1
        for d in shape {
            guard d >= 0 else { throw fail("negative dimension in shape \(shape)") }
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maxElements else { throw fail("shape \(shape) has more than \(maxElements) elements") }
            elements = p
        }
        let dataStart = headerStart + headerLength
        let expected = elements * itemSize
        guard bytes.count - dataStart == expected else {
            throw fail("shape \(shape) of \(dtype) needs \(expected) data bytes, the file has \(bytes.count - dataStart)")
        }
        return NPYHeader(descr: dtype, itemSize: itemSize, shape: shape, fortranOrder: fortranOrder, dataStart: dataStart)
    }

    /// Reorders column-major element bytes into row-major order.
    static func reorderFortranToC(_ data: [UInt8], shape: [Int], itemSize: Int) -> [UInt8] {
        let n = shape.count
        var fStrides = [Int](repeating: 1, count: n)  // element strides in the Fortran layout
        for i in 1..<n { fStrides[i] = fStrides[i - 1] * shape[i - 1] }
        var out = [UInt8](repeating: 0, count: data.count)
        var index = [Int](repeating: 0, count: n)
        let total = shape.reduce(1, *)
        data.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                for c in 0..<total {  // c walks the C order; index is its multi-index
                    var f = 0
                    for k in 0..<n { f += index[k] * fStrides[k] }
                    (d + c * itemSize).copyMemory(from: s + f * itemSize, byteCount: itemSize)
                    var k = n - 1
                    while k >= 0 {
                        index[k] += 1
                        if index[k] < shape[k] { break }
                        index[k] = 0
                        k -= 1
                    }
                }
            }
        }
        return out
    }
}

/// A validated `.npy` header: dtype, shape, order and where the elements start.
struct NPYHeader: Sendable, Equatable {
    var descr: String
    var itemSize: Int
    var shape: [Int]
    var fortranOrder: Bool
    var dataStart: Int
}

/// The Python dict literal of a `.npy` header: string keys; values are strings, booleans or
/// tuples of integers.
struct HeaderDict {
    enum Value: Equatable { case string(String), bool(Bool), tuple([Int]) }

    let text: [UInt8]
    let path: String
    var i = 0

    init(text: String, path: String) {
        self.text = Array(text.utf8)
        self.path = path
    }

    private func fail(_ reason: String) -> InteropError { .npy(path: path, reason: "header: \(reason)") }

    private mutating func skipSpace() { while i < text.count, text[i] == 0x20 || text[i] == 0x0A || text[i] == 0x09 { i += 1 } }

    private mutating func expect(_ c: UInt8) throws(InteropError) {
        skipSpace()
        guard i < text.count, text[i] == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))' at offset \(i)") }
        i += 1
    }

    private mutating func string() throws(InteropError) -> String {
        skipSpace()
        guard i < text.count, text[i] == 0x27 || text[i] == 0x22 else { throw fail("expected a quoted string at offset \(i)") }
        let quote = text[i]
        i += 1
        let start = i
        while i < text.count, text[i] != quote {
            guard text[i] != 0x5C else { throw fail("escapes in strings are not supported") }
            i += 1
        }
        guard i < text.count else { throw fail("unterminated string") }
        let s = String(decoding: text[start..<i], as: UTF8.self)
        i += 1
        return s
    }

    private mutating func integer() throws(InteropError) -> Int {
        skipSpace()
        let start = i
        var value = 0
        while i < text.count, text[i] >= 0x30, text[i] <= 0x39 {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(text[i] - 0x30))
            guard !o1, !o2 else { throw fail("dimension too large") }
            value = a
            i += 1
        }
        guard i > start else { throw fail("expected a non-negative integer at offset \(start)") }
        if i < text.count, text[i] == 0x4C { i += 1 }  // Python 2 long suffix
        return value
    }

    private mutating func value() throws(InteropError) -> Value {
        skipSpace()
        guard i < text.count else { throw fail("cut off") }
        switch text[i] {
        case 0x27, 0x22: return .string(try string())
        case 0x28:  // (
            i += 1
            var dims: [Int] = []
            skipSpace()
            if i < text.count, text[i] == 0x29 { i += 1; return .tuple(dims) }
            while true {
                dims.append(try integer())
                guard dims.count <= 32 else { throw fail("more than 32 dimensions") }
                skipSpace()
                guard i < text.count else { throw fail("unterminated shape tuple") }
                if text[i] == 0x2C {
                    i += 1
                    skipSpace()
                    if i < text.count, text[i] == 0x29 { i += 1; return .tuple(dims) }
                } else if text[i] == 0x29 {
                    i += 1
                    return .tuple(dims)
                } else {
                    throw fail("unexpected character in the shape tuple at offset \(i)")
                }
            }
        default:
            if text[i...].starts(with: Array("True".utf8)) { i += 4; return .bool(true) }
            if text[i...].starts(with: Array("False".utf8)) { i += 5; return .bool(false) }
            throw fail("unexpected value at offset \(i)")
        }
    }

    mutating func parse() throws(InteropError) -> [String: Value] {
        try expect(0x7B)
        var result: [String: Value] = [:]
        while true {
            skipSpace()
            guard i < text.count else { throw fail("unterminated dict") }
            if text[i] == 0x7D { i += 1; break }
            let key = try string()
            try expect(0x3A)
            let v = try value()
            guard result[key] == nil else { throw fail("key '\(key)' appears twice") }
            result[key] = v
            skipSpace()
            guard i < text.count else { throw fail("unterminated dict") }
            if text[i] == 0x2C { i += 1; continue }
            if text[i] == 0x7D { i += 1; break }
            throw fail("expected ',' or '}' at offset \(i)")
        }
        skipSpace()
        guard i == text.count else { throw fail("text after the dict") }
        return result
    }
}
