import Foundation
import ForesightBag
import ForesightPreprocess
import ForesightSite
import ForesightWire

/// Settings of `foresight bag export --foxglove`.
public struct FoxgloveExportOptions: Sendable {
    /// The Foresight bag to read.
    public var input: String
    /// The bag to write.
    public var output: String
    /// The site calibration (base station, array, codebook); without it there is no 3-D scene.
    public var site: Site?
    /// Also copy the original msgpack channels (Foxglove ignores them; other tools can read them).
    public var keepOriginal: Bool
    /// Chunk compression of the output.
    public var compression: BagCompression
    /// Measured UE positions kept in the track line.
    public var trackLength: Int

    /// Options with defaults: no site, originals dropped, zstd, 50-point track.
    public init(input: String, output: String, site: Site? = nil, keepOriginal: Bool = false,
                compression: BagCompression = .zstd, trackLength: Int = 50) {
        self.input = input
        self.output = output
        self.site = site
        self.keepOriginal = keepOriginal
        self.compression = compression
        self.trackLength = trackLength
    }
}

/// What an export did.
public struct FoxgloveExportReport: Sendable {
    /// Messages read.
    public var read = 0
    /// Messages written per output topic.
    public var written: [String: Int] = [:]
    /// Messages not converted, per "topic: reason".
    public var skipped: [String: Int] = [:]
    /// Notes about the output as a whole.
    public var notes: [String] = []

    /// A human-readable summary.
    public var text: String {
        var lines = ["read \(read) messages, wrote \(written.values.reduce(0, +))"]
        for (topic, count) in written.sorted(by: { $0.key < $1.key }) { lines.append("  \(topic): \(count)") }
        if !skipped.isEmpty {
            lines.append("not converted: " + skipped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        for n in notes { lines.append("note: \(n)") }
        return lines.joined(separator: "\n")
    }
}

/// Converts a Foresight bag into one Foxglove can show: every message goes through
/// ``FoxgloveConverter`` (the same converter as the live view of `foresight run`) and its
/// Foxglove messages are written as JSON channels with their JSON Schemas. Streams: one message
/// in memory at a time plus the scene state.
public final class FoxgloveExporter {
    /// The settings.
    public let options: FoxgloveExportOptions

    private var writer: BagWriter!
    private var channels: [String: UInt16] = [:]
    private var channelSchemas: [String: String] = [:]
    private var report = FoxgloveExportReport()
    private let converter: FoxgloveConverter

    /// Creates an exporter.
    public init(options: FoxgloveExportOptions) {
        self.options = options
        converter = FoxgloveConverter(site: options.site, trackLength: options.trackLength)
    }

    /// Output topic names.
    public typealias Topic = FoxgloveConverter.Topic

    /// Runs the export.
    public func run() throws(InteropError) -> FoxgloveExportReport {
        let reader: BagReader
        let cursor: BagMessageCursor
        do {
            reader = try BagReader(path: options.input)
            cursor = try reader.messages()
            writer = try BagWriter(path: options.output, options: BagWriterOptions(compression: options.compression,
                                                                                   library: "foresight bag export --foxglove"))
        } catch {
            throw .usage("\(error)")
        }
        while true {
            let entry: BagEntry?
            do { entry = try cursor.next() } catch { throw .usage("reading \(options.input): \(error)") }
            guard let entry else { break }
            report.read += 1
            try convert(entry)
        }
        do {
            _ = try writer.finish()
        } catch {
            throw .output("\(error)")
        }
        for (key, count) in converter.skipped { report.skipped[key, default: 0] += count }
        report.notes += converter.notes
        return report
    }

    /// The channel of `topic`, created with `schema` on first use; nil when the topic already has
    /// a channel of another schema (one topic, one schema: a Foxglove panel decodes a topic as one type).
    private func channel(_ topic: String, schema: String, schemaText: String, encoding: String = "json") throws(InteropError) -> UInt16? {
        if let id = channels[topic] { return channelSchemas[topic] == schema ? id : nil }
        do {
            let s = try writer.addSchema(name: schema, encoding: "jsonschema", data: Array(schemaText.utf8))
            let id = try writer.addChannel(topic: topic, messageEncoding: encoding, schemaID: s)
            channels[topic] = id
            channelSchemas[topic] = schema
            return id
        } catch {
            throw .output("\(error)")
        }
    }

    private func convert(_ entry: BagEntry) throws(InteropError) {
        let topic = entry.channel.topic
        if options.keepOriginal {
            let id: UInt16
            if let known = channels["\u{0}" + topic] {
                id = known
            } else {
                let t = FoxgloveConverter.type(of: topic)
                do {
                    let s = try t.map { t throws(BagError) in
                        try writer.addSchema(name: t.name, encoding: "jsonschema", data: Array(t.jsonSchema.utf8))
                    } ?? 0
                    id = try writer.addChannel(topic: topic, messageEncoding: entry.channel.messageEncoding, schemaID: s)
                } catch {
                    throw .output("\(error)")
                }
                channels["\u{0}" + topic] = id
            }
            do {
                try writer.write(channelID: id, sequence: entry.message.sequence, logTime: entry.message.logTime,
                                 publishTime: entry.message.publishTime, data: entry.message.data)
            } catch {
                throw .output("\(error)")
            }
            report.written[topic, default: 0] += 1
        }
        guard entry.channel.messageEncoding == "msgpack", let type = FoxgloveConverter.type(of: topic) else {
            report.skipped["\(topic): not a Foresight protocol topic", default: 0] += 1
            return
        }
        for message in converter.convert(topic: topic, type: type, payload: entry.message.data) {
            guard let id = try channel(message.topic, schema: message.schemaName, schemaText: FoxgloveConverter.schemaText(message.schemaName)) else {
                report.skipped["\(message.topic): schema_mismatch", default: 0] += 1
                continue
            }
            do {
                try writer.write(channelID: id, sequence: entry.message.sequence, logTime: entry.message.logTime,
                                 publishTime: entry.message.publishTime, data: message.data)
            } catch {
                throw .output("\(error)")
            }
            report.written[message.topic, default: 0] += 1
        }
    }
}
