import CTurboJPEG
import ForesightWire

/// Pixel layouts accepted for raw (already decoded) camera frames.
public enum RawPixelEncoding: Sendable, Equatable {
    /// 3 bytes per pixel, red first.
    case rgb8
    /// 3 bytes per pixel, blue first.
    case bgr8
    /// 1 byte per pixel, replicated to all three output channels.
    case mono8

    /// Bytes per pixel.
    public var bytesPerPixel: Int { self == .mono8 ? 1 : 3 }
}

/// A rectangle in source-image pixels (origin top-left).
public struct PixelRect: Sendable, Equatable {
    /// Left column of the rectangle.
    public var x: Int
    /// Top row of the rectangle.
    public var y: Int
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int

    /// Creates a rectangle.
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
}

/// Camera preprocessing parameters (defaults from JEPA-MSAC §III-A1, ImageNet statistics).
public struct CameraParameters: Sendable, Equatable {
    /// Output width in pixels.
    public var outputWidth: Int = 224
    /// Output height in pixels.
    public var outputHeight: Int = 224
    /// Per-channel mean (R, G, B) of pixel values scaled to [0, 1].
    public var mean: [Float] = [0.485, 0.456, 0.406]
    /// Per-channel standard deviation (R, G, B).
    public var std: [Float] = [0.229, 0.224, 0.225]
    /// Optional crop applied before resizing; `nil` uses the whole image. Must lie inside the image.
    public var crop: PixelRect? = nil
    /// Decode JPEGs at the smallest libjpeg-turbo DCT scale (e.g. 1/2, 1/4) that keeps the
    /// (cropped) image at least as large as the output, then resize bilinearly. Several times
    /// faster for 960×540 → 224×224; the result differs slightly from a full decode (the DCT
    /// scaling acts as an area filter). The crop is scaled with the image (rounded down).
    public var reducedJPEGDecode: Bool = false
    /// Largest accepted input width (bounds the decode buffer).
    public var maxInputWidth: Int = 8192
    /// Largest accepted input height (bounds the decode buffer).
    public var maxInputHeight: Int = 8192

    /// Creates the default parameters.
    public init() {}

    /// Checks that every field is usable.
    public func validate() throws(PreprocessError) {
        guard (1...4096).contains(outputWidth), (1...4096).contains(outputHeight) else {
            throw .badParameter("camera output size \(outputWidth)x\(outputHeight) must be within 1...4096")
        }
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0.isFinite && $0 > 0 }), mean.allSatisfy(\.isFinite) else {
            throw .badParameter("camera mean and std need 3 finite values each, std > 0")
        }
        guard maxInputWidth > 0, maxInputHeight > 0, maxInputWidth <= 65_535, maxInputHeight <= 65_535 else {
            throw .badParameter("camera max input size must be within 1...65535")
        }
        if let crop, crop.width <= 0 || crop.height <= 0 || crop.x < 0 || crop.y < 0 {
            throw .badParameter("camera crop \(crop) needs x, y >= 0 and a positive size")
        }
    }
}

/// Decodes (JPEG) or reads (raw) a camera frame, crops, resizes bilinearly and normalizes it
/// into a CHW float32 tensor of shape [3, outputHeight, outputWidth].
///
/// Bilinear convention: half-pixel centres (`align_corners=False` in PyTorch, `INTER_LINEAR`
/// in OpenCV): `src = (dst + 0.5) * in / out - 0.5`, clamped below at 0; the right/bottom
/// neighbour is clamped to the last pixel. Normalization: `(v / 255 - mean[c]) / std[c]`.
///
/// Not thread-safe: owns a turbojpeg handle and scratch buffers. Use one per actor/thread.
public final class CameraPreprocessor {
    /// The parameters this preprocessor was built with.
    public let parameters: CameraParameters
    private let decoder: tjhandle
    private var rgb: UnsafeMutableBufferPointer<UInt8>
    private var tables: ResizeTables?
    private let scale: (Float, Float, Float)
    private let bias: (Float, Float, Float)

    /// Number of floats in one output tensor (3 × height × width).
    public var outputCount: Int { 3 * parameters.outputHeight * parameters.outputWidth }

    /// Creates a preprocessor; fails on invalid parameters or when turbojpeg cannot start.
    public init(parameters: CameraParameters = CameraParameters()) throws(PreprocessError) {
        try parameters.validate()
        guard let handle = tjInitDecompress() else { throw .corruptJPEG("tjInitDecompress failed") }
        self.parameters = parameters
        self.decoder = handle
        self.rgb = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 0)
        let m = parameters.mean, s = parameters.std
        scale = (1 / (255 * s[0]), 1 / (255 * s[1]), 1 / (255 * s[2]))
        bias = (-m[0] / s[0], -m[1] / s[1], -m[2] / s[2])
    }

    deinit {
        tjDestroy(decoder)
        rgb.deallocate()
    }

    /// Decodes a JPEG and writes the normalized CHW tensor into `output` (`outputCount` floats).
    /// `header` is the JPEG's header when it was already read (the wire validation reads it for
    /// every `sensor/camera` message); without it the header is parsed here.
    public func process(jpeg: UnsafeRawBufferPointer, header: JPEGHeader? = nil,
                        into output: UnsafeMutableBufferPointer<Float>) throws(PreprocessError) {
        guard let base = jpeg.baseAddress, jpeg.count > 0, jpeg.count <= Int(UInt32.max) else {
            throw .corruptJPEG("empty or oversized JPEG payload (\(jpeg.count) bytes)")
        }
        let src = base.assumingMemoryBound(to: UInt8.self)
        var width: Int32 = 0, height: Int32 = 0
        if let header {
            (width, height) = (Int32(clamping: header.width), Int32(clamping: header.height))
        } else {
            ByteAudit.record(.jpegHeaderParse)
            var subsamp: Int32 = 0, colorspace: Int32 = 0
            if tjDecompressHeader3(decoder, src, UInt(jpeg.count), &width, &height, &subsamp, &colorspace) != 0 {
                throw .corruptJPEG(lastError())
            }
        }
        try checkInputSize(width: Int(width), height: Int(height))
        let (num, denom) = parameters.reducedJPEGDecode ? decodeScale(width: Int(width), height: Int(height)) : (1, 1)
        let w = (Int(width) * num + denom - 1) / denom, h = (Int(height) * num + denom - 1) / denom
        ensureRGBCapacity(w * h * 3)
        let flags = Int32(TJFLAG_STOPONWARNING)
        if tjDecompress2(decoder, src, UInt(jpeg.count), rgb.baseAddress, Int32(w), 0, Int32(h), Int32(TJPF_RGB.rawValue), flags) != 0 {
            throw .corruptJPEG(lastError())
        }
        let crop = parameters.crop.map { c in
            PixelRect(x: c.x * num / denom, y: c.y * num / denom,
                      width: max(1, min(c.width * num / denom, w - c.x * num / denom)),
                      height: max(1, min(c.height * num / denom, h - c.y * num / denom)))
        }
        try resample(UnsafeRawBufferPointer(start: rgb.baseAddress, count: w * h * 3), width: w, height: h, encoding: .rgb8,
                     crop: crop, into: output)
    }

    /// The smallest libjpeg-turbo scaling factor keeping the (cropped) image ≥ the output size.
    private func decodeScale(width: Int, height: Int) -> (Int, Int) {
        var count: Int32 = 0
        guard let factors = tjGetScalingFactors(&count), count > 0 else { return (1, 1) }
        let cropW = parameters.crop?.width ?? width, cropH = parameters.crop?.height ?? height
        var best = (1, 1)
        for i in 0..<Int(count) {
            let num = Int(factors[i].num), denom = Int(factors[i].denom)
            guard num > 0, denom > 0, num <= denom else { continue }
            guard cropW * num / denom >= parameters.outputWidth, cropH * num / denom >= parameters.outputHeight else { continue }
            if num * best.1 < best.0 * denom { best = (num, denom) }
        }
        return best
    }

    /// Convenience: decodes a JPEG into a new array (`header`: see ``process(jpeg:header:into:)``).
    public func process(jpeg: ArraySlice<UInt8>, header: JPEGHeader? = nil) throws(PreprocessError) -> [Float] {
        var out = [Float](repeating: 0, count: outputCount)
        let result = jpeg.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { o in Result { () throws(PreprocessError) in try process(jpeg: raw, header: header, into: o) } }
        }
        try result.get()
        return out
    }

    /// Convenience: decodes a JPEG into a new array.
    public func process(jpeg: [UInt8]) throws(PreprocessError) -> [Float] {
        try process(jpeg: jpeg[...])
    }

    /// Processes a camera message (JPEG or raw pixels) into a new array, reusing the JPEG header
    /// the wire validation read.
    public func process(image: Image) throws(PreprocessError) -> [Float] {
        switch image.encoding {
        case .jpeg: return try process(jpeg: image.data, header: image.jpeg)
        case .rgb8: return try process(raw: image.data, width: image.width, height: image.height, encoding: .rgb8)
        case .bgr8: return try process(raw: image.data, width: image.width, height: image.height, encoding: .bgr8)
        case .mono8: return try process(raw: image.data, width: image.width, height: image.height, encoding: .mono8)
        }
    }

    /// Convenience: processes raw pixels in a slice into a new array.
    public func process(raw: ArraySlice<UInt8>, width: Int, height: Int, encoding: RawPixelEncoding) throws(PreprocessError) -> [Float] {
        var out = [Float](repeating: 0, count: outputCount)
        let result = raw.withUnsafeBytes { r in
            out.withUnsafeMutableBufferPointer { o in
                Result { () throws(PreprocessError) in try process(raw: r, width: width, height: height, encoding: encoding, into: o) }
            }
        }
        try result.get()
        return out
    }

    /// Processes a tightly packed raw frame and writes the CHW tensor into `output`.
    public func process(raw: UnsafeRawBufferPointer, width: Int, height: Int, encoding: RawPixelEncoding,
                        into output: UnsafeMutableBufferPointer<Float>) throws(PreprocessError) {
        try checkInputSize(width: width, height: height)
        let expected = width * height * encoding.bytesPerPixel
        guard raw.count == expected else { throw .sizeMismatch(modality: .camera, expected: expected, actual: raw.count) }
        try resample(raw, width: width, height: height, encoding: encoding, crop: parameters.crop, into: output)
    }

    /// Convenience: processes a raw frame into a new array.
    public func process(raw: [UInt8], width: Int, height: Int, encoding: RawPixelEncoding) throws(PreprocessError) -> [Float] {
        try process(raw: raw[...], width: width, height: height, encoding: encoding)
    }

    private func lastError() -> String {
        guard let message = tjGetErrorStr2(decoder) else { return "unknown turbojpeg error" }
        let kind = tjGetErrorCode(decoder) == TJERR_WARNING.rawValue ? "warning" : "error"
        return "\(kind): \(String(cString: message))"
    }

    private func checkInputSize(width: Int, height: Int) throws(PreprocessError) {
        guard width > 0, height > 0, width <= parameters.maxInputWidth, height <= parameters.maxInputHeight else {
            throw .badDimensions(modality: .camera,
                                 detail: "\(width)x\(height), limit \(parameters.maxInputWidth)x\(parameters.maxInputHeight)")
        }
        if let crop = parameters.crop, crop.x + crop.width > width || crop.y + crop.height > height {
            throw .badDimensions(modality: .camera, detail: "crop \(crop) does not fit a \(width)x\(height) image")
        }
    }

    private func ensureRGBCapacity(_ count: Int) {
        if rgb.count < count {
            rgb.deallocate()
            rgb = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: count)
        }
    }

    private func resample(_ src: UnsafeRawBufferPointer, width: Int, height: Int, encoding: RawPixelEncoding,
                          crop: PixelRect?, into output: UnsafeMutableBufferPointer<Float>) throws(PreprocessError) {
        guard output.count >= outputCount, let out = output.baseAddress,
              let inBase = src.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw .outputSize(modality: .camera, expected: outputCount, actual: output.count)
        }
        let crop = crop ?? PixelRect(x: 0, y: 0, width: width, height: height)
        let key = ResizeTables.Key(crop: crop, outWidth: parameters.outputWidth, outHeight: parameters.outputHeight)
        let t: ResizeTables
        if let cached = tables, cached.key == key { t = cached } else { t = ResizeTables(key: key); tables = t }

        let bpp = encoding.bytesPerPixel
        let rowStride = width * bpp
        let ow = parameters.outputWidth, oh = parameters.outputHeight, plane = ow * oh
        // Source channel offsets for output channels R, G, B.
        let (c0, c1, c2): (Int, Int, Int) = switch encoding {
        case .rgb8: (0, 1, 2)
        case .bgr8: (2, 1, 0)
        case .mono8: (0, 0, 0)
        }
        let xs0 = t.x0, xs1 = t.x1, wxs = t.wx
        for oy in 0..<oh {
            let r0 = inBase + (crop.y + t.y0[oy]) * rowStride
            let r1 = inBase + (crop.y + t.y1[oy]) * rowStride
            let wy = t.wy[oy], vy = 1 - wy
            let o0 = out + oy * ow, o1 = o0 + plane, o2 = o1 + plane
            for ox in 0..<ow {
                let a = (crop.x + xs0[ox]) * bpp, b = (crop.x + xs1[ox]) * bpp
                let wx = wxs[ox], vx = 1 - wx
                @inline(__always) func sample(_ c: Int) -> Float {
                    let top = vx * Float(r0[a + c]) + wx * Float(r0[b + c])
                    let bottom = vx * Float(r1[a + c]) + wx * Float(r1[b + c])
                    return vy * top + wy * bottom
                }
                o0[ox] = sample(c0) * scale.0 + bias.0
                o1[ox] = sample(c1) * scale.1 + bias.1
                o2[ox] = sample(c2) * scale.2 + bias.2
            }
        }
    }
}

/// Precomputed bilinear source indices and weights for one (crop, output size) pair.
final class ResizeTables {
    struct Key: Equatable {
        var crop: PixelRect
        var outWidth: Int
        var outHeight: Int
    }

    let key: Key
    let x0: UnsafeMutableBufferPointer<Int>
    let x1: UnsafeMutableBufferPointer<Int>
    let wx: UnsafeMutableBufferPointer<Float>
    let y0: UnsafeMutableBufferPointer<Int>
    let y1: UnsafeMutableBufferPointer<Int>
    let wy: UnsafeMutableBufferPointer<Float>

    init(key: Key) {
        self.key = key
        (x0, x1, wx) = Self.axis(input: key.crop.width, output: key.outWidth)
        (y0, y1, wy) = Self.axis(input: key.crop.height, output: key.outHeight)
    }

    deinit {
        x0.deallocate(); x1.deallocate(); wx.deallocate()
        y0.deallocate(); y1.deallocate(); wy.deallocate()
    }

    /// Half-pixel-centre mapping (align_corners=False), computed in Double like the reference.
    static func axis(input: Int, output: Int)
        -> (UnsafeMutableBufferPointer<Int>, UnsafeMutableBufferPointer<Int>, UnsafeMutableBufferPointer<Float>) {
        let i0 = UnsafeMutableBufferPointer<Int>.allocate(capacity: output)
        let i1 = UnsafeMutableBufferPointer<Int>.allocate(capacity: output)
        let w = UnsafeMutableBufferPointer<Float>.allocate(capacity: output)
        let scale = Double(input) / Double(output)
        for o in 0..<output {
            let src = max((Double(o) + 0.5) * scale - 0.5, 0)
            let lo = min(Int(src), input - 1)
            i0[o] = lo
            i1[o] = min(lo + 1, input - 1)
            w[o] = Float(src - Double(lo))
        }
        return (i0, i1, w)
    }
}
