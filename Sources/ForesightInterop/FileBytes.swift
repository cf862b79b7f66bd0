#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads with a size bound checked before anything is allocated.
public enum FileBytes {
    /// The bytes of `path`, at most `limit` of them; with `terminator` one extra 0 byte is
    /// appended (so C number parsers can run over the buffer without copying tokens).
    public static func read(_ path: String, limit: Int, terminator: Bool = false) throws(InteropError) -> [UInt8] {
        var bytes: [UInt8] = []
        let size = try read(path, limit: limit, into: &bytes, terminator: terminator)
        bytes.removeLast(bytes.count - size - (terminator ? 1 : 0))
        return bytes
    }

    /// Reads `path` (at most `limit` bytes) into the front of `buffer` and returns its size; with
    /// `terminator` a 0 byte follows the data. `buffer` only grows (zero-filled once), so a
    /// caller that reads file after file into the same buffer allocates and faults in no new
    /// memory once it has seen the largest file.
    public static func read(_ path: String, limit: Int, into buffer: inout [UInt8], terminator: Bool = false) throws(InteropError) -> Int {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw .missingFile(path: path) }
            throw .unreadable(path: path, reason: String(cString: strerror(code)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .unreadable(path: path, reason: "not a regular file") }
        let size = Int(info.st_size)
        guard size <= limit else { throw .tooLarge(path: path, size: size, limit: limit) }
        let needed = size + (terminator ? 1 : 0)
        if buffer.count < needed { buffer = [UInt8](repeating: 0, count: needed) }
        var done = 0
        var failure: Int32 = 0
        buffer.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            while done < size {
                let n = Glibc.read(fd, base + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 { break }
                done += n
            }
            if terminator { raw[size] = 0 }
        }
        if failure != 0 { throw .unreadable(path: path, reason: String(cString: strerror(failure))) }
        guard done == size else { throw .unreadable(path: path, reason: "the file shrank while it was read (\(done) of \(size) bytes)") }
        return size
    }

    /// Whether a regular file exists at `path`.
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }
}
