import CTurboJPEG

/// Pixel encodings of `sensor/camera` images.
public enum ImageEncoding: String, Sendable, CaseIterable, Codable {
    /// A JPEG file; `width`/`height` must match its header.
    case jpeg
    /// Tightly packed 8-bit RGB, row-major, no stride.
    case rgb8
    /// Tightly packed 8-bit BGR.
    case bgr8
    /// Tightly packed 8-bit grey.
    case mono8

    /// Bytes per pixel of the raw encodings (nil for JPEG).
    public var bytesPerPixel: Int? {
        switch self {
        case .jpeg: return nil
        case .rgb8, .bgr8: return 3
        case .mono8: return 1
        }
    }
}

/// `sensor/camera`: one camera image, JPEG or raw.
///
/// Decoded from a payload, `data` is a slice of the payload (the bytes are not copied) and a JPEG's
/// header, parsed once by the validation, travels in ``jpeg`` so the decoder does not parse it again.
public struct Image: WireMessage, Equatable {
    public static let messageType = MessageType.image
    public var header: Header
    /// Width in pixels (≥ 1).
    public var width: Int
    /// Height in pixels (≥ 1).
    public var height: Int
    /// Pixel encoding.
    public var encoding: ImageEncoding
    /// JPEG bytes or tightly packed pixels (decoded: a slice of the payload).
    public var data: ArraySlice<UInt8>
    /// The JPEG header as the wire validation read it (nil for raw encodings and for images built
    /// in code). Not encoded and not compared; replace it (or set nil) when changing `data`.
    public var jpeg: JPEGHeader?

    /// Creates an image.
    public init(header: Header, width: Int, height: Int, encoding: ImageEncoding, data: [UInt8]) {
        self.init(header: header, width: width, height: height, encoding: encoding, data: data[...])
    }

    /// Creates an image over a slice of bytes (no copy); `jpeg` is a header already read from them.
    public init(header: Header, width: Int, height: Int, encoding: ImageEncoding, data: ArraySlice<UInt8>, jpeg: JPEGHeader? = nil) {
        self.header = header
        self.width = width
        self.height = height
        self.encoding = encoding
        self.data = data
        self.jpeg = jpeg
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        width = try fields.count("width", max: limits.maxImageDimension)
        height = try fields.count("height", max: limits.maxImageDimension)
        guard width >= 1 else { throw WireError(field: "width", reason: .outOfRange, detail: "width must be at least 1") }
        guard height >= 1 else { throw WireError(field: "height", reason: .outOfRange, detail: "height must be at least 1") }
        encoding = try fields.enumeration("encoding", ImageEncoding.self)
        data = try fields.binarySlice("data")
        if let bpp = encoding.bytesPerPixel {
            let expected = width * height * bpp  // ≤ 8192·8192·3: no overflow
            guard data.count == expected else {
                throw WireError(field: "data", reason: .shapeMismatch,
                                detail: "\(encoding.rawValue) \(width)×\(height) needs \(expected) bytes, got \(data.count)")
            }
        } else {
            let parsed = try data.withUnsafeBytes { raw in Result { () throws(WireError) in try JPEGHeader(parsing: raw) } }.get()
            guard parsed.width == width, parsed.height == height else {
                throw WireError(field: "data", reason: .jpegHeader,
                                detail: "JPEG header says \(parsed.width)×\(parsed.height) but width/height say \(width)×\(height)")
            }
            jpeg = parsed
        }
    }

    public static func == (lhs: Image, rhs: Image) -> Bool {
        lhs.header == rhs.header && lhs.width == rhs.width && lhs.height == rhs.height
            && lhs.encoding == rhs.encoding && lhs.data == rhs.data
    }

    public func encode(into writer: inout MessagePackWriter) {
        data.withUnsafeBytes { Self.encode(header: header, width: width, height: height, encoding: encoding, data: $0, into: &writer) }
    }

    /// Encodes an image whose pixel or JPEG bytes are in a borrowed buffer (no `Image` value and
    /// no copy of the bytes other than into `writer`); the same bytes as `encode(into:)`.
    public static func encode(header: Header, width: Int, height: Int, encoding: ImageEncoding, data: UnsafeRawBufferPointer,
                              into writer: inout MessagePackWriter) {
        writer.writeMapHeader(count: 7)
        header.write(to: &writer)
        writer.write("width"); writer.write(width)
        writer.write("height"); writer.write(height)
        writer.write("encoding"); writer.write(encoding.rawValue)
        writer.write("data"); writer.writeBinaryHeader(count: data.count); writer.appendRaw(data)
    }
}

/// A JPEG's header as libjpeg-turbo reads it without decoding (`tjDecompressHeader3`): parsed
/// once by the wire validation and handed to the decoder with the image.
public struct JPEGHeader: Sendable, Equatable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// libjpeg-turbo's chroma subsampling (`TJSAMP_*`).
    public var subsampling: Int32
    /// libjpeg-turbo's colour space (`TJCS_*`).
    public var colorspace: Int32

    /// Creates a header from known values.
    public init(width: Int, height: Int, subsampling: Int32, colorspace: Int32) {
        self.width = width; self.height = height; self.subsampling = subsampling; self.colorspace = colorspace
    }

    /// Reads the header of the JPEG in a borrowed buffer, or throws a `jpeg_header` error.
    /// Every parse is recorded in the current ``ByteAudit`` (debug builds).
    public init(parsing data: UnsafeRawBufferPointer) throws(WireError) {
        guard let handle = tjInitDecompress() else {
            throw WireError(field: "data", reason: .jpegHeader, detail: "libjpeg-turbo could not create a decompressor")
        }
        defer { tjDestroy(handle) }
        try self.init(parsing: data, with: handle)
    }

    /// Reads the header with an existing libjpeg-turbo decompressor (a decoder's own handle).
    public init(parsing data: UnsafeRawBufferPointer, with handle: tjhandle) throws(WireError) {
        ByteAudit.record(.jpegHeaderParse)
        var w: Int32 = 0, h: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let status: Int32
        if let base = data.baseAddress, data.count > 0, data.count <= Int(UInt32.max) {
            status = tjDecompressHeader3(handle, base.assumingMemoryBound(to: UInt8.self), UInt(data.count), &w, &h, &subsampling, &colorspace)
        } else {
            status = -1
        }
        guard status == 0, w > 0, h > 0 else {
            let reason = status == 0 ? "zero size" : data.count == 0 ? "empty" : String(cString: tjGetErrorStr2(handle))
            throw WireError(field: "data", reason: .jpegHeader, detail: "not a readable JPEG: \(reason)")
        }
        self.init(width: Int(w), height: Int(h), subsampling: subsampling, colorspace: colorspace)
    }

    /// Width and height of the JPEG in `data`, or a `jpeg_header` error.
    public static func dimensions(of data: [UInt8]) throws(WireError) -> (width: Int, height: Int) {
        let header = try data.withUnsafeBytes { raw in Result { () throws(WireError) in try JPEGHeader(parsing: raw) } }.get()
        return (header.width, header.height)
    }

    /// Width and height of the JPEG in a borrowed buffer, or a `jpeg_header` error.
    public static func dimensions(of data: UnsafeRawBufferPointer) throws(WireError) -> (width: Int, height: Int) {
        let header = try JPEGHeader(parsing: data)
        return (header.width, header.height)
    }
}

/// Sample types of raw radar cubes.
public enum RadarSampleType: String, Sendable, CaseIterable, Codable {
    /// Interleaved I/Q float32 (8 bytes per complex sample).
    case cf32
    /// Interleaved I/Q int16 (4 bytes per complex sample).
    case ci16

    /// Bytes per complex sample.
    public var bytesPerSample: Int { self == .cf32 ? 8 : 4 }
}

/// `sensor/radar`: a raw FMCW IF cube, row-major [rx, samples, chirps], I/Q interleaved.
public struct RadarCube: WireMessage, Equatable {
    public static let messageType = MessageType.radarCube
    public var header: Header
    /// Receive channels.
    public var rx: Int
    /// ADC samples per chirp (fast time).
    public var samples: Int
    /// Chirps per frame (slow time).
    public var chirps: Int
    /// Sample type.
    public var dtype: RadarSampleType
    /// `rx × samples × chirps` complex samples, little-endian, C order (decoded: a slice of the
    /// payload, so the 2 MB of a DeepSense-size cube are not copied between the socket and the
    /// radar preprocessor).
    public var data: ArraySlice<UInt8>

    /// Creates a cube.
    public init(header: Header, rx: Int, samples: Int, chirps: Int, dtype: RadarSampleType, data: [UInt8]) {
        self.init(header: header, rx: rx, samples: samples, chirps: chirps, dtype: dtype, data: data[...])
    }

    /// Creates a cube over a slice of bytes (no copy).
    public init(header: Header, rx: Int, samples: Int, chirps: Int, dtype: RadarSampleType, data: ArraySlice<UInt8>) {
        self.header = header
        self.rx = rx
        self.samples = samples
        self.chirps = chirps
        self.dtype = dtype
        self.data = data
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        let shapeValues = try fields.array("shape")
        guard shapeValues.count == 3 else {
            throw WireError(field: "shape", reason: .shapeMismatch,
                            detail: "shape must be [rx, samples, chirps], got \(shapeValues.count) dimensions")
        }
        let bounds = [limits.maxRadarRx, limits.maxRadarSamples, limits.maxRadarChirps]
        let names = ["rx", "samples", "chirps"]
        var dims: [Int] = []
        for i in 0..<3 {
            let d = try MessageFields.count(shapeValues[i], field: "shape[\(i)]", max: bounds[i])
            guard d >= 1 else { throw WireError(field: "shape[\(i)]", reason: .outOfRange, detail: "\(names[i]) must be at least 1") }
            dims.append(d)
        }
        (rx, samples, chirps) = (dims[0], dims[1], dims[2])
        let dtypeText = try fields.string("dtype")
        guard let dtype = RadarSampleType(rawValue: dtypeText) else {
            throw WireError(field: "dtype", reason: .unknownDtype, detail: "radar dtype '\(dtypeText)' is not 'cf32' or 'ci16'")
        }
        self.dtype = dtype
        data = try fields.binarySlice("data")
        let expected = rx * samples * chirps * dtype.bytesPerSample  // bounded by the limits above
        guard data.count == expected else {
            throw WireError(field: "data", reason: .shapeMismatch,
                            detail: "shape [\(rx), \(samples), \(chirps)] \(dtype.rawValue) needs \(expected) bytes, got \(data.count)")
        }
        if dtype == .cf32 && !data.withUnsafeBytes({ PackedArray.allFiniteFloat32($0) }) {
            throw WireError(field: "data", reason: .nonFinite, detail: "radar samples contain NaN or infinity")
        }
    }

    public func encode(into writer: inout MessagePackWriter) {
        data.withUnsafeBytes { Self.encode(header: header, rx: rx, samples: samples, chirps: chirps, dtype: dtype, data: $0, into: &writer) }
    }

    /// Encodes a cube whose samples are in a borrowed buffer (e.g. a file just read), copying
    /// them only into `writer`; the same bytes as `encode(into:)`.
    public static func encode(header: Header, rx: Int, samples: Int, chirps: Int, dtype: RadarSampleType, data: UnsafeRawBufferPointer,
                              into writer: inout MessagePackWriter) {
        writer.writeMapHeader(count: 6)
        header.write(to: &writer)
        writer.write("shape"); writer.writeArrayHeader(count: 3)
        writer.write(rx); writer.write(samples); writer.write(chirps)
        writer.write("dtype"); writer.write(dtype.rawValue)
        writer.write("data"); writer.writeBinaryHeader(count: data.count); writer.appendRaw(data)
    }
}

/// `sensor/lidar`: a point cloud of float32 fields (x, y, z required, in any order; extra fields carried).
///
/// Points with a non-finite x, y or z (how real sensors say "no return") are dropped at decode
/// time and counted in `droppedNonFinite`; an empty cloud is valid.
public struct PointCloud: WireMessage, Equatable {
    public static let messageType = MessageType.pointCloud
    public var header: Header
    /// Field names per point, e.g. ["x", "y", "z", "intensity"].
    public var fields: [String]
    /// Number of points in `data`.
    public var count: Int
    /// `count × fields.count` float32 values, little-endian, point-major.
    public var data: [UInt8]
    /// Points dropped at decode because x, y or z was not finite (not encoded).
    public var droppedNonFinite: Int = 0

    /// Creates a cloud.
    public init(header: Header, fields: [String], count: Int, data: [UInt8]) {
        self.header = header
        self.fields = fields
        self.count = count
        self.data = data
    }

    /// Creates a cloud from point-major float32 values.
    public init(header: Header, fields: [String], values: [Float]) {
        self.init(header: header, fields: fields, count: fields.isEmpty ? 0 : values.count / fields.count,
                  data: PackedArray.bytes(values))
    }

    /// The index of a field by name.
    public func fieldIndex(_ name: String) -> Int? { fields.firstIndex(of: name) }

    public init(fields map: MessageFields, limits: WireLimits) throws(WireError) {
        header = try map.header()
        fields = try map.stringArray("fields")
        guard Set(fields).count == fields.count else {
            throw WireError(field: "fields", reason: .duplicateKey, detail: "field names must be unique: \(fields)")
        }
        guard fields.count <= 64 else {
            throw WireError(field: "fields", reason: .limitExceeded, detail: "\(fields.count) fields per point; at most 64")
        }
        guard let xi = fields.firstIndex(of: "x"), let yi = fields.firstIndex(of: "y"), let zi = fields.firstIndex(of: "z") else {
            throw WireError(field: "fields", reason: .missingField, detail: "fields must include x, y and z, got \(fields)")
        }
        let dtype = try map.string("dtype")
        guard dtype == "f32" else {
            throw WireError(field: "dtype", reason: .unknownDtype, detail: "point cloud dtype '\(dtype)' is not 'f32'")
        }
        count = try map.count("count", max: limits.maxPoints)
        var bytes = try map.binary("data")
        let total = count
        let stride = fields.count * 4
        guard bytes.count == total * stride else {
            throw WireError(field: "data", reason: .shapeMismatch,
                            detail: "\(total) points × \(fields.count) f32 fields need \(total * stride) bytes, got \(bytes.count)")
        }
        // Drop points with a non-finite coordinate, compacting in place.
        var kept = 0
        bytes.withUnsafeMutableBytes { raw in
            for p in 0..<total {
                let base = p * stride
                func finite(_ f: Int) -> Bool {
                    let bits = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: base + f * 4, as: UInt32.self))
                    return (bits & 0x7f80_0000) != 0x7f80_0000
                }
                guard finite(xi), finite(yi), finite(zi) else { continue }
                if kept != p, let dst = raw.baseAddress, let src = raw.baseAddress {
                    (dst + kept * stride).copyMemory(from: src + base, byteCount: stride)
                }
                kept += 1
            }
        }
        droppedNonFinite = total - kept
        if droppedNonFinite > 0 { bytes.removeLast(droppedNonFinite * stride) }
        count = kept
        data = bytes
    }

    public func encode(into writer: inout MessagePackWriter) {
        data.withUnsafeBytes { Self.encode(header: header, fields: fields, count: count, data: $0, into: &writer) }
    }

    /// Encodes a cloud whose point-major little-endian float32 values are in a borrowed buffer,
    /// copying them only into `writer`; the same bytes as `encode(into:)`.
    public static func encode(header: Header, fields: [String], count: Int, data: UnsafeRawBufferPointer,
                              into writer: inout MessagePackWriter) {
        writer.writeMapHeader(count: 7)
        header.write(to: &writer)
        writer.write("fields"); writer.writeArrayHeader(count: fields.count)
        for f in fields { writer.write(f) }
        writer.write("dtype"); writer.write("f32")
        writer.write("count"); writer.write(count)
        writer.write("data"); writer.writeBinaryHeader(count: data.count); writer.appendRaw(data)
    }
}

/// Fix quality of a GNSS reading.
public enum GnssFixType: String, Sendable, CaseIterable, Codable {
    /// No fix: the position may be NaN and must not be used.
    case none
    /// 2-D fix.
    case twoD = "2d"
    /// 3-D fix.
    case threeD = "3d"
    /// RTK fix.
    case rtk
}

/// `sensor/gnss`: a GNSS fix of the UE.
public struct GnssFix: WireMessage, Equatable {
    public static let messageType = MessageType.gnssFix
    public var header: Header
    /// Latitude, degrees in [−90, 90] (NaN allowed only without a fix).
    public var lat: Double
    /// Longitude, degrees in [−180, 180] (NaN allowed only without a fix).
    public var lon: Double
    /// Altitude, metres (NaN allowed).
    public var alt: Double
    /// Horizontal dilution of precision, ≥ 0.
    public var hdop: Double
    /// Fix quality.
    public var fix: GnssFixType

    /// Creates a fix.
    public init(header: Header, lat: Double, lon: Double, alt: Double, hdop: Double, fix: GnssFixType) {
        self.header = header
        self.lat = lat
        self.lon = lon
        self.alt = alt
        self.hdop = hdop
        self.fix = fix
    }

    /// Whether the position can be used (a fix and finite coordinates).
    public var isUsable: Bool { fix != .none && lat.isFinite && lon.isFinite }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        fix = try fields.enumeration("fix", GnssFixType.self)
        let noFix = fix == .none
        lat = try fields.double("lat", allowNonFinite: noFix)
        lon = try fields.double("lon", allowNonFinite: noFix)
        alt = try fields.double("alt", allowNonFinite: true)
        hdop = try fields.double("hdop", allowNonFinite: noFix)
        if lat.isFinite, !(-90...90).contains(lat) {
            throw WireError(field: "lat", reason: .outOfRange, detail: "latitude \(lat) is outside [-90, 90]")
        }
        if lon.isFinite, !(-180...180).contains(lon) {
            throw WireError(field: "lon", reason: .outOfRange, detail: "longitude \(lon) is outside [-180, 180]")
        }
        if alt.isInfinite { throw WireError(field: "alt", reason: .nonFinite, detail: "altitude is infinite") }
        if hdop.isFinite, hdop < 0 { throw WireError(field: "hdop", reason: .outOfRange, detail: "hdop \(hdop) is negative") }
        if noFix, lat.isInfinite || lon.isInfinite || hdop.isInfinite {
            throw WireError(field: "lat", reason: .nonFinite, detail: "only NaN (not infinity) marks a missing position")
        }
    }

    public func encode(into writer: inout MessagePackWriter) {
        var map = MapBuilder()
        map.header(header)
        map.entry("lat", lat)
        map.entry("lon", lon)
        map.entry("alt", alt)
        map.entry("hdop", hdop)
        map.entry("fix", fix.rawValue)
        map.finish(into: &writer)
    }
}

/// Units of per-beam power.
public enum PowerUnit: String, Sendable, CaseIterable, Codable {
    /// Linear milliwatts (must not be negative).
    case mw
    /// dBm.
    case dbm
}

/// `sensor/beam_power`: the per-beam received power of the mmWave array over its codebook.
public struct BeamPower: WireMessage, Equatable {
    public static let messageType = MessageType.beamPower
    public var header: Header
    /// Power of each beam (NaN allowed: real captures contain it).
    public var power: [Float]
    /// Unit of `power`.
    public var unit: PowerUnit

    /// Creates a power scan.
    public init(header: Header, power: [Float], unit: PowerUnit) {
        self.header = header
        self.power = power
        self.unit = unit
    }

    public init(fields: MessageFields, limits: WireLimits) throws(WireError) {
        header = try fields.header()
        unit = try fields.enumeration("unit", PowerUnit.self)
        power = try BeamPower.decodeVector(fields, key: "power", unit: unit, limits: limits)
    }

    /// Decodes a `bin` f32 power vector with `dtype`/`shape` (shared with `truth/beam`).
    static func decodeVector(_ fields: MessageFields, key: String, unit: PowerUnit, limits: WireLimits) throws(WireError) -> [Float] {
        let dtype = try fields.string("dtype")
        guard dtype == "f32" else {
            throw WireError(field: "dtype", reason: .unknownDtype, detail: "power dtype '\(dtype)' is not 'f32'")
        }
        let shape = try fields.countArray("shape", max: limits.maxBeams)
        guard shape.count == 1, shape[0] >= 1 else {
            throw WireError(field: "shape", reason: .shapeMismatch, detail: "shape must be [beams] with beams ≥ 1, got \(shape)")
        }
        let bytes = try fields.binarySlice(key)
        guard bytes.count == shape[0] * 4 else {
            throw WireError(field: key, reason: .shapeMismatch, detail: "shape [\(shape[0])] f32 needs \(shape[0] * 4) bytes, got \(bytes.count)")
        }
        let values = PackedArray.floats(bytes)
        for (i, v) in values.enumerated() {
            if v.isInfinite { throw WireError(field: "\(key)[\(i)]", reason: .nonFinite, detail: "power is infinite") }
            if unit == .mw, v < 0 { throw WireError(field: "\(key)[\(i)]", reason: .outOfRange, detail: "linear power \(v) mW is negative") }
        }
        return values
    }

    public func encode(into writer: inout MessagePackWriter) {
        writer.writeMapHeader(count: 7)
        header.write(to: &writer)
        writer.write("power"); writer.writeBinary(PackedArray.bytes(power))
        writer.write("dtype"); writer.write("f32")
        writer.write("shape"); writer.writeArrayHeader(count: 1); writer.write(power.count)
        writer.write("unit"); writer.write(unit.rawValue)
    }
}
