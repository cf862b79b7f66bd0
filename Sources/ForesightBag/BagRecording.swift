import Foundation

/// One recording read as a whole: a single MCAP file, the numbered split set `foresight record`
/// writes (`NAME_0000.mcap`, `NAME_0001.mcap`, …), a folder of MCAP files, or several of these.
/// Messages of all files come out merged in log-time order; `info()` adds the files' topic
/// tables up by topic.
public final class BagRecording {
    /// The files, in the order they are read (split sets by number, folders by name).
    public let files: [String]
    /// One reader per file.
    public let readers: [BagReader]
    /// How a path was resolved when it was not simply one existing file (e.g. "drive.mcap does
    /// not exist; reading its split set drive_0000.mcap … drive_0002.mcap (3 files)"), for a
    /// note to the user.
    public let notes: [String]

    /// Opens `path`: an MCAP file, a folder of MCAP files, or `NAME.mcap` whose split set
    /// `NAME_0000.mcap`, `NAME_0001.mcap`, … exists.
    public convenience init(path: String, limits: BagReaderLimits = BagReaderLimits()) throws(BagError) {
        try self.init(paths: [path], limits: limits)
    }

    /// Opens every path (each resolved as in `init(path:)`) as one recording.
    public init(paths: [String], limits: BagReaderLimits = BagReaderLimits()) throws(BagError) {
        var files: [String] = []
        var notes: [String] = []
        for path in paths {
            let resolved = try BagRecording.resolve(path)
            files += resolved.files
            if let note = resolved.note { notes.append(note) }
        }
        var readers: [BagReader] = []
        for file in files { readers.append(try BagReader(path: file, limits: limits)) }
        self.files = files
        self.readers = readers
        self.notes = notes
    }

    /// The files `path` stands for, and a note when it is not simply one existing file.
    public static func resolve(_ path: String) throws(BagError) -> (files: [String], note: String?) {
        var isDirectory: ObjCBool = false
        let fm = FileManager.default
        if fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { return ([path], splitMemberNote(path)) }
            let names = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".mcap") }.sorted()
            guard !names.isEmpty else {
                throw .io(path: path, operation: "read the recording in", reason: "the folder holds no .mcap files")
            }
            let files = names.map { URL(fileURLWithPath: path).appendingPathComponent($0).path }
            return (files, "reading the folder \(path) as one recording: \(describe(files))")
        }
        let split = splitSet(of: path)
        guard !split.isEmpty else {
            throw .io(path: path, operation: "open", reason: "no such file or directory (nor a split set \(BagSplitPolicy.path(base: path, index: 0)), …)")
        }
        return (split, "\(path) does not exist; reading its split set as one recording: \(describe(split))")
    }

    /// The existing numbered files `NAME_0000.mcap`, `NAME_0001.mcap`, … of base path `NAME.mcap`,
    /// in order (any run of digits after the underscore; gaps are allowed, the order is numeric).
    public static func splitSet(of base: String) -> [String] {
        let url = URL(fileURLWithPath: base)
        let ext = url.pathExtension.isEmpty ? "mcap" : url.pathExtension
        let stem = url.deletingPathExtension().lastPathComponent + "_"
        let folder = url.deletingLastPathComponent()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let numbered: [(Int, String)] = names.compactMap { name in
            guard name.hasPrefix(stem), name.hasSuffix("." + ext) else { return nil }
            let digits = name.dropFirst(stem.count).dropLast(ext.count + 1)
            guard digits.count >= 4, digits.allSatisfy(\.isASCII), let n = Int(digits) else { return nil }
            return (n, folder.appendingPathComponent(name).path)
        }
        return numbered.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// For `NAME_0003.mcap` of a split set with other members: how to read the whole set.
    private static func splitMemberNote(_ path: String) -> String? {
        let url = URL(fileURLWithPath: path)
        let stem = url.deletingPathExtension().lastPathComponent
        guard let underscore = stem.lastIndex(of: "_") else { return nil }
        let digits = stem[stem.index(after: underscore)...]
        guard digits.count >= 4, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let base = url.deletingLastPathComponent().appendingPathComponent(String(stem[..<underscore]) + "." + url.pathExtension).path
        let set = splitSet(of: base)
        guard set.count > 1, !FileManager.default.fileExists(atPath: base) else { return nil }
        return "note: \(url.lastPathComponent) is one file of a split set of \(set.count); give \(base) (or its folder) to read them all as one recording"
    }

    private static func describe(_ files: [String]) -> String {
        let names = files.map { URL(fileURLWithPath: $0).lastPathComponent }
        return names.count <= 3 ? names.joined(separator: ", ") + " (\(names.count) file\(names.count == 1 ? "" : "s"))"
            : "\(names[0]) … \(names[names.count - 1]) (\(names.count) files)"
    }

    /// The files without a footer — a recorder killed before it could finish them.
    public var unclosedFiles: [String] {
        zip(files, readers).filter { !$0.1.isClosed }.map(\.0)
    }

    /// One warning per file that was not closed, or whose summary is damaged, telling how to rebuild it.
    public var warnings: [String] {
        zip(files, readers).compactMap { file, reader in
            if !reader.isClosed {
                return "warning: \(file) was not closed (crash?) — it has no footer or summary; what is readable is used, "
                    + "but run `foresight bag recover \(file) -o FIXED.mcap` to rebuild it"
            }
            if let damage = reader.summaryDamage {
                return "warning: the summary of \(file) is damaged (\(damage)); the file is read by a sequential scan — "
                    + "run `foresight bag recover \(file) -o FIXED.mcap` to rebuild it"
            }
            return nil
        }
    }

    /// The summaries of all files added up. Channels and schemas are renumbered across files (one
    /// ID per distinct topic/encoding/schema), so counts add up by topic.
    public func summary() throws(BagError) -> BagSummary {
        if readers.count == 1 { return try readers[0].summary() }
        var merged = BagSummary()
        merged.indexed = true
        struct SchemaKey: Hashable { var name: String, encoding: String, data: [UInt8] }
        struct ChannelKey: Hashable { var topic: String, encoding: String, schema: UInt16 }
        var schemaIDs: [SchemaKey: UInt16] = [:]
        var channelIDs: [ChannelKey: UInt16] = [:]
        var first = true
        for reader in readers {
            let s = try reader.summary()
            var schemaMap: [UInt16: UInt16] = [:]
            for schema in s.schemas.values.sorted(by: { $0.id < $1.id }) {
                let key = SchemaKey(name: schema.name, encoding: schema.encoding, data: schema.data)
                let id = schemaIDs[key] ?? UInt16(truncatingIfNeeded: schemaIDs.count + 1)
                schemaIDs[key] = id
                schemaMap[schema.id] = id
                merged.schemas[id] = BagSchema(id: id, name: schema.name, encoding: schema.encoding, data: schema.data)
            }
            for channel in s.channels.values.sorted(by: { $0.id < $1.id }) {
                let schemaID = schemaMap[channel.schemaID] ?? 0
                let key = ChannelKey(topic: channel.topic, encoding: channel.messageEncoding, schema: schemaID)
                let id = channelIDs[key] ?? UInt16(truncatingIfNeeded: channelIDs.count)
                channelIDs[key] = id
                var renumbered = channel
                renumbered.id = id
                renumbered.schemaID = schemaID
                merged.channels[id] = renumbered
                merged.channelMessageCounts[id, default: 0] += s.channelMessageCounts[channel.id] ?? 0
            }
            if s.messageCount > 0 {
                merged.startTime = first ? s.startTime : min(merged.startTime, s.startTime)
                merged.endTime = first ? s.endTime : max(merged.endTime, s.endTime)
                first = false
            }
            merged.messageCount += s.messageCount
            merged.attachmentCount += s.attachmentCount
            merged.metadataCount += s.metadataCount
            merged.chunkCount += s.chunkCount
            merged.chunkCompressions.merge(s.chunkCompressions, uniquingKeysWith: +)
            merged.indexed = merged.indexed && s.indexed
            if merged.cutOff == nil, let cut = s.cutOff { merged.cutOff = (cut.offset, "\(reader.path): \(cut.reason)") }
        }
        return merged
    }

    /// Duration, start/end, size, compression and the topic table of the whole recording.
    public func info() throws(BagError) -> BagInfo {
        if readers.count == 1 { return try readers[0].info() }
        var info = BagInfo(path: files.joined(separator: ", "), fileSize: readers.reduce(0) { $0 + $1.fileSize },
                           summary: try summary(), topics: [])
        info.files = files
        info.topics = BagReader.topicTable(info.summary)
        return info
    }

    /// The messages of every file whose channel passes `include` and whose log time lies in
    /// `startTime...endTime`, merged in log-time order (ties: earlier file first).
    public func messages(startTime: UInt64 = 0, endTime: UInt64 = .max,
                         include: @escaping (BagChannel) -> Bool = { _ in true }) throws(BagError) -> BagMessageCursor {
        if readers.count == 1 { return try readers[0].messages(startTime: startTime, endTime: endTime, include: include) }
        var cursors: [BagMessageCursor] = []
        for reader in readers { cursors.append(try reader.messages(startTime: startTime, endTime: endTime, include: include)) }
        return BagMessageCursor(merging: cursors)
    }
}
