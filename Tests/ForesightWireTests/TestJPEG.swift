import CTurboJPEG

/// Encodes a gradient image as JPEG with libjpeg-turbo.
enum TestJPEG {
    static func encode(width: Int, height: Int) -> [UInt8] {
        guard let handle = tjInitCompress() else { return [] }
        defer { tjDestroy(handle) }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { pixels[i * 3] = UInt8(i % 256); pixels[i * 3 + 1] = 128; pixels[i * 3 + 2] = 30 }
        var out: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let rc = tjCompress2(handle, pixels, Int32(width), 0, Int32(height), Int32(TJPF_RGB.rawValue), &out, &size,
                             Int32(TJSAMP_420.rawValue), 90, 0)
        guard rc == 0, let out else { return [] }
        defer { tjFree(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(size)))
    }
}
