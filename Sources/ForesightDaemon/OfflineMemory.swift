#if os(Linux)
// glibc's `int mallopt(int param, int value)` from <malloc.h>, which the Glibc module does not
// export; its parameter numbers are part of glibc's ABI.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
private let glibcTrimThreshold: Int32 = -1  // M_TRIM_THRESHOLD
private let glibcMmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
#endif

/// The allocator policy of the offline commands (`foresight eval`, `foresight dataset`).
///
/// Every message of a bag allocates megabyte-sized buffers (a decompressed chunk, the message, a
/// radar cube, a point cloud) and frees them a few frames later. With glibc's defaults such blocks
/// are mapped fresh from the kernel and unmapped again, so every page of every one of them is
/// faulted in and zeroed by the kernel: a tenth of an offline run's CPU went to page faults. Keeping
/// freed blocks in the heap for reuse removes most of that; the process keeps its peak footprint
/// instead of returning it, which suits a batch run but not the long-lived daemon (never called there).
public enum OfflineMemory {
    /// Largest block served from the heap instead of its own mapping (glibc's upper limit on 64-bit).
    public static let mmapThreshold: Int32 = 32 << 20
    /// Free memory at the top of the heap kept instead of returned to the kernel.
    public static let trimThreshold: Int32 = 512 << 20

    /// Makes the allocator keep freed large blocks for reuse (glibc on Linux; a no-op elsewhere). Call once,
    /// at the start of an offline command. Returns whether the allocator accepted both settings.
    @discardableResult
    public static func retainFreedBuffers() -> Bool {
        #if os(Linux)
        return glibcMallopt(glibcMmapThreshold, mmapThreshold) == 1 && glibcMallopt(glibcTrimThreshold, trimThreshold) == 1
        #else
        return false
        #endif
    }
}
