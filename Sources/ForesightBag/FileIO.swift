import Glibc

/// The text of the current `errno`.
func errnoText() -> String {
    String(cString: strerror(errno))
}

/// An append-only file descriptor that tracks its offset and a running CRC32 of what it wrote.
final class FileOutput {
    let path: String
    private var fd: Int32
    private(set) var offset: UInt64 = 0
    /// CRC32 of every byte written since the last `resetCRC()`.
    private(set) var crc = CRC32()

    init(path: String) throws(BagError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw .io(path: path, operation: "create", reason: errnoText()) }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }

    func resetCRC() { crc = CRC32() }

    func write(_ bytes: [UInt8]) throws(BagError) {
        try withBytes(bytes) { b throws(BagError) in try write(b) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(BagError) {
        try writeAll(bytes)
        crc.update(bytes)
    }

    /// Writes bytes whose CRC-32 the caller already computed: the running CRC is extended by it
    /// (`CRC32.append`) instead of reading the bytes a second time.
    func write(_ bytes: UnsafeRawBufferPointer, crc known: UInt32) throws(BagError) {
        try writeAll(bytes)
        crc.append(crc: known, length: bytes.count)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(BagError) {
        guard fd >= 0 else { throw .usage("the bag \(path) is already closed") }
        var done = 0
        while done < bytes.count {
            guard let base = bytes.baseAddress else { return }
            let n = Glibc.write(fd, base + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "write", reason: errnoText())
            }
            done += n
        }
        offset += UInt64(bytes.count)
    }

    /// Forces written data to the storage device.
    func sync() throws(BagError) {
        if fd >= 0 && fsync(fd) != 0 { throw .io(path: path, operation: "fsync", reason: errnoText()) }
    }

    func close() throws(BagError) {
        guard fd >= 0 else { return }
        let result = Glibc.close(fd)
        fd = -1
        if result != 0 { throw .io(path: path, operation: "close", reason: errnoText()) }
    }
}

/// A read-only file with positioned reads and a known size.
final class FileInput: @unchecked Sendable {
    let path: String
    private let fd: Int32
    let size: UInt64

    init(path: String) throws(BagError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw .io(path: path, operation: "open", reason: errnoText()) }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let reason = errnoText()
            Glibc.close(fd)
            throw .io(path: path, operation: "stat", reason: reason)
        }
        size = UInt64(st.st_size)
    }

    deinit { Glibc.close(fd) }

    /// Reads exactly `count` bytes at `offset`; `what` names the data for errors.
    func read(at offset: UInt64, count: Int, what: String) throws(BagError) -> [UInt8] {
        guard count >= 0, offset <= size, UInt64(count) <= size - offset else {
            throw .truncated(what: what, offset: offset)
        }
        var out = [UInt8](repeating: 0, count: count)
        var failure: BagError?
        out.withUnsafeMutableBytes { buf in
            var done = 0
            while done < count {
                guard let base = buf.baseAddress else { return }
                let n = pread(fd, base + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = .io(path: path, operation: "read", reason: errnoText())
                    return
                }
                if n == 0 {
                    failure = .truncated(what: what, offset: offset)
                    return
                }
                done += n
            }
        }
        if let failure { throw failure }
        return out
    }
}
