/// An ASCII `.ply` point cloud read into float32 fields, point-major.
///
/// Reads the header (`ply`, `format ascii 1.0`, `comment`/`obj_info` lines, elements and their
/// scalar properties, `end_header`), then the rows of the `vertex` element — which must be the
/// first element — with exactly one number per property. `x`, `y`, `z` are required; `intensity`
/// is kept when present; other properties are read and dropped. Points whose x, y or z is not
/// finite are dropped and counted. Binary PLY files are refused with a named error.
public struct PLYCloud: Sendable, Equatable {
    /// Field names of `values`: `["x", "y", "z"]` or `["x", "y", "z", "intensity"]`.
    public var fields: [String]
    /// Point-major float32 values.
    public var values: [Float]
    /// Vertices the header declared.
    public var declared: Int
    /// Points dropped because x, y or z was NaN or infinite.
    public var droppedNonFinite: Int

    /// Number of points kept.
    public var count: Int { fields.isEmpty ? 0 : values.count / fields.count }

    static let scalarTypes: Set<String> = ["char", "uchar", "short", "ushort", "int", "uint", "float", "double",
                                           "int8", "uint8", "int16", "uint16", "int32", "uint32", "float32", "float64"]

    /// Parses a NUL-terminated file buffer (`FileBytes.read(_:limit:terminator: true)`).
    public static func parse(_ bytes: [UInt8], path: String, maxPoints: Int = 2_000_000) throws(InteropError) -> PLYCloud {
        var values: [Float] = []
        let result: Result<Layout, InteropError> = bytes.withUnsafeBufferPointer { buffer in
            do throws(InteropError) { return .success(try parse(buffer, path: path, maxPoints: maxPoints, into: &values)) } catch { return .failure(error) }
        }
        let layout = try result.get()
        values.removeLast(values.count - layout.kept * layout.fields.count)
        return PLYCloud(fields: layout.fields, values: values, declared: layout.declared, droppedNonFinite: layout.declared - layout.kept)
    }

    /// What ``parse(_:path:maxPoints:into:)`` found: the fields kept, the vertices declared and kept.
    struct Layout: Sendable {
        var fields: [String]
        var declared: Int
        var kept: Int
    }

    /// Parses a NUL-terminated buffer (its last byte is the terminator) and writes the kept points'
    /// values point-major into the front of `values`, which only grows: a caller that parses file
    /// after file into the same array allocates no new memory once it has seen the largest cloud.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, path: String, maxPoints: Int, into values: inout [Float]) throws(InteropError) -> Layout {
        func fail(_ reason: String) -> InteropError { .ply(path: path, reason: reason) }
        guard bytes.last == 0 else { throw fail("internal: buffer not terminated") }
        // Header: lines up to end_header.
        var offset = 0
        var lineNumber = 0
        var properties: [String] = []
        var vertexCount: Int? = nil
        var inVertex = false
        var sawFormat = false
        func nextLine() -> Substring? {
            guard offset < bytes.count - 1 else { return nil }
            var end = offset
            while end < bytes.count - 1, bytes[end] != 0x0A { end += 1 }
            let line = String(decoding: bytes[offset..<end], as: UTF8.self)
            offset = min(end + 1, bytes.count - 1)
            lineNumber += 1
            return Substring(line.hasSuffix("\r") ? String(line.dropLast()) : line)
        }
        guard let first = nextLine(), first == "ply" else { throw fail("the file does not start with 'ply'") }
        headerLoop: while true {
            guard let line = nextLine() else { throw fail("no end_header line") }
            guard lineNumber <= 1000 else { throw fail("header longer than 1000 lines") }
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let keyword = words.first else { continue }
            switch keyword {
            case "format":
                guard words.count == 3 else { throw fail("line \(lineNumber): malformed format line") }
                guard words[1] == "ascii" else {
                    throw .unsupported(path: path, reason: "PLY format '\(words[1])': only ASCII PLY is read (convert with e.g. Open3D: o3d.io.write_point_cloud(out, cloud, write_ascii=True))")
                }
                guard words[2] == "1.0" else { throw fail("line \(lineNumber): PLY version \(words[2]) is not 1.0") }
                sawFormat = true
            case "comment", "obj_info":
                continue
            case "element":
                guard words.count == 3, let n = Int(words[2]), n >= 0 else { throw fail("line \(lineNumber): malformed element line") }
                if words[1] == "vertex" {
                    guard vertexCount == nil else { throw fail("line \(lineNumber): a second vertex element") }
                    guard n <= maxPoints else { throw fail("\(n) vertices; at most \(maxPoints) are accepted") }
                    vertexCount = n
                    inVertex = true
                } else {
                    guard vertexCount != nil else { throw fail("line \(lineNumber): element '\(words[1])' before the vertex element (vertex must come first)") }
                    inVertex = false
                }
            case "property":
                guard vertexCount != nil else { throw fail("line \(lineNumber): property before any element") }
                guard inVertex else { continue }
                if words.count >= 2, words[1] == "list" { throw fail("line \(lineNumber): list properties on vertices are not supported") }
                guard words.count == 3, scalarTypes.contains(String(words[1])) else { throw fail("line \(lineNumber): malformed property line '\(line)'") }
                let name = String(words[2])
                guard !properties.contains(name) else { throw fail("line \(lineNumber): property '\(name)' twice") }
                properties.append(name)
            case "end_header":
                break headerLoop
            default:
                throw fail("line \(lineNumber): unknown header line '\(line)'")
            }
        }
        guard sawFormat else { throw fail("no format line") }
        guard let declared = vertexCount else { throw fail("no vertex element") }
        guard let xi = properties.firstIndex(of: "x"), let yi = properties.firstIndex(of: "y"), let zi = properties.firstIndex(of: "z") else {
            throw fail("vertex properties \(properties) lack x, y or z")
        }
        let ii = properties.firstIndex(of: "intensity")
        let fields = ii == nil ? ["x", "y", "z"] : ["x", "y", "z", "intensity"]
        let stride = fields.count
        let columns = properties.count
        if values.count < declared * stride { values = [Float](repeating: 0, count: declared * stride) }
        var kept = 0
        var problem: String? = nil
        values.withUnsafeMutableBufferPointer { out in
            var scanner = NumberScanner(bytes, from: offset)
            var row = [Double](repeating: 0, count: columns)
            for v in 0..<declared {
                for c in 0..<columns {
                    scanner.skipBlanks(newlines: false)
                    guard let number = scanner.number() else {
                        problem = scanner.atEnd || scanner.current == 0x0A
                            ? "vertex \(v) has \(c) values; the header declares \(columns) properties"
                            : "vertex \(v): unreadable value in column \(c + 1)"
                        if scanner.atEnd && c == 0 { problem = "cut off: \(v) of \(declared) vertices present" }
                        return
                    }
                    row[c] = number
                }
                scanner.skipBlanks(newlines: false)
                if !scanner.atEnd && scanner.current != 0x0A {
                    problem = "vertex \(v) has more values than the \(columns) declared properties"
                    return
                }
                scanner.skipLine()
                let x = Float(row[xi]), y = Float(row[yi]), z = Float(row[zi])
                guard x.isFinite, y.isFinite, z.isFinite else { continue }
                let base = kept * stride
                out[base] = x
                out[base + 1] = y
                out[base + 2] = z
                if let ii { out[base + 3] = Float(row[ii]) }
                kept += 1
            }
        }
        if let problem { throw fail(problem) }
        return Layout(fields: fields, declared: declared, kept: kept)
    }
}
