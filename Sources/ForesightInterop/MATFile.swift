import CZlib

/// A numeric variable of a MAT-file converted to complex64: its name, MATLAB shape and the
/// values as interleaved little-endian float32 pairs in C (row-major) order — the layout of a
/// complex64 `.npy` of the same shape.
public struct MATComplexArray: Sendable, Equatable {
    /// The variable's name in the file.
    public var name: String
    /// The MATLAB class the values had (`double`, `single`, `int16`, …).
    public var matlabClass: String
    /// Whether the variable had an imaginary part (a real array gets imaginary parts of 0).
    public var wasComplex: Bool
    /// Dimensions in MATLAB order (the shape `scipy.io.loadmat` returns).
    public var shape: [Int]
    /// Interleaved (re, im) float32 values, little-endian, C order.
    public var data: [UInt8]

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
}

/// What a MAT-file holds at its top level: one entry per variable.
public struct MATVariableInfo: Sendable, Equatable {
    /// The variable's name.
    public var name: String
    /// The MATLAB class (`double`, `single`, `int8`…`uint64`, `char`, `cell`, `struct`, `sparse`, …).
    public var matlabClass: String
    /// Dimensions in MATLAB order.
    public var shape: [Int]
    /// Whether it has an imaginary part.
    public var isComplex: Bool
    /// A numeric (double, single, integer), non-logical, non-sparse array: a radar cube candidate.
    public var isNumeric: Bool
}

/// A strict reader of MATLAB MAT-file Level 5 (the format of MATLAB v5, v6 and v7 `save`, and of
/// `scipy.io.savemat`) for numeric arrays, written from the published format description
/// ("MAT-File Format", MathWorks).
///
/// Read: the 128-byte header (descriptive text, subsystem offset, version 0x0100, the endian
/// indicator `IM` little-endian or `MI` big-endian), then top-level data elements: `miMATRIX`
/// (array flags with class and complex/logical bits, dimensions, name, real part, optional
/// imaginary part — each sub-element in the normal or the small (≤ 4 bytes) element format,
/// padded to 8 bytes) and `miCOMPRESSED` (one zlib stream holding exactly one `miMATRIX`,
/// inflated through the system zlib with a size bound known before anything is allocated).
/// Numeric classes double, single and int8…uint64 are converted to float32 (round to nearest,
/// as NumPy's `astype(np.complex64)`); values may be stored in a smaller type than their class
/// (MATLAB does this to save space), which is read by the stored type. MATLAB's column-major
/// order is turned into C order.
///
/// Refused with named errors: MAT v7.3 files (HDF5 containers), Level 4 files, a wrong version
/// or endian indicator, unknown element types, lengths that run past their container, sizes
/// that disagree with the dimensions, compressed streams that are cut off or hold trailing
/// data. Cell arrays, structs, objects, sparse, logical and char arrays are listed but never
/// converted.
public enum MATFile {
    /// The largest number of elements a converted variable may have.
    public static let defaultMaxElements = 1 << 26

    /// The variable `scipy`/DeepSense loaders read from a DeepSense radar `.mat` (`loadmat(f)['data']`).
    public static let preferredName = "data"

    /// The complex64 cube of the variable chosen by the documented rule: the variable named
    /// `variable` if given; else a numeric variable named `data` (what DeepSense's own loader
    /// reads); else the only numeric array in the file. `path` names the file in errors.
    public static func readComplex64(_ bytes: [UInt8], path: String, variable: String? = nil,
                                     maxElements: Int = defaultMaxElements) throws(InteropError) -> MATComplexArray {
        var parser = try MATParser(bytes: bytes, path: path, maxBytes: maxElements * 16 + 4096)
        let matrices = try parser.topLevel()
        let infos = matrices.map(\.info)
        func listing() -> String {
            infos.isEmpty ? "none" : infos.map { "\($0.name) (\($0.matlabClass)\($0.isComplex ? " complex" : "") \($0.shape.map(String.init).joined(separator: "×")))" }
                .joined(separator: ", ")
        }
        let chosen: MATMatrix
        if let variable {
            guard let m = matrices.first(where: { $0.info.name == variable }) else {
                throw .mat(path: path, reason: "no variable '\(variable)' (variables: \(listing()))")
            }
            guard m.info.isNumeric else {
                throw .mat(path: path, reason: "variable '\(variable)' is a \(m.info.matlabClass) array, not a numeric one")
            }
            chosen = m
        } else if let m = matrices.first(where: { $0.info.name == preferredName && $0.info.isNumeric }) {
            chosen = m
        } else {
            let numeric = matrices.filter(\.info.isNumeric)
            guard numeric.count == 1 else {
                throw .mat(path: path, reason: numeric.isEmpty
                    ? "no numeric array (variables: \(listing()))"
                    : "several numeric arrays and none is named '\(preferredName)' (variables: \(listing())); choose one with --radar-variable")
            }
            chosen = numeric[0]
        }
        return try parser.complex64(chosen, maxElements: maxElements)
    }

    /// The variables at the top level of a MAT-file (names, classes, shapes), without converting any.
    public static func variables(_ bytes: [UInt8], path: String) throws(InteropError) -> [MATVariableInfo] {
        var parser = try MATParser(bytes: bytes, path: path, maxBytes: defaultMaxElements * 16 + 4096)
        return try parser.topLevel().map(\.info)
    }
}

/// A parsed `miMATRIX`: what it is, and where its real and imaginary parts are.
struct MATMatrix {
    var info: MATVariableInfo
    /// The buffer holding the parts (the file, or the inflated `miCOMPRESSED` element).
    var buffer: [UInt8]
    var real: MATElement?
    var imaginary: MATElement?
}

/// A data element: its type and the byte range of its data in a buffer.
struct MATElement {
    var type: UInt32
    var data: Range<Int>
    /// Where the next element starts (after the 8-byte padding).
    var next: Int
}

/// The element-level parser behind ``MATFile`` (one file, one pass).
struct MATParser {
    let bytes: [UInt8]
    let path: String
    let bigEndian: Bool
    let subsystemOffset: UInt64
    let maxBytes: Int

    // Data types (MAT-File Format, table 1-1).
    static let miINT8: UInt32 = 1, miUINT8: UInt32 = 2, miINT16: UInt32 = 3, miUINT16: UInt32 = 4, miINT32: UInt32 = 5
    static let miUINT32: UInt32 = 6, miSINGLE: UInt32 = 7, miDOUBLE: UInt32 = 9, miINT64: UInt32 = 12, miUINT64: UInt32 = 13
    static let miMATRIX: UInt32 = 14, miCOMPRESSED: UInt32 = 15, miUTF8: UInt32 = 16

    /// MATLAB array classes (table 1-3) by number.
    static let classNames: [UInt8: String] = [
        1: "cell", 2: "struct", 3: "object", 4: "char", 5: "sparse", 6: "double", 7: "single", 8: "int8", 9: "uint8",
        10: "int16", 11: "uint16", 12: "int32", 13: "uint32", 14: "int64", 15: "uint64", 16: "function", 17: "opaque",
    ]

    /// Bytes per value of the numeric storage types.
    static func valueSize(_ type: UInt32) -> Int? {
        switch type {
        case miINT8, miUINT8: return 1
        case miINT16, miUINT16: return 2
        case miINT32, miUINT32, miSINGLE: return 4
        case miDOUBLE, miINT64, miUINT64: return 8
        default: return nil
        }
    }

    func fail(_ reason: String) -> InteropError { .mat(path: path, reason: reason) }

    init(bytes: [UInt8], path: String, maxBytes: Int) throws(InteropError) {
        self.bytes = bytes
        self.path = path
        self.maxBytes = maxBytes
        let hdf5: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        let text = bytes.prefix(116)
        if text.starts(with: Array("MATLAB 7.3".utf8)) || (bytes.count >= 520 && Array(bytes[512..<520]) == hdf5) {
            throw .matHDF5(path: path)
        }
        guard bytes.count >= 128 else {
            throw .mat(path: path, reason: "\(bytes.count) bytes: shorter than the 128-byte MAT-file header")
        }
        guard text.starts(with: Array("MATLAB".utf8)) else {
            if bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) {
                throw .mat(path: path, reason: "this is a NumPy .npy file, not a MAT-file (name it .npy)")
            }
            throw .mat(path: path, reason: "the header text does not start with 'MATLAB' (not a Level 5 MAT-file; MATLAB v4 files are not read)")
        }
        switch (bytes[126], bytes[127]) {
        case (0x49, 0x4D): bigEndian = false  // "IM": written little-endian
        case (0x4D, 0x49): bigEndian = true   // "MI": written big-endian
        default: throw .mat(path: path, reason: "endian indicator \(bytes[126]), \(bytes[127]) is neither 'IM' nor 'MI'")
        }
        let version = bigEndian ? UInt16(bytes[124]) << 8 | UInt16(bytes[125]) : UInt16(bytes[125]) << 8 | UInt16(bytes[124])
        if version == 0x0200 { throw .matHDF5(path: path) }
        guard version == 0x0100 else { throw .mat(path: path, reason: "header version 0x\(String(version, radix: 16)); Level 5 files have 0x0100") }
        var offset: UInt64 = 0
        for i in 0..<8 { offset |= UInt64(bytes[116 + i]) << (bigEndian ? UInt64(56 - 8 * i) : UInt64(8 * i)) }
        // All-spaces and all-zeros both mean "no subsystem data".
        subsystemOffset = (offset == 0x2020_2020_2020_2020) ? 0 : offset
    }

    func u32(_ buffer: [UInt8], _ at: Int) -> UInt32 {
        let v = UInt32(buffer[at]) | UInt32(buffer[at + 1]) << 8 | UInt32(buffer[at + 2]) << 16 | UInt32(buffer[at + 3]) << 24
        return bigEndian ? v.byteSwapped : v
    }

    /// The data element at `at` within `..<end` of `buffer` (normal or small format).
    func element(_ buffer: [UInt8], at: Int, end: Int, what: String) throws(InteropError) -> MATElement {
        guard end - at >= 8 else { throw fail("\(what): cut off (\(end - at) bytes left for an 8-byte tag at offset \(at))") }
        let first = u32(buffer, at)
        if first >> 16 != 0 {  // small data element: 16-bit count, 16-bit type, ≤ 4 bytes of data
            let count = Int(first >> 16)
            guard count <= 4 else { throw fail("\(what): small data element of \(count) bytes (at most 4) at offset \(at)") }
            return MATElement(type: first & 0xFFFF, data: (at + 4)..<(at + 4 + count), next: at + 8)
        }
        let count = Int(u32(buffer, at + 4))
        let start = at + 8
        guard count <= end - start else { throw fail("\(what): element of \(count) bytes at offset \(at) runs past its container (\(end - start) bytes left)") }
        let padded = first == Self.miCOMPRESSED ? count : (count + 7) & ~7
        return MATElement(type: first, data: start..<(start + count), next: min(start + padded, end))
    }

    /// Every top-level variable (the subsystem data block is skipped).
    mutating func topLevel() throws(InteropError) -> [MATMatrix] {
        var result: [MATMatrix] = []
        var at = 128
        var names = Set<String>()
        while at < bytes.count {
            if bytes.count - at < 8 {
                guard bytes[at...].allSatisfy({ $0 == 0 }) else { throw fail("\(bytes.count - at) stray bytes at the end of the file") }
                break
            }
            let e = try element(bytes, at: at, end: bytes.count, what: "top-level element")
            defer { at = e.next }
            if subsystemOffset != 0 && UInt64(at) == subsystemOffset { continue }
            let matrix: MATMatrix
            switch e.type {
            case Self.miMATRIX:
                if e.data.isEmpty { continue }  // an empty array element
                matrix = try self.matrix(bytes, e.data)
            case Self.miCOMPRESSED:
                let inflated = try inflate(e.data)
                let inner = try element(inflated, at: 0, end: inflated.count, what: "compressed element")
                guard inner.type == Self.miMATRIX else { throw fail("a compressed element holds data type \(inner.type), not a matrix (14)") }
                guard inner.next == inflated.count || inner.data.upperBound == inflated.count else {
                    throw fail("a compressed element holds \(inflated.count - inner.next) bytes after its matrix")
                }
                if inner.data.isEmpty { continue }
                matrix = try self.matrix(inflated, inner.data)
            default:
                throw fail("top-level element of data type \(e.type) at offset \(at) (expected a matrix, 14, or a compressed element, 15)")
            }
            guard !matrix.info.name.isEmpty else { continue }  // anonymous (subsystem) data
            guard names.insert(matrix.info.name).inserted else { throw fail("variable '\(matrix.info.name)' appears twice") }
            result.append(matrix)
        }
        return result
    }

    /// Parses the sub-elements of an `miMATRIX` whose data is `range` of `buffer`.
    func matrix(_ buffer: [UInt8], _ range: Range<Int>) throws(InteropError) -> MATMatrix {
        let end = range.upperBound
        let flags = try element(buffer, at: range.lowerBound, end: end, what: "array flags")
        guard flags.type == Self.miUINT32, flags.data.count == 8 else {
            throw fail("array flags must be 8 bytes of uint32 (type \(flags.type), \(flags.data.count) bytes at offset \(range.lowerBound))")
        }
        let word = u32(buffer, flags.data.lowerBound)
        let classNumber = UInt8(word & 0xFF)
        let isComplex = word & 0x0800 != 0, isLogical = word & 0x0200 != 0
        let className = MATParser.classNames[classNumber] ?? "class \(classNumber)"
        guard (1...17).contains(classNumber) else { throw fail("unknown array class \(classNumber)") }
        let dimsElement = try element(buffer, at: flags.next, end: end, what: "dimensions")
        guard dimsElement.type == Self.miINT32, dimsElement.data.count % 4 == 0, dimsElement.data.count >= 4, dimsElement.data.count <= 4 * 32 else {
            throw fail("dimensions must be 1…32 int32 values (type \(dimsElement.type), \(dimsElement.data.count) bytes)")
        }
        var shape: [Int] = []
        for i in stride(from: dimsElement.data.lowerBound, to: dimsElement.data.upperBound, by: 4) {
            let d = Int32(bitPattern: u32(buffer, i))
            guard d >= 0 else { throw fail("negative dimension \(d)") }
            shape.append(Int(d))
        }
        let nameElement = try element(buffer, at: dimsElement.next, end: end, what: "array name")
        guard nameElement.type == Self.miINT8 || nameElement.type == Self.miUINT8 || nameElement.type == Self.miUTF8 else {
            throw fail("array name of data type \(nameElement.type) (expected int8 text)")
        }
        guard let name = String(validating: buffer[nameElement.data], as: UTF8.self) else { throw fail("array name is not UTF-8 text") }
        let numeric = (6...15).contains(classNumber) && !isLogical
        var info = MATVariableInfo(name: name, matlabClass: isLogical ? "logical" : className, shape: shape, isComplex: isComplex, isNumeric: numeric)
        guard numeric else { return MATMatrix(info: info, buffer: [], real: nil, imaginary: nil) }
        let real = try element(buffer, at: nameElement.next, end: end, what: "'\(name)' real part")
        var imaginary: MATElement? = nil
        if isComplex {
            imaginary = try element(buffer, at: real.next, end: end, what: "'\(name)' imaginary part")
        }
        info.shape = shape
        return MATMatrix(info: info, buffer: buffer, real: real, imaginary: imaginary)
    }

    /// Inflates an `miCOMPRESSED` element's zlib stream: first its 8-byte tag, to learn (and
    /// bound) the size, then exactly that many bytes; the stream must end there.
    func inflate(_ range: Range<Int>) throws(InteropError) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit_(&stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw fail("zlib could not start (out of memory)")
        }
        defer { inflateEnd(&stream) }
        var failure: InteropError? = nil
        var output: [UInt8] = []
        bytes.withUnsafeBufferPointer { input in
            guard let base = input.baseAddress else { return }
            stream.next_in = UnsafeMutablePointer(mutating: base + range.lowerBound)
            stream.avail_in = uInt(range.count)
            // Step 1: the inner tag.
            var tag = [UInt8](repeating: 0, count: 8)
            let status = tag.withUnsafeMutableBufferPointer { t -> Int32 in
                stream.next_out = t.baseAddress
                stream.avail_out = 8
                var s: Int32 = Z_OK
                while stream.avail_out > 0 && s == Z_OK { s = CZlib.inflate(&stream, Z_NO_FLUSH) }
                return stream.avail_out == 0 ? Z_OK : s
            }
            guard status == Z_OK else {
                failure = fail("compressed element at offset \(range.lowerBound - 8): \(zlibProblem(status, stream)) before its first 8 bytes")
                return
            }
            let first = u32(tag, 0)
            let size = first >> 16 != 0 ? 8 : 8 + Int(u32(tag, 4))
            guard size <= maxBytes else {
                failure = fail("compressed element at offset \(range.lowerBound - 8) inflates to \(size) bytes (more than \(maxBytes) accepted)")
                return
            }
            output = [UInt8](repeating: 0, count: size + 1)  // one spare byte detects trailing data
            output.replaceSubrange(0..<8, with: tag)
            let end = output.withUnsafeMutableBufferPointer { out -> Int32 in
                stream.next_out = out.baseAddress! + 8  // count ≥ 9
                stream.avail_out = uInt(size - 8 + 1)
                var s: Int32 = Z_OK
                while s == Z_OK { s = CZlib.inflate(&stream, Z_NO_FLUSH) }
                return s
            }
            let produced = Int(stream.total_out)
            if produced > size {
                failure = fail("compressed element at offset \(range.lowerBound - 8) inflates to more than the \(size) bytes its matrix tag says")
            } else if end != Z_STREAM_END {
                failure = fail("compressed element at offset \(range.lowerBound - 8): \(zlibProblem(end, stream)) after \(produced) of \(size) bytes")
            } else if produced != size {
                failure = fail("compressed element at offset \(range.lowerBound - 8) inflates to \(produced) bytes; its matrix tag says \(size)")
            } else if stream.avail_in != 0 {
                failure = fail("compressed element at offset \(range.lowerBound - 8) has \(stream.avail_in) bytes after its zlib stream")
            }
        }
        if let failure { throw failure }
        output.removeLast()
        return output
    }

    private func zlibProblem(_ status: Int32, _ stream: z_stream) -> String {
        switch status {
        case Z_BUF_ERROR, Z_OK: return "the zlib stream is cut off"
        case Z_DATA_ERROR: return "corrupt zlib data" + (stream.msg.map { " (\(String(cString: $0)))" } ?? "")
        case Z_NEED_DICT: return "the zlib stream needs a preset dictionary"
        case Z_MEM_ERROR: return "out of memory"
        case Z_STREAM_END: return "the zlib stream ends early"
        default: return "zlib error \(status)"
        }
    }

    /// Converts a numeric matrix to interleaved complex64 in C order.
    func complex64(_ m: MATMatrix, maxElements: Int) throws(InteropError) -> MATComplexArray {
        let name = m.info.name
        var count = 1
        for d in m.info.shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maxElements else { throw fail("'\(name)' has more than \(maxElements) elements (shape \(m.info.shape))") }
            count = p
        }
        guard let real = m.real else { throw fail("'\(name)' has no real part") }
        var values = [Float](repeating: 0, count: 2 * count)  // column-major, interleaved
        try convert(m.buffer, real, into: &values, offset: 0, count: count, what: "'\(name)' real part")
        if let imaginary = m.imaginary {
            try convert(m.buffer, imaginary, into: &values, offset: 1, count: count, what: "'\(name)' imaginary part")
        }
        // Column-major → row-major.
        let shape = m.info.shape
        var data = [UInt8](repeating: 0, count: 8 * count)
        if shape.count <= 1 || count == 0 {
            data.withUnsafeMutableBytes { out in values.withUnsafeBytes { out.copyMemory(from: $0) } }
        } else {
            let n = shape.count
            var fStrides = [Int](repeating: 1, count: n)
            for i in 1..<n { fStrides[i] = fStrides[i - 1] * shape[i - 1] }
            var index = [Int](repeating: 0, count: n)
            data.withUnsafeMutableBytes { raw in
                let out = raw.bindMemory(to: Float.self)
                values.withUnsafeBufferPointer { src in
                    var f = 0  // the column-major index of `index`
                    for c in 0..<count {
                        out[2 * c] = src[2 * f]
                        out[2 * c + 1] = src[2 * f + 1]
                        var k = n - 1
                        while k >= 0 {
                            index[k] += 1
                            f += fStrides[k]
                            if index[k] < shape[k] { break }
                            f -= index[k] * fStrides[k]
                            index[k] = 0
                            k -= 1
                        }
                    }
                }
            }
        }
        #if _endian(big)
        data.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt32.self)
            for i in words.indices { words[i] = words[i].littleEndian }
        }
        #endif
        return MATComplexArray(name: name, matlabClass: m.info.matlabClass, wasComplex: m.imaginary != nil, shape: shape, data: data)
    }

    /// Reads `count` values of a numeric element into every other slot of `values` from `offset`.
    private func convert(_ buffer: [UInt8], _ e: MATElement, into values: inout [Float], offset: Int, count: Int,
                         what: String) throws(InteropError) {
        guard let size = Self.valueSize(e.type) else { throw fail("\(what) has data type \(e.type), not a numeric type") }
        guard e.data.count == count * size else {
            throw fail("\(what) holds \(e.data.count) bytes; \(count) values of \(size) bytes need \(count * size)")
        }
        let swap = bigEndian
        buffer.withUnsafeBytes { raw in
            let base = raw.baseAddress! + e.data.lowerBound  // count ≥ 1 or the loop is empty
            values.withUnsafeMutableBufferPointer { out in
                @inline(__always) func load<T: FixedWidthInteger>(_ i: Int, _: T.Type) -> T {
                    let v = (base + i * MemoryLayout<T>.size).loadUnaligned(as: T.self)
                    return swap ? v.byteSwapped : v
                }
                switch e.type {
                case Self.miINT8: for i in 0..<count { out[2 * i + offset] = Float(Int8(bitPattern: base.load(fromByteOffset: i, as: UInt8.self))) }
                case Self.miUINT8: for i in 0..<count { out[2 * i + offset] = Float(base.load(fromByteOffset: i, as: UInt8.self)) }
                case Self.miINT16: for i in 0..<count { out[2 * i + offset] = Float(load(i, Int16.self)) }
                case Self.miUINT16: for i in 0..<count { out[2 * i + offset] = Float(load(i, UInt16.self)) }
                case Self.miINT32: for i in 0..<count { out[2 * i + offset] = Float(load(i, Int32.self)) }
                case Self.miUINT32: for i in 0..<count { out[2 * i + offset] = Float(load(i, UInt32.self)) }
                case Self.miINT64: for i in 0..<count { out[2 * i + offset] = Float(load(i, Int64.self)) }
                case Self.miUINT64: for i in 0..<count { out[2 * i + offset] = Float(load(i, UInt64.self)) }
                case Self.miSINGLE: for i in 0..<count { out[2 * i + offset] = Float(bitPattern: load(i, UInt32.self)) }
                case Self.miDOUBLE: for i in 0..<count { out[2 * i + offset] = Float(Double(bitPattern: load(i, UInt64.self))) }
                default: break
                }
            }
        }
    }
}
